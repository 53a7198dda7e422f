/**
 * A FAT file system (Microsoft's FAT specification, fatgen103) written from a list of files, as
 * an EFI system partition: the FAT type follows from the cluster count (FAT12 below 4085
 * clusters, FAT16 below 65525, FAT32 from there), files are contiguous, names are uppercase 8.3,
 * timestamps fixed, no label, the volume id given. Firmware (OVMF/EDK2) and dosfstools accept a
 * type only with the cluster count that goes with it, so the layout is searched, not assumed.
 */
import { FormatError } from "../../errors";
import { SECTOR } from "../disk/sparse-disk";

export interface FatFile {
  /** Relative path with `/` separators, e.g. `EFI/BOOT/BOOTX64.EFI`. */
  readonly path: string;
  readonly data: Buffer;
}

export interface FatOptions {
  /** Size of the file system in sectors. */
  readonly sectors: number;
  /** Sectors before the file system on its disk (the partition's first sector). */
  readonly hiddenSectors: number;
  readonly volumeId: number;
  /** Timestamp of every entry, seconds since the epoch. */
  readonly mtime: number;
}

export type FatType = 12 | 16 | 32;

export interface FatLayout {
  readonly type: FatType;
  readonly sectorsPerCluster: number;
  readonly reservedSectors: number;
  readonly fatSectors: number;
  readonly rootSectors: number;
  readonly clusters: number;
}

export interface FatImage extends FatLayout {
  /** The bytes to place, at byte offsets from the start of the file system. */
  readonly regions: readonly { readonly offset: number; readonly data: Buffer }[];
}

const ROOT_ENTRIES = 512;
const MAX_CLUSTERS: Record<FatType, number> = { 12: 4084, 16: 65524, 32: 0x0ffffff4 };
const MIN_CLUSTERS: Record<FatType, number> = { 12: 1, 16: 4085, 32: 65525 };

/** The smallest FAT that can address every cluster of the remaining space, for one type and cluster size. */
function layoutFor(sectors: number, type: FatType, spc: number): FatLayout | undefined {
  const reservedSectors = type === 32 ? 32 : 1;
  const rootSectors = type === 32 ? 0 : (ROOT_ENTRIES * 32) / SECTOR;
  for (let fatSectors = 1; ; fatSectors++) {
    const data = sectors - reservedSectors - 2 * fatSectors - rootSectors;
    if (data < spc) return undefined;
    const clusters = Math.floor(data / spc);
    if (Math.floor((fatSectors * SECTOR * 8) / type) >= clusters + 2) {
      if (clusters < MIN_CLUSTERS[type] || clusters > MAX_CLUSTERS[type]) return undefined;
      return { type, sectorsPerCluster: spc, reservedSectors, fatSectors, rootSectors, clusters };
    }
  }
}

/**
 * The layout for a size: FAT32 with the largest clusters (up to 4 KiB) that still give it 65525
 * clusters; else FAT16 with the smallest clusters that keep it under 65525; else FAT12.
 */
export function chooseLayout(sectors: number): FatLayout {
  for (const spc of [8, 4, 2, 1]) {
    const l = layoutFor(sectors, 32, spc);
    if (l !== undefined) return l;
  }
  for (const type of [16, 12] as const) {
    for (const spc of [1, 2, 4, 8, 16, 32, 64]) {
      const l = layoutFor(sectors, type, spc);
      if (l !== undefined) return l;
    }
  }
  throw new FormatError(`${sectors} sectors are too few for a FAT file system`);
}

/** An 8.3 name as stored: 11 bytes, uppercase, space-padded. */
export function shortName(name: string): Buffer {
  const upper = name.toUpperCase();
  const dot = upper.lastIndexOf(".");
  const base = dot < 0 ? upper : upper.slice(0, dot);
  const ext = dot < 0 ? "" : upper.slice(dot + 1);
  const valid = /^[A-Z0-9!#$%&'()@^_`{}~-]+$/;
  if (
    base.length === 0 ||
    base.length > 8 ||
    ext.length > 3 ||
    !valid.test(base) ||
    (ext !== "" && !valid.test(ext))
  )
    throw new FormatError(`"${name}" is not an 8.3 file name (up to 8 letters, a dot, up to 3)`);
  return Buffer.from(base.padEnd(8, " ") + ext.padEnd(3, " "), "latin1");
}

function dosDateTime(seconds: number): { date: number; time: number } {
  const d = new Date(Math.max(seconds, 315532800) * 1000);
  return {
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
  };
}

interface Dir {
  readonly dirs: Map<string, Dir>;
  readonly files: Map<string, Buffer>;
  cluster: number;
  clusterCount: number;
}

const newDir = (): Dir => ({ dirs: new Map(), files: new Map(), cluster: 0, clusterCount: 0 });

function tree(files: readonly FatFile[]): Dir {
  const root = newDir();
  for (const file of files) {
    const parts = file.path.split("/").filter(Boolean);
    let dir = root;
    for (const part of parts.slice(0, -1)) {
      shortName(part);
      const key = part.toUpperCase();
      if (dir.files.has(key)) throw new FormatError(`${file.path}: ${part} is a file`);
      let next = dir.dirs.get(key);
      if (next === undefined) dir.dirs.set(key, (next = newDir()));
      dir = next;
    }
    const name = parts.at(-1);
    if (name === undefined) throw new FormatError(`"${file.path}" names no file`);
    shortName(name);
    const key = name.toUpperCase();
    if (dir.files.has(key) || dir.dirs.has(key))
      throw new FormatError(`${file.path} is given twice (FAT names ignore case)`);
    dir.files.set(key, file.data);
  }
  return root;
}

const sorted = <T>(map: Map<string, T>) =>
  [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));

