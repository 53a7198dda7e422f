/**
 * What `oskit run qemu PATH` boots, found by names and then by content: a kernel+initrd name
 * prefix, an ISO (`CD001` at 32769), a UKI (a PE file: put on a disk of its own to boot), or a
 * disk image — qcow2 by its magic, a fixed VHD by its footer, else raw — and whether that disk
 * has an EFI system partition (then it boots with UEFI firmware).
 */
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { RunError } from "../errors";
import { guidBytes, PartitionType } from "../formats/disk/guid";
import { CD_SECTOR, decodeBootRecord, decodeCatalog, Platform } from "../formats/iso/el-torito";

export type DiskFormat = "raw" | "qcow2" | "vpc";

export type Target =
  | {
      readonly kind: "kernel+initrd";
      readonly kernel: string;
      readonly initrd: string;
      readonly cmdline: string;
    }
  | {
      readonly kind: "iso";
      readonly file: string;
      /** Its El Torito catalog names an EFI image and no BIOS one (then it boots with UEFI firmware). */
      readonly efi?: boolean;
    }
  | { readonly kind: "uki"; readonly file: string }
  | {
      readonly kind: "disk";
      readonly file: string;
      readonly format: DiskFormat;
      /** The disk has a GPT with an EFI system partition. */
      readonly efi: boolean;
    };

