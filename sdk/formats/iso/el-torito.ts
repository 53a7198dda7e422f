/**
 * El Torito (the 1995 "Bootable CD-ROM Format Specification" 1.0): the boot record volume
 * descriptor that points at the boot catalog, the catalog itself (a validation entry, the default
 * entry, then one section per further platform), and the boot information table that
 * `mkisofs -boot-info-table` patches into a no-emulation BIOS image (GRUB's cdboot reads the rest
 * of its image with it).
 */
import { FormatError } from "../../errors";

export const CD_SECTOR = 2048;
/** El Torito counts sectors to load in 512-byte "virtual" sectors. */
export const VIRTUAL_SECTOR = 512;

/** The catalog's platform ids: x86 BIOS and UEFI. */
export const Platform = { Bios: 0x00, Efi: 0xef } as const;
export type Platform = (typeof Platform)[keyof typeof Platform];

const BOOT_SYSTEM_ID = "EL TORITO SPECIFICATION";
const ENTRY = 32;
const BOOTABLE = 0x88;
const NO_EMULATION = 0x00;
const HEADER_MORE = 0x90;
const HEADER_FINAL = 0x91;

/** The boot record volume descriptor (type 0) naming the catalog's sector. */
export function encodeBootRecord(catalogSector: number): Buffer {
  const d = Buffer.alloc(CD_SECTOR);
  d[0] = 0;
  d.write("CD001", 1, "ascii");
  d[6] = 1;
  d.write(BOOT_SYSTEM_ID, 7, 32, "ascii");
  d.writeUInt32LE(catalogSector, 71);
  return d;
}

export function decodeBootRecord(d: Buffer): { catalogSector: number } {
  if (
    d[0] !== 0 ||
    d.toString("ascii", 1, 6) !== "CD001" ||
    d.toString("ascii", 7, 7 + BOOT_SYSTEM_ID.length) !== BOOT_SYSTEM_ID
  )
    throw new FormatError("not an El Torito boot record");
  return { catalogSector: d.readUInt32LE(71) };
}

/** One bootable image: a no-emulation entry. */
export interface BootEntry {
  readonly platform: Platform;
  /** The image's first 2048-byte sector. */
  readonly sector: number;
  /** 512-byte sectors the firmware loads or describes (16 bits; 0 and 1 have meanings of their own). */
  readonly sectorCount: number;
}

function validationEntry(platform: Platform): Buffer {
  const e = Buffer.alloc(ENTRY);
  e[0] = 0x01;
  e[1] = platform;
  e[30] = 0x55;
  e[31] = 0xaa;
  let sum = 0;
  for (let i = 0; i < ENTRY; i += 2) sum += e.readUInt16LE(i);
  e.writeUInt16LE((0x10000 - (sum & 0xffff)) & 0xffff, 28);
  return e;
}

function sectionEntry(entry: BootEntry): Buffer {
  if (!Number.isInteger(entry.sectorCount) || entry.sectorCount < 0 || entry.sectorCount > 0xffff)
    throw new FormatError(
      `an El Torito entry describes at most 65535 512-byte sectors, not ${entry.sectorCount}`,
    );
  const e = Buffer.alloc(ENTRY);
  e[0] = BOOTABLE;
  e[1] = NO_EMULATION;
  e.writeUInt16LE(0, 2);
  e.writeUInt16LE(entry.sectorCount, 6);
  e.writeUInt32LE(entry.sector, 8);
  return e;
}

function sectionHeader(platform: Platform, entries: number, final: boolean): Buffer {
  const e = Buffer.alloc(ENTRY);
  e[0] = final ? HEADER_FINAL : HEADER_MORE;
  e[1] = platform;
  e.writeUInt16LE(entries, 2);
  return e;
}

/**
 * The boot catalog (one sector): the first entry is the default one (its platform in the
 * validation entry), each further entry gets a section header of its own.
 */
export function encodeCatalog(entries: readonly BootEntry[]): Buffer {
  const [first, ...rest] = entries;
  if (first === undefined) throw new FormatError("a boot catalog needs at least one entry");
  const parts = [validationEntry(first.platform), sectionEntry(first)];
  rest.forEach((entry, i) =>
    parts.push(sectionHeader(entry.platform, 1, i === rest.length - 1), sectionEntry(entry)),
  );
  const catalog = Buffer.alloc(CD_SECTOR);
  Buffer.concat(parts).copy(catalog);
  return catalog;
}

/** The entries of a catalog, default first (the reverse of encodeCatalog). */
export function decodeCatalog(catalog: Buffer): BootEntry[] {
  let sum = 0;
  for (let i = 0; i < ENTRY; i += 2) sum += catalog.readUInt16LE(i);
  if (catalog[0] !== 0x01 || catalog[30] !== 0x55 || catalog[31] !== 0xaa || (sum & 0xffff) !== 0)
    throw new FormatError("the boot catalog's validation entry is damaged");
  const read = (at: number, platform: Platform): BootEntry => {
    if (catalog[at] !== BOOTABLE || catalog[at + 1] !== NO_EMULATION)
      throw new FormatError(`boot catalog entry at ${at} is not a bootable no-emulation entry`);
    return {
      platform,
      sector: catalog.readUInt32LE(at + 8),
      sectorCount: catalog.readUInt16LE(at + 6),
    };
  };
  const entries = [read(ENTRY, catalog[1] as Platform)];
  for (let at = 2 * ENTRY; at + 2 * ENTRY <= catalog.length; at += 2 * ENTRY) {
    const header = catalog[at];
    if (header !== HEADER_MORE && header !== HEADER_FINAL) break;
    entries.push(read(at + ENTRY, catalog[at + 1] as Platform));
    if (header === HEADER_FINAL) break;
  }
  return entries;
}

/**
 * A BIOS boot image with its boot information table (bytes 8–63) filled in: the primary volume
 * descriptor's sector, the image's sector and length, and the 32-bit sum of its little-endian
 * words from byte 64 (the last one zero-padded), as mkisofs's `-boot-info-table` computes it.
 */
export function withBootInfoTable(image: Buffer, pvdSector: number, imageSector: number): Buffer {
  if (image.length < 64)
    throw new FormatError(
      `a boot image with a boot information table has at least 64 bytes, not ${image.length}`,
    );
  const patched = Buffer.from(image);
  const words = Buffer.alloc(Math.ceil(image.length / 4) * 4);
  image.copy(words);
  let sum = 0;
  for (let i = 64; i < words.length; i += 4) sum = (sum + words.readUInt32LE(i)) >>> 0;
  patched.fill(0, 8, 64);
  patched.writeUInt32LE(pvdSector, 8);
  patched.writeUInt32LE(imageSector, 12);
  patched.writeUInt32LE(image.length, 16);
  patched.writeUInt32LE(sum, 20);
  return patched;
}
