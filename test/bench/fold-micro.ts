import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openDatabase } from '../../main/core/store/database.ts';
import { runMigrations } from '../../main/core/store/migrations.ts';
import { SearchIndex } from '../../main/core/rooms/search-index.ts';

const dir = mkdtempSync(join(tmpdir(), 'fold-'));
const db = openDatabase(join(dir, 'x.db'));
runMigrations(db);
const search = new SearchIndex(db);
const insert = db.prepare(
  `INSERT INTO federation_events (event_id, room_id, event_type, sender, origin_server, origin_ts, depth, state_key, content, signatures, content_hash, received_from, received_at, relates_to)
   VALUES (?, '!r:a', 'm.message', '@u:a', 'a', ?, ?, NULL, ?, '{}', 'h', NULL, 0, NULL)`);
const batch = Number(process.argv[2] ?? 600);
let n = 0;
let spent = 0;
for (let round = 0; round < 40; round++) {
  db.transaction(() => { for (let i = 0; i < batch; i++, n++) insert.run(`$e${n}:a`, n, n, JSON.stringify({ body: `load ${n} — a message of ordinary length, some forty to eighty characters`, format: 'plain' })); })();
  const t = process.hrtime.bigint();
  search.catchUp();
  if (round >= 5) spent += Number(process.hrtime.bigint() - t);
}
console.log(`batch ${batch}: ${(spent / 1000 / (35 * batch)).toFixed(1)} µs a message`);
