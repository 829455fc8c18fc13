/**
 * Worker thread of the search index (search-index.ts `SearchIndex`): folds the stored messages
 * into the index file from a connection of its own while the main thread stores events, when
 * there is a backlog (a burst, a catch-up, a rebuild). It writes only the search file; it reads
 * the events. Messages: `fold` (catch up, a round at a time), `catchUp` (the same, then answer
 * `{caughtUp: id}`), `close` (close the database and end). Each run ends with `{idle: true, seq}`,
 * `seq` the last request read (each request carries one).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { openConnection } from '../store/connection.ts';
import { SearchIndex } from './search-index.ts';

type Message = ({ fold: true } | { catchUp: number }) & { seq: number } | { close: true };

const db = openConnection((workerData as { file: string }).file);
const index = new SearchIndex(db, { inWorker: true });
const waiting: number[] = [];
let running = false;
/** The last request read (its `seq`): an idle answer covers every request up to it. */
let seq = 0;

/**
 * Folds one round per turn (messages are read in between) until none is left, then says so:
 * `{idle: true}`, and `{caughtUp: id}` to each catch-up asked meanwhile — `failed` when a round
 * threw (the disk is full, the database is closing): the main thread then folds or fails itself.
 */
function run(): void {
  if (running || !db.open) return;
  running = true;
  let failed = false;
  const turn = () => {
    let left = false;
    try {
      left = db.open && index.catchUp(1);
    } catch {
      failed = true;
    }
    if (left && !failed) {
      setImmediate(turn);
      return;
    }
    running = false;
    for (const id of waiting.splice(0)) parentPort!.postMessage({ caughtUp: id, failed });
    parentPort!.postMessage({ idle: true, failed, seq });
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
  seq = message.seq;
  if ('catchUp' in message) waiting.push(message.catchUp);
  run();
});
parentPort!.postMessage({ ready: true });
