/**
 * An ISO 9660 (ECMA-119) image written from a list of files: level-1 names (8.3, uppercase) with
 * Rock Ridge (RRIP 1991A: SP, ER, RR, PX, NM) carrying the real names, so Linux, GRUB and
 * xorriso see `boot/initrd.img`; directories and path tables sorted as the standard orders them;
 * every date the build's mtime; files contiguous, in path order. With boot entries it adds an El
 * Torito boot record and catalog. The image is a SparseDisk (holes stay holes) that may reserve a
 * tail for a hybrid disk's backup GPT.
 *
 * Layout, in 2048-byte sectors: 0–15 the system area (left zero: a hybrid MBR/GPT goes there),
 * 16 the primary volume descriptor, then the boot record (when booting), the terminator, the boot
 * catalog, the L and M path tables, the directories (in path table order), the Rock Ridge
 * continuation area, the files, 300 KiB of zeros, the reserved tail. The zeros are mkisofs's and
 * xorriso's padding: readers that read ahead in blocks (GRUB's BIOS disk cache, Linux) would
 * otherwise fail on the last file when a block crosses the end of the medium — GRUB then loads a
 * corrupt kernel from a CD whose kernel is its last file.
 */
import { FormatError } from "../../errors";
import { SparseDisk } from "../disk/sparse-disk";
import {
  CD_SECTOR,
  encodeBootRecord,
  encodeCatalog,
  VIRTUAL_SECTOR,
  withBootInfoTable,
  type BootEntry,
  type Platform,
} from "./el-torito";

const PVD_SECTOR = 16;
/** Zero sectors after the last file (xorriso's `-pad`). */
const PADDING_SECTORS = 150;

/** A file of the image: its size and the bytes it holds (the rest reads as zeros). */
export interface IsoFile {
  /** Relative path with `/` separators, e.g. `boot/initrd.img`. */
  readonly path: string;
  readonly size: number;
  readonly regions: readonly { readonly offset: number; readonly data: Buffer }[];
}

/** A file held in one buffer. */
export const isoFile = (path: string, data: Buffer): IsoFile => ({
  path,
  size: data.length,
  regions: [{ offset: 0, data }],
});

export interface IsoBoot {
  readonly platform: Platform;
  /** The file the entry boots. */
  readonly path: string;
  /** 512-byte sectors named in the catalog. @default the file's size, which must fit 16 bits */
  readonly sectorCount?: number;
  /** Patch a boot information table into the file (bytes 8–63), as GRUB's and ISOLINUX's BIOS images expect. @default false */
  readonly bootInfoTable?: boolean;
  /**
   * Point the block list of the diskboot.img that follows cdboot.img in GRUB's El Torito image at
   * the rest of the image, in 512-byte sectors (xorriso's `--grub2-boot-info`), so that GRUB's
   * boot.img in an MBR can load the same image from a disk. @default false
   */
  readonly grub2BootInfo?: boolean;
}

export interface IsoOptions {
  /** Up to 32 d-characters (A–Z, 0–9, _). */
  readonly volumeId: string;
  /** Every date, seconds since the epoch. */
  readonly mtime: number;
  readonly files: readonly IsoFile[];
  /** El Torito entries, the default first. */
  readonly boot?: readonly IsoBoot[];
  /** Bytes kept free (zero) at the end of the image, inside the volume, e.g. for a backup GPT. @default 0 */
  readonly tail?: number;
}

export interface IsoImage {
  readonly disk: SparseDisk;
  /** Where each file's data starts (2048-byte sector), by path. */
  readonly sectors: ReadonlyMap<string, number>;
  /** The sector of the boot catalog, when there is one. */
  readonly catalogSector?: number;
}

// ---- codecs -------------------------------------------------------------------------------

function both32(buf: Buffer, at: number, value: number): void {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new FormatError(`${value} does not fit a 32-bit ISO 9660 field`);
  buf.writeUInt32LE(value, at);
  buf.writeUInt32BE(value, at + 4);
}

function both16(buf: Buffer, at: number, value: number): void {
  buf.writeUInt16LE(value, at);
  buf.writeUInt16BE(value, at + 2);
}

function padded(buf: Buffer, at: number, width: number, value: string): void {
  buf.write(value.padEnd(width, " ").slice(0, width), at, width, "ascii");
}

