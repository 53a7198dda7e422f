import { Digest } from "./digest";
import type { Manifest } from "./schema";

/**
 * Canonical JSON: object keys sorted, `undefined` dropped, arrays in order. Equal manifests give
 * equal bytes, so the digest identifies a system definition.
 */
export function canonicalJson(value: unknown, indent?: number): string {
  return JSON.stringify(sortKeys(value), null, indent);
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value;
}

/** The digest of a manifest's compact canonical JSON. */
export function manifestDigest(manifest: Manifest): Digest {
  return Digest.sha256(canonicalJson(manifest));
}
