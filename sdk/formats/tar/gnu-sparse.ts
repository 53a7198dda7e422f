/**
 * One sparse file in a GNU tar archive (the old GNU format, `ustar  \0`, type `S`), as Google
 * Compute Engine's image import reads it (`tar --format=oldgnu -S`): the header carries the map
 * of data regions (4 in the header, 21 per extension block), the real size, and the regions'
 * bytes follow; holes take no space. Numbers past the octal fields use GNU's base-256 form.
 */
import { FormatError } from "../../errors";
import type { Extent } from "../disk/sparse-disk";
import { BLOCK } from "./header";
import type { Sink } from "./writer";

/** GNU tar's default blocking: archives are padded to 20 blocks. */
const RECORD = 20 * BLOCK;

function number(out: Buffer, at: number, width: number, value: number): void {
  if (value < 8 ** (width - 1)) {
    out.write(value.toString(8).padStart(width - 1, "0"), at, "latin1");
    out[at + width - 1] = 0;
    return;
  }
  out.fill(0, at, at + width);
  out[at] = 0x80;
  let v = BigInt(value);
  for (let i = width - 1; i > 0; i--) {
    out[at + i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function writeMap(block: Buffer, at: number, entries: readonly Extent[]): void {
  entries.forEach((e, i) => {
    number(block, at + i * 24, 12, e.offset);
    number(block, at + i * 24 + 12, 12, e.length);
  });
}

export interface SparseEntry {
  readonly name: string;
  readonly size: number;
  readonly mtime: number;
  /** The data regions, ascending, within the size. */
  readonly regions: readonly Extent[];
  /** The bytes of a region. */
  read(offset: number, length: number): Buffer;
}

/** Writes a whole archive holding one sparse file, then the end blocks and padding to a record. */
export async function writeSparseArchive(entry: SparseEntry, sink: Sink): Promise<void> {
  if (Buffer.byteLength(entry.name) > 99) throw new FormatError(`${entry.name}: name too long`);
  let last = 0;
  for (const r of entry.regions) {
    if (r.offset < last || r.offset + r.length > entry.size)
      throw new FormatError(`${entry.name}: sparse regions must ascend within the file`);
    last = r.offset + r.length;
  }
  const map: Extent[] = [...entry.regions];
  if (last < entry.size || map.length === 0) map.push({ offset: entry.size, length: 0 });
  const stored = entry.regions.reduce((n, r) => n + r.length, 0);

  const header = Buffer.alloc(BLOCK);
  header.write(entry.name, 0, "utf8");
  number(header, 100, 8, 0o644);
  number(header, 108, 8, 0);
  number(header, 116, 8, 0);
  number(header, 124, 12, stored);
  number(header, 136, 12, entry.mtime);
  header.write("S", 156, "latin1");
  header.write("ustar  \0", 257, "latin1");
  header.write("root", 265, "latin1");
  header.write("root", 297, "latin1");
  writeMap(header, 386, map.slice(0, 4));
  header[482] = map.length > 4 ? 1 : 0;
  number(header, 483, 12, entry.size);
  header.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");

  let written = 0;
  const emit = async (chunk: Buffer) => {
    written += chunk.length;
    await sink(chunk);
  };
  await emit(header);
  for (let i = 4; i < map.length; i += 21) {
    const block = Buffer.alloc(BLOCK);
    writeMap(block, 0, map.slice(i, i + 21));
    block[504] = i + 21 < map.length ? 1 : 0;
    await emit(block);
  }
  for (const r of entry.regions) {
    for (let at = 0; at < r.length; at += 1 << 20) {
      const length = Math.min(1 << 20, r.length - at);
      await emit(entry.read(r.offset + at, length));
    }
  }
  const padding = (BLOCK - (stored % BLOCK)) % BLOCK;
  const end = written + padding + 2 * BLOCK;
  await emit(Buffer.alloc(padding + 2 * BLOCK + ((RECORD - (end % RECORD)) % RECORD)));
}
