/**
 * What `oskit.ImageBuild` does, as plain async functions (the dynamic provider and the plugin
 * both call these): check an OS input, tell whether its artifacts are current, build them, and
 * remove them. Artifacts of a manifest digest live in their own directory, so a replacement
 * (a new digest) is built beside the old artifacts before they are deleted.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, rm, rmdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { build as buildSystem, checkOutputName } from "../../sdk/build/build";
import { FORMATS, type Format } from "../../sdk/formats/writers";
import { manifestDigest } from "../../sdk/manifest/canonical";
import type { Manifest } from "../../sdk/manifest/schema";
import { checkManifest } from "../../sdk/manifest/validate";
import { ContentStore, defaultStoreRoot } from "../../sdk/resolve/store/store";
import { manifestOf, propertyPath, type OsInput } from "./os-input";

/** The value Pulumi gives for an input it does not know yet (a preview). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** What an ImageBuild is given (its inputs in state). */
export interface ImageBuildInputs {
  /** The synthesized OS, containers keyed by name and files by path (os-input.ts). */
  readonly os: OsInput;
  /** sha256 of the canonical manifest (placeholders, not their values). */
  readonly manifestDigest: string;
  readonly formats: readonly Format[];
  /** The outputs' file name prefix. */
  readonly name: string;
  /** Where artifacts are written, one directory per manifest digest below it (absolute). */
  readonly outDir: string;
  /** Where relative file sources are found (the program's directory). */
  readonly baseDir: string;
  /** OCI architecture of the images (amd64, arm64). */
  readonly arch: string;
  /** Values of the OS's input placeholders (secret when their Pulumi values are). */
  readonly inputs?: Readonly<Record<string, string>>;
  /** Disk size in bytes for disk formats. */
  readonly diskSize?: number;
  /** The image holding systemd's EFI stub. */
  readonly bootImage?: string;
  /** The content store. @default OSKIT_STORE, else ~/.cache/oskit */
  readonly store?: string;
}

/** One file of an artifact. */
export interface ArtifactFile {
  /** The file's name in the artifact directory. */
  readonly name: string;
  /** The file's absolute path. */
  readonly path: string;
  /** sha256 of the file's bytes. */
  readonly sha256: string;
  /** Bytes. */
  readonly size: number;
}

/** A format's output. */
export interface Artifact {
  /** The format written. */
  readonly format: Format;
  /** What `oskit run qemu` boots and publishers upload: the file, or for kernel+initrd the NAME prefix. */
  readonly path: string;
  /** sha256 of the file; of several files, of their `sha256  name` lines. */
  readonly sha256: string;
  /** Bytes, all files together. */
  readonly size: number;
  /** Its files, each with its path, sha256 and size. */
  readonly files: readonly ArtifactFile[];
}

/** What an ImageBuild records. */
export interface ImageBuildOutputs extends ImageBuildInputs {
  /** The directory the artifacts are in. */
  readonly dir: string;
  readonly artifacts: Readonly<Record<string, Artifact>>;
}

export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}

/** The build, the store and progress reports, handed in (tests give their own). */
export interface ImageBuildDeps {
  readonly build: typeof buildSystem;
  readonly openStore: (root: string) => Promise<ContentStore>;
  readonly progress?: (message: string) => void;
}

const defaults: ImageBuildDeps = {
  build: buildSystem,
  openStore: (root) => ContentStore.open(root),
};

const isUnknown = (value: unknown) => value === UNKNOWN;

/** Every `{ $input: NAME }` in the manifest. */
function placeholders(value: unknown, into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) for (const v of value) placeholders(v, into);
  else if (value !== null && typeof value === "object") {
    const name = (value as { $input?: unknown }).$input;
    if (typeof name === "string") into.add(name);
    else for (const v of Object.values(value)) placeholders(v, into);
  }
  return into;
}

