/**
 * Runs before each test file (vitest.config.ts `setupFiles`), in the worker that runs it: a worker
 * runs file after file without starting again (isolate: false), so what a helper remembers by
 * address is forgotten here (a port one file's node listened on may be another node's in the next).
 */
import { forgetBindingTargets } from './signed-request.ts';

forgetBindingTargets();
