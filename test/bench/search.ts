/**
 * `--only=search` (issue #20 item 5): full-text search (FTS5, the node's SearchIndex) over a
 * room of `count` messages against a `LIKE '%word%'` scan of the same messages in the same
 * database, for the same question: messages of the user's rooms containing the word, newest
 * first, 50 at most. Two cases: rare words (one message in 2,000: the scan reads everything)
 * and a common word (in every message: the scan stops at its first page, and the search must
 * too). Reports p50/p99 of each and the ratio of the medians for rare words. And a member of one
 * small room of its own (20 messages, older than the big room's), searching the common word: the
 * big room's matches must not be read one by one (room keys, search-index.ts).
 */
import { join } from 'node:path';
import { openDatabase } from '../../main/core/store/database.ts';
import { SearchIndex } from '../../main/core/rooms/search-index.ts';
import { queryWords } from '../../main/core/rooms/search-words.ts';
import { tempDir } from '../helpers/temp-dir.ts';
import { percentile } from './bench-nodes.ts';

interface Row { name: string; value: number; unit: string; target?: string; ratio?: number; pass?: boolean }

/** A vocabulary of made-up words; a few rare ones are what is searched for. */
function vocabulary(size: number): string[] {
  const syllables = ['ka', 'lo', 'mi', 'ne', 'ru', 'sa', 'ti', 'vo', 'pe', 'da', 'gu', 'ze'];
  const words: string[] = [];
  for (let i = 0; words.length < size; i++) {
    let w = '';
    let n = i;
    do {
      w += syllables[n % syllables.length];
      n = Math.floor(n / syllables.length);
    } while (n > 0);
    words.push(w);
  }
  return words;
}

