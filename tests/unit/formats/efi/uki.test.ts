import { strict as assert } from "node:assert";
import { appendSections, parsePe, SectionFlags } from "../../../../sdk/formats/efi/pe";
import { buildUki, osRelease } from "../../../../sdk/formats/efi/uki";
import { assertGolden } from "../../../support/golden";
import { testPe } from "../../../support/pe";
import { hexDump } from "../../../support/tools";

const kernel = testPe({
  majorImageVersion: 1,
  sections: [{ name: ".text", data: Buffer.alloc(0x1800, 0x90) }],
});

describe("PE sections and the UKI", () => {
  it("appends sections after the last, aligned, with the headers updated and the symbol table dropped", () => {
    const stub = testPe({ symbols: Buffer.from("symbols and strings, not loaded") });
    const before = parsePe(stub, "stub");
    const a = Buffer.from("first section");
    const b = Buffer.alloc(0x1234, 7);
    const image = Buffer.concat(
      appendSections(
        stub,
        [
          {
            name: ".a",
            data: a,
            characteristics: SectionFlags.InitializedData | SectionFlags.MemRead,
          },
          { name: ".b", data: b, characteristics: SectionFlags.Code | SectionFlags.MemRead },
        ],
        "stub",
      ),
    );
    const after = parsePe(image, "uki");
    assert.equal(after.sections.length, before.sections.length + 2);
    assert.equal(after.pointerToSymbolTable, 0);
    assert.equal(after.numberOfSymbols, 0);
    assert.ok(!image.includes("symbols and strings"));
    const [sa, sb] = after.sections.slice(-2);
    assert.deepEqual(
      [
        sa!.name,
        sa!.virtualSize,
        sa!.characteristics,
        sb!.name,
        sb!.virtualSize,
        sb!.characteristics,
      ],
      [".a", a.length, 0x40000040, ".b", b.length, 0x40000020],
    );
    const lastEnd = Math.max(...before.sections.map((s) => s.virtualAddress + s.virtualSize));
    assert.ok(sa!.virtualAddress >= lastEnd && sa!.virtualAddress % 0x1000 === 0);
    assert.ok(
      sb!.virtualAddress >= sa!.virtualAddress + a.length && sb!.virtualAddress % 0x1000 === 0,
    );
    for (const s of [sa!, sb!]) {
      assert.equal(s.pointerToRawData % 0x200, 0);
      assert.equal(s.sizeOfRawData % 0x200, 0);
    }
    assert.ok(image.subarray(sa!.pointerToRawData, sa!.pointerToRawData + a.length).equals(a));
    assert.ok(image.subarray(sb!.pointerToRawData, sb!.pointerToRawData + b.length).equals(b));
    assert.equal(after.sizeOfImage, Math.ceil((sb!.virtualAddress + b.length) / 0x200) * 0x200);
    assert.equal(image.readUInt32LE(0x84 + 20 + 64), 0, "checksum zeroed");
    assert.equal(image.length, sb!.pointerToRawData + sb!.sizeOfRawData);
  });

  it("builds a UKI with .osrel, .cmdline, .initrd and .linux, in ukify's order, byte for byte", () => {
    const uki = Buffer.concat(
      buildUki({
        stub: testPe(),
        kernel,
        initrd: Buffer.from("initrd bytes"),
        cmdline: "console=ttyS0 quiet\n",
        osRelease: osRelease("hello", `sha256:${"ab".repeat(32)}`),
      }),
    );
    const pe = parsePe(uki, "uki");
    assert.deepEqual(
      pe.sections.map((s) => s.name),
      [".text", ".sdmagic", ".osrel", ".cmdline", ".initrd", ".linux"],
    );
    const section = (name: string) => {
      const s = pe.sections.find((x) => x.name === name)!;
      return uki.subarray(s.pointerToRawData, s.pointerToRawData + s.virtualSize);
    };
    assert.equal(section(".cmdline").toString(), "console=ttyS0 quiet\0");
    assert.ok(section(".linux").equals(kernel));
    assert.match(
      section(".osrel").toString(),
      /^NAME="oskit"\nID=oskit\nPRETTY_NAME="oskit hello"\nIMAGE_ID=hello\nIMAGE_VERSION=abababababab\n$/,
    );
    assertGolden("formats/uki-headers.txt", hexDump(uki.subarray(0, 0x400)));
  });

  it("refuses a signed stub, a stub without room, a kernel that systemd's stub cannot start, and what is not PE32+", () => {
    const add = [{ name: ".x", data: Buffer.from("x"), characteristics: 0x40000040 }];
    assert.throws(
      () => appendSections(testPe({ signed: true }), add, "the stub"),
      /the stub is signed/,
    );
    assert.throws(
      () => appendSections(testPe({ sizeOfHeaders: 0x200 }), Array(8).fill(add[0]), "the stub"),
      /has room for \d+ more section headers, not 8/,
    );
    assert.throws(
      () => appendSections(testPe(), [{ ...add[0]!, name: ".toolongname" }], "s"),
      /longer than 8 bytes/,
    );
    const parts = { stub: testPe(), initrd: Buffer.alloc(1), cmdline: "", osRelease: "" };
    assert.throws(
      () => buildUki({ ...parts, kernel: testPe({ majorImageVersion: 0 }) }),
      /older than version 1.0/,
    );
    assert.throws(
      () => buildUki({ ...parts, kernel: testPe({ machine: 0xaa64, majorImageVersion: 1 }) }),
      /not an x86-64 EFI program/,
    );
    assert.throws(
      () => parsePe(Buffer.from("not an image at all, really not"), "x"),
      /x is not a usable PE32\+ \(EFI\) image: no MZ header/,
    );
    assert.throws(() => parsePe(testPe({ magic: 0x10b }), "x"), /not PE32\+/);
  });
});
