import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileData } from "../../../sdk/assemble/file-data";
import { FileTree } from "../../../sdk/assemble/tree";
import { coreBlockList } from "../../../sdk/formats/disk/grub";
import { decodeMbr } from "../../../sdk/formats/disk/mbr";
import { decodeCatalog, Platform } from "../../../sdk/formats/iso/el-torito";
import { decodePrimaryVolume } from "../../../sdk/formats/iso/iso9660";
import {
  espSectorCount,
  ISO_FORMATS,
  ISO_WRITERS as WRITERS,
  volumeId,
  type IsoContext,
} from "../../../sdk/formats/iso-writers";
import { assertGolden } from "../../support/golden";
import { fakeBootImg, fakeCoreImg } from "../../support/grub";
import { testPe } from "../../support/pe";
import { hexDump, tool } from "../../support/tools";

const MiB = 1 << 20;
const SECTOR = 2048;

function system(cmdline = "console=ttyS0 quiet\n"): FileTree {
  const tree = new FileTree();
  const file = (data: Buffer, mode = 0o644) => ({
    kind: "file" as const,
    mode,
    data: FileData.of(data),
    uid: 0,
    gid: 0,
  });
  tree.set(
    "/boot/kernel",
    file(
      testPe({
        majorImageVersion: 1,
        sections: [{ name: ".text", data: Buffer.alloc(3 * MiB, 1) }],
      }),
    ),
  );
  tree.set("/boot/cmdline", file(Buffer.from(cmdline)));
  tree.set("/init", file(Buffer.from("#!/bin/sh\n"), 0o755));
  return tree;
}

/**
 * A stand-in for GRUB's El Torito image: cdboot's sector, then a core.img whose diskboot.img counts
 * the sectors after it, as grub-mkimage writes it.
 */
const eltoritoCore = fakeCoreImg(5);
eltoritoCore.writeUInt16LE(5, 0x1fc);
const grubElTorito = Buffer.concat([Buffer.alloc(2048, 0xcd), eltoritoCore]);
const grub = { bootImg: fakeBootImg(), coreImg: fakeCoreImg(3) };