/** The 7-byte date of a directory record, UTC. */
export function recordDate(seconds: number): Buffer {
  const d = new Date(seconds * 1000);
  return Buffer.from([
    d.getUTCFullYear() - 1900,
    d.getUTCMonth() + 1,
    d.getUTCDate(),
    d.getUTCHours(),
    d.getUTCMinutes(),
    d.getUTCSeconds(),
    0,
  ]);
}

/** The 17-byte date of a volume descriptor: `YYYYMMDDHHMMSScc` and a zero offset from UTC. */
export function volumeDate(seconds: number | undefined): Buffer {
  if (seconds === undefined) return Buffer.concat([Buffer.from("0".repeat(16)), Buffer.from([0])]);
  const d = new Date(seconds * 1000);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const text = `${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}00`;
  return Buffer.concat([Buffer.from(text, "ascii"), Buffer.from([0])]);
}

export interface DirectoryRecord {
  readonly identifier: Buffer;
  readonly sector: number;
  readonly size: number;
  readonly directory: boolean;
  readonly mtime: number;
  /** System use bytes (Rock Ridge entries). */
  readonly systemUse?: Buffer;
}

const RECORD_HEADER = 33;

export function encodeDirectoryRecord(r: DirectoryRecord): Buffer {
  const pad = r.identifier.length % 2 === 0 ? 1 : 0;
  const su = r.systemUse ?? Buffer.alloc(0);
  const length = RECORD_HEADER + r.identifier.length + pad + su.length;
  if (length > 255)
    throw new FormatError(
      `a directory record of ${length} bytes (the name "${r.identifier.toString("latin1")}") exceeds 255`,
    );
  const b = Buffer.alloc(length);
  b[0] = length;
  both32(b, 2, r.sector);
  both32(b, 10, r.size);
  recordDate(r.mtime).copy(b, 18);
  b[25] = r.directory ? 0x02 : 0x00;
  both16(b, 28, 1);
  b[32] = r.identifier.length;
  r.identifier.copy(b, 33);
  su.copy(b, RECORD_HEADER + r.identifier.length + pad);
  return b;
}

export function decodeDirectoryRecord(b: Buffer): DirectoryRecord {
  const length = b[0] ?? 0;
  if (length < RECORD_HEADER + 1 || length > b.length)
    throw new FormatError(`a directory record of length ${length}`);
  const idLength = b[32]!;
  const su = RECORD_HEADER + idLength + (idLength % 2 === 0 ? 1 : 0);
  const d = b.subarray(18, 25);
  return {
    identifier: Buffer.from(b.subarray(33, 33 + idLength)),
    sector: b.readUInt32LE(2),
    size: b.readUInt32LE(10),
    directory: (b[25]! & 0x02) !== 0,
    mtime: Date.UTC(d[0]! + 1900, d[1]! - 1, d[2], d[3], d[4], d[5]) / 1000,
    ...(su < length && { systemUse: Buffer.from(b.subarray(su, length)) }),
  };
}

export interface PrimaryVolume {
  readonly volumeId: string;
  readonly sectors: number;
  readonly pathTableSize: number;
  readonly lPathTable: number;
  readonly mPathTable: number;
  readonly root: DirectoryRecord;
  readonly mtime: number;
}

const SYSTEM_ID = "LINUX";
const APPLICATION_ID = "OSKIT";

export function encodePrimaryVolume(v: PrimaryVolume): Buffer {
  if (!/^[A-Z0-9_]{1,32}$/.test(v.volumeId))
    throw new FormatError(`"${v.volumeId}" is not a volume id (1–32 of A–Z, 0–9 and _)`);
  const d = Buffer.alloc(CD_SECTOR);
  d[0] = 1;
  d.write("CD001", 1, "ascii");
  d[6] = 1;
  padded(d, 8, 32, SYSTEM_ID);
  padded(d, 40, 32, v.volumeId);
  both32(d, 80, v.sectors);
  both16(d, 120, 1);
  both16(d, 124, 1);
  both16(d, 128, CD_SECTOR);
  both32(d, 132, v.pathTableSize);
  d.writeUInt32LE(v.lPathTable, 140);
  d.writeUInt32BE(v.mPathTable, 148);
  encodeDirectoryRecord(v.root).copy(d, 156);
  padded(d, 190, 128, "");
  padded(d, 318, 128, "");
  padded(d, 446, 128, "");
  padded(d, 574, 128, APPLICATION_ID);
  padded(d, 702, 37, "");
  padded(d, 739, 37, "");
  padded(d, 776, 37, "");
  volumeDate(v.mtime).copy(d, 813);
  volumeDate(v.mtime).copy(d, 830);
  volumeDate(undefined).copy(d, 847);
  volumeDate(v.mtime).copy(d, 864);
  d[881] = 1;
  return d;
}

