/**
 * The cpio "newc" header (SVR4 without checksums), the format of Linux initramfs archives:
 * the magic `070701`, thirteen 8-digit hex fields, then the NUL-terminated name padded to 4
 * bytes; file data follows, padded to 4 bytes.
 */
import { FormatError } from "../../errors";

export const NEWC_MAGIC = "070701";
export const HEADER_SIZE = 110;
export const TRAILER_NAME = "TRAILER!!!";
/** The largest number a field holds; file sizes above it (4 GiB) cannot be in a newc archive. */
export const FIELD_MAX = 0xffffffff;

/** File type bits of `mode`. */
export const S_IFMT = 0o170000;
export const FileType = {
  Socket: 0o140000,
  Symlink: 0o120000,
  File: 0o100000,
  Block: 0o060000,
  Directory: 0o040000,
  Char: 0o020000,
  Fifo: 0o010000,
} as const;

export interface NewcHeader {
  readonly ino: number;
  /** Type and permission bits. */
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly filesize: number;
  readonly devmajor: number;
  readonly devminor: number;
  readonly rdevmajor: number;
  readonly rdevminor: number;
  readonly name: string;
}

const FIELDS = [
  "ino",
  "mode",
  "uid",
  "gid",
  "nlink",
  "mtime",
  "filesize",
  "devmajor",
  "devminor",
  "rdevmajor",
  "rdevminor",
] as const;

export const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** The header and name of an entry, padded so that its data starts on a 4-byte boundary. */
export function encodeNewcHeader(h: NewcHeader): Buffer {
  const name = Buffer.from(`${h.name}\0`, "utf8");
  let text = NEWC_MAGIC;
  for (const field of FIELDS) {
    const value = h[field];
    if (!Number.isInteger(value) || value < 0 || value > FIELD_MAX) {
      throw new FormatError(
        field === "filesize"
          ? `cpio: ${h.name} is ${value} bytes; a newc archive (an initrd) cannot hold a file of 4 GiB or more — use a disk format`
          : `cpio: ${h.name}: ${field} ${value} does not fit 32 bits`,
      );
    }
    text += value.toString(16).padStart(8, "0");
  }
  text += name.length.toString(16).padStart(8, "0");
  text += "00000000";
  const header = Buffer.from(text, "ascii");
  return Buffer.concat([header, name, Buffer.alloc(pad4(HEADER_SIZE + name.length))]);
}

/** Decodes a header at `offset`; returns it with the offset of its data. */
export function decodeNewcHeader(
  data: Buffer,
  offset: number,
): { header: NewcHeader; dataOffset: number } {
  if (data.length < offset + HEADER_SIZE) throw new FormatError("cpio: truncated header");
  const text = data.subarray(offset, offset + HEADER_SIZE).toString("ascii");
  if (!text.startsWith(NEWC_MAGIC))
    throw new FormatError(`cpio: bad magic "${text.slice(0, 6)}" at ${offset}`);
  const field = (i: number) => {
    const hex = text.slice(6 + i * 8, 14 + i * 8);
    if (!/^[0-9a-fA-F]{8}$/.test(hex))
      throw new FormatError(`cpio: bad field "${hex}" at ${offset}`);
    return parseInt(hex, 16);
  };
  const values = Object.fromEntries(FIELDS.map((f, i) => [f, field(i)])) as Record<
    (typeof FIELDS)[number],
    number
  >;
  const nameSize = field(11);
  const nameStart = offset + HEADER_SIZE;
  if (nameSize === 0 || data.length < nameStart + nameSize)
    throw new FormatError("cpio: truncated name");
  const name = data.subarray(nameStart, nameStart + nameSize - 1).toString("utf8");
  return {
    header: { ...values, name },
    dataOffset: nameStart + nameSize + pad4(HEADER_SIZE + nameSize),
  };
}
