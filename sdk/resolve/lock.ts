/**
 * The lock file, `oskit.lock.json` beside a definition: for every image reference the digest it
 * resolved to (the index, and each platform's manifest). Applied, it pins the definition's images
 * by digest, so a moved tag changes nothing until the lock is renewed — and `oskit diff` shows it.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { ResolveError } from "../errors";
import { canonicalJson } from "../manifest/canonical";
import { ImageRef } from "../manifest/reference";
import { manifestImages, mapImages } from "../manifest/images";
import type { Manifest } from "../manifest/schema";
import { resolveOrPull, type Platform, type ResolverOptions } from "./image";
import type { ContentStore } from "./store/store";

export const LOCK_FILE = "oskit.lock.json";
/** The largest lock file read; one holds a few hundred bytes per image. */
export const MAX_LOCK_BYTES = 16 * 1024 * 1024;

const digest = z.string().regex(/^sha256:[a-f0-9]{64}$/);
const lockSchema = z.strictObject({
  version: z.literal(1),
  images: z.record(z.string(), z.strictObject({ digest, platforms: z.record(z.string(), digest) })),
});
export type LockFile = z.infer<typeof lockSchema>;

/** Reads the lock file in a directory, or undefined when there is none. */
export function readLock(dir: string): LockFile | undefined {
  const path = join(dir, LOCK_FILE);
  if (!existsSync(path)) return undefined;
  const size = statSync(path).size;
  if (size > MAX_LOCK_BYTES)
    throw new ResolveError(
      `${path} is ${size} bytes, over the ${MAX_LOCK_BYTES / 1024 / 1024} MiB limit for a lock file; remove it and run oskit lock again`,
    );
  return parseLock(readFileSync(path, "utf8"), path);
}

export function parseLock(text: string, where: string): LockFile {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ResolveError(`${where} is not JSON; remove it and run oskit lock again`);
  }
  const parsed = lockSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at =
      issue === undefined || issue.path.length === 0 ? "" : ` (at ${issue.path.join(".")})`;
    throw new ResolveError(
      `${where} is not an oskit lock file (version 1)${at}; remove it and run oskit lock again`,
    );
  }
  return parsed.data;
}

export function formatLock(lock: LockFile): string {
  return `${JSON.stringify(JSON.parse(canonicalJson(lock)), null, 2)}\n`;
}

export interface AppliedLock {
  readonly manifest: Manifest;
  /** References the lock does not pin (tags that may move). */
  readonly unpinned: readonly string[];
  /** Lock entries no reference uses any more. */
  readonly unused: readonly string[];
}

/** Pins every reference the lock knows by its digest (`name:tag@sha256:…`). */
export function applyLock(manifest: Manifest, lock: LockFile | undefined): AppliedLock {
  const refs = manifestImages(manifest);
  const unpinned = refs.filter(
    (r) =>
      ImageRef.parse(r).digest === undefined &&
      (lock === undefined || !Object.hasOwn(lock.images, r)),
  );
  const unused =
    lock === undefined ? [] : Object.keys(lock.images).filter((r) => !refs.includes(r));
  const pinned = mapImages(manifest, (ref) => {
    const entry =
      lock !== undefined && Object.hasOwn(lock.images, ref) ? lock.images[ref] : undefined;
    return entry === undefined || ImageRef.parse(ref).digest !== undefined
      ? ref
      : `${ref}@${entry.digest}`;
  });
  return { manifest: pinned, unpinned, unused };
}

/** Resolves every reference of a manifest (store first, registry for what it lacks) and records the digests. */
export async function createLock(
  manifest: Manifest,
  store: ContentStore,
  platforms: readonly Platform[],
  options: ResolverOptions = {},
): Promise<LockFile> {
  const images: LockFile["images"] = {};
  for (const ref of manifestImages(manifest)) {
    const resolved: Record<string, string> = {};
    for (const platform of platforms)
      resolved[`${platform.os}/${platform.architecture}`] = (
        await resolveOrPull(store, ref, platform, options)
      ).digest;
    images[ref] = { digest: (await store.resolve(ref))!.digest, platforms: resolved };
  }
  return { version: 1, images };
}
