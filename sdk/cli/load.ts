/**
 * Loads a system definition named on the command line: a TypeScript or JavaScript module whose
 * default export is an `oskit.Image` (run in-process through jiti, so users need no build step),
 * one or more LinuxKit YAML files, or either of these at a git revision (`REV:PATH`).
 */
import { createRequire } from "node:module";
import { readFileSync, statSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, extname, join, resolve } from "node:path";
import { createJiti } from "jiti";
import { isConstruct } from "../constructs/brand";
import { ErrorCode, OskitError } from "../errors";
import {
  decodeDefinition,
  importLinuxkit,
  MAX_DEFINITION_BYTES,
  tooLarge,
} from "../manifest/linuxkit/import";
import type { Manifest } from "../manifest/schema";
import { validateManifest } from "../manifest/validate";
import { applyLock, LOCK_FILE, parseLock, readLock, type LockFile } from "../resolve/lock";
import { parseGitSpec, readAtRevision, readAtRevisionIfExists, withTreeAtRevision } from "./git";

export interface Loaded {
  /** The manifest, with the lock file's digests applied unless asked not to. */
  readonly manifest: Manifest;
  /** Things accepted but not acted on, one sentence each. */
  readonly warnings: readonly string[];
  /** Image references not pinned by a digest (tags that may move). */
  readonly unpinned: readonly string[];
}

/** What to do with `oskit.lock.json`: apply it when present, require it to be current, or ignore it. */
export type LockUse = "apply" | "frozen" | "ignore";

const YAML_EXTENSIONS = [".yml", ".yaml"];
const MODULE_EXTENSIONS = [".ts", ".mts", ".cts", ".js", ".mjs", ".cjs"];

/** The kind of definition a file name names. */
export function definitionKind(spec: string): "yaml" | "module" | undefined {
  const ext = extname(spec.split(":").pop() ?? spec).toLowerCase();
  if (YAML_EXTENSIONS.includes(ext)) return "yaml";
  if (MODULE_EXTENSIONS.includes(ext)) return "module";
  return undefined;
}

/** Loads one definition, or several LinuxKit YAML files merged in order. */
export async function loadDefinitions(
  specs: readonly string[],
  cwd = process.cwd(),
  options: { readonly lock?: LockUse } = {},
): Promise<Loaded> {
  const kinds = specs.map((spec) => {
    const kind = definitionKind(spec);
    if (kind === undefined) {
      throw new OskitError(
        ErrorCode.Usage,
        `${spec}: expected a .ts/.js module or a LinuxKit .yml/.yaml file`,
      );
    }
    return kind;
  });
  let loaded: { manifest: Manifest; warnings: readonly string[] };
  if (kinds.includes("module")) {
    if (specs.length > 1) {
      throw new OskitError(
        ErrorCode.Usage,
        "only LinuxKit YAML files can be merged; give one .ts/.js definition",
      );
    }
    loaded = { manifest: await loadModule(specs[0]!, cwd), warnings: [] };
  } else {
    loaded = importLinuxkit(specs.map((spec) => ({ text: readText(spec, cwd), filename: spec })));
  }
  const use = options.lock ?? "apply";
  if (use === "ignore") return { ...loaded, unpinned: [] };
  const lock = readLockBeside(specs[0]!, cwd);
  const applied = applyLock(loaded.manifest, lock);
  if (use === "frozen") {
    if (lock === undefined)
      throw new OskitError(
        ErrorCode.Load,
        `${specs[0]!}: --frozen, but there is no ${LOCK_FILE} beside it; run oskit lock`,
      );
    if (applied.unpinned.length > 0 || applied.unused.length > 0) {
      const parts = [
        ...(applied.unpinned.length > 0 ? [`not in it: ${applied.unpinned.join(", ")}`] : []),
        ...(applied.unused.length > 0 ? [`no longer used: ${applied.unused.join(", ")}`] : []),
      ];
      throw new OskitError(
        ErrorCode.Load,
        `${LOCK_FILE} is stale (${parts.join("; ")}); run oskit lock`,
      );
    }
  }
  return { manifest: applied.manifest, warnings: loaded.warnings, unpinned: applied.unpinned };
}

