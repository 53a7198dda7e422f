/**
 * Construct identity. A project's copy of oskit and the CLI's copy are different modules, so
 * `instanceof` would fail across them; a registered symbol is the same in both.
 */
export const CONSTRUCT: unique symbol = Symbol.for("oskit.construct") as never;

export type ConstructKind = "Kernel" | "Service" | "File" | "Volume" | "Image";

/** What every construct carries: its kind under the shared symbol, and its definition as plain data. */
export interface Construct<K extends ConstructKind, P> {
  readonly [CONSTRUCT]: K;
  readonly props: P;
}

/** True when the value is a construct of that kind, from any copy of oskit. */
export function isConstruct<K extends ConstructKind>(
  value: unknown,
  kind: K,
): value is Construct<K, unknown> {
  return (
    typeof value === "object" &&
    value !== null &&
    (value as Record<PropertyKey, unknown>)[CONSTRUCT] === kind
  );
}

/** A private copy of the props a construct was given, so later changes by the caller do not leak in. */
export function copyProps<T>(props: T): T {
  try {
    return structuredClone(props);
  } catch {
    return props;
  }
}
