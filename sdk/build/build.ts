/**
 * `oskit build`: manifest → resolve (the store) → assemble → write, with an output cache: an
 * unchanged rebuild (same manifest, same image digests, same oskit version) writes nothing.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { versions } from "node:process";
import { assemble, resolveImages } from "../assemble/assemble";
import { SpillFile } from "../assemble/file-data";
import type { FileTree } from "../assemble/tree";
import { BIOS_FORMATS } from "../formats/bios-writers";
import { DISK_FORMATS } from "../formats/disk-writers";
import { ISO_FORMATS } from "../formats/iso-writers";
import { WRITERS, type Format, type OutputFile } from "../formats/writers";
import { canonicalJson, manifestDigest } from "../manifest/canonical";
import type { Manifest } from "../manifest/schema";
import type { Platform, ResolverOptions } from "../resolve/image";
import type { ContentStore } from "../resolve/store/store";
import { ErrorCode, OskitError } from "../errors";
import { oskitVersion } from "../version";
import { readCache, writeCache, type CacheEntry } from "./cache";
import { defaultBootImage, loadEfiStub } from "./efi-stub";

/** Bumped when a writer's output changes for the same input. */
export const WRITER_VERSION = "2";

/** LinuxKit's fixed timestamp, 2017-04-18T16:30:00Z. */
export const DEFAULT_SOURCE_DATE_EPOCH = 1492533000;

export interface BuildOptions {
  readonly store: ContentStore;
  readonly formats: readonly Format[];
  readonly outDir: string;
  /** The outputs' name (NAME-kernel, NAME.tar, …): a file name, without `/`. */
  readonly name: string;
  readonly platform: Platform;
  /** Where relative file sources are found (the definition's directory). */
  readonly baseDir: string;
  readonly inputs?: Readonly<Record<string, string>>;
  /** @default SOURCE_DATE_EPOCH, else 2017-04-18T16:30:00Z */
  readonly sourceDateEpoch?: number;
  /** Write even when the cache says the outputs are current. */
  readonly force?: boolean;
  /** When to ask registries for images; missing ones are pulled by default. */
  readonly resolver?: ResolverOptions;
  readonly progress?: (message: string) => void;
  /** The oskit version in the cache key: a new oskit writes the outputs again. @default package.json's */
  readonly oskitVersion?: string;
  /** The image holding systemd's EFI stub, for the UEFI formats. @default oskit's boot package */
  readonly bootImage?: string;
  /** Disk size in bytes for the disk formats (rounded up to their unit). @default the smallest that fits, plus a margin */
  readonly diskSize?: number;
}

export interface FormatResult {
  readonly format: Format;
  readonly files: readonly OutputFile[];
  /** True when the outputs were current and nothing was written. */
  readonly cached: boolean;
}

export interface BuildResult {
  readonly manifestDigest: string;
  readonly results: readonly FormatResult[];
  /** Milliseconds spent resolving, assembling and writing. */
  readonly timings: { readonly resolve: number; readonly assemble: number; readonly write: number };
}

/** SOURCE_DATE_EPOCH from the environment, else LinuxKit's timestamp. */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.SOURCE_DATE_EPOCH;
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : DEFAULT_SOURCE_DATE_EPOCH;
}

async function sourceDigests(manifest: Manifest, baseDir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const file of manifest.files ?? []) {
    if (file.source === undefined) continue;
    const path =
      file.source.startsWith("~/") || file.source.startsWith("/")
        ? file.source
        : join(baseDir, file.source);
    const data = await readFile(path.replace(/^~\//, `${process.env.HOME ?? ""}/`)).catch(
      () => undefined,
    );
    out[file.path] =
      data === undefined ? "missing" : createHash("sha256").update(data).digest("hex");
  }
  return out;
}

/** Refuses an output name that is not a single file name: the outputs go in the output directory. */
export function checkOutputName(name: string, what = "the output name"): void {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0"))
    throw new OskitError(
      ErrorCode.Usage,
      `${what} ${JSON.stringify(name)}: expected a file name without "/" (the outputs are NAME-kernel, NAME.tar, … in the output directory, which -o chooses)`,
    );
}

