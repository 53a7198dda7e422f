/**
 * The disk side of an EBS direct upload: which blocks of a raw disk hold data (a block is sent
 * iff any of its bytes is non-zero), their checksums, the LINEAR aggregate CompleteSnapshot
 * checks, the snapshot's size, the idempotency token, and the architecture the disk boots.
 * Pure, or reading the disk file only.
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";

export const GiB = 1024 ** 3;

/** A byte range of a disk (an artifact's `allocation` entry: whole 512-byte sectors). */
export interface Extent {
  readonly offset: number;
  readonly length: number;
}

/** A block to send: its index at the snapshot's block size and its bytes (padded to the block size). */
export interface DiskBlock {
  readonly index: number;
  readonly data: Buffer;
}

/** The snapshot size for a disk of `bytes`: whole GiB, at least one. */
export function volumeSizeGiB(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / GiB));
}

const ZEROS = Buffer.alloc(1 << 20);

/** True when every byte is zero. */
export function isZero(data: Uint8Array): boolean {
  for (let at = 0; at < data.length; at += ZEROS.length) {
    const part = data.subarray(at, Math.min(data.length, at + ZEROS.length));
    if (!ZEROS.subarray(0, part.length).equals(part)) return false;
  }
  return true;
}

/** SHA-256 of a block. */
export function blockDigest(data: Uint8Array): Buffer {
  return createHash("sha256").update(data).digest();
}

/**
 * CompleteSnapshot's LINEAR aggregate: SHA-256 over the written blocks' SHA-256 digests (raw
 * bytes) concatenated in ascending block index, base64.
 */
export function linearChecksum(digests: ReadonlyMap<number, Buffer>): string {
  const hash = createHash("sha256");
  for (const index of [...digests.keys()].sort((a, b) => a - b)) hash.update(digests.get(index)!);
  return hash.digest("base64");
}

/**
 * The block indexes that may hold data: every block a non-empty extent touches, or every block
 * of the disk when the allocation is unknown.
 */
export function candidateBlocks(
  diskSize: number,
  blockSize: number,
  allocation?: readonly Extent[],
): number[] {
  const count = Math.ceil(diskSize / blockSize);
  if (allocation === undefined) return Array.from({ length: count }, (_, i) => i);
  const indexes = new Set<number>();
  for (const { offset, length } of allocation) {
    if (length <= 0) continue;
    const last = Math.min(count - 1, Math.floor((offset + length - 1) / blockSize));
    for (let i = Math.floor(offset / blockSize); i <= last; i++) indexes.add(i);
  }
  return [...indexes].sort((a, b) => a - b);
}

/** What a scan of the disk found, filled in as its blocks are read. */
export interface ScanCounts {
  /** Blocks of the disk at the block size. */
  total: number;
  /** Blocks read or known (from the allocation) to be all zero. */
  zero: number;
  /** Blocks with data, handed out. */
  data: number;
}

/**
 * The disk's non-zero blocks in index order, one read at a time (the consumer's pace bounds the
 * memory). With an allocation, blocks it does not touch are not read; the blocks it touches are
 * still checked, so a stale allocation never sends a zero block. The last block is zero-padded.
 */
export async function* nonZeroBlocks(
  path: string,
  options: {
    readonly blockSize: number;
    readonly diskSize?: number;
    readonly allocation?: readonly Extent[];
    readonly counts?: ScanCounts;
  },
): AsyncGenerator<DiskBlock> {
  const { blockSize } = options;
  const diskSize = options.diskSize ?? (await stat(path)).size;
  const candidates = candidateBlocks(diskSize, blockSize, options.allocation);
  const counts = options.counts ?? { total: 0, zero: 0, data: 0 };
  counts.total = Math.ceil(diskSize / blockSize);
  counts.zero = counts.total - candidates.length;
  const handle = await open(path, "r");
  try {
    for (const index of candidates) {
      const data = Buffer.alloc(blockSize);
      const length = Math.min(blockSize, diskSize - index * blockSize);
      let read = 0;
      while (read < length) {
        const { bytesRead } = await handle.read(
          data,
          read,
          length - read,
          index * blockSize + read,
        );
        if (bytesRead === 0) break;
        read += bytesRead;
      }
      if (isZero(data)) {
        counts.zero++;
        continue;
      }
      counts.data++;
      yield { index, data };
    }
  } finally {
    await handle.close();
  }
}

/** EC2's architectures an AMI may have (never EC2's i386 default). */
export const EC2_ARCHITECTURES = ["x86_64", "arm64"] as const;
export type Ec2Architecture = (typeof EC2_ARCHITECTURES)[number];

/** EC2's name of an OCI/Debian/uname architecture (amd64, x86_64, arm64, aarch64). */
export function ec2Architecture(arch: string): Ec2Architecture {
  switch (arch) {
    case "amd64":
    case "x86_64":
      return "x86_64";
    case "arm64":
    case "aarch64":
      return "arm64";
    default:
      throw new Error(`architecture ${JSON.stringify(arch)}: expected amd64 or arm64`);
  }
}

/** PE machine types of the EFI binaries oskit's disks boot. */
const PE_MACHINES: Readonly<Record<number, Ec2Architecture>> = {
  0x8664: "x86_64",
  0xaa64: "arm64",
};

/**
 * The architecture of the first EFI executable (a PE image starting at a sector) in a block of
 * the disk: oskit's UEFI disks hold the UKI in the ESP, whose PE header names the machine.
 */
export function peArchitecture(data: Buffer): Ec2Architecture | undefined {
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

/** Characters of an EC2/EBS client token (ASCII, at most 64). */
export const CLIENT_TOKEN_MAX = 64;

/**
 * An idempotency token from the artifact digest and every parameter of the request: a retry
 * gets the same snapshot, and changed parameters a new token (never a ConflictException).
 */
export function clientToken(prefix: string, parts: Readonly<Record<string, unknown>>): string {
  const canonical = JSON.stringify(
    Object.keys(parts)
      .filter((k) => parts[k] !== undefined)
      .sort()
      .map((k) => [k, parts[k]]),
  );
  const hash = createHash("sha256").update(canonical).digest("hex");
  return `${prefix}-${hash}`.slice(0, CLIENT_TOKEN_MAX);
}
