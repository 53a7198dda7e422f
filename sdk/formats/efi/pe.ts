/**
 * PE32+ (Microsoft's PE/COFF specification), as far as appending sections to an EFI program
 * needs: the headers are parsed and checked, a COFF symbol table left at the end of the file is
 * dropped, and each new section goes after the last one — its data at the end of the file,
 * aligned to FileAlignment, its address after the last section's, aligned to SectionAlignment —
 * with NumberOfSections, SizeOfInitializedData and SizeOfImage updated and the checksum zeroed (as
 * systemd's ukify does; firmware does not check it without Secure Boot).
 */
import { FormatError } from "../../errors";

export interface PeSection {
  readonly name: string;
  readonly virtualSize: number;
  readonly virtualAddress: number;
  readonly sizeOfRawData: number;
  readonly pointerToRawData: number;
  readonly characteristics: number;
}

export interface PeHeaders {
  /** File offset of the COFF header (after "PE\0\0"). */
  readonly coff: number;
  /** File offset of the optional header. */
  readonly optional: number;
  readonly machine: number;
  readonly majorImageVersion: number;
  readonly sectionAlignment: number;
  readonly fileAlignment: number;
  readonly sizeOfHeaders: number;
  readonly sizeOfImage: number;
  readonly pointerToSymbolTable: number;
  readonly numberOfSymbols: number;
  /** Size of the Authenticode signature (the certificate table), 0 when unsigned. */
  readonly certificateSize: number;
  readonly sections: readonly PeSection[];
}

export const SectionFlags = {
  Code: 0x00000020,
  InitializedData: 0x00000040,
  MemRead: 0x40000000,
} as const;

const SECTION_HEADER = 40;
const PE32_PLUS = 0x20b;

/** Parses and checks the headers of a PE32+ image. */
export function parsePe(image: Buffer, what: string): PeHeaders {
  const fail = (why: string): never => {
    throw new FormatError(`${what} is not a usable PE32+ (EFI) image: ${why}`);
  };
  if (image.length < 0x40 || image.toString("latin1", 0, 2) !== "MZ") fail("no MZ header");
  const pe = image.readUInt32LE(0x3c);
  if (pe + 24 > image.length || image.toString("latin1", pe, pe + 4) !== "PE\0\0")
    fail("no PE signature");
  const coff = pe + 4;
  const count = image.readUInt16LE(coff + 2);
  const optionalSize = image.readUInt16LE(coff + 16);
  const optional = coff + 20;
  if (optional + optionalSize > image.length) fail("truncated optional header");
  if (image.readUInt16LE(optional) !== PE32_PLUS) fail("not PE32+");
  const directories = image.readUInt32LE(optional + 108);
  const certificateSize = directories > 4 ? image.readUInt32LE(optional + 112 + 4 * 8 + 4) : 0;
  const table = optional + optionalSize;
  if (table + count * SECTION_HEADER > image.length) fail("truncated section table");
  const sections: PeSection[] = [];
  for (let i = 0; i < count; i++) {
    const at = table + i * SECTION_HEADER;
    sections.push({
      name: image.toString("latin1", at, at + 8).replace(/\0+$/, ""),
      virtualSize: image.readUInt32LE(at + 8),
      virtualAddress: image.readUInt32LE(at + 12),
      sizeOfRawData: image.readUInt32LE(at + 16),
      pointerToRawData: image.readUInt32LE(at + 20),
      characteristics: image.readUInt32LE(at + 36),
    });
  }
  return {
    coff,
    optional,
    machine: image.readUInt16LE(coff),
    majorImageVersion: image.readUInt16LE(optional + 44),
    sectionAlignment: image.readUInt32LE(optional + 32),
    fileAlignment: image.readUInt32LE(optional + 36),
    sizeOfHeaders: image.readUInt32LE(optional + 60),
    sizeOfImage: image.readUInt32LE(optional + 56),
    pointerToSymbolTable: image.readUInt32LE(coff + 8),
    numberOfSymbols: image.readUInt32LE(coff + 12),
    certificateSize,
    sections,
  };
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

export interface NewSection {
  readonly name: string;
  readonly data: Buffer;
  readonly characteristics: number;
}

/** The image with the sections appended; the parts are returned in file order, not concatenated. */
export function appendSections(image: Buffer, add: readonly NewSection[], what: string): Buffer[] {
  const h = parsePe(image, what);
  if (h.certificateSize > 0)
    throw new FormatError(`${what} is signed; appending sections would break its signature`);
  const table = h.optional + image.readUInt16LE(h.coff + 16);
  const free = h.sizeOfHeaders - (table + h.sections.length * SECTION_HEADER);
  if (free < add.length * SECTION_HEADER)
    throw new FormatError(
      `${what} has room for ${Math.floor(free / SECTION_HEADER)} more section headers, not ${add.length}`,
    );
  for (const s of add)
    if (Buffer.byteLength(s.name, "latin1") > 8)
      throw new FormatError(`section name "${s.name}" is longer than 8 bytes`);

  let end = image.length;
  const head = Buffer.from(image);
  if (h.pointerToSymbolTable !== 0) {
    const rawEnd = Math.max(...h.sections.map((s) => s.pointerToRawData + s.sizeOfRawData));
    if (h.pointerToSymbolTable >= rawEnd) end = h.pointerToSymbolTable;
    head.writeUInt32LE(0, h.coff + 8);
    head.writeUInt32LE(0, h.coff + 12);
  }
  const parts: Buffer[] = [head.subarray(0, end)];
  let fileEnd = end;
  let last = h.sections.reduce(
    (m, s) => Math.max(m, s.virtualAddress + s.virtualSize),
    h.sizeOfHeaders,
  );
  const vaAlign = Math.max(h.sectionAlignment, 0x1000);
  let initialized = head.readUInt32LE(h.optional + 8);
  add.forEach((s, i) => {
    const pointer = alignUp(fileEnd, h.fileAlignment);
    if (pointer > fileEnd) parts.push(Buffer.alloc(pointer - fileEnd));
    const raw = alignUp(s.data.length, h.fileAlignment);
    parts.push(s.data);
    if (raw > s.data.length) parts.push(Buffer.alloc(raw - s.data.length));
    fileEnd = pointer + raw;
    const va = alignUp(last, vaAlign);
    last = va + s.data.length;
    const at = table + (h.sections.length + i) * SECTION_HEADER;
    head.fill(0, at, at + SECTION_HEADER);
    head.write(s.name, at, 8, "latin1");
    head.writeUInt32LE(s.data.length, at + 8);
    head.writeUInt32LE(va, at + 12);
    head.writeUInt32LE(raw, at + 16);
    head.writeUInt32LE(pointer, at + 20);
    head.writeUInt32LE(s.characteristics >>> 0, at + 36);
    initialized = (initialized + s.data.length) >>> 0;
  });
  head.writeUInt16LE(h.sections.length + add.length, h.coff + 2);
  head.writeUInt32LE(initialized, h.optional + 8);
  head.writeUInt32LE(alignUp(last, h.sectionAlignment), h.optional + 56);
  head.writeUInt32LE(0, h.optional + 64);
  return parts;
}
