/**
 * Runs before each test file (vitest.config.ts `setupFiles`), in the worker that runs it: a worker
 * runs file after file without starting again (isolate: false), so what one file set for the
 * worker is put back here:
 * - what a helper remembers by address, forgotten before each test too (a port one test's node
 *   listened on may be another node's in the next, in this file or the next one);
 * - the file's Chromium switches (`test.override('chromiumArgs', …)` at a file's top changes the
 *   fixtures for the whole worker: test/ui/members.e2e.test.ts), back to none before the file's own.
 */
import { beforeEach } from 'vitest';
import { test } from './fixtures.ts';
import { forgetBindingTargets } from './signed-request.ts';

forgetBindingTargets();
beforeEach(() => forgetBindingTargets());
test.override('chromiumArgs', []);
