/**
 * Worker thread of the search index (search-index.ts `SearchIndex`): folds the stored messages
 * into the index file from a connection of its own while the main thread stores events, when
 * there is a backlog (a burst, a catch-up, a rebuild). It writes only the search file; it reads
 * the events. Messages: `fold` (catch up, a round at a time, answering nothing), `catchUp` (catch
 * up completely, then answer `{caughtUp: id}`), `close` (close the database and end).
 */
import Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { SearchIndex } from './search-index.ts';

type Message = { fold: true } | { catchUp: number } | { close: true };

const db = new Database((workerData as { file: string }).file, { fileMustExist: true });
db.pragma('busy_timeout = 5000');
db.pragma('temp_store = MEMORY');
const index = new SearchIndex(db, { inWorker: true });
const waiting: number[] = [];
let running = false;

/** Folds one round per turn (messages are read in between), answering the catch-ups once none is left. */
function run(): void {
  if (running || !db.open) return;
  running = true;
  const turn = () => {
    let left = false;
    try {
      left = index.catchUp(1);
    } catch {
      // the database is busy or closing: answered below; the main thread catches up itself
    }
    if (left && db.open) {
      setImmediate(turn);
      return;
    }
    running = false;
    for (const id of waiting.splice(0)) parentPort!.postMessage({ caughtUp: id });
  };
  setImmediate(turn);
}

parentPort!.on('message', (message: Message) => {
  if ('close' in message) {
    index.stop();
    db.close();
    parentPort!.close();
    return;
  }
  if ('catchUp' in message) waiting.push(message.catchUp);
  run();
});
parentPort!.postMessage({ ready: true });
