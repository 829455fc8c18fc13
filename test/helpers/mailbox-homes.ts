/**
 * Two homes nobody reaches and their common friend, as real node processes on 127.0.0.1 (issue
 * #32): test/mailbox.test.ts and test/mailbox-late.test.ts.
 */
import { expect, type Nodes } from './fixtures.ts';
import type { NodeProcess } from './node-process.ts';
import { roomWithMembers } from './rooms.ts';
import { closedPort } from './closed-port.ts';
import { Identity } from '../../main/core/identity/identity.ts';

export const identityOf = (n: NodeProcess) => Identity.load(`${n.dataDir}/identity.json`);
/** Where a node listens (its published URL is a closed port): from its federation_listening log line. */
export const listeningAt = (n: NodeProcess) => `http://${[...n.stderr.matchAll(/"event":"federation_listening".*?"listen":"([^"]+)"/g)].at(-1)![1]}`;

/**
 * alpha hosts a room with beta in it; then neither can reach the other; carol reaches both.
 * Without `homesPeered`, alpha and beta are peers of carol only (no room). `host: 'beta'`: beta
 * hosts the room, alpha is in it. `env`: more
 * environment for the three (e.g. PARACORD_TEST_EVENT_MAX_AGE_MS), kept across their restarts.
 */
export async function twoHomesAndAFriend(nodes: Nodes, withRoom = true, homesPeered = true, carolArgs: string[] = [], env: Record<string, string> = {}, host: 'alpha' | 'beta' = 'alpha') {
  const alpha = nodes.process({ serverName: 'alpha.test', args: ['--retry-initial', '200', '--retry-max', '2000', '--mailbox-check-seconds', '1'], env });
  const beta = nodes.process({ serverName: 'beta.test', args: ['--retry-initial', '200', '--retry-max', '2000', '--mailbox-check-seconds', '1'], env });
  const carol = nodes.process({ serverName: 'carol.test', args: carolArgs, env });
  await Promise.all([alpha.start(), beta.start(), carol.start()]);
  for (const a of [alpha, beta, carol]) for (const b of [alpha, beta, carol]) if (a !== b && (homesPeered || a === carol || b === carol)) await a.addPeer(b);
  const roomId = !withRoom ? '' : host === 'alpha' ? await roomWithMembers(alpha, 'homes', [[beta, '@owner:beta.test']]) : await roomWithMembers(beta, 'homes', [[alpha, '@owner:alpha.test']]);
  const homes = [alpha, beta];
  const known = await Promise.all(homes.map(async (home) => ({ home, status: (await home.admin('GET', '/status')).body, closed: `http://127.0.0.1:${await closedPort()}` })));
  for (const home of homes) expect(await home.stop()).toBe(0);
  /** `who` knows `home` only at its closed port from now on. */
  const readd = async (who: NodeProcess, { home, status, closed }: (typeof known)[number]) => {
    const readded = await who.admin('POST', '/peers', { server_name: home.serverName, endpoint: closed, key_id: status.key_id, public_key: status.public_key, replace: true });
    expect(readded.status, JSON.stringify(readded.body)).toBe(200);
  };
  for (const k of known) await readd(carol, k);
  for (const [i, k] of known.entries()) {
    // A new listening port too: what knew the old one (the other home) finds nothing there.
    await k.home.start(homeArgs(k.closed));
    if (homesPeered) await readd(k.home, known[1 - i]!);
  }
  return { alpha, beta, carol, roomId, closed: { alpha: known[0]!.closed, beta: known[1]!.closed } };
}
/** A home nobody can reach: it publishes a closed port and receives by pull. */
export const homeArgs = (closed: string) => ['--listen', '127.0.0.1:0', '--public-url', closed, '--pull'];
