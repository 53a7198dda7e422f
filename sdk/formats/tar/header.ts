/**
 * The tar header block (POSIX ustar, 512 bytes) and pax extended header records.
 *
 * Numeric fields are octal ASCII; a field too small for a value is refused (the writer then
 * records the value in a pax header). On decode, GNU's base-256 encoding of large numbers is
 * accepted too, since archives made by GNU tar and dpkg-deb use it.
 */
import { FormatError } from "../../errors";

export const BLOCK = 512;

/** Entry types (the typeflag byte). */
export const TarType = {
  File: "0",
  HardLink: "1",
  Symlink: "2",
  CharDevice: "3",
  BlockDevice: "4",
  Directory: "5",
  Fifo: "6",
  Contiguous: "7",
  PaxHeader: "x",
  PaxGlobalHeader: "g",
  GnuLongName: "L",
  GnuLongLink: "K",
} as const;
export type TarType = (typeof TarType)[keyof typeof TarType];

/** The fields of a header block, decoded. */
export interface TarHeader {
  readonly path: string;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
  readonly type: TarType;
  readonly linkname: string;
  readonly uname: string;
  readonly gname: string;
  readonly devmajor: number;
  readonly devminor: number;
}

/** Field offsets and widths of the ustar header. */
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
} as const satisfies Record<string, readonly [number, number]>;

const MAGIC = "ustar\0";
const VERSION = "00";
const KNOWN_TYPES = new Set<string>(Object.values(TarType));

/** The largest number an octal field of `width` bytes holds (width − 1 digits and a NUL). */
export function octalLimit(width: number): number {
  return 8 ** (width - 1) - 1;
}

/** How a path splits into ustar's prefix and name fields, or undefined when it cannot. */
export function splitUstarPath(path: string): { prefix: string; name: string } | undefined {
  const bytes = Buffer.byteLength(path);
  if (bytes <= F.name[1]) return { prefix: "", name: path };
  for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (
      Buffer.byteLength(prefix) <= F.prefix[1] &&
      Buffer.byteLength(name) <= F.name[1] &&
      name !== ""
    ) {
      return { prefix, name };
    }
  }
  return undefined;
}

/** Whether every field of the header fits a plain ustar block. */
export function fitsUstar(h: TarHeader): boolean {
  return (
    splitUstarPath(h.path) !== undefined &&
    Buffer.byteLength(h.linkname) <= F.linkname[1] &&
    Buffer.byteLength(h.uname) <= F.uname[1] &&
    Buffer.byteLength(h.gname) <= F.gname[1] &&
    h.size <= octalLimit(F.size[1]) &&
    h.uid <= octalLimit(F.uid[1]) &&
    h.gid <= octalLimit(F.gid[1]) &&
    h.mtime <= octalLimit(F.mtime[1]) &&
    h.mtime >= 0
  );
}

function writeString(
  block: Buffer,
  [offset, width]: readonly [number, number],
  value: string,
  field: string,
): void {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > width)
    throw new FormatError(`tar: ${field} "${value}" is longer than ${width} bytes`);
  bytes.copy(block, offset);
}

function writeOctal(
  block: Buffer,
  [offset, width]: readonly [number, number],
  value: number,
  field: string,
): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > octalLimit(width)) {
    throw new FormatError(`tar: ${field} ${value} does not fit a ${width}-byte octal field`);
  }
  block.write(`${value.toString(8).padStart(width - 1, "0")}\0`, offset, width, "ascii");
}

/** The checksum: the sum of the header's bytes with the checksum field read as spaces. */
export function checksum(block: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) {
    sum += i >= F.chksum[0] && i < F.chksum[0] + F.chksum[1] ? 0x20 : block[i]!;
  }
  return sum;
}

/** Encodes a ustar header block; throws FormatError when a value does not fit (see fitsUstar). */
export function encodeHeader(h: TarHeader): Buffer {
  const block = Buffer.alloc(BLOCK);
  const split = splitUstarPath(h.path);
  if (split === undefined)
    throw new FormatError(`tar: path "${h.path}" does not fit ustar's name and prefix fields`);
  writeString(block, F.name, split.name, "name");
  writeString(block, F.prefix, split.prefix, "prefix");
  writeOctal(block, F.mode, h.mode, "mode");
  writeOctal(block, F.uid, h.uid, "uid");
  writeOctal(block, F.gid, h.gid, "gid");
  writeOctal(block, F.size, h.size, "size");
  writeOctal(block, F.mtime, h.mtime, "mtime");
  block.write(h.type, F.typeflag[0], 1, "ascii");
  writeString(block, F.linkname, h.linkname, "linkname");
  block.write(MAGIC, F.magic[0], F.magic[1], "ascii");
  block.write(VERSION, F.version[0], F.version[1], "ascii");
  writeString(block, F.uname, h.uname, "uname");
  writeString(block, F.gname, h.gname, "gname");
  writeOctal(block, F.devmajor, h.devmajor, "devmajor");
  writeOctal(block, F.devminor, h.devminor, "devminor");
  block.write(
    `${checksum(block).toString(8).padStart(6, "0")}\0 `,
    F.chksum[0],
    F.chksum[1],
    "ascii",
  );
  return block;
}

