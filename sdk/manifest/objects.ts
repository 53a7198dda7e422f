/**
 * Property access for keys that come from users (YAML mapping keys, map fields): only own
 * properties count, and `__proto__` is stored as a key, never as a prototype.
 */

/** The table's own value for a key (never an inherited one such as `constructor`). */
export function ownValue<T>(table: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(table, key) ? table[key] : undefined;
}

/** Sets an own, enumerable property, whatever the key. */
export function setOwn(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, {
    value,
    enumerable: true,
    writable: true,
    configurable: true,
  });
}
