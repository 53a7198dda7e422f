/**
 * A small PE32+ image for tests, shaped like systemd's EFI stub: MZ header, PE header at 0x80,
 * 0x400 bytes of headers, sections aligned to 0x200, and optionally a COFF symbol table at the end.
 */
export interface TestPeOptions {
  readonly sections?: readonly { name: string; data: Buffer }[];
  readonly symbols?: Buffer;
  readonly machine?: number;
  readonly majorImageVersion?: number;
  readonly signed?: boolean;
  readonly magic?: number;
  readonly sizeOfHeaders?: number;
}

export function testPe(options: TestPeOptions = {}): Buffer {
  const sections = options.sections ?? [
    { name: ".text", data: Buffer.alloc(0x300, 0xcc) },
    { name: ".sdmagic", data: Buffer.from("#### LoaderInfo: test ####") },
  ];
  const headers = options.sizeOfHeaders ?? 0x400;
  const parts: Buffer[] = [];
  const head = Buffer.alloc(headers);
  head.write("MZ", 0, "latin1");
  head.writeUInt32LE(0x80, 0x3c);
  head.write("PE\0\0", 0x80, "latin1");
  const coff = 0x84;
  head.writeUInt16LE(options.machine ?? 0x8664, coff);
  head.writeUInt16LE(sections.length, coff + 2);
  head.writeUInt16LE(0xf0, coff + 16);
  head.writeUInt16LE(0x0206, coff + 18);
  const opt = coff + 20;
  head.writeUInt16LE(options.magic ?? 0x20b, opt);
  head.writeUInt16LE(options.majorImageVersion ?? 0, opt + 44);
  head.writeUInt32LE(0x200, opt + 32);
  head.writeUInt32LE(0x200, opt + 36);
  head.writeUInt32LE(headers, opt + 60);
  head.writeUInt32LE(0x1234, opt + 64);
  head.writeUInt16LE(10, opt + 68);
  head.writeUInt32LE(16, opt + 108);
  parts.push(head);
  let file = headers;
  let va = 0x1000;
  sections.forEach((s, i) => {
    const at = opt + 0xf0 + i * 40;
    const raw = Math.ceil(s.data.length / 0x200) * 0x200;
    head.write(s.name, at, 8, "latin1");
    head.writeUInt32LE(s.data.length, at + 8);
    head.writeUInt32LE(va, at + 12);
    head.writeUInt32LE(raw, at + 16);
    head.writeUInt32LE(file, at + 20);
    head.writeUInt32LE(0x40000040, at + 36);
    parts.push(s.data, Buffer.alloc(raw - s.data.length));
    file += raw;
    va = Math.ceil((va + s.data.length) / 0x200) * 0x200;
  });
  head.writeUInt32LE(va, opt + 56);
  if (options.symbols !== undefined) {
    head.writeUInt32LE(file, coff + 8);
    head.writeUInt32LE(3, coff + 12);
    parts.push(options.symbols);
  }
  if (options.signed === true) {
    head.writeUInt32LE(file, opt + 112 + 4 * 8);
    head.writeUInt32LE(0x100, opt + 112 + 4 * 8 + 4);
    parts.push(Buffer.alloc(0x100, 0x30));
  }
  return Buffer.concat(parts);
}
