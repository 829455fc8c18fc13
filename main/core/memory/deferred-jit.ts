/**
 * V8's optimizing compilers (Maglev, TurboFan) wait until start-up is over (issue #6: idle
 * footprint). Loading ~200 modules and building their schemas makes some functions hot enough
 * to be optimized once — code that never runs again — and that alone touches the compilers'
 * own pages and their scratch memory: 8–9 MB of an idle node's resident memory. Switched off
 * before the modules load and on again once the node is ready, they optimize what the node
 * actually does under load, as before.
 *
 * Once ready, only Maglev comes back; TurboFan, V8's top tier, stays off. The node's hot paths are
 * short and varied (parse, check, store, notify) and its heavy work is native (sodium, SQLite,
 * JSON), so TurboFan's code bought nothing measurable here, and it costs memory: its compiled
 * code, its scratch zones and the `node` executable's pages it runs from (issue #36 goal 5:
 * 3.0–3.3 MB less resident memory after 20,000 messages, 1.2–1.3 MB after the Prosody
 * comparison's exchange; saturation and CPU per message at 200/s the same within this machine's
 * spread, docs/PERFORMANCE.md).
 *
 * V8 reads these flags at each tiering decision, so setting them at run time takes effect.
 * Nothing is changed when the user chose JIT flags of their own (NODE_OPTIONS, node flags):
 * `--turbofan` (or `--max-opt=3`) brings TurboFan back.
 */
import v8 from 'node:v8';

const JIT_FLAG = /^--(no-)?(opt|maglev|turbofan|max-opt)\b/;
let deferred = false;

function userChoseJitFlags(): boolean {
  const fromEnv = (process.env.NODE_OPTIONS ?? '').split(/\s+/);
  return [...process.execArgv, ...fromEnv].some((flag) => JIT_FLAG.test(flag));
}

/** Call first thing, before the rest of the program is imported. */
export function deferOptimizingCompilers(): void {
  if (deferred || userChoseJitFlags()) return;
  try {
    v8.setFlagsFromString('--no-maglev');
    v8.setFlagsFromString('--no-opt');
    deferred = true;
    // Whatever happens to start-up, not for longer than this.
    setTimeout(restoreOptimizingCompilers, 60_000).unref();
  } catch {
    // an engine that refuses: nothing deferred
  }
}

/**
 * Whether this V8 tiers hot code up to Maglev once `--maglev` is set again: V8 13 on (Node.js 24).
 * Node.js 22's V8 12.4 optimizes nothing with Maglev alone (measured on 22.19: a hot loop stayed
 * unoptimized), so there the node would have run on its baseline code for good.
 */
export function maglevTiersUp(v8Version = process.versions.v8): boolean {
  return Number(v8Version.split('.')[0]) >= 13;
}

/**
 * Once start-up is over (the node is ready): Maglev again, TurboFan still off; on an engine where
 * Maglev does not tier up (maglevTiersUp), TurboFan again as Node.js's default. Safe to call more
 * than once, or without deferring.
 */
export function restoreOptimizingCompilers(): void {
  if (!deferred) return;
  deferred = false;
  v8.setFlagsFromString(maglevTiersUp() ? '--maglev' : '--opt');
}

export function optimizingCompilersDeferred(): boolean {
  return deferred;
}
