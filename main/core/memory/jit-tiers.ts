/**
 * Which of V8's optimizing compilers the node runs with. Start-up runs as Node.js does (Maglev and
 * TurboFan both on); once the node is ready (`serve`, after `start()`), TurboFan is switched off
 * and Maglev alone optimizes what the node does under load.
 *
 * TurboFan is off once ready because the node's hot paths are short and varied (parse, check,
 * store, notify) and its heavy work native (sodium, SQLite, JSON): its code bought nothing
 * measurable there, and it costs memory (its compiled code, its scratch zones, the `node`
 * executable's pages it runs from: 3.0–3.3 MB after 20,000 messages when measured, issue #36 goal 5).
 *
 * Start-up keeps both. Switched off during start-up instead (how the node started until
 * 2026-11-29), the code that loads ~200 modules and builds their schemas ran unoptimized: 30–50 ms
 * later to the ready line on this machine (cold start 449–479 against 488–521 ms, main thread
 * 443 against 492 ms of CPU to the ready line), for no memory saved any more: resident memory
 * 3 s after ready 40.9–42.4 against 41.5–43.2 MB (the footprint section), and 58.0 against 60.3 MB after the Prosody comparison's
 * exchange (the idle trim gives back what start-up's compilers touched: idle-memory-trim.ts,
 * clean-pages.ts). docs/PERFORMANCE.md.
 *
 * V8 reads these flags at each tiering decision, so setting them at run time takes effect.
 * Nothing is changed when the user chose JIT flags of their own (NODE_OPTIONS, node flags):
 * `--turbofan` (or `--max-opt=3`) keeps TurboFan.
 */
import v8 from 'node:v8';

const JIT_FLAG = /^--(no-)?(opt|maglev|turbofan|max-opt)\b/;
let switched = false;

function userChoseJitFlags(): boolean {
  const fromEnv = (process.env.NODE_OPTIONS ?? '').split(/\s+/);
  return [...process.execArgv, ...fromEnv].some((flag) => JIT_FLAG.test(flag));
}

/**
 * Whether this V8 tiers hot code up to Maglev with TurboFan off: V8 13 on (Node.js 24). Node.js
 * 22's V8 12.4 optimizes nothing with Maglev alone (measured on 22.19: a hot loop stayed
 * unoptimized), so there TurboFan stays on.
 */
export function maglevTiersUp(v8Version = process.versions.v8): boolean {
  return Number(v8Version.split('.')[0]) >= 13;
}

/**
 * Once start-up is over (the node is ready): TurboFan off, Maglev alone from then on; nothing on an
 * engine where Maglev does not tier up alone (maglevTiersUp), or when the user chose JIT flags.
 * Safe to call more than once. True when it switched TurboFan off.
 */
export function turbofanOffOnceReady(): boolean {
  if (switched || userChoseJitFlags() || !maglevTiersUp()) return false;
  try {
    v8.setFlagsFromString('--no-opt');
    switched = true;
  } catch {
    // an engine that refuses: it keeps its compilers
  }
  return switched;
}
