import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { removeTempDirs, tempDir } from '../../test/helpers/temp-dir.ts';

afterAll(() => removeTempDirs());

describe('createLogger with a log file', () => {
  it('keeps a line logged just before the process exits, and exits cleanly', () => {
    const file = join(tempDir('paracord-log-'), 'logs', 'node.log');
    const moduleUrl = new URL('./log.ts', import.meta.url).href;
    const code = `const { createLogger } = await import(${JSON.stringify(moduleUrl)});
      const log = createLogger({ file: ${JSON.stringify(file)}, stderr: false });
      log.info({ event: 'last_words', token: 'secret-token' }, 'about to exit');
      process.exit(0);`;
    // Throws if the child exits with an error (the asynchronous stream threw on exit before).
    const stderr = execFileSync(process.execPath, ['--experimental-strip-types', '--no-warnings', '--input-type=module', '-e', code], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(stderr).toBe('');
    const line = JSON.parse(readFileSync(file, 'utf8').trim()) as Record<string, unknown>;
    expect(line).toMatchObject({ event: 'last_words', token: '[redacted]' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });
});