/** Validates the inputs; returns them with the manifest digest recomputed from the OS. */
export function checkImageBuild(raw: ImageBuildInputs): {
  readonly inputs: ImageBuildInputs;
  readonly failures: CheckFailure[];
} {
  const news = raw as unknown as Readonly<Record<string, unknown>>;
  const failures: CheckFailure[] = [];
  const inputs: Record<string, unknown> = { ...news };
  const os = news.os;
  let manifest: Manifest | undefined;
  if (os === null || typeof os !== "object" || Array.isArray(os)) {
    failures.push({
      property: "os",
      reason: "expected the OS as an object (ImageBuild synthesizes it from an oskit.Image)",
    });
  } else {
    const result = checkManifest(manifestOf(os as OsInput));
    if (result.ok) {
      manifest = result.manifest;
      inputs.manifestDigest = manifestDigest(manifest).toString();
    } else
      for (const problem of result.problems)
        failures.push({ property: propertyPath(problem), reason: problem.message });
  }
  const formats = news.formats;
  if (!Array.isArray(formats) || formats.length === 0)
    failures.push({
      property: "formats",
      reason: `expected a list of formats: ${FORMATS.join(", ")}`,
    });
  else
    formats.forEach((f, i) => {
      if (!(FORMATS as readonly unknown[]).includes(f))
        failures.push({
          property: `formats[${i}]`,
          reason: `unknown format ${JSON.stringify(f)}; expected one of ${FORMATS.join(", ")}`,
        });
    });
  if (typeof news.name !== "string")
    failures.push({ property: "name", reason: "expected a file name" });
  else
    try {
      checkOutputName(news.name, "name");
    } catch (error) {
      failures.push({ property: "name", reason: (error as Error).message });
    }
  const given = news.inputs;
  if (given !== undefined && (given === null || typeof given !== "object" || Array.isArray(given)))
    failures.push({ property: "inputs", reason: "expected an object of input names and values" });
  else if (os !== null && typeof os === "object") {
    const wanted = placeholders(manifest ?? manifestOf(os as OsInput));
    const values = (given ?? {}) as Record<string, unknown>;
    for (const name of [...wanted].sort())
      if (!Object.hasOwn(values, name))
        failures.push({
          property: `inputs.${name}`,
          reason: `the OS uses the input "${name}"; give it a value`,
        });
    for (const [name, value] of Object.entries(values)) {
      if (!wanted.has(name))
        failures.push({ property: `inputs.${name}`, reason: `the OS has no input "${name}"` });
      else if (typeof value !== "string" && !isUnknown(value))
        failures.push({ property: `inputs.${name}`, reason: "expected a string" });
    }
  }
  if (
    news.diskSize !== undefined &&
    !(
      Number.isSafeInteger(news.diskSize) &&
      (news.diskSize as number) > 0 &&
      (news.diskSize as number) % 512 === 0
    )
  )
    failures.push({ property: "diskSize", reason: "expected a size in bytes, a multiple of 512" });
  return { inputs: inputs as unknown as ImageBuildInputs, failures };
}

/** The sha256 of a file, or undefined when it is missing. */
async function fileSha256(path: string): Promise<string | undefined> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch {
    return undefined;
  }
  return `sha256:${hash.digest("hex")}`;
}

/** True when every file of the artifact is where it was recorded, with its recorded bytes. */
export async function artifactIntact(artifact: Artifact): Promise<boolean> {
  for (const file of artifact.files) {
    const info = await stat(file.path).catch(() => undefined);
    if (info?.size !== file.size || (await fileSha256(file.path)) !== file.sha256) return false;
  }
  return true;
}

const REPLACING = ["manifestDigest", "name", "outDir", "arch"] as const;
const UPDATING = ["formats", "inputs", "diskSize", "bootImage", "store", "baseDir"] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * No change when the digest, the options and the input values are the same **and** every
 * artifact is still on disk with its recorded sha256 (a fresh runner or a cleaned directory is a
 * change that builds it again); a new digest, name, directory or architecture replaces.
 */
