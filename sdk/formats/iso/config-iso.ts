/**
 * The smallest useful ISO 9660 image: one file in the root directory, for the configuration
 * CD-ROM `oskit run qemu --data` attaches (the metadata package reads `config` from it). No Rock
 * Ridge or Joliet: Linux shows the level-1 name `CONFIG.;1` as `config`.
 *
 * Layout, in 2048-byte sectors: 0–15 system area, 16 primary volume descriptor, 17 terminator,
 * 18 and 19 the path tables (little- and big-endian), 20 the root directory, 21… the file.
 */
import { FormatError } from "../../errors";

const SECTOR = 2048;
const PVD = 16;
const TERMINATOR = 17;
const L_PATH_TABLE = 18;
const M_PATH_TABLE = 19;
const ROOT_DIR = 20;
const FILE_DATA = 21;

function bothEndian32(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt32LE(value, offset);
  buf.writeUInt32BE(value, offset + 4);
}

function bothEndian16(buf: Buffer, offset: number, value: number): void {
  buf.writeUInt16LE(value, offset);
  buf.writeUInt16BE(value, offset + 2);
}

function text(buf: Buffer, offset: number, width: number, value: string): void {
  buf.write(value.padEnd(width, " ").slice(0, width), offset, width, "ascii");
}

/** 7-byte recording date of a directory record (UTC). */
function recordDate(date: Date): Buffer {
  return Buffer.from([
    date.getUTCFullYear() - 1900,
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
    0,
  ]);
}

/** 17-byte volume descriptor date: "YYYYMMDDHHMMSScc" and a zero UTC offset. */
function volumeDate(date: Date): Buffer {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  const s = `${p(date.getUTCFullYear(), 4)}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}00`;
  return Buffer.concat([Buffer.from(s, "ascii"), Buffer.from([0])]);
}

function directoryRecord(
  identifier: Buffer,
  extent: number,
  size: number,
  directory: boolean,
  date: Date,
): Buffer {
  const length = 33 + identifier.length + (identifier.length % 2 === 0 ? 1 : 0);
  const record = Buffer.alloc(length);
  record[0] = length;
  bothEndian32(record, 2, extent);
  bothEndian32(record, 10, size);
  recordDate(date).copy(record, 18);
  record[25] = directory ? 0x02 : 0;
  bothEndian16(record, 28, 1);
  record[32] = identifier.length;
  identifier.copy(record, 33);
  return record;
}

function pathTable(bigEndian: boolean): Buffer {
  const record = Buffer.alloc(10);
  record[0] = 1;
  if (bigEndian) {
    record.writeUInt32BE(ROOT_DIR, 2);
    record.writeUInt16BE(1, 6);
  } else {
    record.writeUInt32LE(ROOT_DIR, 2);
    record.writeUInt16LE(1, 6);
  }
  return record;
}

/** An ISO 9660 image holding one file, `name` (uppercased to a level-1 name), with `data`. */
export function configIso(
  data: Uint8Array,
  options: { readonly name?: string; readonly volumeId?: string; readonly date?: Date } = {},
): Buffer {
  const name = (options.name ?? "config").toUpperCase();
  if (!/^[A-Z0-9_]{1,8}$/.test(name))
    throw new FormatError(
      `iso: "${name}" is not an ISO 9660 level-1 name (up to 8 letters, digits or _)`,
    );
  const date = options.date ?? new Date(0);
  const fileSectors = Math.ceil(data.length / SECTOR);
  const total = FILE_DATA + fileSectors;
  const image = Buffer.alloc(total * SECTOR);

  const root = () => directoryRecord(Buffer.from([0]), ROOT_DIR, SECTOR, true, date);
  const pvd = image.subarray(PVD * SECTOR, (PVD + 1) * SECTOR);
  pvd[0] = 1;
  pvd.write("CD001", 1, "ascii");
  pvd[6] = 1;
  text(pvd, 8, 32, "LINUX");
  text(pvd, 40, 32, options.volumeId ?? "CONFIG");
  bothEndian32(pvd, 80, total);
  bothEndian16(pvd, 120, 1);
  bothEndian16(pvd, 124, 1);
  bothEndian16(pvd, 128, SECTOR);
  bothEndian32(pvd, 132, 10);
  pvd.writeUInt32LE(L_PATH_TABLE, 140);
  pvd.writeUInt32BE(M_PATH_TABLE, 148);
  root().copy(pvd, 156);
  for (const [offset, width] of [
    [190, 128],
    [318, 128],
    [446, 128],
    [574, 128],
    [702, 37],
    [739, 37],
    [776, 37],
  ] as const)
    text(pvd, offset, width, "");
  volumeDate(date).copy(pvd, 813);
  volumeDate(date).copy(pvd, 830);
  Buffer.concat([Buffer.from("0000000000000000", "ascii"), Buffer.from([0])]).copy(pvd, 847);
  volumeDate(date).copy(pvd, 864);
  pvd[881] = 1;

  const terminator = image.subarray(TERMINATOR * SECTOR);
  terminator[0] = 255;
  terminator.write("CD001", 1, "ascii");
  terminator[6] = 1;

  pathTable(false).copy(image, L_PATH_TABLE * SECTOR);
  pathTable(true).copy(image, M_PATH_TABLE * SECTOR);

  const records = Buffer.concat([
    root(),
    directoryRecord(Buffer.from([1]), ROOT_DIR, SECTOR, true, date),
    directoryRecord(Buffer.from(`${name}.;1`, "ascii"), FILE_DATA, data.length, false, date),
  ]);
  records.copy(image, ROOT_DIR * SECTOR);
  Buffer.from(data).copy(image, FILE_DATA * SECTOR);
  return image;
}