function entry(
  name: Buffer,
  attr: number,
  cluster: number,
  size: number,
  stamp: { date: number; time: number },
): Buffer {
  const e = Buffer.alloc(32);
  name.copy(e, 0);
  e[11] = attr;
  e.writeUInt16LE(stamp.time, 14);
  e.writeUInt16LE(stamp.date, 16);
  e.writeUInt16LE(stamp.date, 18);
  e.writeUInt16LE(cluster >>> 16, 20);
  e.writeUInt16LE(stamp.time, 22);
  e.writeUInt16LE(stamp.date, 24);
  e.writeUInt16LE(cluster & 0xffff, 26);
  e.writeUInt32LE(size, 28);
  return e;
}

const ATTR_DIRECTORY = 0x10;
const ATTR_ARCHIVE = 0x20;

/** Builds the file system's bytes: boot sector (and FSInfo and backups for FAT32), both FATs, directories, files. */
export function buildFat(files: readonly FatFile[], options: FatOptions): FatImage {
  const layout = chooseLayout(options.sectors);
  const { type, sectorsPerCluster: spc, reservedSectors, fatSectors, rootSectors } = layout;
  const clusterBytes = spc * SECTOR;
  const root = tree(files);
  const stamp = dosDateTime(options.mtime);
  const fat = new Array<number>(layout.clusters + 2).fill(0);
  const eoc = type === 12 ? 0xfff : type === 16 ? 0xffff : 0x0fffffff;
  fat[0] = type === 12 ? 0xff8 : type === 16 ? 0xfff8 : 0x0ffffff8;
  fat[1] = eoc;
  let next = 2;
  const allocate = (bytes: number, what: string): { first: number; count: number } => {
    const count = Math.ceil(bytes / clusterBytes);
    if (count === 0) return { first: 0, count: 0 };
    if (next + count > layout.clusters + 2)
      throw new FormatError(
        `${what} does not fit: the ${(options.sectors * SECTOR) >> 20} MiB FAT${type} file system has ${layout.clusters} clusters of ${clusterBytes} bytes`,
      );
    const first = next;
    for (let c = first; c < first + count; c++) fat[c] = c === first + count - 1 ? eoc : c + 1;
    next += count;
    return { first, count };
  };
  const dirBytes = (dir: Dir, isRoot: boolean) =>
    (dir.dirs.size + dir.files.size + (isRoot ? 0 : 2)) * 32;

  const regions: { offset: number; data: Buffer }[] = [];
  const dataStart = (reservedSectors + 2 * fatSectors + rootSectors) * SECTOR;
  const clusterOffset = (cluster: number) => dataStart + (cluster - 2) * clusterBytes;

  const place = (dir: Dir, isRoot: boolean, parentCluster: number, path: string) => {
    if (!isRoot || type === 32) {
      const { first, count } = allocate(Math.max(dirBytes(dir, isRoot), 1), path || "/");
      dir.cluster = first;
      dir.clusterCount = count;
    }
    const fileClusters = new Map<string, number>();
    for (const [name, data] of sorted(dir.files))
      fileClusters.set(name, allocate(data.length, `${path}/${name}`).first);
    for (const [name, sub] of sorted(dir.dirs))
      place(sub, false, isRoot ? 0 : dir.cluster, `${path}/${name}`);

    const entries: Buffer[] = [];
    if (!isRoot) {
      entries.push(
        entry(Buffer.from(".          ", "latin1"), ATTR_DIRECTORY, dir.cluster, 0, stamp),
      );
      entries.push(
        entry(Buffer.from("..         ", "latin1"), ATTR_DIRECTORY, parentCluster, 0, stamp),
      );
    }
    for (const [name, sub] of sorted(dir.dirs))
      entries.push(entry(shortName(name), ATTR_DIRECTORY, sub.cluster, 0, stamp));
    for (const [name, data] of sorted(dir.files))
      entries.push(
        entry(shortName(name), ATTR_ARCHIVE, fileClusters.get(name)!, data.length, stamp),
      );
    const bytes = Buffer.concat(entries);
    if (isRoot && type !== 32) {
      if (entries.length > ROOT_ENTRIES)
        throw new FormatError(`the root directory holds at most ${ROOT_ENTRIES} entries`);
      regions.push({ offset: (reservedSectors + 2 * fatSectors) * SECTOR, data: bytes });
    } else {
      regions.push({ offset: clusterOffset(dir.cluster), data: bytes });
    }
    for (const [name, data] of sorted(dir.files)) {
      const cluster = fileClusters.get(name)!;
      if (data.length > 0) regions.push({ offset: clusterOffset(cluster), data });
    }
  };
  place(root, true, 0, "");

  const table = encodeFat(fat, type, fatSectors * SECTOR);
  regions.push({ offset: reservedSectors * SECTOR, data: table });
  regions.push({ offset: (reservedSectors + fatSectors) * SECTOR, data: table });
  const boot = bootSector(layout, options, root.cluster);
  regions.push({ offset: 0, data: boot });
  if (type === 32) {
    const info = fsInfo(layout.clusters + 2 - next);
    regions.push({ offset: SECTOR, data: info });
    regions.push({ offset: 6 * SECTOR, data: boot });
    regions.push({ offset: 7 * SECTOR, data: info });
  }
  regions.sort((a, b) => a.offset - b.offset);
  return { ...layout, regions };
}

