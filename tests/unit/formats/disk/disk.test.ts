import { strict as assert } from "node:assert";
import {
  createWriteStream,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildEfiDisk, GiB, minimalDiskSize, MiB } from "../../../../sdk/formats/disk/efi-disk";
import { writeGpt } from "../../../../sdk/formats/disk/gpt";
import { derivedGuid, guidBytes, PartitionType } from "../../../../sdk/formats/disk/guid";
import { writeQcow2 } from "../../../../sdk/formats/disk/qcow2";
import { SparseDisk } from "../../../../sdk/formats/disk/sparse-disk";
import { vhdFooter, vhdGeometry } from "../../../../sdk/formats/disk/vhd";
import { writeSparseArchive } from "../../../../sdk/formats/tar/gnu-sparse";
import { assertGolden } from "../../../support/golden";
import { hexDump, tool } from "../../../support/tools";

const MTIME = 1492533000;
let dir: string;

async function toFile(
  path: string,
  produce: (sink: (c: Buffer) => Promise<void>) => Promise<void>,
) {
  const out = createWriteStream(path);
  await produce((c) => new Promise<void>((ok, fail) => out.write(c, (e) => (e ? fail(e) : ok()))));
  await new Promise((ok) => out.end(ok));
}

/** A UKI stand-in: any bytes; the disk only stores it. */
const fakeUki = (bytes: number) => {
  const data = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4096) data.writeUInt32LE(i, i);
  return data;
};

