import type { InputRef } from "../manifest/schema";

export type { InputRef };

/**
 * A placeholder for a value that only exists when the image is built: another Pulumi resource's
 * output or a secret. Constructs stay plain data; the build substitutes the named input.
 *
 * @example
 * oskit.File.text("/etc/web/token", oskit.input("apiToken"))
 */
export function input(name: string): InputRef {
  return Object.freeze({ $input: name });
}

/** True for an input placeholder. */
export function isInputRef(value: unknown): value is InputRef {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { $input?: unknown }).$input === "string" &&
    Object.keys(value).length === 1
  );
}
