import { basename, dirname, extname, resolve } from "node:path";
import { build, checkOutputName, type BuildResult } from "../../build/build";
import { ErrorCode, OskitError } from "../../errors";
import { FORMATS, type Format, type OutputFile } from "../../formats/writers";
import { ociArchitecture } from "../../resolve/oci";
import { ContentStore, defaultStoreRoot } from "../../resolve/store/store";
import { parseInputs, warn, type Io } from "../io";
import { loadDefinitions } from "../load";
import { registryOptions } from "./registry";

export interface BuildCommandOptions {
  readonly format: string[];
  readonly out: string;
  readonly name?: string;
  readonly input?: readonly string[];
  readonly store?: string;
  readonly arch?: string;
  readonly force?: boolean;
  readonly pull?: boolean;
  readonly frozen?: boolean;
  readonly insecureRegistry?: string[];
  readonly mirror?: string[];
  readonly size?: string;
  readonly bootImage?: string;
}

function sizeText(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GiB`;
}

/** A file's size, and for a sparse disk how much of it holds data. */
function fileSizeText(file: OutputFile): string {
  if (file.allocation === undefined) return sizeText(file.size);
  const data = file.allocation.reduce((n, e) => n + e.length, 0);
  return `${sizeText(file.size)} (${sizeText(data)} data)`;
}

const UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** A disk size: bytes, or a number with K, M, G or T (powers of 1024; `MiB`/`GiB` spellings too). */
export function parseSize(text: string): number {
  const m = /^(\d+)\s*([KMGT]?)(?:i?B)?$/i.exec(text.trim());
  const bytes = m === null ? NaN : Number(m[1]) * UNITS[m[2]!.toUpperCase()]!;
  if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % 512 !== 0)
    throw new OskitError(
      ErrorCode.Usage,
      `--size ${text}: expected a size such as 2G, 512M or 1073741824 (a multiple of 512 bytes)`,
    );
  return bytes;
}

/** `oskit build FILE -f FORMAT… -o DIR`: the system's files, with a summary. */
export async function buildCommand(
  io: Io,
  files: readonly string[],
  options: BuildCommandOptions,
): Promise<number> {
  const formats = options.format
    .flatMap((f) => f.split(","))
    .map((f) => {
      if (!(FORMATS as readonly string[]).includes(f))
        throw new OskitError(ErrorCode.Usage, `-f ${f}: expected one of ${FORMATS.join(", ")}`);
      return f as Format;
    });
  if (options.name !== undefined) checkOutputName(options.name, "--name");
  const diskSize = options.size === undefined ? undefined : parseSize(options.size);
  const { manifest, warnings, unpinned } = await loadDefinitions(files, io.cwd, {
    lock: options.frozen === true ? "frozen" : "apply",
  });
  warn(io, warnings);
  if (unpinned.length > 0) {
    warn(io, [
      `not pinned by a digest (a moved tag would change this system unseen; run oskit lock): ${unpinned.join(", ")}`,
    ]);
  }
  const first = files[0]!;
  const name = options.name ?? basename(first.split(":").pop() ?? first, extname(first));
  const started = Date.now();
  const result: BuildResult = await build(manifest, {
    store: await ContentStore.open(options.store ?? defaultStoreRoot(io.env)),
    formats,
    outDir: resolve(io.cwd, options.out),
    name,
    platform: { os: "linux", architecture: options.arch ?? ociArchitecture() },
    baseDir: resolve(io.cwd, dirname(first.includes(":") && !first.startsWith("/") ? "." : first)),
    inputs: parseInputs(options.input ?? []),
    force: options.force,
    bootImage: options.bootImage,
    diskSize,
    resolver: {
      pull: options.pull === true ? "always" : "missing",
      registry: registryOptions(io, options),
    },
    progress: (m) => io.stderr.write(`${m}\n`),
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const rows = result.results.flatMap((r) =>
    r.files.map((f) => [f.name, fileSizeText(f), f.sha256, r.cached ? "(unchanged)" : ""]),
  );
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((row) => row[i]!.length)));
  for (const row of rows)
    io.stdout.write(
      `${row
        .map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c))
        .join("  ")
        .trimEnd()}\n`,
    );
  const written = result.results.filter((r) => !r.cached).length;
  io.stderr.write(
    `${name}: ${written === 0 ? "nothing to write, outputs are current" : `built in ${seconds} s`} (manifest ${result.manifestDigest.slice(0, 19)}…; resolve ${result.timings.resolve} ms, assemble ${result.timings.assemble} ms, write ${result.timings.write} ms)\n`,
  );
  return 0;
}
