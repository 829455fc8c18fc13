/**
 * Makes `friend` a node `host` cannot reach, that receives from it by pull: it restarts publishing
 * a closed port, which `host` knows it at (its key pinned, so `host` never needs to call it).
 */
import { expect } from './fixtures.ts';
import { closedPort } from './closed-port.ts';
import type { NodeProcess } from './node-process.ts';

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