export async function build(manifest: Manifest, options: BuildOptions): Promise<BuildResult> {
  checkOutputName(options.name);
  const progress = options.progress ?? (() => undefined);
  const epoch = options.sourceDateEpoch ?? sourceDateEpoch();
  const started = Date.now();
  const images = await resolveImages(manifest, options.store, options.platform, {
    pull: "missing",
    ...options.resolver,
    progress: options.resolver?.progress ?? progress,
  });
  const booting = [...DISK_FORMATS, ...BIOS_FORMATS, ...ISO_FORMATS] as readonly string[];
  const stub = options.formats.some((f) => booting.includes(f))
    ? await loadEfiStub(options.store, options.bootImage ?? defaultBootImage(), options.platform, {
        pull: "missing",
        ...options.resolver,
        progress: options.resolver?.progress ?? progress,
      })
    : undefined;
  const resolved = Date.now();
  await mkdir(options.outDir, { recursive: true });
  const cacheable = options.inputs === undefined || Object.keys(options.inputs).length === 0;
  const baseKey = {
    oskit: options.oskitVersion ?? oskitVersion(),
    writer: WRITER_VERSION,
    zlib: versions.zlib,
    manifest: manifestDigest(manifest).toString(),
    images: Object.fromEntries(
      [...images].map(([ref, image]): [string, string] => [ref, image.digest]).sort(),
    ),
    sources: await sourceDigests(manifest, options.baseDir),
    epoch,
    name: options.name,
    platform: options.platform,
  };
  const cache = await readCache(options.outDir);
  const results: FormatResult[] = [];
  let tree: FileTree | undefined;
  let assembledAt = resolved;
  const shared = new Map<string, Promise<unknown>>();
  let spill: SpillFile | undefined;
  let completed = false;
  try {
    for (const format of options.formats) {
      const disk = ([...DISK_FORMATS, ...BIOS_FORMATS] as readonly string[]).includes(format);
      const key = createHash("sha256")
        .update(
          canonicalJson({
            ...baseKey,
            format,
            ...(booting.includes(format) && { boot: stub?.digest }),
            ...(disk && { diskSize: options.diskSize ?? "minimal" }),
          }),
        )
        .digest("hex");
      const entry = cache[format];
      if (
        cacheable &&
        options.force !== true &&
        entry !== undefined &&
        entry.key === key &&
        (await unchanged(options.outDir, entry))
      ) {
        progress(`${format}: up to date`);
        results.push({ format, files: entry.files.map((f) => f.output), cached: true });
        continue;
      }
      if (tree === undefined) {
        spill = SpillFile.open(options.outDir);
        tree = await assemble(manifest, images, {
          spill,
          store: options.store,
          platform: options.platform,
          inputs: options.inputs,
          baseDir: options.baseDir,
          progress,
        });
        assembledAt = Date.now();
      }
      progress(`${format}: writing ${WRITERS[format].files(options.name).join(", ")}`);
      const files = await WRITERS[format].write(tree, {
        dir: options.outDir,
        name: options.name,
        mtime: epoch,
        shared,
        efiStub: stub?.stub,
        grubElTorito: stub?.grubElTorito,
        grub: stub?.grub,
        manifestDigest: baseKey.manifest,
        diskSize: options.diskSize,
      });
      results.push({ format, files, cached: false });
      if (cacheable) {
        cache[format] = {
          key,
          files: await Promise.all(
            files.map(async (output) => {
              const info = await stat(join(options.outDir, output.name));
              return { output, mtimeMs: info.mtimeMs };
            }),
          ),
        };
      } else {
        delete cache[format];
      }
    }
    completed = true;
  } finally {
    spill?.close();
    // What was written stays known when a later format fails; that failure is the one reported.
    await writeCache(options.outDir, cache).catch((error: unknown) => {
      if (completed) throw error;
    });
  }
  return {
    manifestDigest: baseKey.manifest,
    results,
    timings: {
      resolve: resolved - started,
      assemble: assembledAt - resolved,
      write: Date.now() - assembledAt,
    },
  };
}

async function unchanged(dir: string, entry: CacheEntry): Promise<boolean> {
  for (const { output, mtimeMs } of entry.files) {
    const info = await stat(join(dir, output.name)).catch(() => undefined);
    if (info === undefined || info.size !== output.size || info.mtimeMs !== mtimeMs) return false;
  }
  return true;
}