export async function diffImageBuild(
  olds: ImageBuildOutputs,
  news: ImageBuildInputs,
): Promise<{ changes: boolean; replaces: string[]; changed: string[] }> {
  const replaces = REPLACING.filter((key) => !same(olds[key], news[key]));
  const changed: string[] = [...replaces, ...UPDATING.filter((key) => !same(olds[key], news[key]))];
  if (replaces.length === 0) {
    for (const format of news.formats) {
      const artifact = olds.artifacts?.[format];
      if (artifact === undefined || !(await artifactIntact(artifact))) {
        changed.push("artifacts");
        break;
      }
    }
  }
  return {
    changes: changed.length > 0,
    replaces: replaces.map((k) => (k === "manifestDigest" ? "os" : k)),
    changed,
  };
}

/** The directory a manifest digest's artifacts go to. */
export function artifactDir(inputs: ImageBuildInputs): string {
  return join(inputs.outDir, inputs.manifestDigest.replace(/^sha256:/, "").slice(0, 16));
}

/** Builds (or finds current) every format into the artifact directory. */
export async function buildImage(
  inputs: ImageBuildInputs,
  deps: ImageBuildDeps = defaults,
): Promise<ImageBuildOutputs> {
  const manifest = checkManifest(manifestOf(inputs.os));
  if (!manifest.ok)
    throw new Error(
      `the OS is not valid: ${manifest.problems.map((p) => `${p.path}: ${p.message}`).join("; ")}`,
    );
  const dir = artifactDir(inputs);
  const result = await deps.build(manifest.manifest, {
    store: await deps.openStore(inputs.store ?? defaultStoreRoot()),
    formats: inputs.formats,
    outDir: dir,
    name: inputs.name,
    platform: { os: "linux", architecture: inputs.arch },
    baseDir: inputs.baseDir,
    inputs: inputs.inputs,
    diskSize: inputs.diskSize,
    bootImage: inputs.bootImage,
    progress: deps.progress,
  });
  const artifacts: Record<string, Artifact> = {};
  for (const { format, files } of result.results) {
    const list = files.map((f) => ({
      name: f.name,
      path: join(dir, f.name),
      sha256: f.sha256,
      size: f.size,
    }));
    artifacts[format] = {
      format,
      path: format === "kernel+initrd" ? join(dir, inputs.name) : list[0]!.path,
      sha256:
        list.length === 1
          ? list[0]!.sha256
          : `sha256:${createHash("sha256")
              .update(
                [...list]
                  .sort((a, b) => (a.name < b.name ? -1 : 1))
                  .map((f) => `${f.sha256}  ${f.name}\n`)
                  .join(""),
              )
              .digest("hex")}`,
      size: list.reduce((n, f) => n + f.size, 0),
      files: list,
    };
  }
  return { ...inputs, dir, artifacts };
}

/** Builds a new ImageBuild: its id is its artifact directory. */
export async function createImageBuild(
  inputs: ImageBuildInputs,
  deps: ImageBuildDeps = defaults,
): Promise<{ id: string; outs: ImageBuildOutputs }> {
  const outs = await buildImage(inputs, deps);
  return { id: outs.dir, outs };
}

/** Builds what changed, and removes the files of formats no longer asked for. */
export async function updateImageBuild(
  olds: ImageBuildOutputs,
  news: ImageBuildInputs,
  deps: ImageBuildDeps = defaults,
): Promise<ImageBuildOutputs> {
  const outs = await buildImage(news, deps);
  const kept = new Set(Object.values(outs.artifacts).flatMap((a) => a.files.map((f) => f.path)));
  for (const [format, artifact] of Object.entries(olds.artifacts ?? {}))
    if (!news.formats.includes(format as Format))
      for (const file of artifact.files)
        if (!kept.has(file.path)) await rm(file.path, { force: true });
  return outs;
}

/** Removes the artifacts' files, the build's cache file and the directory once it is empty. */
export async function deleteImageBuild(olds: ImageBuildOutputs): Promise<void> {
  for (const artifact of Object.values(olds.artifacts ?? {}))
    for (const file of artifact.files) await rm(file.path, { force: true });
  if (olds.dir === undefined) return;
  await rm(join(olds.dir, ".oskit-build.json"), { force: true });
  const left = await readdir(olds.dir).catch(() => undefined);
  if (left !== undefined && left.length === 0) await rmdir(olds.dir);
}
