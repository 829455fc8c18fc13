/**
 * SQL texts whose parameters never make SQLite compile the statement again (docs/PERFORMANCE.md).
 *
 * SQLite's planner looks at the value bound to a parameter in some places — an equality's
 * likely truth, a LIMIT or OFFSET, a LIKE pattern, per-value statistics — and then marks the
 * statement to be planned again when that parameter is bound anew. better-sqlite3 clears the
 * bindings after every run, and clearing expires every marked statement: each run of such a
 * statement compiled it again, 15–60 µs here against 1–8 µs a run (the membership check of every
 * received event, the outbox's head read of every delivery, a page's reactions).
 *
 * A unary plus in front of the parameter is a no-op on its value and its comparison (a
 * parameter has no affinity either way) and leaves the plan the same (index use included), but
 * the planner does not look through it at the bound value: nothing is marked. This module puts
 * it in front of every parameter that follows a comparison, LIKE/GLOB, LIMIT or OFFSET, outside
 * string literals; the statement cache (database.ts) compiles every SQL text through it.
 */

/** A parameter (`?`, `?7`, `@name`, `:name`, `$name`) after an operator the planner inspects. */
const MARKED = /(==|=|!=|<>|<=|>=|<|>|\bIS(?:\s+NOT)?|\bLIKE|\bGLOB|\bLIMIT|\bOFFSET)(\s*)(\?\d*|[@:$][A-Za-z_][A-Za-z0-9_]*)/gi;

/** `sql` with a unary plus before each such parameter; string literals and comments unchanged. */
export function stablePlanSql(sql: string): string {
  // Literals ('…', "…") and comments are copied as they are; only the code between is rewritten.
  return sql
    .split(/('(?:[^']|'')*'|"(?:[^"]|"")*"|--[^\n]*|\/\*[\s\S]*?\*\/)/)
    .map((part, i) => (i % 2 === 1 ? part : part.replace(MARKED, '$1$2+$3')))
    .join('');
}
