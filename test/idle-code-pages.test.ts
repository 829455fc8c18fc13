/**
 * An idle node gives back the resident pages of its code (main/core/memory/clean-pages.ts, issue
 * #36 goal 5): a real `serve` through the CLI, its executable's clean pages read from
 * /proc/<pid>/smaps at its ready line and again once its first quiet period is over; then it
 * works as before (the pages come back from the file as they are needed). Linux only.
 */
import { readFileSync, realpathSync } from 'node:fs';
import { cleanMappings } from '../main/core/memory/clean-pages.ts';
import { describe, expect, it } from './helpers/fixtures.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resident kilobytes of the clean code pages the node could give back. */
function cleanResidentKb(pid: number): number {
  return cleanMappings(readFileSync(`/proc/${pid}/smaps`, 'utf8'), realpathSync(process.execPath), new Set()).reduce((sum, m) => sum + m.residentKb, 0);
}

describe.skipIf(process.platform !== 'linux')('an idle node and its code pages', () => {
  it('gives them back after start-up and keeps working', async ({ fileNodes }) => {
    const node = fileNodes.process({ serverName: 'code-pages.test' });
    await node.start();
    const pid = node.child.pid!;
    const atReady = cleanResidentKb(pid);
    expect(atReady).toBeGreaterThan(10 * 1024); // the executable's pages start-up touched
    // The first quiet period after start-up (a second or so; longer on a busy machine) trims.
    let now = atReady;
    for (let waited = 0; waited < 60_000 && now > atReady / 2; waited += 250) {
      await sleep(250);
      now = cleanResidentKb(pid);
    }
    expect(now).toBeLessThan(atReady / 2);
    // Everything works from pages mapped again: the admin API, the database, a room and a message.
    expect((await node.admin('GET', '/status')).status).toBe(200);
    const room = await node.admin('POST', '/rooms', { name: 'after the trim' });
    expect(room.status).toBe(200);
    const roomId = (room.body as { room_id: string }).room_id;
    const sent = await node.admin('POST', `/rooms/${encodeURIComponent(roomId)}/messages`, { body: 'still here' });
    expect(sent.status).toBe(200);
    const page = await node.admin('GET', `/rooms/${encodeURIComponent(roomId)}/messages`);
    expect(JSON.stringify(page.body)).toContain('still here');
    expect(await node.stop()).toBe(0);
  });
});
