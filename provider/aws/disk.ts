/**
 * What an upload knows of a disk file before it starts: its size, the extents holding data when
 * oskit wrote it (the build's `.oskit-build.json` records each disk's `allocation`), and the
 * architecture of the EFI binary it boots.
 */
import { readFile, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { nonZeroBlocks, peArchitecture, type Ec2Architecture, type Extent } from "./blocks";

export interface DiskInfo {
  readonly diskSize: number;
  /** The byte ranges holding data, from the build's record when it matches the file. */
  readonly allocation?: readonly Extent[];
  /** The oskit format that wrote it, from the same record. */
  readonly format?: string;
  /** The file's sha256 the record holds. */
  readonly sha256?: string;
}

interface CachedOutput {
  readonly name?: unknown;
  readonly size?: unknown;
  readonly sha256?: unknown;
  readonly allocation?: unknown;
  readonly diskSize?: unknown;
}

/**
 * The disk's size, and its allocation when the build record beside it describes this very file
 * (same name, size, modification time and, when given, sha256).
 */
export async function diskInfo(path: string, sha256?: string): Promise<DiskInfo> {
  const info = await stat(path);
  const plain = { diskSize: info.size };
  const text = await readFile(join(dirname(path), ".oskit-build.json"), "utf8").catch(
    () => undefined,
  );
  if (text === undefined) return plain;
  let cache: Record<string, { files?: { output?: CachedOutput; mtimeMs?: unknown }[] }>;
  try {
    cache = JSON.parse(text) as typeof cache;
  } catch {
    return plain;
  }
  for (const [format, entry] of Object.entries(cache ?? {}))
    for (const file of entry?.files ?? []) {
      const output = file.output;
      if (
        output?.name !== basename(path) ||
        output.size !== info.size ||
        file.mtimeMs !== info.mtimeMs ||
        (sha256 !== undefined && output.sha256 !== sha256) ||
        !Array.isArray(output.allocation)
      )
        continue;
      const allocation = (output.allocation as unknown[]).filter(
        (e): e is Extent =>
          typeof (e as Extent)?.offset === "number" && typeof (e as Extent)?.length === "number",
      );
      return {
        diskSize: info.size,
        allocation,
        format,
        ...(typeof output.sha256 === "string" && { sha256: output.sha256 }),
      };
    }
  return plain;
}

/** The architecture of the first EFI executable on the disk (oskit's UEFI disks hold the UKI), if any. */
export async function diskArchitecture(
  path: string,
  info: DiskInfo,
): Promise<Ec2Architecture | undefined> {
  const blocks = nonZeroBlocks(path, {
    blockSize: 1 << 20,
    diskSize: info.diskSize,
    ...(info.allocation !== undefined && { allocation: info.allocation }),
  });
  let scanned = 0;
  for await (const { data } of blocks) {
    const arch = peArchitecture(data);
    if (arch !== undefined) {
      await blocks.return(undefined);
      return arch;
    }
    if (++scanned >= 256) break; // the ESP is at the start of the disk
  }
  await blocks.return(undefined);
  return undefined;
}