export async function searchBench(count: number, queries: number, record: (row: Row) => void): Promise<void> {
  const db = openDatabase(join(tempDir('paracord-bench-search-'), 'paracord.db'));
  /** A room and its owner, joined. */
  const roomOf = (roomId: string, userId: string) => {
    db.prepare("INSERT INTO rooms (room_id, name, host_server, created_at, last_depth) VALUES (?, ?, 'search.test', 0, 0)").run(roomId, roomId);
    db.prepare(
      "INSERT INTO room_members (room_id, user_id, server_name, membership, role, invite_expires_at, event_id, event_depth, event_origin, updated_at) VALUES (?, ?, 'search.test', 'join', 'owner', NULL, ?, 0, 'search.test', 0)",
    ).run(roomId, userId, `$join-${roomId.slice(1)}`);
  };
  const roomId = '!bench:search.test';
  const user = '@owner:search.test';
  roomOf(roomId, user);
  const words = vocabulary(20_000);
  const rare = ['zephyrine', 'quokkalike', 'marmalade'];
  const common = 'hello';
  const insert = db.prepare(
    `INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at, relates_to)
     VALUES (?, ?, 'm.message', ?, 'search.test', ?, ?, NULL, ?, '{}', 'h', NULL, 0, NULL)`,
  );
  const index = new SearchIndex(db);
  const start = Date.now() - count;
  // A member's small room, its messages older than all the big room's.
  const smallRoom = '!small:search.test';
  const member = '@member:search.test';
  roomOf(smallRoom, member);
  for (let i = 0; i < 20; i++) {
    const eventId = `$s${i}:search.test`;
    insert.run(eventId, smallRoom, member, start - 100 + i, start - 100 + i, JSON.stringify({ body: `${common} from the small room ${i}`, format: 'plain' }));
    index.apply({ event_id: eventId, event_type: 'm.message', room_id: smallRoom, content: {} } as never);
  }
  let seed = 42;
  const random = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  db.transaction(() => {
    for (let i = 0; i < count; i++) {
      const parts: string[] = [];
      for (let w = 0; w < 12; w++) parts.push(words[Math.floor(random() * random() * words.length)]!);
      // Each rare word is in about one message of 2,000.
      if (i % 2000 === 7) parts.push(rare[i % rare.length]!);
      parts.splice(i % parts.length, 0, common);
      const eventId = `$m${i.toString(36)}:search.test`;
      insert.run(eventId, roomId, user, start + i, start + i, JSON.stringify({ body: parts.join(' '), format: 'plain' }));
      index.apply({ event_id: eventId, event_type: 'm.message', room_id: roomId, content: {} } as never);
    }
  })();
  db.pragma('optimize');
  // The searches are timed on this thread (no fold worker answering each one): everything is
  // folded first (a search catches up: a stopped index no longer does), then the index is stopped
  // (a timer keeps this process up meanwhile: the worker it waits for does not).
  await index.search(user, queryWords(common), null, 1);
  const up = setInterval(() => undefined, 1_000);
  await index.stop();
  clearInterval(up);

  const like = db.prepare<[string, string, number], { event_id: string }>(
    `SELECT event_id FROM federation_events
     WHERE event_type = 'm.message' AND json_extract(content, '$.body') LIKE ?
       AND room_id IN (SELECT room_id FROM room_members WHERE user_id = ? AND membership = 'join')
     ORDER BY depth DESC, origin_server DESC, event_id DESC LIMIT ?`,
  );
  /** Times `queries` searches (after 3 of warm-up) of each: the same answer, in the same order. */
  const measure = async (wordOf: (i: number) => string) => {
    const ftsTimes: number[] = [];
    const likeTimes: number[] = [];
    for (let i = 0; i < queries + 3; i++) {
      const word = wordOf(i);
      const t0 = performance.now();
      const found = await index.search(user, queryWords(word), null, 50);
      const t1 = performance.now();
      const scanned = like.all(`%${word}%`, user, 50);
      const t2 = performance.now();
      if (found.length === 0 || found.map((f) => f.event_id).join() !== scanned.map((r) => r.event_id).join()) {
        throw new Error(`search and scan disagree for ${word}: ${found.length} vs ${scanned.length} results`);
      }
      if (i < 3) continue; // warm-up
      ftsTimes.push(t1 - t0);
      likeTimes.push(t2 - t1);
    }
    return { ftsTimes, likeTimes };
  };
  const rareRun = await measure((i) => rare[i % rare.length]!);
  const commonRun = await measure(() => common);
  const ratio = percentile(rareRun.likeTimes, 50) / percentile(rareRun.ftsTimes, 50);
  record({ name: 'search (FTS5), rare word p50', value: percentile(rareRun.ftsTimes, 50), unit: 'ms' });
  record({ name: 'search (FTS5), rare word p99', value: percentile(rareRun.ftsTimes, 99), unit: 'ms' });
  record({ name: "LIKE '%word%' scan, rare word p50", value: percentile(rareRun.likeTimes, 50), unit: 'ms' });
  record({ name: "LIKE '%word%' scan, rare word p99", value: percentile(rareRun.likeTimes, 99), unit: 'ms' });
  record({ name: 'search speed-up over the scan, rare (p50)', value: ratio, unit: 'x', ratio, target: '>= 50 x', pass: ratio >= 50 });
  // A word in every message: both stop at the first page; the search must not read every match.
  const commonP99 = percentile(commonRun.ftsTimes, 99);
  record({ name: 'search (FTS5), word in every message p50', value: percentile(commonRun.ftsTimes, 50), unit: 'ms' });
  record({ name: 'search (FTS5), word in every message p99', value: commonP99, unit: 'ms', target: '<= 20 ms', pass: commonP99 <= 20 });
  record({ name: 'LIKE scan, word in every message p50', value: percentile(commonRun.likeTimes, 50), unit: 'ms' });
  record({ name: 'LIKE scan, word in every message p99', value: percentile(commonRun.likeTimes, 99), unit: 'ms' });
  // The member of the small room: the same word, its 20 matches under the big room's 200,000.
  const memberTimes: number[] = [];
  for (let i = 0; i < queries + 3; i++) {
    const t0 = performance.now();
    const found = await index.search(member, queryWords(common), null, 50);
    if (found.length !== 20) throw new Error(`the member's search found ${found.length} of its 20 messages`);
    if (i >= 3) memberTimes.push(performance.now() - t0);
  }
  const memberP99 = percentile(memberTimes, 99);
  const memberRatio = percentile(memberTimes, 50) / percentile(commonRun.ftsTimes, 50);
  record({ name: "search, that word by a member of one small room, p50 (against the big room's member)", value: percentile(memberTimes, 50), unit: 'ms', ratio: memberRatio });
  record({ name: 'search, that word by a member of one small room, p99', value: memberP99, unit: 'ms', target: '<= 20 ms', pass: memberP99 <= 20 });
  db.close();
}