export function decodePrimaryVolume(d: Buffer): PrimaryVolume {
  if (d[0] !== 1 || d.toString("ascii", 1, 6) !== "CD001")
    throw new FormatError("not an ISO 9660 primary volume descriptor");
  const root = decodeDirectoryRecord(d.subarray(156, 190));
  const date = d.toString("ascii", 813, 827);
  return {
    volumeId: d.toString("ascii", 40, 72).trimEnd(),
    sectors: d.readUInt32LE(80),
    pathTableSize: d.readUInt32LE(132),
    lPathTable: d.readUInt32LE(140),
    mPathTable: d.readUInt32BE(148),
    root,
    mtime:
      Date.UTC(
        Number(date.slice(0, 4)),
        Number(date.slice(4, 6)) - 1,
        Number(date.slice(6, 8)),
        Number(date.slice(8, 10)),
        Number(date.slice(10, 12)),
        Number(date.slice(12, 14)),
      ) / 1000,
  };
}

export function encodeTerminator(): Buffer {
  const d = Buffer.alloc(CD_SECTOR);
  d[0] = 255;
  d.write("CD001", 1, "ascii");
  d[6] = 1;
  return d;
}

/** A path table record: a directory's identifier, extent and parent's number (1-based). */
export function encodePathRecord(
  identifier: Buffer,
  sector: number,
  parent: number,
  bigEndian: boolean,
): Buffer {
  const b = Buffer.alloc(8 + identifier.length + (identifier.length % 2));
  b[0] = identifier.length;
  if (bigEndian) {
    b.writeUInt32BE(sector, 2);
    b.writeUInt16BE(parent, 6);
  } else {
    b.writeUInt32LE(sector, 2);
    b.writeUInt16LE(parent, 6);
  }
  identifier.copy(b, 8);
  return b;
}

// ---- Rock Ridge ---------------------------------------------------------------------------

const RRIP_ID = "RRIP_1991A";
const RRIP_DESCRIPTION =
  "THE ROCK RIDGE INTERCHANGE PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS";
const RRIP_SOURCE =
  "PLEASE CONTACT DISC PUBLISHER FOR SPECIFICATION SOURCE.  SEE PUBLISHER IDENTIFIER IN PRIMARY VOLUME DESCRIPTOR FOR CONTACT INFORMATION.";
const RR_PX = 0x01;
const RR_NM = 0x08;

function suspEntry(signature: string, body: Buffer): Buffer {
  const e = Buffer.alloc(4 + body.length);
  e.write(signature, 0, 2, "ascii");
  e[2] = e.length;
  e[3] = 1;
  body.copy(e, 4);
  return e;
}

/** SUSP's SP: this directory's system use areas hold SUSP entries, skipping no bytes. */
const spEntry = () => suspEntry("SP", Buffer.from([0xbe, 0xef, 0]));

/** SUSP's CE: the rest of the entries are in a continuation area. */
function ceEntry(sector: number, offset: number, length: number): Buffer {
  const body = Buffer.alloc(24);
  both32(body, 0, sector);
  both32(body, 8, offset);
  both32(body, 16, length);
  return suspEntry("CE", body);
}

/** SUSP's ER: the extension in use (Rock Ridge 1991A), in the continuation area. */
export function erEntry(): Buffer {
  const id = Buffer.from(RRIP_ID, "ascii");
  const des = Buffer.from(RRIP_DESCRIPTION, "ascii");
  const src = Buffer.from(RRIP_SOURCE, "ascii");
  return suspEntry(
    "ER",
    Buffer.concat([Buffer.from([id.length, des.length, src.length, 1]), id, des, src]),
  );
}