function readAt(file: string, offset: number, length: number): Buffer {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (error) {
    throw new RunError(`cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  try {
    const buf = Buffer.alloc(length);
    const read = readSync(fd, buf, 0, Math.max(0, length), offset);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Reads guest bytes of a qcow2 image (only what a GPT check needs: unallocated reads as zeros). */
function readQcow2(file: string, offset: number, length: number): Buffer {
  const header = readAt(file, 0, 48);
  if (header.length < 48) return Buffer.alloc(length);
  const clusterBits = header.readUInt32BE(20);
  const cluster = 2 ** clusterBits;
  const l1 = Number(header.readBigUInt64BE(40));
  const out = Buffer.alloc(length);
  for (let at = 0; at < length;) {
    const guest = offset + at;
    const index = Math.floor(guest / cluster);
    const within = guest % cluster;
    const chunk = Math.min(length - at, cluster - within);
    const perL2 = cluster / 8;
    const l1Entry = readAt(file, l1 + Math.floor(index / perL2) * 8, 8);
    const l2 = l1Entry.length === 8 ? Number(l1Entry.readBigUInt64BE() & 0x00fffffffffffe00n) : 0;
    if (l2 !== 0) {
      const l2Entry = readAt(file, l2 + (index % perL2) * 8, 8);
      const host =
        l2Entry.length === 8 ? Number(l2Entry.readBigUInt64BE() & 0x00fffffffffffe00n) : 0;
      if (host !== 0) readAt(file, host + within, chunk).copy(out, at);
    }
    at += chunk;
  }
  return out;
}

/** True when the disk's GPT lists an EFI system partition. */
function hasEsp(file: string, format: DiskFormat): boolean {
  const read = (offset: number, length: number) =>
    format === "qcow2" ? readQcow2(file, offset, length) : readAt(file, offset, length);
  const header = read(512, 92);
  if (header.length < 92 || header.toString("latin1", 0, 8) !== "EFI PART") return false;
  const entries = Number(header.readBigUInt64LE(72));
  const count = Math.min(header.readUInt32LE(80), 128);
  const size = header.readUInt32LE(84);
  const table = read(entries * 512, count * size);
  const esp = guidBytes(PartitionType.Esp);
  for (let i = 0; i + 16 <= table.length; i += size)
    if (table.subarray(i, i + 16).equals(esp)) return true;
  return false;
}

/** True when the ISO's El Torito catalog boots UEFI only (a BIOS would not boot it). */
function efiOnlyCd(file: string): boolean {
  for (let sector = 17; sector < 32; sector++) {
    const descriptor = readAt(file, sector * CD_SECTOR, CD_SECTOR);
    if (descriptor.length < CD_SECTOR || descriptor[0] === 255) return false;
    if (descriptor[0] !== 0) continue;
    try {
      const { catalogSector } = decodeBootRecord(descriptor);
      const entries = decodeCatalog(readAt(file, catalogSector * CD_SECTOR, CD_SECTOR));
      return entries.every((e) => e.platform === Platform.Efi);
    } catch {
      return false; // not El Torito, or a catalog we do not read: boot it as QEMU would
    }
  }
  return false;
}

/** The refusal for a directory given as PATH, naming the systems built into it. */
function directoryError(path: string, dir: string): RunError {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith("-kernel") && existsSync(join(dir, `${f.slice(0, -7)}-initrd.img`)))
    .sort()
    .map((f) => join(path, f.slice(0, -7)));
  return new RunError(
    names.length > 0
      ? `${path} is a directory; give the name prefix of a system in it: ${names.map((n) => `oskit run qemu ${n}`).join(" or ")}`
      : `${path} is a directory without NAME-kernel and NAME-initrd.img; give the name prefix of a system built with oskit build -f kernel+initrd`,
  );
}

export function detectTarget(path: string): Target {
  const prefix = resolve(path);
  const kernel = `${prefix}-kernel`;
  const initrd = `${prefix}-initrd.img`;
  if (existsSync(kernel) || existsSync(initrd)) {
    for (const [part, other] of [
      [kernel, initrd],
      [initrd, kernel],
    ] as const) {
      if (!existsSync(part))
        throw new RunError(
          `${path}: ${other} is there but ${part} is missing (a build that stopped part way?); build again with oskit build -f kernel+initrd`,
        );
      const info = statSync(part);
      if (!info.isFile()) throw new RunError(`${part} is not a regular file`);
      if (info.size === 0)
        throw new RunError(
          `${part} is empty (a build that stopped part way?); build again with oskit build -f kernel+initrd`,
        );
    }
    const cmdline = `${prefix}-cmdline`;
    return {
      kind: "kernel+initrd",
      kernel,
      initrd,
      cmdline: existsSync(cmdline) ? readCmdline(cmdline) : "",
    };
  }
  if (!existsSync(prefix)) {
    throw new RunError(
      `${path}: no such file, and no ${path}-kernel and ${path}-initrd.img (build with oskit build -f kernel+initrd)`,
    );
  }
  const stat = statSync(prefix);
  if (stat.isDirectory()) throw directoryError(path, prefix);
  if (!stat.isFile()) throw new RunError(`${path} is not a regular file (nor a disk image)`);
  if (stat.size === 0) throw new RunError(`${path} is empty (0 bytes): not a disk image`);
  if (readAt(prefix, 32769, 5).toString("ascii") === "CD001")
    return { kind: "iso", file: prefix, efi: efiOnlyCd(prefix) };
  if (/\.iso$/i.test(prefix))
    throw new RunError(
      `${path} is named .iso but has no ISO 9660 volume descriptor (CD001 at byte 32769): cut off, or not an ISO image`,
    );
  if (readAt(prefix, 0, 2).toString("latin1") === "MZ") {
    checkPe(path, prefix, stat.size);
    return { kind: "uki", file: prefix };
  }
  if (/\.(tar\.gz|tgz)$/i.test(prefix))
    throw new RunError(
      `${path} is an image tarball: extract its disk first (tar -xSzf ${path}) and boot disk.raw`,
    );
  let format: DiskFormat = "raw";
  if (readAt(prefix, 0, 4).equals(QCOW2_MAGIC)) format = "qcow2";
  else if (stat.size < 512)
    throw new RunError(
      `${path} is ${stat.size} byte${stat.size === 1 ? "" : "s"}, less than one 512-byte sector: not a disk image`,
    );
  else if (readAt(prefix, stat.size - 512, 8).toString("latin1") === "conectix") format = "vpc";
  if (format === "qcow2") checkQcow2(path, prefix, stat.size);
  else if (format === "vpc") checkVhd(path, prefix, stat.size);
  else if (/\.qcow2?$/i.test(prefix))
    throw new RunError(
      `${path} is named .qcow2 but does not start with the qcow2 magic (QFI\\xfb)`,
    );
  else if (/\.(vhd|vpc)$/i.test(prefix))
    throw new RunError(
      `${path} is named .vhd but has no VHD footer ("conectix" in its last 512 bytes): cut off, or not a VHD`,
    );
  return { kind: "disk", file: prefix, format, efi: hasEsp(prefix, format) };
}

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);
/** QEMU's limits (block/qcow2.h): cluster sizes 512 B to 2 MiB, an L1 table of at most 32 MiB. */
const QCOW2_MIN_CLUSTER_BITS = 9;
const QCOW2_MAX_CLUSTER_BITS = 21;
const QCOW2_MAX_L1_BYTES = 32 * 1024 * 1024;
/** Incompatible features QEMU knows: dirty, corrupt, external data file, compression type, extended L2. */
const QCOW2_KNOWN_INCOMPATIBLE = 0b11111n;
const OFFSET_MASK = 0x00fffffffffffe00n;

/** The kernel command line file: text, and short (the kernel takes a few KiB at most). */
function readCmdline(file: string): string {
  const size = statSync(file).size;
  if (size > 65536)
    throw new RunError(`${file} is ${size} bytes; a kernel command line is a few hundred`);
  return readFileSync(file, "utf8").trim();
}

/** A PE file's header is where its DOS header says (a file only starting with "MZ" is not one). */
function checkPe(path: string, file: string, size: number): void {
  const dos = readAt(file, 0, 64);
  const at = dos.length === 64 ? dos.readUInt32LE(0x3c) : size;
  if (at + 4 > size || !readAt(file, at, 4).equals(Buffer.from("PE\0\0", "latin1")))
    throw new RunError(
      `${path} starts like a PE file (MZ) but has no PE header: cut off, or not a UKI`,
    );
}

/**
 * Refuses a qcow2 image QEMU could not read, or would read other files for: a header, L1 table,
 * refcount table or L2 table cut off by the end of the file, values outside QEMU's limits, a
 * backing or external data file, encryption, or the corrupt flag.
 */
function checkQcow2(path: string, file: string, size: number): void {
  const fail = (what: string) => new RunError(`${path}: qcow2 ${what}`);
  const v2 = readAt(file, 0, 72);
  if (v2.length < 8) throw fail(`header cut off after ${v2.length} bytes`);
  const version = v2.readUInt32BE(4);
  if (version !== 2 && version !== 3) throw fail(`version ${version}; QEMU reads versions 2 and 3`);
  const minimum = version === 2 ? 72 : 104;
  const header = readAt(file, 0, minimum);
  if (header.length < minimum)
    throw fail(`header cut off: ${header.length} of its ${minimum} bytes (the file is truncated)`);
  const clusterBits = header.readUInt32BE(20);
  if (clusterBits < QCOW2_MIN_CLUSTER_BITS || clusterBits > QCOW2_MAX_CLUSTER_BITS)
    throw fail(
      `cluster_bits ${clusterBits} is outside ${QCOW2_MIN_CLUSTER_BITS}–${QCOW2_MAX_CLUSTER_BITS}`,
    );
  const cluster = 2 ** clusterBits;
  const fileSize = BigInt(size);
  const backing = header.readBigUInt64BE(8);
  if (backing !== 0n) {
    const length = Math.min(header.readUInt32BE(16), 1023);
    const name = backing < fileSize ? readAt(file, Number(backing), length).toString("utf8") : "";
    throw fail(
      `image has a backing file${name === "" ? "" : ` (${JSON.stringify(name)})`}; oskit boots standalone images only — flatten it with qemu-img convert -O qcow2`,
    );
  }
  if (header.readUInt32BE(32) !== 0)
    throw fail("image is encrypted; oskit boots unencrypted images only");
  if (version === 3) {
    const incompatible = header.readBigUInt64BE(72);
    if ((incompatible & 2n) !== 0n)
      throw fail("image is marked corrupt; repair it with qemu-img check -r all");
    if ((incompatible & 4n) !== 0n)
      throw fail("image keeps its data in an external file; oskit boots standalone images only");
    if ((incompatible & ~QCOW2_KNOWN_INCOMPATIBLE) !== 0n)
      throw fail(
        `image needs features QEMU does not know (incompatible bits ${incompatible.toString(16)})`,
      );
    const length = header.readUInt32BE(100);
    if (length < 104 || length > cluster)
      throw fail(`header_length ${length} is outside 104–${cluster}`);
  }
  const diskSize = header.readBigUInt64BE(24);
  const l1Entries = header.readUInt32BE(36);
  const l1Offset = header.readBigUInt64BE(40);
  const l1Bytes = BigInt(l1Entries) * 8n;
  if (l1Bytes > BigInt(QCOW2_MAX_L1_BYTES))
    throw fail(`L1 table of ${l1Entries} entries is over QEMU's ${QCOW2_MAX_L1_BYTES} byte limit`);
  const perL2 = BigInt(cluster / 8);
  if (BigInt(l1Entries) * perL2 * BigInt(cluster) < diskSize)
    throw fail(`L1 table of ${l1Entries} entries is too small for a ${diskSize} byte disk`);
  if (l1Entries > 0 && (l1Offset % BigInt(cluster) !== 0n || l1Offset + l1Bytes > fileSize))
    throw fail(
      `L1 table (${l1Entries} entries at offset ${l1Offset}) ${l1Offset % BigInt(cluster) !== 0n ? "is not cluster-aligned" : `ends past the end of the file (${size} bytes): the file is truncated`}`,
    );
  const refcountOffset = header.readBigUInt64BE(48);
  const refcountBytes = BigInt(header.readUInt32BE(56)) * BigInt(cluster);
  if (refcountOffset + refcountBytes > fileSize)
    throw fail(
      `refcount table (at offset ${refcountOffset}) ends past the end of the file (${size} bytes): the file is truncated`,
    );
  const extendedL2 = version === 3 && (header.readBigUInt64BE(72) & 16n) !== 0n;
  const l2Stride = extendedL2 ? 16 : 8;
  const l1 = readAt(file, Number(l1Offset), Number(l1Bytes));
  for (let i = 0; i < l1Entries; i++) {
    const l2 = l1.readBigUInt64BE(i * 8) & OFFSET_MASK;
    if (l2 === 0n) continue;
    if (l2 + BigInt(cluster) > fileSize)
      throw fail(
        `L1 entry ${i} points at offset ${l2}, past the end of the file (${size} bytes): the file is truncated`,
      );
    const table = readAt(file, Number(l2), cluster);
    for (let j = 0; j + 8 <= table.length; j += l2Stride) {
      const entry = table.readBigUInt64BE(j);
      const compressed = (entry & (1n << 62n)) !== 0n;
      const host = compressed
        ? entry & ((1n << BigInt(62 - (clusterBits - 8))) - 1n)
        : entry & OFFSET_MASK;
      if (host !== 0n && host >= fileSize)
        throw fail(
          `cluster ${BigInt(i) * perL2 + BigInt(j / l2Stride)} is at offset ${host}, past the end of the file (${size} bytes): the file is truncated`,
        );
    }
  }
}

/**
 * Refuses a VHD QEMU would misread: a footer whose checksum is wrong, a fixed disk whose file is
 * not its size plus the footer, a dynamic disk without its header, or a differencing disk (which
 * names a parent file).
 */
function checkVhd(path: string, file: string, size: number): void {
  const fail = (what: string) => new RunError(`${path}: VHD ${what}`);
  const footer = readAt(file, size - 512, 512);
  let sum = 0;
  footer.forEach((byte, i) => {
    if (i < 64 || i >= 68) sum += byte;
  });
  const expected = ~sum >>> 0;
  const stored = footer.readUInt32BE(64);
  if (stored !== expected)
    throw fail(
      `footer checksum is ${stored.toString(16)}, but the footer's bytes give ${expected.toString(16)}: the footer is damaged`,
    );
  const type = footer.readUInt32BE(60);
  const current = footer.readBigUInt64BE(48);
  if (type === 2) {
    if (current + 512n !== BigInt(size))
      throw fail(
        `footer says a fixed disk of ${current} bytes, so the file should be ${current + 512n} bytes, but it is ${size}: the file is cut off or padded`,
      );
  } else if (type === 3) {
    const header = footer.readBigUInt64BE(16);
    if (
      header + 1024n > BigInt(size) ||
      readAt(file, Number(header), 8).toString("latin1") !== "cxsparse"
    )
      throw fail(
        `dynamic disk has no header ("cxsparse") at offset ${header}: the file is damaged`,
      );
  } else if (type === 4) {
    throw fail("differencing disk: it reads a parent file; oskit boots standalone images only");
  } else {
    throw fail(`disk type ${type}; expected 2 (fixed) or 3 (dynamic)`);
  }
}