function readString(block: Buffer, [offset, width]: readonly [number, number]): string {
  const field = block.subarray(offset, offset + width);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? width : end).toString("utf8");
}

function readNumber(
  block: Buffer,
  [offset, width]: readonly [number, number],
  field: string,
): number {
  const bytes = block.subarray(offset, offset + width);
  if ((bytes[0]! & 0x80) !== 0) {
    if ((bytes[0]! & 0x40) !== 0) throw new FormatError(`tar: negative base-256 ${field}`);
    let value = bytes[0]! & 0x3f;
    for (let i = 1; i < width; i++) value = value * 256 + bytes[i]!;
    if (!Number.isSafeInteger(value)) throw new FormatError(`tar: ${field} is too large`);
    return value;
  }
  const text = bytes
    .toString("ascii")
    .replace(/[\0 ]+$/, "")
    .replace(/^[ ]+/, "");
  if (text === "") return 0;
  if (!/^[0-7]+$/.test(text)) throw new FormatError(`tar: ${field} field "${text}" is not octal`);
  return parseInt(text, 8);
}

/** True for the all-zero block that ends an archive. */
export function isZeroBlock(block: Uint8Array): boolean {
  return block.every((b) => b === 0);
}

/** Decodes a header block, verifying its checksum. */
export function decodeHeader(block: Buffer): TarHeader {
  if (block.length !== BLOCK)
    throw new FormatError(`tar: a header is ${BLOCK} bytes, got ${block.length}`);
  const recorded = readNumber(block, F.chksum, "checksum");
  const actual = checksum(block);
  if (recorded !== actual)
    throw new FormatError(
      `tar: header checksum ${recorded} does not match ${actual}; the archive is corrupt or not a tar`,
    );
  const typeflag = String.fromCharCode(block[F.typeflag[0]]!);
  const type = (typeflag === "\0" ? TarType.File : typeflag) as TarType;
  if (!KNOWN_TYPES.has(type)) throw new FormatError(`tar: unsupported entry type "${typeflag}"`);
  const name = readString(block, F.name);
  const ustar = block.subarray(F.magic[0], F.magic[0] + 5).toString("ascii") === "ustar";
  const prefix = ustar ? readString(block, F.prefix) : "";
  return {
    path: prefix === "" ? name : `${prefix}/${name}`,
    mode: readNumber(block, F.mode, "mode") & 0o7777,
    uid: readNumber(block, F.uid, "uid"),
    gid: readNumber(block, F.gid, "gid"),
    size: readNumber(block, F.size, "size"),
    mtime: readNumber(block, F.mtime, "mtime"),
    type,
    linkname: readString(block, F.linkname),
    uname: ustar ? readString(block, F.uname) : "",
    gname: ustar ? readString(block, F.gname) : "",
    devmajor: ustar ? readNumber(block, F.devmajor, "devmajor") : 0,
    devminor: ustar ? readNumber(block, F.devminor, "devminor") : 0,
  };
}

/** pax records `"<length> <key>=<value>\n"`, where length counts the whole record. */
export function encodePax(records: Readonly<Record<string, string>>): Buffer {
  const parts: Buffer[] = [];
  for (const key of Object.keys(records).sort()) {
    const body = ` ${key}=${records[key]!}\n`;
    const bodyLength = Buffer.byteLength(body);
    let length = bodyLength;
    while (length !== bodyLength + String(length).length)
      length = bodyLength + String(length).length;
    parts.push(Buffer.from(`${length}${body}`));
  }
  return Buffer.concat(parts);
}

export function decodePax(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let offset = 0;
  while (offset < data.length) {
    const space = data.indexOf(0x20, offset);
    const length = space < 0 ? NaN : Number(data.subarray(offset, space).toString("ascii"));
    if (!Number.isInteger(length) || length <= 0 || offset + length > data.length) {
      throw new FormatError("tar: malformed pax extended header");
    }
    const record = data.subarray(space + 1, offset + length - 1).toString("utf8");
    const eq = record.indexOf("=");
    if (eq <= 0) throw new FormatError("tar: malformed pax record");
    records[record.slice(0, eq)] = record.slice(eq + 1);
    offset += length;
  }
  return records;
}