const rrEntry = (flags: number) => suspEntry("RR", Buffer.from([flags]));

function pxEntry(mode: number, links: number): Buffer {
  const body = Buffer.alloc(32);
  both32(body, 0, mode);
  both32(body, 8, links);
  return suspEntry("PX", body);
}

const nmEntry = (name: string) =>
  suspEntry("NM", Buffer.concat([Buffer.from([0]), Buffer.from(name, "utf8")]));

const DIR_MODE = 0o040555;
const FILE_MODE = 0o100444;

// ---- the tree -----------------------------------------------------------------------------

interface Dir {
  readonly name: string;
  readonly identifier: Buffer;
  readonly dirs: Dir[];
  readonly files: { name: string; identifier: Buffer; file: IsoFile }[];
  parent?: Dir;
  number: number;
  sector: number;
  size: number;
}

const D_CHARS = /[^A-Z0-9_]/g;

/** The level-1 identifier of a name: 8.3 (directories 8), uppercase d-characters, `;1` for files. */
export function levelOneName(name: string, directory: boolean): string {
  const upper = name.toUpperCase();
  if (directory) return upper.replace(D_CHARS, "_").slice(0, 8);
  const dot = upper.lastIndexOf(".");
  const base = (dot <= 0 ? upper : upper.slice(0, dot)).replace(D_CHARS, "_").slice(0, 8);
  const ext = (dot <= 0 ? "" : upper.slice(dot + 1)).replace(D_CHARS, "_").slice(0, 3);
  return `${base}.${ext};1`;
}

/** ECMA-119 9.3's order: the name, then the extension, each padded with spaces. */
function compareIdentifiers(a: Buffer, b: Buffer): number {
  const split = (id: Buffer) => {
    const s = id.toString("latin1").replace(/;1$/, "");
    const dot = s.indexOf(".");
    return dot < 0 ? [s, ""] : [s.slice(0, dot), s.slice(dot + 1)];
  };
  const [an, ae] = split(a);
  const [bn, be] = split(b);
  const cmp = (x: string, y: string) => {
    const w = Math.max(x.length, y.length);
    const px = x.padEnd(w, " ");
    const py = y.padEnd(w, " ");
    return px < py ? -1 : px > py ? 1 : 0;
  };
  return cmp(an!, bn!) || cmp(ae!, be!);
}

function buildTree(files: readonly IsoFile[]): Dir {
  const newDir = (name: string): Dir => ({
    name,
    identifier: Buffer.from(levelOneName(name, true), "ascii"),
    dirs: [],
    files: [],
    number: 0,
    sector: 0,
    size: 0,
  });
  const root = newDir("");
  const taken = (dir: Dir, identifier: Buffer, path: string) => {
    const clash =
      dir.dirs.find((d) => d.identifier.equals(identifier)) ??
      dir.files.find((f) => f.identifier.equals(identifier));
    if (clash !== undefined)
      throw new FormatError(
        `iso: ${path} and ${clash.name} have the same ISO 9660 name ${identifier.toString("latin1")}`,
      );
  };
  for (const file of files) {
    const parts = file.path.split("/").filter(Boolean);
    const name = parts.pop();
    if (name === undefined) throw new FormatError(`iso: "${file.path}" names no file`);
    let dir = root;
    for (const part of parts) {
      let next = dir.dirs.find((d) => d.name === part);
      if (next === undefined) {
        next = newDir(part);
        taken(dir, next.identifier, part);
        next.parent = dir;
        dir.dirs.push(next);
      }
      dir = next;
    }
    const identifier = Buffer.from(levelOneName(name, false), "ascii");
    taken(dir, identifier, file.path);
    dir.files.push({ name, identifier, file });
  }
  const sortDir = (dir: Dir) => {
    dir.dirs.sort((a, b) => compareIdentifiers(a.identifier, b.identifier));
    dir.files.sort((a, b) => compareIdentifiers(a.identifier, b.identifier));
    dir.dirs.forEach(sortDir);
  };
  sortDir(root);
  return root;
}

/** Directories in path table order: by level, then parent's number, then identifier. */
function pathTableOrder(root: Dir): Dir[] {
  const order: Dir[] = [root];
  for (let i = 0; i < order.length; i++) order.push(...order[i]!.dirs);
  order.forEach((d, i) => (d.number = i + 1));
  return order;
}

