import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildBiosDisk,
  buildHybridDisk,
  HYBRID_CORE_SECTOR,
  minimalBiosDiskSize,
  minimalHybridDiskSize,
  type BiosSystem,
  type GrubImages,
} from "../../../../sdk/formats/disk/bios-disk";
import {
  coreBlockList,
  grubBootCode,
  grubConfig,
  grubCore,
} from "../../../../sdk/formats/disk/grub";
import { chs, decodeMbr, encodeMbr, MbrType, type Mbr } from "../../../../sdk/formats/disk/mbr";
import { assertGolden } from "../../../support/golden";
import { fakeBootImg, fakeCoreImg } from "../../../support/grub";
import { hexDump, tool } from "../../../support/tools";

const MiB = 1 << 20;
const MTIME = 1492533000;

const grub: GrubImages = { bootImg: fakeBootImg(), coreImg: fakeCoreImg(5) };

function system(kernelBytes: number): BiosSystem {
  const kernel = Buffer.alloc(kernelBytes);
  for (let i = 0; i < kernelBytes; i += 512) kernel.writeUInt32LE(i, i);
  return { kernel, initrd: Buffer.alloc(300 * 1024, 0x1f), cmdline: "console=ttyS0 quiet" };
}

let dir: string;

describe("BIOS disks", () => {
  before(() => (dir = mkdtempSync(join(tmpdir(), "oskit-bios-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe("the MBR", () => {
    const mbr: Mbr = {
      bootCode: Buffer.alloc(440, 0x90),
      diskSignature: 0xdeadbeef,
      partitions: [
        { type: MbrType.Fat16Lba, first: 2048, sectors: 53248, active: true },
        { type: MbrType.Fat32Lba, first: 55296, sectors: 16_777_216, active: false },
      ],
    };

    it("encodes the boot code, signature, entries and CHS byte for byte, and decodes them back", () => {
      const sector = encodeMbr(mbr);
      assertGolden("formats/mbr.txt", hexDump(sector));
      assert.deepEqual(decodeMbr(sector), mbr);
      assert.deepEqual([...chs(0)], [0, 1, 0]);
      assert.deepEqual([...chs(2048)], [32, 33, 0]);
      assert.deepEqual([...chs(1024 * 255 * 63)], [0xfe, 0xff, 0xff]);
    });

    it("refuses what does not fit", () => {
      assert.throws(() => encodeMbr({ ...mbr, bootCode: Buffer.alloc(441) }), /at most 440/);
      const five = Array.from({ length: 5 }, (_, i) => ({ type: 0x83, first: 1 + i, sectors: 1 }));
      assert.throws(() => encodeMbr({ ...mbr, partitions: five }), /4 partitions, not 5/);
      assert.throws(
        () => encodeMbr({ ...mbr, partitions: [{ type: 0x83, first: 2 ** 32, sectors: 1 }] }),
        /does not fit an MBR's 32 bits/,
      );
      assert.throws(() => decodeMbr(Buffer.alloc(512)), /not an MBR/);
    });
  });

  describe("GRUB's images, patched as grub-bios-setup does", () => {
    it("boot.img: core.img's LBA at 0x5c, the boot drive from the BIOS, the drive check NOPed", () => {
      const code = grubBootCode(grub.bootImg, 40);
      assert.equal(code.length, 440);
      assert.equal(code.readBigUInt64LE(0x5c), 40n);
      assert.equal(code[0x64], 0xff);
      assert.deepEqual([...code.subarray(0x66, 0x68)], [0x90, 0x90]);
      assertGolden("formats/grub-boot-code.txt", hexDump(code));
      assert.throws(() => grubBootCode(Buffer.alloc(512), 1), /one 512-byte boot sector/);
    });

    it("core.img: padded to whole sectors, its block list naming the sectors after the first", () => {
      const core = grubCore(grub.coreImg, 1);
      assert.equal(core.length, 6 * 512);
      assert.deepEqual(coreBlockList(core), [{ start: 2, sectors: 5, segment: 0x820 }]);
      assert.ok(core.subarray(0x200, grub.coreImg.length).equals(grub.coreImg.subarray(0x200)));
      assertGolden("formats/grub-diskboot.txt", hexDump(core.subarray(0x1c0, 0x200), 0x1c0));
      assert.deepEqual(coreBlockList(grubCore(grub.coreImg, HYBRID_CORE_SECTOR)), [
        { start: 41, sectors: 5, segment: 0x820 },
      ]);
      assert.throws(() => grubCore(Buffer.alloc(1024, 1), 1), /does not start with diskboot\.img/);
      assert.throws(() => grubCore(fakeCoreImg(1000), 1), /GRUB loads at most 895/);
    });

    it("grub.cfg: the kernel and initrd with each word of the command line quoted", () => {
      assert.equal(
        grubConfig(" console=ttyS0  root=/dev/vda1 $x ", "/boot/kernel", "/boot/initrd.img"),
        "linux '/boot/kernel' 'console=ttyS0' 'root=/dev/vda1' '$x'\ninitrd '/boot/initrd.img'\nboot\n",
      );
      assert.throws(
        () => grubConfig('init="/bin/sh -x"', "/k", "/i"),
        /holds quotes or backslashes/,
      );
    });
  });

  describe("raw-bios", () => {
    const sys = system(2 * MiB + 1000);
    const size = minimalBiosDiskSize(sys);
    const { disk, fatType } = buildBiosDisk(grub, sys, size, MTIME);

    it("is an MBR with boot.img, core.img after it and one active FAT partition from 1 MiB, sized to its files", () => {
      assert.equal(size, 5 * MiB);
      assert.equal(fatType, 16);
      const mbr = decodeMbr(disk.read(0, 512));
      assert.ok(mbr.bootCode.equals(grubBootCode(grub.bootImg, 1)));
      assert.deepEqual(mbr.partitions, [
        { type: MbrType.Fat16Lba, first: 2048, sectors: 4 * 2048, active: true },
      ]);
      assert.ok(disk.read(512, 6 * 512).equals(grubCore(grub.coreImg, 1)));
      assert.ok(disk.read(7 * 512, MiB - 7 * 512).equals(Buffer.alloc(MiB - 7 * 512)));
    });

    it("holds the kernel, initrd and grub.cfg on a clean file system", () => {
      const part = join(dir, "bios-part.img");
      writeFileSync(part, disk.read(MiB, size - MiB));
      const fsck = tool("fsck.vfat", ["-n", part]);
      assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
      assert.doesNotMatch(fsck.stdout, /warning|differ/i);
      for (const [path, data] of [
        ["/boot/kernel", sys.kernel],
        ["/boot/initrd.img", sys.initrd],
        [
          "/boot/grub/grub.cfg",
          Buffer.from(grubConfig(sys.cmdline, "/boot/kernel", "/boot/initrd.img")),
        ],
      ] as const) {
        const copy = join(dir, "copy");
        assert.equal(tool("mcopy", ["-n", "-i", part, `::${path}`, copy]).code, 0, path);
        assert.ok(readFileSync(copy).equals(data), path);
      }
    });

    it("is the same disk for the same content, another for another, and refuses a size too small", () => {
      const again = buildBiosDisk(grub, system(2 * MiB + 1000), size, MTIME).disk;
      assert.ok(again.read(0, 2 * MiB).equals(disk.read(0, 2 * MiB)));
      const other = buildBiosDisk(grub, { ...sys, cmdline: "console=tty0" }, size, MTIME).disk;
      assert.notEqual(other.read(0x1b8, 4).toString("hex"), disk.read(0x1b8, 4).toString("hex"));
      assert.throws(
        () => buildBiosDisk(grub, sys, size - MiB, MTIME),
        /raw-bios disk needs at least 5 MiB/,
      );
      assert.equal(buildBiosDisk(grub, sys, 64 * MiB, MTIME).disk.size, 64 * MiB);
    });
  });

  describe("raw-hybrid", () => {
    const sys = system(2 * MiB);
    const uki = Buffer.alloc(3 * MiB, 0x4d);
    const size = minimalHybridDiskSize(uki, sys);
    const { disk } = buildHybridDisk(grub, uki, sys, size, MTIME);
    let raw: string;

    before(async () => {
      raw = join(dir, "hybrid.raw");
      await disk.writeRaw(raw);
    });

    it("is a GPT that sgdisk verifies, with a BIOS boot partition holding core.img and the ESP", () => {
      assert.equal(size, 9 * MiB);
      const verify = tool("sgdisk", ["-v", raw]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /No problems found/);
      const bios = tool("sgdisk", ["-i", "1", raw]).stdout;
      assert.match(bios, /Partition GUID code: 21686148-6449-6E6F-744E-656564454649 \(BIOS boot/);
      assert.match(bios, /First sector: 40 .*\nLast sector: 2047 /);
      const esp = tool("sgdisk", ["-i", "2", raw]).stdout;
      assert.match(esp, /C12A7328-F81F-11D2-BA4B-00A0C93EC93B \(EFI system partition\)/);
      assert.match(esp, /First sector: 2048 /);
      const mbr = decodeMbr(disk.read(0, 512));
      assert.ok(mbr.bootCode.equals(grubBootCode(grub.bootImg, HYBRID_CORE_SECTOR)));
      assert.deepEqual(mbr.partitions, [
        { type: MbrType.GptProtective, first: 1, sectors: size / 512 - 1, active: false },
      ]);
      assert.ok(disk.read(40 * 512, 6 * 512).equals(grubCore(grub.coreImg, HYBRID_CORE_SECTOR)));
    });

    it("holds the UKI for UEFI and the kernel, initrd and grub.cfg for GRUB on a clean ESP", () => {
      const esp = join(dir, "hybrid-esp.img");
      writeFileSync(esp, disk.read(MiB, size - 2 * MiB));
      const fsck = tool("fsck.vfat", ["-n", esp]);
      assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
      assert.doesNotMatch(fsck.stdout, /warning|differ/i);
      for (const [path, data] of [
        ["/EFI/BOOT/BOOTX64.EFI", uki],
        ["/boot/kernel", sys.kernel],
        ["/boot/initrd.img", sys.initrd],
      ] as const) {
        const copy = join(dir, "copy");
        assert.equal(tool("mcopy", ["-n", "-i", esp, `::${path}`, copy]).code, 0, path);
        assert.ok(readFileSync(copy).equals(data), path);
      }
      assert.throws(
        () => buildHybridDisk(grub, uki, sys, size - MiB, MTIME),
        /raw-hybrid disk needs at least 9 MiB/,
      );
    });
  });
});
