/**
 * The master boot record: 440 bytes of boot code, the 32-bit disk signature at 0x1b8, four
 * 16-byte partition entries at 0x1be and 0x55 0xaa at 0x1fe. Addresses are LBA; the CHS fields
 * carry the usual 255-head, 63-sector translation, capped at cylinder 1023 as partitioning tools
 * write them.
 */
import { FormatError } from "../../errors";
import { SECTOR } from "./sparse-disk";

export const MBR_BOOT_CODE = 0x1b8;
const DISK_SIGNATURE = 0x1b8;
const PARTITIONS = 0x1be;
const ENTRY_SIZE = 16;
const ENTRIES = 4;
const BOOT_SIGNATURE = 0x1fe;
const ACTIVE = 0x80;
const HEADS = 255;
const SECTORS_PER_TRACK = 63;

/** Partition type bytes. */
export const MbrType = {
  Fat12: 0x01,
  Fat16Lba: 0x0e,
  Fat32Lba: 0x0c,
  GptProtective: 0xee,
} as const;

export interface MbrPartition {
  readonly type: number;
  /** First sector and number of sectors. */
  readonly first: number;
  readonly sectors: number;
  /** The partition a boot loader that reads the table chains to. */
  readonly active?: boolean;
}

export interface Mbr {
  /** Up to 440 bytes of boot code (zeros when absent). */
  readonly bootCode?: Buffer;
  readonly diskSignature: number;
  readonly partitions: readonly MbrPartition[];
}

/** The 3-byte CHS address of a sector, or cylinder 1023, head 254, sector 63 past the range. */
export function chs(lba: number): Buffer {
  const cylinder = Math.floor(lba / (HEADS * SECTORS_PER_TRACK));
  if (cylinder > 1023) return Buffer.from([0xfe, 0xff, 0xff]);
  const head = Math.floor(lba / SECTORS_PER_TRACK) % HEADS;
  const sector = (lba % SECTORS_PER_TRACK) + 1;
  return Buffer.from([head, sector | ((cylinder >> 2) & 0xc0), cylinder & 0xff]);
}

const u32 = (n: number, what: string) => {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff)
    throw new FormatError(`${what} ${n} does not fit an MBR's 32 bits`);
  return n;
};

/** The 512-byte sector. */
export function encodeMbr(mbr: Mbr): Buffer {
  const out = Buffer.alloc(SECTOR);
  if (mbr.bootCode !== undefined) {
    if (mbr.bootCode.length > MBR_BOOT_CODE)
      throw new FormatError(
        `MBR boot code is at most ${MBR_BOOT_CODE} bytes, not ${mbr.bootCode.length}`,
      );
    mbr.bootCode.copy(out, 0);
  }
  out.writeUInt32LE(u32(mbr.diskSignature, "the disk signature"), DISK_SIGNATURE);
  if (mbr.partitions.length > ENTRIES)
    throw new FormatError(`an MBR holds ${ENTRIES} partitions, not ${mbr.partitions.length}`);
  mbr.partitions.forEach((p, i) => {
    const at = PARTITIONS + i * ENTRY_SIZE;
    if (p.sectors < 1) throw new FormatError(`MBR partition ${i + 1} is empty`);
    out[at] = p.active === true ? ACTIVE : 0;
    chs(p.first).copy(out, at + 1);
    out[at + 4] = p.type;
    chs(p.first + p.sectors - 1).copy(out, at + 5);
    out.writeUInt32LE(u32(p.first, `MBR partition ${i + 1}'s first sector`), at + 8);
    out.writeUInt32LE(u32(p.sectors, `MBR partition ${i + 1}'s sector count`), at + 12);
  });
  out[BOOT_SIGNATURE] = 0x55;
  out[BOOT_SIGNATURE + 1] = 0xaa;
  return out;
}

/** Reads a sector written by encodeMbr (or a partitioning tool): empty entries are left out. */
export function decodeMbr(sector: Buffer): Mbr & { readonly bootCode: Buffer } {
  if (sector.length !== SECTOR || sector[BOOT_SIGNATURE] !== 0x55 || sector[511] !== 0xaa)
    throw new FormatError("not an MBR: no 0x55 0xaa at the end of a 512-byte sector");
  const partitions: MbrPartition[] = [];
  for (let i = 0; i < ENTRIES; i++) {
    const at = PARTITIONS + i * ENTRY_SIZE;
    const type = sector[at + 4]!;
    if (type === 0) continue;
    partitions.push({
      type,
      first: sector.readUInt32LE(at + 8),
      sectors: sector.readUInt32LE(at + 12),
      active: sector[at] === ACTIVE,
    });
  }
  return {
    bootCode: Buffer.from(sector.subarray(0, MBR_BOOT_CODE)),
    diskSignature: sector.readUInt32LE(DISK_SIGNATURE),
    partitions,
  };
}