interface RecordSpec {
  readonly identifier: Buffer;
  readonly directory: boolean;
  target(): { sector: number; size: number };
  systemUse(): Buffer;
}

/** The records of a directory: `.`, `..`, then its directories and files in identifier order. */
function recordsOf(
  dir: Dir,
  fileSectors: ReadonlyMap<string, number>,
  ce: () => Buffer,
): RecordSpec[] {
  const parent = dir.parent ?? dir;
  const links = (d: Dir) => 2 + d.dirs.length;
  const subdirs = dir.dirs.map((sub): RecordSpec => ({
    identifier: sub.identifier,
    directory: true,
    target: () => ({ sector: sub.sector, size: sub.size }),
    systemUse: () =>
      Buffer.concat([rrEntry(RR_PX | RR_NM), pxEntry(DIR_MODE, links(sub)), nmEntry(sub.name)]),
  }));
  const files = dir.files.map(({ name, identifier, file }): RecordSpec => ({
    identifier,
    directory: false,
    target: () => ({ sector: fileSectors.get(file.path) ?? 0, size: file.size }),
    systemUse: () => Buffer.concat([rrEntry(RR_PX | RR_NM), pxEntry(FILE_MODE, 1), nmEntry(name)]),
  }));
  return [
    {
      identifier: Buffer.from([0]),
      directory: true,
      target: () => ({ sector: dir.sector, size: dir.size }),
      systemUse: () =>
        dir.parent === undefined
          ? Buffer.concat([spEntry(), rrEntry(RR_PX), pxEntry(DIR_MODE, links(dir)), ce()])
          : Buffer.concat([rrEntry(RR_PX), pxEntry(DIR_MODE, links(dir))]),
    },
    {
      identifier: Buffer.from([1]),
      directory: true,
      target: () => ({ sector: parent.sector, size: parent.size }),
      systemUse: () => Buffer.concat([rrEntry(RR_PX), pxEntry(DIR_MODE, links(parent))]),
    },
    ...[...subdirs, ...files].sort((a, b) => compareIdentifiers(a.identifier, b.identifier)),
  ];
}

/** Lays records into sectors: a record never crosses a sector boundary. */
function packRecords(records: readonly Buffer[]): Buffer {
  const out: Buffer[] = [];
  let used = 0;
  for (const r of records) {
    if (used + r.length > CD_SECTOR) {
      out.push(Buffer.alloc(CD_SECTOR - used));
      used = 0;
    }
    out.push(r);
    used += r.length;
  }
  const bytes = Buffer.concat(out);
  return Buffer.concat([bytes, Buffer.alloc(sectorsFor(bytes.length) * CD_SECTOR - bytes.length)]);
}

const sectorsFor = (bytes: number) => Math.max(1, Math.ceil(bytes / CD_SECTOR));

// ---- the image ----------------------------------------------------------------------------

