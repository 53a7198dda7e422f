/**
 * What GCE asks of an image tarball, checked before anything is uploaded (GCE itself answers a
 * bad one minutes later with an opaque INVALID_IMAGE_TAR): gzip'd, an old-GNU tar whose first
 * member is `disk.raw`, a disk of a whole number of GiB. The architecture of the disk's EFI
 * binary (oskit's gce disk holds the UKI in its ESP) is read on the way, from the data after the
 * member's headers.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGunzip } from "node:zlib";

export const GiB = 1024 ** 3;

/** The architectures GCE registers. */
export const GCE_ARCHITECTURES = ["X86_64", "ARM64"] as const;
export type GceArchitecture = (typeof GCE_ARCHITECTURES)[number];

export interface TarballInfo {
  /** The disk's size: a whole number of GiB. */
  readonly diskSize: number;
  /** Whether `disk.raw` is stored sparse (GNU type S). */
  readonly sparse: boolean;
  /** The first EFI executable's machine, when one is found near the start of the disk. */
  readonly architecture?: GceArchitecture;
}

/** A tarball GCE would refuse: the file and what is wrong. */
export class TarballError extends Error {
  constructor(path: string, reason: string) {
    super(
      `${path}: ${reason}; GCE takes a gzip'd old-GNU tar holding disk.raw (a whole number of GiB), e.g. oskit build --format gce, or tar --format=oldgnu -Sczf NAME.tar.gz disk.raw`,
    );
    this.name = "TarballError";
  }
}

const PE_MACHINES: Readonly<Record<number, GceArchitecture>> = {
  0x8664: "X86_64",
  0xaa64: "ARM64",
};

/** A tar number: octal text, or GNU base-256 when the high bit of the first byte is set. */
function tarNumber(field: Buffer): number {
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) value = value * 256 + field[i]!;
    return value;
  }
  const text = field.toString("ascii").replace(/\0.*$/s, "").trim();
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : NaN;
}

/** The machine of an EFI executable starting at a 512-byte boundary of `data`, if any. */
export function peArchitecture(data: Buffer): GceArchitecture | undefined {
  for (let at = 0; at + 512 <= data.length; at += 512) {
    if (data[at] !== 0x4d || data[at + 1] !== 0x5a) continue; // "MZ"
    const pe = at + data.readUInt32LE(at + 0x3c);
    if (pe + 6 > data.length || pe <= at) continue;
    if (data.readUInt32LE(pe) !== 0x00004550) continue; // "PE\0\0"
    const arch = PE_MACHINES[data.readUInt16LE(pe + 4)];
    if (arch !== undefined) return arch;
  }
  return undefined;
}

/** Checks the tarball's gzip and tar headers and reads the disk's size and architecture. */
export async function checkGceTarball(
  path: string,
  options: { scanBytes?: number } = {},
): Promise<TarballInfo> {
  const scanBytes = options.scanBytes ?? 64 << 20;
  const magicBytes = Buffer.alloc(2);
  const handle = await open(path, "r");
  try {
    await handle.read(magicBytes, 0, 2, 0);
  } finally {
    await handle.close();
  }
  if (magicBytes[0] !== 0x1f || magicBytes[1] !== 0x8b)
    throw new TarballError(path, "not a gzip file");
  const chunks: Buffer[] = [];
  let have = 0;
  const stream = createReadStream(path, { highWaterMark: 1 << 20 }).pipe(createGunzip());
  try {
    for await (const chunk of stream) {
      chunks.push(chunk as Buffer);
      have += (chunk as Buffer).length;
      if (have >= scanBytes) break;
    }
  } catch (error) {
    if (have < 512)
      throw new TarballError(path, `cannot be decompressed (${(error as Error).message})`);
  } finally {
    stream.destroy();
  }
  const data = Buffer.concat(chunks);
  if (data.length < 512) throw new TarballError(path, "holds no tar header");
  const header = data.subarray(0, 512);
  const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
  if (name !== "disk.raw")
    throw new TarballError(path, `its first member is ${JSON.stringify(name)}, not "disk.raw"`);
  const magic = header.subarray(257, 265).toString("latin1");
  if (magic !== "ustar  \0")
    throw new TarballError(
      path,
      `is not an old-GNU tar (magic ${JSON.stringify(magic.replace(/\0/g, "\\0"))})`,
    );
  const type = String.fromCharCode(header[156]!);
  let diskSize: number;
  let sparse = false;
  let dataStart = 512;
  if (type === "S") {
    sparse = true;
    diskSize = tarNumber(header.subarray(483, 495));
    let extended = header[482] === 1;
    while (extended && dataStart + 512 <= data.length) {
      extended = data[dataStart + 504] === 1;
      dataStart += 512;
    }
  } else if (type === "0" || type === "\0") diskSize = tarNumber(header.subarray(124, 136));
  else throw new TarballError(path, `disk.raw is of tar type ${JSON.stringify(type)}, not a file`);
  if (!Number.isSafeInteger(diskSize) || diskSize <= 0)
    throw new TarballError(path, "disk.raw has no size");
  if (diskSize % GiB !== 0)
    throw new TarballError(
      path,
      `disk.raw is ${diskSize} bytes, not a whole number of GiB (${(diskSize / GiB).toFixed(3)} GiB)`,
    );
  const architecture = peArchitecture(data.subarray(dataStart));
  return { diskSize, sparse, ...(architecture !== undefined && { architecture }) };
}
