import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeCatalog, Platform } from "../../../../sdk/formats/iso/el-torito";
import {
  buildIso,
  decodeDirectoryRecord,
  decodePrimaryVolume,
  encodeDirectoryRecord,
  encodePrimaryVolume,
  isoFile,
  levelOneName,
} from "../../../../sdk/formats/iso/iso9660";
import { assertGolden } from "../../../support/golden";
import { hexDump, tool } from "../../../support/tools";

const MTIME = 1492533000;
const SECTOR = 2048;

const files = () => [
  isoFile("boot/kernel", Buffer.alloc(5000, 1)),
  isoFile("boot/initrd.img", Buffer.alloc(3000, 2)),
  isoFile("boot/grub/grub.cfg", Buffer.from("linux /boot/kernel\n")),
  isoFile("boot/grub/i386-pc/eltorito.img", Buffer.alloc(4096, 3)),
  isoFile("a-long-name.tar.gz", Buffer.from("x")),
];

describe("ISO 9660", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "oskit-iso9660-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("GIVEN files and boot entries WHEN the image is built THEN its descriptors, catalog, path tables, directories and Rock Ridge area are laid out as fixed", () => {
    const iso = buildIso({
      volumeId: "HELLO",
      mtime: MTIME,
      files: files(),
      boot: [
        {
          platform: Platform.Bios,
          path: "boot/grub/i386-pc/eltorito.img",
          sectorCount: 4,
          bootInfoTable: true,
        },
        { platform: Platform.Efi, path: "boot/kernel" },
      ],
    });
    const firstFile = Math.min(...iso.sectors.values());
    assertGolden(
      "formats/iso9660-metadata.txt",
      hexDump(iso.disk.read(16 * SECTOR, (firstFile - 16) * SECTOR), 16 * SECTOR),
    );
    assert.deepEqual(
      [...iso.sectors],
      [
        ["a-long-name.tar.gz", 27],
        ["boot/grub/grub.cfg", 28],
        ["boot/grub/i386-pc/eltorito.img", 29],
        ["boot/initrd.img", 31],
        ["boot/kernel", 33],
      ],
    );
    assert.deepEqual(decodeCatalog(iso.disk.read(iso.catalogSector! * SECTOR, SECTOR)), [
      { platform: Platform.Bios, sector: 29, sectorCount: 4 },
      { platform: Platform.Efi, sector: 33, sectorCount: 10 },
    ]);
    const pvd = decodePrimaryVolume(iso.disk.read(16 * SECTOR, SECTOR));
    assert.equal(pvd.sectors * SECTOR, iso.disk.size);
    assert.equal(pvd.sectors, 36 + 150, "300 KiB of zeros after the last file");
    const table = iso.disk.read(29 * SECTOR + 8, 12);
    assert.deepEqual(
      [0, 4, 8].map((at) => table.readUInt32LE(at)),
      [16, 29, 4096],
      "the boot information table: volume descriptor, image sector, image length",
    );
  });

  it("is read back by xorriso and isoinfo with the real names, the El Torito entries and the files' bytes", () => {
    const iso = buildIso({
      volumeId: "HELLO",
      mtime: MTIME,
      files: files(),
      boot: [
        {
          platform: Platform.Bios,
          path: "boot/grub/i386-pc/eltorito.img",
          sectorCount: 4,
          bootInfoTable: true,
        },
        { platform: Platform.Efi, path: "boot/kernel" },
      ],
    });
    const path = join(dir, "t.iso");
    return iso.disk.writeRaw(path).then(() => {
      const report = tool("xorriso", [
        "-indev",
        path,
        "-report_el_torito",
        "plain",
        "-find",
        "/",
        "-exec",
        "report_lba",
      ]);
      assert.equal(report.code, 0, report.stderr);
      assert.match(report.stdout, /^El Torito catalog {2}: 19 {2}1$/m);
      assert.match(
        report.stdout,
        /^El Torito boot img : {3}1 {2}BIOS {2}y {3}none {2}0x0000 {2}0x00 {6}4 {10}29$/m,
      );
      assert.match(
        report.stdout,
        /^El Torito boot img : {3}2 {2}UEFI {2}y {3}none {2}0x0000 {2}0x00 {5}10 {10}33$/m,
      );
      assert.match(report.stdout, /^El Torito img opts : {3}1 {2}boot-info-table$/m);
      for (const [name, lba, size] of [
        ["/boot/kernel", 33, 5000],
        ["/boot/initrd.img", 31, 3000],
        ["/boot/grub/grub.cfg", 28, 19],
        ["/boot/grub/i386-pc/eltorito.img", 29, 4096],
        ["/a-long-name.tar.gz", 27, 1],
      ] as const)
        assert.match(
          report.stdout,
          new RegExp(
            `File data lba: +0 , +${lba} , +\\d+ , +${size} , '${name.replace(/\./g, "\\.")}'`,
          ),
        );
      assert.doesNotMatch(report.stderr, /FAILURE|SORRY|WARNING/);
      const listing = tool("isoinfo", ["-R", "-l", "-i", path]);
      assert.match(
        listing.stdout,
        /^-r--r--r-- +1 +0 +0 +19 Apr 18 2017 \[ +28 00\] +grub\.cfg $/m,
      );
      assert.match(
        listing.stdout,
        /^dr-xr-xr-x +2 +0 +0 +2048 Apr 18 2017 \[ +25 02\] +i386-pc $/m,
      );
      const plain = tool("isoinfo", ["-l", "-i", path]);
      assert.match(plain.stdout, /INITRD\.IMG;1/);
      assert.match(plain.stdout, /A_LONG_N\.GZ;1/);
      assert.match(plain.stdout, /I386_PC/);
      const cfg = tool("isoinfo", ["-R", "-i", path, "-x", "/boot/grub/grub.cfg"]);
      assert.equal(cfg.stdout, "linux /boot/kernel\n");
    });
  });

  it("points the diskboot.img of GRUB's El Torito image at the rest of the image (--grub2-boot-info), before the boot info table sums it", () => {
    const image = Buffer.alloc(3 * SECTOR, 7);
    image.writeUInt16LE(0x820, SECTOR + 510);
    const iso = buildIso({
      volumeId: "G",
      mtime: MTIME,
      files: [isoFile("eltorito.img", image)],
      boot: [
        {
          platform: Platform.Bios,
          path: "eltorito.img",
          sectorCount: 4,
          bootInfoTable: true,
          grub2BootInfo: true,
        },
      ],
    });
    const sector = iso.sectors.get("eltorito.img")!;
    const placed = iso.disk.read(sector * SECTOR, image.length);
    assert.equal(placed.readBigUInt64LE(SECTOR + 500), BigInt(sector * 4 + 5));
    let sum = 0;
    for (let i = 64; i < placed.length; i += 4) sum = (sum + placed.readUInt32LE(i)) >>> 0;
    assert.equal(placed.readUInt32LE(20), sum);
    assert.throws(
      () =>
        buildIso({
          volumeId: "G",
          mtime: MTIME,
          files: [isoFile("x.img", Buffer.alloc(3 * SECTOR))],
          boot: [{ platform: Platform.Bios, path: "x.img", grub2BootInfo: true }],
        }),
      /not GRUB's El Torito image/,
    );
  });

  it("keeps holes: only the files' written regions and the metadata are allocated", () => {
    const iso = buildIso({
      volumeId: "SPARSE",
      mtime: MTIME,
      files: [
        {
          path: "big.img",
          size: 64 * SECTOR,
          regions: [{ offset: 8 * SECTOR, data: Buffer.alloc(512, 9) }],
        },
      ],
    });
    const big = iso.sectors.get("big.img")!;
    assert.deepEqual(iso.disk.allocation().at(-1), {
      offset: (big + 8) * SECTOR,
      length: 512,
    });
  });

  it("encodes directory records and the primary volume descriptor symmetrically", () => {
    const record = {
      identifier: Buffer.from("KERNEL.;1"),
      sector: 34,
      size: 5000,
      directory: false,
      mtime: MTIME,
      systemUse: Buffer.from("RR\x05\x01\x09"),
    };
    assert.deepEqual(decodeDirectoryRecord(encodeDirectoryRecord(record)), record);
    const root = {
      identifier: Buffer.from([0]),
      sector: 22,
      size: 2048,
      directory: true,
      mtime: MTIME,
    };
    const volume = {
      volumeId: "HELLO",
      sectors: 200,
      pathTableSize: 42,
      lPathTable: 20,
      mPathTable: 21,
      root,
      mtime: MTIME,
    };
    assert.deepEqual(decodePrimaryVolume(encodePrimaryVolume(volume)), volume);
    assert.throws(() => encodePrimaryVolume({ ...volume, volumeId: "hello" }), /not a volume id/);
    assert.throws(
      () => encodeDirectoryRecord({ ...record, systemUse: Buffer.alloc(230) }),
      /exceeds 255/,
    );
  });

  it("gives level-1 names and refuses two files that would share one", () => {
    assert.equal(levelOneName("initrd.img", false), "INITRD.IMG;1");
    assert.equal(levelOneName("kernel", false), "KERNEL.;1");
    assert.equal(levelOneName("a-long-name.tar.gz", false), "A_LONG_N.GZ;1");
    assert.equal(levelOneName("i386-pc", true), "I386_PC");
    assert.throws(
      () =>
        buildIso({
          volumeId: "X",
          mtime: MTIME,
          files: [isoFile("a/b-c", Buffer.from("1")), isoFile("a/b_c", Buffer.from("2"))],
        }),
      /same ISO 9660 name B_C\.;1/,
    );
  });
});