export function buildIso(options: IsoOptions): IsoImage {
  const root = buildTree(options.files);
  const dirs = pathTableOrder(root);
  const boot = options.boot ?? [];
  const fileSectors = new Map<string, number>();
  const ceArea = erEntry();
  let ceSector = 0;
  const ce = () => ceEntry(ceSector, 0, ceArea.length);
  const recordsByDir = new Map(dirs.map((d) => [d, recordsOf(d, fileSectors, ce)]));

  // A directory's size does not depend on where things are: encode once to size, again to write.
  const encodeDir = (dir: Dir) =>
    packRecords(
      recordsByDir.get(dir)!.map((spec) => {
        const target = spec.target();
        return encodeDirectoryRecord({
          identifier: spec.identifier,
          directory: spec.directory,
          sector: target.sector,
          size: target.size,
          mtime: options.mtime,
          systemUse: spec.systemUse(),
        });
      }),
    );
  for (const d of dirs) d.size = encodeDir(d).length;

  const pathTable = (bigEndian: boolean) =>
    Buffer.concat(
      dirs.map((d) =>
        encodePathRecord(
          d.parent === undefined ? Buffer.from([0]) : d.identifier,
          d.sector,
          (d.parent ?? d).number,
          bigEndian,
        ),
      ),
    );
  const pathTableSize = pathTable(false).length;

  let next = PVD_SECTOR + 1;
  const bootRecordSector = boot.length > 0 ? next++ : undefined;
  const terminatorSector = next++;
  const catalogSector = boot.length > 0 ? next++ : undefined;
  const lPathTable = next;
  next += sectorsFor(pathTableSize);
  const mPathTable = next;
  next += sectorsFor(pathTableSize);
  for (const d of dirs) {
    d.sector = next;
    next += d.size / CD_SECTOR;
  }
  ceSector = next++;
  const files = [...options.files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (const f of files) {
    fileSectors.set(f.path, next);
    next += Math.ceil(f.size / CD_SECTOR);
  }
  const tailSectors = PADDING_SECTORS + Math.ceil((options.tail ?? 0) / CD_SECTOR);
  const total = next + tailSectors;

  const disk = new SparseDisk(total * CD_SECTOR);
  const at = (sector: number) => sector * CD_SECTOR;
  const rootRecord = (): DirectoryRecord => ({
    identifier: Buffer.from([0]),
    sector: root.sector,
    size: root.size,
    directory: true,
    mtime: options.mtime,
  });
  disk.write(
    at(PVD_SECTOR),
    encodePrimaryVolume({
      volumeId: options.volumeId,
      sectors: total,
      pathTableSize,
      lPathTable,
      mPathTable,
      root: rootRecord(),
      mtime: options.mtime,
    }),
  );
  if (bootRecordSector !== undefined && catalogSector !== undefined) {
    disk.write(at(bootRecordSector), encodeBootRecord(catalogSector));
    const entries: BootEntry[] = boot.map((b) => {
      const file = files.find((f) => f.path === b.path);
      if (file === undefined) throw new FormatError(`iso: the boot image ${b.path} is not a file`);
      const count = b.sectorCount ?? Math.ceil(file.size / VIRTUAL_SECTOR);
      return { platform: b.platform, sector: fileSectors.get(b.path)!, sectorCount: count };
    });
    disk.write(at(catalogSector), encodeCatalog(entries));
  }
  disk.write(at(terminatorSector), encodeTerminator());
  disk.write(at(lPathTable), pathTable(false));
  disk.write(at(mPathTable), pathTable(true));
  for (const d of dirs) disk.write(at(d.sector), encodeDir(d));
  disk.write(at(ceSector), ceArea);
  for (const f of files) {
    const entry = boot.find((b) => b.path === f.path);
    const sector = fileSectors.get(f.path)!;
    let regions = f.regions;
    if (entry?.grub2BootInfo === true || entry?.bootInfoTable === true) {
      let data = wholeFile(f);
      if (entry.grub2BootInfo === true) data = withGrub2BootInfo(data, sector);
      if (entry.bootInfoTable === true) data = withBootInfoTable(data, PVD_SECTOR, sector);
      regions = [{ offset: 0, data }];
    }
    for (const r of regions) {
      if (r.offset < 0 || r.offset + r.data.length > f.size)
        throw new FormatError(`iso: ${f.path} has bytes outside its ${f.size} bytes`);
      disk.write(at(fileSectors.get(f.path)!) + r.offset, r.data);
    }
  }
  return { disk, sectors: fileSectors, ...(catalogSector !== undefined && { catalogSector }) };
}

/** Where GRUB's diskboot.img keeps its first block list entry, in the El Torito image. */
const GRUB2_BOOT_INFO = CD_SECTOR + 500;

function withGrub2BootInfo(image: Buffer, sector: number): Buffer {
  if (image.length < GRUB2_BOOT_INFO + 12 || image.readUInt16LE(GRUB2_BOOT_INFO + 10) !== 0x820)
    throw new FormatError(
      "the boot image has no diskboot.img after its first 2048 bytes (no block list loading at segment 0x820): not GRUB's El Torito image",
    );
  const patched = Buffer.from(image);
  patched.writeBigUInt64LE(BigInt(sector * (CD_SECTOR / VIRTUAL_SECTOR) + 5), GRUB2_BOOT_INFO);
  return patched;
}

function wholeFile(f: IsoFile): Buffer {
  const out = Buffer.alloc(f.size);
  for (const r of f.regions) r.data.copy(out, r.offset);
  return out;
}
