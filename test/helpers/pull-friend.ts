/**
 * Makes `friend` a node `host` cannot reach, that receives from it by pull: it restarts publishing
 * a closed port, which `host` knows it at (its key pinned, so `host` never needs to call it).
 */
import { expect, type Nodes } from './fixtures.ts';
import { closedPort } from './closed-port.ts';
import { startPeered, type NodeProcess } from './node-process.ts';
import { eventually, messages, roomWithMembers, send } from './rooms.ts';

export async function pullingFrom(host: NodeProcess, friend: NodeProcess, friendArgs: string[] = ['--pull']): Promise<{ closed: string; restart: () => Promise<void> }> {
  const status = (await friend.admin('GET', '/status')).body;
  expect(await friend.stop()).toBe(0);
  const closed = `http://127.0.0.1:${await closedPort()}`;
  const readded = await host.admin('POST', '/peers', { server_name: friend.serverName, endpoint: closed, key_id: status.key_id, public_key: status.public_key, replace: true });
  expect(readded.status, JSON.stringify(readded.body)).toBe(200);
  const restart = async () => void (await friend.start(['--public-url', closed, ...friendArgs]));
  await restart();
  return { closed, restart };
}

/**
 * alpha.test hosts a room with beta.test's owner, and takes beta's events by pull (nobody can reach
 * alpha); one message of beta's, "before", has reached alpha already.
 */
export async function hostPullingMember(nodes: Nodes, roomName: string): Promise<{ alpha: NodeProcess; beta: NodeProcess; roomId: string; restartAlpha: () => Promise<void> }> {
  const alpha = nodes.process({ serverName: 'alpha.test' });
  const beta = nodes.process({ serverName: 'beta.test', args: ['--retry-initial', '200', '--retry-max', '2000'] });
  await startPeered([alpha, beta]);
  const roomId = await roomWithMembers(alpha, roomName, [[beta, '@owner:beta.test']]);
  const { restart } = await pullingFrom(beta, alpha);
  await send(beta, roomId, 'before');
  await eventually(async () => expect((await messages(alpha, roomId)).map((m) => m.body)).toContain('before'), 30_000);
  return { alpha, beta, roomId, restartAlpha: restart };
}
