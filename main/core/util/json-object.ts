/**
 * An object as JSON.parse makes them, with no key that zod's plain-object test trips on
 * (`constructor`, `__proto__`): what the fast checks beside the zod schemas accept as an object.
 */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return (
    typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype &&
    !Object.hasOwn(value, 'constructor') && !Object.hasOwn(value, '__proto__')
  );
}
