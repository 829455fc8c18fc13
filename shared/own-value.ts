/**
 * A table's entry for a key that came from outside (a peer's event type or error code, a URL
 * part, a field a request named): its own entries only. A plain `table[key]` also finds what every
 * object inherits, so `constructor`, `toString` or `__proto__` would find a function or
 * Object.prototype where the caller expects a string or nothing (red team, 2026-11-29: a mailbox
 * deposit of kind `constructor` reached the database and failed there with a 500).
 */
export function ownValue<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}
