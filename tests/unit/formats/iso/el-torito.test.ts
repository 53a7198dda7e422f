import { strict as assert } from "node:assert";
import {
  decodeBootRecord,
  decodeCatalog,
  encodeBootRecord,
  encodeCatalog,
  Platform,
  withBootInfoTable,
} from "../../../../sdk/formats/iso/el-torito";
import { assertGolden } from "../../../support/golden";
import { hexDump } from "../../../support/tools";

describe("El Torito", () => {
  it("GIVEN a BIOS and an EFI image WHEN the catalog is encoded THEN it has a validation entry, the default entry and one section, and decodes back", () => {
    const entries = [
      { platform: Platform.Bios, sector: 28, sectorCount: 4 },
      { platform: Platform.Efi, sector: 96, sectorCount: 0xffff },
    ];
    const catalog = encodeCatalog(entries);
    assert.equal(catalog.length, 2048);
    let sum = 0;
    for (let i = 0; i < 32; i += 2) sum += catalog.readUInt16LE(i);
    assert.equal(sum & 0xffff, 0, "the validation entry's words sum to zero");
    assertGolden("formats/el-torito-catalog.txt", hexDump(catalog));
    assert.deepEqual(decodeCatalog(catalog), entries);
    assert.deepEqual(decodeCatalog(encodeCatalog([entries[1]!])), [entries[1]]);
  });

  it("refuses a sector count that does not fit 16 bits and a damaged validation entry", () => {
    assert.throws(
      () => encodeCatalog([{ platform: Platform.Efi, sector: 20, sectorCount: 0x10000 }]),
      /at most 65535/,
    );
    const catalog = encodeCatalog([{ platform: Platform.Bios, sector: 20, sectorCount: 4 }]);
    catalog[4] = 1;
    assert.throws(() => decodeCatalog(catalog), /validation entry is damaged/);
  });

  it("writes the boot record with the catalog's sector at byte 71", () => {
    const record = encodeBootRecord(19);
    assert.equal(record.toString("ascii", 1, 6), "CD001");
    assert.equal(record.toString("ascii", 7, 30), "EL TORITO SPECIFICATION");
    assert.equal(record.readUInt32LE(71), 19);
    assert.deepEqual(decodeBootRecord(record), { catalogSector: 19 });
    assert.throws(() => decodeBootRecord(Buffer.alloc(2048)), /not an El Torito boot record/);
  });

  it("fills in the boot information table: volume descriptor, image sector, length and the sum of the words from byte 64, the last one zero-padded", () => {
    const image = Buffer.alloc(64 + 4 * 10 + 3, 0xff);
    for (let i = 64; i < 104; i += 4) image.writeUInt32LE(i, i);
    image.set([1, 2, 3], 104);
    const patched = withBootInfoTable(image, 16, 28);
    let sum = 0;
    for (let i = 64; i < 104; i += 4) sum += i;
    sum += 0x030201;
    assert.deepEqual(
      [0, 1, 2, 3].map((i) => patched.readUInt32LE(8 + 4 * i)),
      [16, 28, image.length, sum],
    );
    assert.ok(patched.subarray(24, 64).every((b) => b === 0));
    assert.deepEqual(patched.subarray(0, 8), image.subarray(0, 8));
    assert.deepEqual(patched.subarray(64), image.subarray(64));
    assert.throws(() => withBootInfoTable(Buffer.alloc(63), 16, 28), /at least 64 bytes/);
  });
});
