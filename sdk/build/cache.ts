/**
 * The output cache: `.oskit-build.json` in the output directory records, per format, the key of
 * the inputs that made the files and what the files were, so an unchanged rebuild writes nothing.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { OutputFile } from "../formats/writers";
import { writeFileAtomic } from "../files";

export interface CacheEntry {
  readonly key: string;
  readonly files: readonly { readonly output: OutputFile; readonly mtimeMs: number }[];
}

export type BuildCache = Record<string, CacheEntry>;

const FILE = ".oskit-build.json";

export async function readCache(dir: string): Promise<BuildCache> {
  const text = await readFile(join(dir, FILE), "utf8").catch(() => undefined);
  if (text === undefined) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as BuildCache) : {};
  } catch {
    return {};
  }
}

export async function writeCache(dir: string, cache: BuildCache): Promise<void> {
  const text = `${JSON.stringify(cache, null, 2)}\n`;
  const existing = await readFile(join(dir, FILE), "utf8").catch(() => undefined);
  if (existing === undefined && Object.keys(cache).length === 0) return;
  if (existing !== text) writeFileAtomic(join(dir, FILE), text);
}