/** The lock file beside a definition (at the same revision, for REV:PATH). */
function readLockBeside(spec: string, cwd: string): LockFile | undefined {
  const git = parseGitSpec(spec, cwd);
  if (git !== undefined) {
    const path = join(dirname(git.path), LOCK_FILE);
    const text = readAtRevisionIfExists({ ...git, path });
    return text === undefined ? undefined : parseLock(text, `${git.rev}:${path}`);
  }
  return readLock(dirname(resolve(cwd, spec)));
}

function readText(spec: string, cwd: string): string {
  const git = parseGitSpec(spec, cwd);
  if (git !== undefined) {
    const text = readAtRevision(git);
    if (Buffer.byteLength(text) > MAX_DEFINITION_BYTES)
      throw tooLarge(spec, Buffer.byteLength(text));
    return text;
  }
  let bytes: Buffer;
  try {
    // Checked before reading: a huge file, a FIFO or /dev/zero would otherwise be read to the end.
    const info = statSync(resolve(cwd, spec));
    if (!info.isFile())
      throw new OskitError(ErrorCode.Load, `${spec}: not a regular file; give a definition file`);
    if (info.size > MAX_DEFINITION_BYTES) throw tooLarge(spec, info.size);
    bytes = readFileSync(resolve(cwd, spec));
  } catch (error) {
    if (OskitError.is(error)) throw error;
    throw new OskitError(
      ErrorCode.Load,
      `${spec}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (error as Error).message}`,
    );
  }
  return decodeDefinition(bytes, spec);
}

async function loadModule(spec: string, cwd: string): Promise<Manifest> {
  const git = parseGitSpec(spec, cwd);
  if (git === undefined) return synthModule(resolve(cwd, spec), spec, resolve(cwd, spec));
  return withTreeAtRevision(git, (path) => synthModule(path, spec, resolve(git.top, git.path)));
}

/**
 * Where jiti keeps definitions it has transpiled (keyed by their content), so a rebuild skips
 * the transpiler: the user's own cache directory, never a shared one such as /tmp.
 */
function transpiledCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "oskit-transpiled");
}

/**
 * Runs a definition module and synthesizes its default export. `oskit` resolves to the copy the
 * definition's project has (`resolveFrom`), falling back to this CLI's own copy.
 */
async function synthModule(path: string, spec: string, resolveFrom: string): Promise<Manifest> {
  const jiti = createJiti(__filename, {
    moduleCache: false,
    fsCache: transpiledCacheDir(),
    interopDefault: true,
    alias: { oskit: oskitEntry(resolveFrom) },
  });
  let exported: unknown;
  try {
    exported = await jiti.import(path, { default: true });
  } catch (error) {
    if (OskitError.is(error)) throw error;
    throw new OskitError(ErrorCode.Load, `${spec}: ${(error as Error).message}`, { cause: error });
  }
  if (!isConstruct(exported, "Image")) {
    throw new OskitError(
      ErrorCode.Load,
      `${spec}: the default export must be an oskit.Image (export default new oskit.Image({ … })), got ${describe(exported)}`,
    );
  }
  let manifest: unknown;
  try {
    manifest = (exported as unknown as { synth(): unknown }).synth();
  } catch (error) {
    if (OskitError.is(error)) throw error;
    throw new OskitError(ErrorCode.Load, `${spec}: synth failed: ${(error as Error).message}`, {
      cause: error,
    });
  }
  // The Image may come from another copy of oskit: check what it returned with this one's rules.
  return validateManifest(manifest, { source: spec });
}

/**
 * What `oskit` means in a definition the CLI runs: `oskit/core` (no Pulumi) of the definition's
 * project, else this CLI's own.
 */
function oskitEntry(from: string): string {
  try {
    return createRequire(from).resolve("oskit/core");
  } catch {
    return resolve(__dirname, "..", "core.js");
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "no default export";
  if (value === null) return "null";
  if (typeof value === "object")
    return `an object with keys ${Object.keys(value).join(", ") || "(none)"}`;
  return typeof value;
}