function encodeFat(fat: readonly number[], type: FatType, size: number): Buffer {
  const out = Buffer.alloc(size);
  fat.forEach((value, n) => {
    if (type === 32) out.writeUInt32LE(value, n * 4);
    else if (type === 16) out.writeUInt16LE(value, n * 2);
    else {
      const at = Math.floor((n * 3) / 2);
      if (n % 2 === 0) {
        out[at] = value & 0xff;
        out[at + 1] = (out[at + 1]! & 0xf0) | ((value >> 8) & 0x0f);
      } else {
        out[at] = (out[at]! & 0x0f) | ((value << 4) & 0xf0);
        out[at + 1] = (value >> 4) & 0xff;
      }
    }
  });
  return out;
}

function bootSector(layout: FatLayout, options: FatOptions, rootCluster: number): Buffer {
  const b = Buffer.alloc(SECTOR);
  const fat32 = layout.type === 32;
  b.set(fat32 ? [0xeb, 0x58, 0x90] : [0xeb, 0x3c, 0x90], 0);
  b.write("MSWIN4.1", 3, "latin1");
  b.writeUInt16LE(SECTOR, 11);
  b[13] = layout.sectorsPerCluster;
  b.writeUInt16LE(layout.reservedSectors, 14);
  b[16] = 2;
  b.writeUInt16LE(fat32 ? 0 : ROOT_ENTRIES, 17);
  b.writeUInt16LE(!fat32 && options.sectors < 0x10000 ? options.sectors : 0, 19);
  b[21] = 0xf8;
  b.writeUInt16LE(fat32 ? 0 : layout.fatSectors, 22);
  b.writeUInt16LE(63, 24);
  b.writeUInt16LE(255, 26);
  b.writeUInt32LE(options.hiddenSectors, 28);
  b.writeUInt32LE(!fat32 && options.sectors < 0x10000 ? 0 : options.sectors, 32);
  let at = 36;
  if (fat32) {
    b.writeUInt32LE(layout.fatSectors, 36);
    b.writeUInt16LE(0, 40);
    b.writeUInt16LE(0, 42);
    b.writeUInt32LE(rootCluster, 44);
    b.writeUInt16LE(1, 48);
    b.writeUInt16LE(6, 50);
    at = 64;
  }
  b[at] = 0x80;
  b[at + 2] = 0x29;
  b.writeUInt32LE(options.volumeId >>> 0, at + 3);
  b.write("NO NAME    ", at + 7, "latin1");
  b.write(fat32 ? "FAT32   " : layout.type === 16 ? "FAT16   " : "FAT12   ", at + 18, "latin1");
  b[510] = 0x55;
  b[511] = 0xaa;
  return b;
}

function fsInfo(free: number): Buffer {
  const s = Buffer.alloc(SECTOR);
  s.writeUInt32LE(0x41615252, 0);
  s.writeUInt32LE(0x61417272, 484);
  s.writeUInt32LE(free, 488);
  s.writeUInt32LE(0xffffffff, 492);
  s.writeUInt32LE(0xaa550000, 508);
  return s;
}
