import { describe, expect, it } from 'vitest';
import { InviteNotices } from './invite-notices.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const notice = (invite_id: string, invitee = '@a:here.test') => ({ type: 'invite' as const, invite_id, room_id: `!${invite_id}:host.test`, invitee });

describe('invite notifications, paced per host and invitee', () => {
  it('tells the first at once, the rest of a burst once at the end of the gap (the latest), and keeps hosts and invitees apart', async () => {
    const told: string[] = [];
    const notices = new InviteNotices((n) => told.push(`${n.invitee} ${n.invite_id}`), 100);
    try {
      for (let i = 1; i <= 10; i++) notices.tell('host.test', notice(`i${i}`));
      notices.tell('other.test', notice('o1'));
      notices.tell('host.test', notice('b1', '@b:here.test'));
      expect(told).toEqual(['@a:here.test i1', '@a:here.test o1', '@b:here.test b1']);
      await sleep(150);
      expect(told).toEqual(['@a:here.test i1', '@a:here.test o1', '@b:here.test b1', '@a:here.test i10']);
      // Quiet for a gap: the next one goes at once again.
      await sleep(120);
      notices.tell('host.test', notice('i11'));
      expect(told.at(-1)).toBe('@a:here.test i11');
    } finally {
      notices.stop();
    }
  });

  it('drops what waits when stopped, and tells nothing after (a request still in flight while the node stops)', async () => {
    const told: string[] = [];
    const notices = new InviteNotices((n) => told.push(n.invite_id), 50);
    notices.tell('host.test', notice('x1'));
    notices.tell('host.test', notice('x2'));
    notices.stop();
    notices.tell('other.test', notice('x3'));
    await sleep(80);
    expect(told).toEqual(['x1']);
  });
});