describe("disks", () => {
  before(() => (dir = mkdtempSync(join(tmpdir(), "oskit-disk-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe("sparse disks", () => {
    it("map the sectors holding non-zero bytes, merged, and refuse overlaps and overruns", () => {
      const disk = new SparseDisk(16 * 512);
      disk.write(
        512,
        Buffer.concat([Buffer.alloc(512, 1), Buffer.alloc(512), Buffer.alloc(10, 2)]),
      );
      disk.write(4096, Buffer.from([0, 0, 3]));
      disk.write(4096 + 512, Buffer.alloc(512, 4));
      assert.deepEqual(disk.allocation(), [
        { offset: 512, length: 512 },
        { offset: 1536, length: 512 },
        { offset: 4096, length: 1024 },
      ]);
      assert.deepEqual([...disk.read(4094, 5)], [0, 0, 0, 0, 3]);
      assert.throws(() => disk.write(600, Buffer.alloc(1)), /overlaps one at 512/);
      assert.throws(() => disk.write(16 * 512 - 1, Buffer.alloc(2)), /falls outside/);
      assert.throws(() => new SparseDisk(1000), /multiple of 512/);
    });

    it("are written as sparse files", async () => {
      const disk = new SparseDisk(GiB);
      disk.write(MiB, Buffer.alloc(4096, 7));
      const path = join(dir, "sparse.raw");
      await disk.writeRaw(path);
      const st = statSync(path);
      assert.equal(st.size, GiB);
      assert.ok(st.blocks * 512 < 4 * MiB, `${st.blocks * 512} bytes on disk`);
      const handle = await open(path);
      const back = Buffer.alloc(4096);
      await handle.read(back, 0, 4096, MiB);
      await handle.close();
      assert.ok(back.equals(Buffer.alloc(4096, 7)));
    });
  });

  describe("GPT", () => {
    it("encodes GUIDs mixed-endian and derives them from content", () => {
      assert.equal(
        guidBytes(PartitionType.Esp).toString("hex"),
        "28732ac11ff8d211ba4b00a0c93ec93b",
      );
      assert.equal(derivedGuid("a", "b"), derivedGuid("a", "b"));
      assert.notEqual(derivedGuid("a", "b"), derivedGuid("a", "c"));
      assert.match(
        derivedGuid("x"),
        /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
    });

    it("writes a table sgdisk verifies, with the backup at the end, byte for byte", async () => {
      const disk = new SparseDisk(8 * MiB);
      writeGpt(disk, "01234567-89ab-4def-8123-456789abcdef", [
        {
          type: PartitionType.Esp,
          guid: derivedGuid("p1"),
          first: 2048,
          last: 6143,
          name: "EFI System Partition",
        },
        {
          type: PartitionType.LinuxData,
          guid: derivedGuid("p2"),
          first: 6144,
          last: 16350,
          name: "data",
        },
      ]);
      const path = join(dir, "gpt.raw");
      await disk.writeRaw(path);
      const verify = tool("sgdisk", ["-v", path]);
      assert.equal(verify.code, 0, verify.stdout + verify.stderr);
      assert.match(verify.stdout, /No problems found/);
      const info = tool("sgdisk", ["-i", "1", path]);
      assert.match(
        info.stdout,
        /Partition GUID code: C12A7328-F81F-11D2-BA4B-00A0C93EC93B \(EFI system partition\)/,
      );
      assert.match(info.stdout, /First sector: 2048/);
      assert.match(info.stdout, /Partition name: 'EFI System Partition'/);
      assert.match(
        tool("sgdisk", ["-p", path]).stdout,
        /Disk identifier \(GUID\): 01234567-89AB-4DEF-8123-456789ABCDEF/,
      );
      assertGolden(
        "formats/gpt-8mib.txt",
        hexDump(disk.read(0, 3 * 512)) +
          hexDump(disk.read(8 * MiB - 33 * 512, 33 * 512), 8 * MiB - 33 * 512),
      );
      assert.throws(
        () =>
          writeGpt(new SparseDisk(MiB), derivedGuid("d"), [
            { type: PartitionType.Esp, guid: derivedGuid("p"), first: 2048, last: 4095, name: "x" },
          ]),
        /does not fit the disk's usable sectors 34–2014/,
      );
    });
  });

  describe("the EFI disk, as qcow2, VHD and a GCE tarball", () => {
    const uki = fakeUki(5 * MiB + 12345);
    const size = minimalDiskSize(uki.length);
    const { disk, fatType } = buildEfiDisk(uki, size, MTIME);
    let raw: string;

    before(async () => {
      raw = join(dir, "efi.raw");
      await disk.writeRaw(raw);
    });

    it("holds the UKI as EFI/BOOT/BOOTX64.EFI on a clean ESP, sized to it", () => {
      assert.equal(size % MiB, 0);
      assert.equal(fatType, 16);
      assert.equal(tool("sgdisk", ["-v", raw]).code, 0);
      const esp = join(dir, "esp.img");
      writeFileSync(esp, disk.read(MiB, size - 2 * MiB));
      const fsck = tool("fsck.vfat", ["-n", esp]);
      assert.equal(fsck.code, 0, fsck.stdout);
      const copy = join(dir, "boot.efi");
      assert.equal(
        tool("mcopy", ["-n", "-i", `${esp}@@0`, "::/EFI/BOOT/BOOTX64.EFI", copy]).code,
        0,
      );
      assert.ok(readFileSync(copy).equals(uki));
      assert.throws(() => buildEfiDisk(uki, size - MiB, MTIME), /needs at least \d+ MiB/);
    });

    it("is the same disk for the same UKI, and another for another", () => {
      const again = buildEfiDisk(Buffer.from(uki), size, MTIME).disk;
      assert.ok(again.read(0, 2 * MiB).equals(disk.read(0, 2 * MiB)));
      const other = fakeUki(uki.length);
      other[100] = 1;
      assert.ok(
        !buildEfiDisk(other, size, MTIME)
          .disk.read(0, 2 * MiB)
          .equals(disk.read(0, 2 * MiB)),
      );
    });

    it("as qcow2: qemu-img checks it and reads back the raw disk", async () => {
      const path = join(dir, "efi.qcow2");
      await toFile(path, (sink) => writeQcow2(disk, sink));
      const check = tool("qemu-img", ["check", "-f", "qcow2", path]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      assert.match(check.stdout, /No errors were found/);
      const info = JSON.parse(tool("qemu-img", ["info", "--output=json", path]).stdout) as Record<
        string,
        unknown
      >;
      assert.equal(info["virtual-size"], size);
      assert.equal((info["format-specific"] as { data: { compat: string } }).data.compat, "1.1");
      const compare = tool("qemu-img", ["compare", "-f", "raw", "-F", "qcow2", raw, path]);
      assert.equal(compare.code, 0, compare.stdout + compare.stderr);
      assert.ok(statSync(path).size < uki.length + MiB, "only allocated clusters are stored");
      assertGolden("formats/qcow2-header.txt", hexDump(readFileSync(path).subarray(0, 512)));
    });

    it("as a large qcow2 needing several L2 tables: still consistent", async () => {
      const big = new SparseDisk(3 * GiB);
      for (const at of [0, 600 * MiB, GiB + 5, 3 * GiB - 512]) big.write(at, Buffer.alloc(512, 9));
      const path = join(dir, "big.qcow2");
      await toFile(path, (sink) => writeQcow2(big, sink));
      const check = tool("qemu-img", ["check", path]);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      const map = JSON.parse(tool("qemu-img", ["map", "--output=json", path]).stdout) as {
        start: number;
        length: number;
        data: boolean;
      }[];
      assert.deepEqual(
        map.filter((m) => m.data).map((m) => m.start),
        [0, 600 * MiB, GiB, 3 * GiB - 65536],
      );
    });

    it("as a fixed VHD: the same size for QEMU with and without force_size_calc, and a valid footer", async () => {
      const path = join(dir, "efi.vhd");
      await disk.writeRaw(path);
      const footer = vhdFooter(size, derivedGuid("vhd"), MTIME);
      const handle = await open(path, "r+");
      await handle.write(footer, 0, 512, size);
      await handle.close();
      for (const opts of [
        `driver=vpc,file.filename=${path}`,
        `driver=vpc,force_size_calc=current_size,file.filename=${path}`,
      ]) {
        const info = JSON.parse(
          tool("qemu-img", ["info", "--output=json", "--image-opts", opts]).stdout,
        ) as Record<string, unknown>;
        assert.equal(info["virtual-size"], size, opts);
      }
      const compare = tool("qemu-img", ["compare", "-f", "raw", "-F", "vpc", raw, path]);
      assert.equal(compare.code, 0, compare.stdout + compare.stderr);
      assertGolden("formats/vhd-footer.txt", hexDump(footer));
      assert.throws(() => vhdFooter(size + 512, derivedGuid("v"), MTIME), /whole number of MiB/);
    });

    it("computes the CHS geometry QEMU writes for a VHD", async () => {
      const path = join(dir, "qemu.vhd");
      for (const mib of [1, 30, 127, 1000, 40000]) {
        assert.equal(
          tool("qemu-img", ["create", "-q", "-f", "vpc", "-o", "subformat=fixed", path, `${mib}M`])
            .code,
          0,
        );
        const handle = await open(path);
        const theirs = Buffer.alloc(512);
        await handle.read(theirs, 0, 512, (await handle.stat()).size - 512);
        await handle.close();
        const current = Number(theirs.readBigUInt64BE(48));
        const g = vhdGeometry(current);
        assert.deepEqual(
          [g.cylinders, g.heads, g.sectors],
          [theirs.readUInt16BE(56), theirs[58], theirs[59]],
          `${mib} MiB`,
        );
        rmSync(path);
      }
    });

    it("as a GCE tarball: GNU tar lists disk.raw at its full size and extracts the same bytes, sparse", async () => {
      const gce = buildEfiDisk(uki, GiB, MTIME).disk;
      const tar = join(dir, "gce.tar");
      await toFile(tar, (sink) =>
        writeSparseArchive(
          {
            name: "disk.raw",
            size: gce.size,
            mtime: MTIME,
            regions: gce.allocation(),
            read: (o, l) => gce.read(o, l),
          },
          sink,
        ),
      );
      assert.equal(statSync(tar).size % 10240, 0);
      const list = tool("tar", ["--list", "--verbose", "--file", tar]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /^-rw-r--r-- root\/root 1073741824 2017-04-18 16:30 disk\.raw$/m);
      const out = mkdtempSync(join(dir, "x-"));
      assert.equal(tool("tar", ["-xSf", tar, "-C", out]).code, 0);
      const extracted = join(out, "disk.raw");
      assert.equal(statSync(extracted).size, GiB);
      assert.ok(statSync(extracted).blocks * 512 < 16 * MiB, "extracted sparse");
      assert.equal(tool("sgdisk", ["-v", extracted]).code, 0);
      const handle = await open(extracted);
      for (const run of gce.allocation()) {
        const back = Buffer.alloc(run.length);
        await handle.read(back, 0, run.length, run.offset);
        assert.ok(back.equals(gce.read(run.offset, run.length)), `region at ${run.offset}`);
      }
      await handle.close();
    });

    it("as a GCE tarball past 8 GiB with many regions: base-256 numbers and extension blocks", async () => {
      const size = 10 * GiB;
      const regions = Array.from({ length: 30 }, (_, i) => ({
        offset: i * 300 * MiB + 512,
        length: 1024,
      }));
      const tar = join(dir, "big.tar");
      await toFile(tar, (sink) =>
        writeSparseArchive(
          {
            name: "disk.raw",
            size,
            mtime: MTIME,
            regions,
            read: (o, l) => Buffer.alloc(l, (o >> 20) & 0xff),
          },
          sink,
        ),
      );
      const list = tool("tar", ["--list", "--verbose", "--file", tar]);
      assert.equal(list.code, 0, list.stderr);
      assert.match(list.stdout, /root\/root 10737418240 .* disk\.raw/);
      const out = mkdtempSync(join(dir, "y-"));
      assert.equal(tool("tar", ["-xSf", tar, "-C", out]).code, 0);
      const handle = await open(join(out, "disk.raw"));
      assert.equal((await handle.stat()).size, size);
      for (const r of [regions[0]!, regions[17]!, regions[29]!]) {
        const back = Buffer.alloc(r.length);
        await handle.read(back, 0, r.length, r.offset);
        assert.ok(back.equals(Buffer.alloc(r.length, (r.offset >> 20) & 0xff)));
      }
      await handle.close();
    });
  });
});
