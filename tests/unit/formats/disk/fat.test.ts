import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SECTOR } from "../../../../sdk/formats/disk/sparse-disk";
import { buildFat, chooseLayout, shortName, type FatFile } from "../../../../sdk/formats/fat/fat";
import { assertGolden } from "../../../support/golden";
import { hexDump, tool } from "../../../support/tools";

const MiB = 1 << 20;
const MTIME = 1492533000;

function image(files: readonly FatFile[], bytes: number): { path: string; type: number } {
  const fat = buildFat(files, {
    sectors: bytes / SECTOR,
    hiddenSectors: 2048,
    volumeId: 0x1234abcd,
    mtime: MTIME,
  });
  const out = Buffer.alloc(bytes);
  for (const r of fat.regions) r.data.copy(out, r.offset);
  const path = join(dir, `fat${fat.type}-${bytes}.img`);
  writeFileSync(path, out);
  return { path, type: fat.type };
}

let dir: string;

describe("FAT file systems", () => {
  before(() => (dir = mkdtempSync(join(tmpdir(), "oskit-fat-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("picks the type from the cluster count, as firmware and dosfstools demand", () => {
    const cases: [number, number][] = [
      [1 * MiB, 12],
      [2 * MiB, 12],
      [3 * MiB, 16],
      [32 * MiB, 16],
      [34 * MiB, 32],
      [300 * MiB, 32],
    ];
    for (const [bytes, type] of cases) {
      const l = chooseLayout(bytes / SECTOR);
      assert.equal(l.type, type, `${bytes / MiB} MiB`);
      const min = { 12: 1, 16: 4085, 32: 65525 }[l.type];
      const max = { 12: 4084, 16: 65524, 32: 0x0ffffff4 }[l.type];
      assert.ok(
        l.clusters >= min && l.clusters <= max,
        `${bytes / MiB} MiB: ${l.clusters} clusters`,
      );
      assert.ok(
        (l.fatSectors * SECTOR * 8) / l.type >= l.clusters + 2,
        `${bytes / MiB} MiB: the FAT addresses every cluster`,
      );
    }
    assert.equal(chooseLayout((300 * MiB) / SECTOR).sectorsPerCluster, 8);
  });

  for (const bytes of [1 * MiB, 8 * MiB, 40 * MiB]) {
    it(`writes a ${bytes / MiB} MiB file system fsck.fat finds nothing wrong with, whose files mtools reads back`, () => {
      const boot = Buffer.alloc(bytes / 4, 0x5a);
      boot.write("MZ", 0);
      const files: FatFile[] = [
        { path: "EFI/BOOT/BOOTX64.EFI", data: boot },
        { path: "EFI/BOOT/EMPTY.TXT", data: Buffer.alloc(0) },
        { path: "loader/entries/oskit.cfg", data: Buffer.from("title oskit\n") },
        ...Array.from({ length: 40 }, (_, i) => ({
          path: `MANY/F${i}.BIN`,
          data: Buffer.from(`file ${i}\n`.repeat(i * 30)),
        })),
      ];
      const { path, type } = image(files, bytes);
      const fsck = tool("fsck.vfat", ["-n", "-v", path]);
      assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
      assert.match(fsck.stdout, new RegExp(`2 FATs, ${type} bit entries`));
      assert.doesNotMatch(fsck.stdout + fsck.stderr, /differ|dirty|wrong|invalid|fixing|bad/i);
      for (const f of files) {
        const read = tool("mtype", ["-i", path, `::/${f.path}`]);
        assert.equal(read.code, 0, read.stderr);
        assert.equal(Buffer.from(read.stdout, "latin1").length, f.data.length, f.path);
      }
      const copied = join(dir, "copy.efi");
      assert.equal(tool("mcopy", ["-n", "-i", path, "::/EFI/BOOT/BOOTX64.EFI", copied]).code, 0);
      assert.ok(readFileSync(copied).equals(boot));
    });
  }

  it("keeps its boot sectors byte for byte (FAT12, FAT16, FAT32)", () => {
    const files = [{ path: "EFI/BOOT/BOOTX64.EFI", data: Buffer.from("MZ") }];
    const dumps = [1 * MiB, 8 * MiB, 40 * MiB].map((bytes) => {
      const fat = buildFat(files, {
        sectors: bytes / SECTOR,
        hiddenSectors: 2048,
        volumeId: 0x1234abcd,
        mtime: MTIME,
      });
      const boot = fat.regions.find((r) => r.offset === 0)!.data;
      return `FAT${fat.type}, ${bytes / MiB} MiB:\n${hexDump(boot)}`;
    });
    assertGolden("formats/fat-boot-sectors.txt", dumps.join("\n"));
  });

  it("refuses names that are not 8.3, files that do not fit, and a name given twice", () => {
    assert.deepEqual(shortName("bootx64.efi"), Buffer.from("BOOTX64 EFI"));
    for (const bad of ["toolongname.efi", "a.long", "sp ace", "", "a*b"])
      assert.throws(() => shortName(bad), /not an 8.3 file name/, bad);
    assert.throws(
      () =>
        buildFat([{ path: "BIG", data: Buffer.alloc(2 * MiB) }], {
          sectors: (1 * MiB) / SECTOR,
          hiddenSectors: 0,
          volumeId: 1,
          mtime: MTIME,
        }),
      /BIG does not fit: the 1 MiB FAT12 file system has \d+ clusters/,
    );
    assert.throws(
      () =>
        buildFat(
          [
            { path: "A/B", data: Buffer.from("1") },
            { path: "a/b", data: Buffer.from("2") },
          ],
          { sectors: 2048, hiddenSectors: 0, volumeId: 1, mtime: MTIME },
        ),
      /a\/b is given twice \(FAT names ignore case\)/,
    );
  });
});
