/**
 * A switch given by environment means what it says: PARACORD_PULL=0 is off. Commander's `.env()`
 * on a flag with no value turned it on for any value (so `PARACORD_PULL=0` chose pull mode);
 * serve reads these switches as envFlag does: 1, true, yes or on (the docs audit, 2026-11-28).
 */
import { describe, expect, it } from './helpers/fixtures.ts';

describe('serve\'s switches from the environment', () => {
  it('PARACORD_PULL=0 leaves pull mode off; PARACORD_PULL=1 turns it on', async ({ nodes }) => {
    const off = nodes.process({ serverName: 'off.test', env: { PARACORD_PULL: '0' } });
    const on = nodes.process({ serverName: 'on.test', env: { PARACORD_PULL: '1' } });
    await Promise.all([off.start(), on.start()]);
    const capabilities = async (url: string) => ((await (await fetch(`${url}/.well-known/paracord/server`)).json()) as { capabilities: string[] }).capabilities;
    expect(await capabilities(off.federationUrl)).not.toContain('pull');
    expect(await capabilities(on.federationUrl)).toContain('pull');
  }, 60_000);
});
