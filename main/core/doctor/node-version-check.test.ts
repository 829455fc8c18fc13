/** The doctor's Node.js check is the command's own (bin/node-version.js): one requirement, not a second copy of it. */
import { describe, expect, it } from 'vitest';
import { nodeVersionProblem, REQUIRED_NODE } from '../../../bin/node-version.js';
import { checkNodeVersion } from './data-dir-checks.ts';

describe('doctor: Node.js version', () => {
  it('refuses what paracord-node itself refuses, and says it as bin/node-version.js does', async () => {
    for (const tooOld of ['22.12.0', '22.18.0', '23.7.0', '20.11.1']) {
      const result = await checkNodeVersion(tooOld);
      expect(result.status, tooOld).toBe('problem');
      expect(result.message).toContain(nodeVersionProblem(tooOld)!);
    }
    for (const fine of [REQUIRED_NODE, '22.20.1', '23.8.0', '24.0.0']) {
      const result = await checkNodeVersion(fine);
      expect(result.status, fine).toBe('ok');
      expect(result.message).toBe(`Node.js ${fine} (needs ${REQUIRED_NODE} or newer).`);
    }
  });

  it('loads no code from the working folder when the package was not found (a copied bundle): a problem, in words', async () => {
    const result = await checkNodeVersion('24.0.0', false);
    expect(result).toMatchObject({ status: 'problem', message: expect.stringContaining('reinstall paracord-node') });
  });
});
