/**
 * The GUID partition table (UEFI spec, chapter 5): a protective MBR in sector 0, the header in
 * sector 1 and 128 entries of 128 bytes after it, and their backup at the very end of the disk —
 * laid out for the disk's final size.
 */
import { crc32 } from "node:zlib";
import { FormatError } from "../../errors";
import { guidBytes } from "./guid";
import { MBR_BOOT_CODE } from "./mbr";
import { SECTOR, type SparseDisk } from "./sparse-disk";

export interface GptPartition {
  readonly type: string;
  readonly guid: string;
  /** First and last sector (inclusive). */
  readonly first: number;
  readonly last: number;
  readonly name: string;
  readonly attributes?: bigint;
}

const ENTRIES = 128;
const ENTRY_SIZE = 128;
const ENTRY_SECTORS = (ENTRIES * ENTRY_SIZE) / SECTOR;
const HEADER_SIZE = 92;

/** The first sector partitions may use, and the last, on a disk of `sectors` sectors. */
export function usableSectors(sectors: number): { first: number; last: number } {
  return { first: 2 + ENTRY_SECTORS, last: sectors - 2 - ENTRY_SECTORS };
}

function protectiveMbr(sectors: number, bootCode?: Buffer): Buffer {
  const mbr = Buffer.alloc(SECTOR);
  if (bootCode !== undefined) {
    if (bootCode.length > MBR_BOOT_CODE)
      throw new FormatError(
        `MBR boot code is at most ${MBR_BOOT_CODE} bytes, not ${bootCode.length}`,
      );
    bootCode.copy(mbr);
  }
  const entry = 446;
  mbr[entry] = 0x00;
  mbr.set([0x00, 0x02, 0x00], entry + 1);
  mbr[entry + 4] = 0xee;
  mbr.set([0xff, 0xff, 0xff], entry + 5);
  mbr.writeUInt32LE(1, entry + 8);
  mbr.writeUInt32LE(Math.min(sectors - 1, 0xffffffff), entry + 12);
  mbr[510] = 0x55;
  mbr[511] = 0xaa;
  return mbr;
}

function entries(partitions: readonly GptPartition[]): Buffer {
  const out = Buffer.alloc(ENTRIES * ENTRY_SIZE);
  partitions.forEach((p, i) => {
    const at = i * ENTRY_SIZE;
    guidBytes(p.type).copy(out, at);
    guidBytes(p.guid).copy(out, at + 16);
    out.writeBigUInt64LE(BigInt(p.first), at + 32);
    out.writeBigUInt64LE(BigInt(p.last), at + 40);
    out.writeBigUInt64LE(p.attributes ?? 0n, at + 48);
    out.write(p.name, at + 56, 72, "utf16le");
  });
  return out;
}

function header(sectors: number, diskGuid: string, entriesCrc: number, backup: boolean): Buffer {
  const h = Buffer.alloc(SECTOR);
  const last = sectors - 1;
  const usable = usableSectors(sectors);
  h.write("EFI PART", 0, "latin1");
  h.writeUInt32LE(0x00010000, 8);
  h.writeUInt32LE(HEADER_SIZE, 12);
  h.writeBigUInt64LE(BigInt(backup ? last : 1), 24);
  h.writeBigUInt64LE(BigInt(backup ? 1 : last), 32);
  h.writeBigUInt64LE(BigInt(usable.first), 40);
  h.writeBigUInt64LE(BigInt(usable.last), 48);
  guidBytes(diskGuid).copy(h, 56);
  h.writeBigUInt64LE(BigInt(backup ? last - ENTRY_SECTORS : 2), 72);
  h.writeUInt32LE(ENTRIES, 80);
  h.writeUInt32LE(ENTRY_SIZE, 84);
  h.writeUInt32LE(entriesCrc, 88);
  h.writeUInt32LE(crc32(h.subarray(0, HEADER_SIZE)), 16);
  return h;
}

/**
 * Writes the protective MBR (with `bootCode` in its first 440 bytes, for BIOS boot loaders), the
 * GPT and its backup for these partitions.
 */
export function writeGpt(
  disk: SparseDisk,
  diskGuid: string,
  partitions: readonly GptPartition[],
  bootCode?: Buffer,
): void {
  const sectors = disk.size / SECTOR;
  const usable = usableSectors(sectors);
  if (partitions.length > ENTRIES)
    throw new FormatError(`a GPT holds at most ${ENTRIES} partitions`);
  for (const p of partitions) {
    if (p.first < usable.first || p.last > usable.last || p.last < p.first)
      throw new FormatError(
        `partition "${p.name}" (sectors ${p.first}–${p.last}) does not fit the disk's usable sectors ${usable.first}–${usable.last}`,
      );
  }
  const table = entries(partitions);
  const tableCrc = crc32(table);
  disk.write(0, protectiveMbr(sectors, bootCode));
  disk.write(SECTOR, header(sectors, diskGuid, tableCrc, false));
  disk.write(2 * SECTOR, table);
  disk.write((sectors - 1 - ENTRY_SECTORS) * SECTOR, table);
  disk.write((sectors - 1) * SECTOR, header(sectors, diskGuid, tableCrc, true));
}