describe("the ISO format writers", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-iso-writers-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const ctx = (extra: Partial<IsoContext> = {}): IsoContext => ({
    dir,
    name: "hello-world",
    mtime: 1492533000,
    efiStub: testPe(),
    grubElTorito,
    grub,
    manifestDigest: `sha256:${"0".repeat(64)}`,
    shared: new Map(),
    ...extra,
  });

  it("iso-efi: an El Torito EFI entry for the ESP image, and a protective MBR and GPT naming the same bytes as the ESP", async () => {
    const [file] = await WRITERS["iso-efi"].write(system(), ctx());
    assert.equal(file!.name, "hello-world-efi.iso");
    const path = join(dir, file!.name);
    const iso = readFileSync(path);
    assert.equal(iso.length % SECTOR, 0);
    assert.equal(file!.diskSize, iso.length);
    const pvd = decodePrimaryVolume(iso.subarray(16 * SECTOR, 17 * SECTOR));
    assert.equal(pvd.volumeId, "HELLO_WORLD");
    assert.equal(pvd.sectors * SECTOR, iso.length, "the volume covers the backup GPT");
    const [entry, ...more] = decodeCatalog(iso.subarray(19 * SECTOR, 20 * SECTOR));
    assert.equal(more.length, 0);
    assert.equal(entry!.platform, Platform.Efi);
    const gptEntry = iso.subarray(1024, 1024 + 128);
    const first = Number(gptEntry.readBigUInt64LE(32));
    const last = Number(gptEntry.readBigUInt64LE(40));
    assert.equal(
      first,
      entry!.sector * 4,
      "the ESP partition starts where the El Torito image does",
    );
    assert.equal((last - first + 1) / 4, entry!.sectorCount / 4);
    assertGolden(
      "formats/iso-efi-system-area.txt",
      hexDump(iso.subarray(0, 1024 + 128)) +
        hexDump(iso.subarray(iso.length - 512), iso.length - 512),
    );

    const v = tool("sgdisk", ["-v", path]);
    assert.equal(v.code, 0, v.stdout);
    assert.match(v.stdout, /No problems found/);
    const esp = join(dir, "esp.img");
    writeFileSync(esp, iso.subarray(first * 512, (last + 1) * 512));
    const fsck = tool("fsck.vfat", ["-n", esp]);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
    const dirList = tool("mdir", ["-i", esp, "-b", "::/EFI/BOOT"]);
    assert.match(dirList.stdout, /BOOTX64\.EFI/);
    const report = tool("xorriso", [
      "-indev",
      path,
      "-report_el_torito",
      "plain",
      "-report_system_area",
      "plain",
    ]);
    assert.equal(report.code, 0, report.stderr);
    assert.match(report.stdout, /^El Torito img path : {3}1 {2}\/boot\/efi\.img$/m);
    assert.match(report.stdout, /^GPT partition path : {3}1 {2}\/boot\/efi\.img$/m);
    assert.match(report.stdout, /^MBR partition {6}: {3}1 {3}0x00 {2}0xee/m);

    const again = await WRITERS["iso-efi"].write(
      system(),
      ctx({ dir: mkdtempSync(join(tmpdir(), "oskit-iso-b-")) }),
    );
    assert.equal(again[0]!.sha256, file!.sha256, "the same tree gives the same bytes");
    const data = file!.allocation!.reduce((n, e) => n + e.length, 0);
    assert.ok(statSync(path).blocks * 512 <= data + MiB, "written sparse");
  });

  it("iso-bios: GRUB's El Torito image with its boot info table, grub.cfg with the command line, the kernel and the initrd", async () => {
    const tree = system();
    const [file] = await WRITERS["iso-bios"].write(tree, ctx());
    assert.equal(file!.name, "hello-world.iso");
    const path = join(dir, file!.name);
    const iso = readFileSync(path);
    const [entry, ...more] = decodeCatalog(iso.subarray(19 * SECTOR, 20 * SECTOR));
    assert.equal(more.length, 0);
    assert.deepEqual(
      { ...entry, sector: 0 },
      { platform: Platform.Bios, sector: 0, sectorCount: 4 },
    );
    const image = iso.subarray(
      entry!.sector * SECTOR,
      entry!.sector * SECTOR + grubElTorito.length,
    );
    assert.equal(image.readUInt32LE(8), 16);
    assert.equal(image.readUInt32LE(12), entry!.sector);
    assert.equal(image.readUInt32LE(16), grubElTorito.length);
    const diskboot = entry!.sector * 4 + 4;
    assert.deepEqual(coreBlockList(image.subarray(2048, 2560)), [
      { start: diskboot + 1, sectors: 5, segment: 0x820 },
    ]);
    assert.deepEqual(image.subarray(64, 2048 + 500), grubElTorito.subarray(64, 2048 + 500));
    assert.deepEqual(image.subarray(2048 + 508), grubElTorito.subarray(2048 + 508));
    const mbr = decodeMbr(iso.subarray(0, 512));
    assert.equal(
      mbr.bootCode.readBigUInt64LE(0x5c),
      BigInt(diskboot),
      "boot.img loads diskboot.img",
    );
    assert.deepEqual(mbr.partitions, [], "the one entry has type 0: no partition to Linux");
    const partition = iso.subarray(446, 462);
    assert.deepEqual(
      [partition[0], partition[4], partition.readUInt32LE(8), partition.readUInt32LE(12)],
      [0x80, 0x00, 0, iso.length / 512],
      "active, type 0, from sector 0 over the whole file",
    );
    const report = tool("xorriso", ["-indev", path, "-report_el_torito", "plain"]);
    assert.match(report.stdout, /^El Torito img opts : {3}1 {2}boot-info-table grub2-boot-info$/m);
    const extract = (name: string) => tool("isoinfo", ["-R", "-i", path, "-x", name]).stdout;
    assert.equal(
      extract("/boot/grub/grub.cfg"),
      "linux '/boot/kernel' 'console=ttyS0' 'quiet'\ninitrd '/boot/initrd.img'\nboot\n",
    );
    const list = tool("xorriso", ["-indev", path, "-find", "/", "-type", "f"]);
    assert.deepEqual(list.stdout.trim().split("\n"), [
      "'/boot/grub/grub.cfg'",
      "'/boot/grub/i386-pc/eltorito.img'",
      "'/boot/initrd.img'",
      "'/boot/kernel'",
    ]);
    const kernel = tree.get("/boot/kernel");
    assert.ok(kernel?.kind === "file");
    assert.deepEqual(spawnBytes(path, "/boot/kernel"), kernel.data.read());

    await assert.rejects(
      WRITERS["iso-bios"].write(system('x="a b"'), ctx()),
      /holds quotes or backslashes/,
    );
    await assert.rejects(
      WRITERS["iso-bios"].write(tree, ctx({ grubElTorito: undefined })),
      /iso-bios needs GRUB's El Torito image and boot\.img \(\/boot\/grub\/i386-pc\/eltorito\.img, \/boot\/grub\/i386-pc\/boot\.img in the boot package\)/,
    );
  });

  it("counts the ESP in 512-byte sectors in the catalog while 16 bits hold it, else 0 (to the end of the volume)", () => {
    assert.equal(espSectorCount(27 * MiB), 27 * 2048);
    assert.equal(espSectorCount(0xffff * 512), 0xffff);
    assert.equal(espSectorCount(32 * MiB), 0);
  });

  it("names the volume after the system", () => {
    assert.equal(volumeId("hello"), "HELLO");
    assert.equal(volumeId("my-system.v2"), "MY_SYSTEM_V2");
    assert.equal(volumeId("x".repeat(40)), "X".repeat(32));
    assert.deepEqual([...ISO_FORMATS], ["iso-efi", "iso-bios"]);
  });
});

/** A file's bytes as isoinfo reads them from the image. */
function spawnBytes(iso: string, name: string): Buffer {
  return spawnSync("isoinfo", ["-R", "-i", iso, "-x", name], { maxBuffer: 64 << 20 }).stdout;
}
