/**
 * `--only=relations` (red team 2026-11-26, docs/SECURITY.md Moderation 7b): what a flood of edits
 * of one message costs the reads every page and room list make. A room of 20 messages, one of
 * them a member's; the member's server then sends `edits` authorized edits of it (within its
 * daily quota). Timed on the node's own read model in one database, before and after: a
 * message's relations as the timeline folds them (FederationEvents.messageRelations: its first
 * delete, its author's latest edit) and the owner's unread and mention counts (ReadMarkers.counts).
 * Each is an index lookup, so the ratio after/before should stay near 1 (a fold of every edit
 * made it 48 × on the page and 14 × on the room list at 20,000 edits). Then the same for
 * reactions: one message gets `reactors` users × 20 keys (a member server may bring as many users
 * as it likes; 20 keys each is the per-user cap), and a page's reactions (ReactionIndex.aggregate,
 * what the page shows: counts and a few names per key) are timed and sized against none.
 */
import { join } from 'node:path';
import { openDatabase } from '../../main/core/store/database.ts';
import { FederationEvents } from '../../main/core/store/federation-events.ts';
import { ReadMarkers } from '../../main/core/rooms/read-markers.ts';
import { ReactionIndex } from '../../main/core/rooms/reaction-index.ts';
import type { Envelope } from '../../main/core/federation/envelope.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { percentile } from './bench-nodes.ts';

interface Row { name: string; value: number; unit: string; target?: string; ratio?: number; pass?: boolean }

export function relationsBench(edits: number, reactors: number, rounds: number, record: (row: Row) => void): void {
  const db = openDatabase(join(tempDir('paracord-bench-relations-'), 'paracord.db'));
  const events = new FederationEvents(db);
  const markers = new ReadMarkers(db);
  const roomId = '!bench:host.test';
  const owner = '@owner:host.test';
  const member = '@ed:editor.test';
  let depth = 1_000_000;
  const event = (sender: string, type: string, content: Record<string, unknown>, id: string): Envelope => ({
    event_id: `$${id}:${sender.split(':')[1]}`, room_id: roomId, event_type: type, sender, origin_server: sender.split(':')[1]!,
    origin_ts: depth, depth: ++depth, state_key: null, content, signatures: {},
  });
  const joinedAt = { depth: 0, origin_server: 'host.test', event_id: '$join:host.test' };
  const messages: Envelope[] = [];
  db.transaction(() => {
    for (let i = 0; i < 20; i++) {
      const m = event(i === 5 ? member : owner, 'm.message', { body: `message ${i}` }, `m${i}`);
      events.insertNew(m, `h${i}`, null);
      messages.push(m);
    }
  })();
  const target = messages[5]!;
  const measure = () => {
    const lookups: number[] = [];
    const counts: number[] = [];
    for (let i = 0; i < rounds + 3; i++) {
      const t0 = performance.now();
      for (const m of messages) events.messageRelations(roomId, m);
      const t1 = performance.now();
      const c = markers.counts(roomId, owner, joinedAt);
      const t2 = performance.now();
      if (c.unread !== 1) throw new Error(`unread ${c.unread}, expected 1`);
      if (i < 3) continue; // warm-up
      lookups.push(t1 - t0);
      counts.push(t2 - t1);
    }
    return { lookups: percentile(lookups, 50), counts: percentile(counts, 50) };
  };
  const before = measure();
  db.transaction(() => {
    for (let i = 0; i < edits; i++) events.insertNew(event(member, 'm.message.edit', { target: target.event_id, body: `edit ${i}` }, `e${i}`), `he${i}`, null);
  })();
  db.pragma('optimize');
  const after = measure();
  const shown = events.messageRelations(roomId, target).edit?.content.body;
  if (shown !== `edit ${edits - 1}`) throw new Error(`the latest edit is not the one shown: ${String(shown)}`);
  const pageRatio = after.lookups / before.lookups;
  const countRatio = after.counts / before.counts;
  record({ name: 'relations of a page of 20 messages, p50, no edits', value: before.lookups, unit: 'ms' });
  record({ name: `relations of the same page, one message edited ${edits.toLocaleString('en')} times, p50`, value: after.lookups, unit: 'ms', target: '<= 2 x no edits', ratio: pageRatio, pass: pageRatio <= 2 });
  record({ name: 'unread and mention counts, p50, no edits', value: before.counts, unit: 'ms' });
  record({ name: `unread and mention counts, ${edits.toLocaleString('en')} edits, p50`, value: after.counts, unit: 'ms', target: '<= 2 x no edits', ratio: countRatio, pass: countRatio <= 2 });

  // Reactions: a few on every message, then `reactors` users x 20 keys on one.
  const reactions = new ReactionIndex(db);
  const targets = messages.map((m) => m.event_id);
  const react = (sender: string, key: string, on: string, id: string) => reactions.apply(event(sender, 'm.reaction.add', { target: on, key }, id));
  db.transaction(() => {
    for (const [i, on] of targets.entries()) for (const key of ['👍', '❤️']) react(owner, key, on, `r${i}${key}`);
  })();
  const measureReactions = () => {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < rounds + 3; i++) {
      const t0 = performance.now();
      const shown = reactions.aggregate(roomId, targets, owner);
      const t1 = performance.now();
      bytes = JSON.stringify([...shown.values()]).length;
      if (i >= 3) times.push(t1 - t0);
    }
    return { time: percentile(times, 50), bytes };
  };
  const quiet = measureReactions();
  db.transaction(() => {
    for (let u = 0; u < reactors; u++) for (let k = 0; k < 20; k++) react(`@u${u}:many.test`, `k${k}`, target.event_id, `x${u}-${k}`);
  })();
  db.pragma('optimize');
  const crowded = measureReactions();
  const shownCount = reactions.aggregate(roomId, [target.event_id], owner).get(target.event_id)?.counts.k0;
  if (shownCount !== reactors) throw new Error(`the page counts ${String(shownCount)} users of k0, expected ${reactors}`);
  const timeRatio = crowded.time / quiet.time;
  const bytesRatio = crowded.bytes / quiet.bytes;
  record({ name: 'reactions of a page of 20 messages (2 each), p50', value: quiet.time, unit: 'ms' });
  record({ name: `the same page, one message with ${reactors} users x 20 keys, p50`, value: crowded.time, unit: 'ms', target: '<= 2 x without', ratio: timeRatio, pass: timeRatio <= 2 });
  record({ name: `its reactions' size, against ${quiet.bytes} B without`, value: crowded.bytes, unit: 'B', target: '<= 10 x without', ratio: bytesRatio, pass: bytesRatio <= 10 });
  db.close();
}
