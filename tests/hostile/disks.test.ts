import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import {
  createWriteStream,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunError } from "../../sdk/errors";
import { buildEfiDisk, minimalDiskSize } from "../../sdk/formats/disk/efi-disk";
import { writeQcow2 } from "../../sdk/formats/disk/qcow2";
import { vhdFooter } from "../../sdk/formats/disk/vhd";
import { detectTarget } from "../../sdk/run/target";
import { hasStackTrace, oskit } from "../support/cli";
import { testPe } from "../support/pe";

/** The RunError message `detectTarget(file)` throws (fails the test for anything else). */
function refusal(file: string): string {
  try {
    detectTarget(file);
  } catch (error) {
    assert.ok(error instanceof RunError, `expected a RunError, got ${String(error)}`);
    return error.message;
  }
  return assert.fail(`${file} was accepted`);
}

/** A copy of `bytes` under `name`, changed by `edit`. */
function variant(dir: string, name: string, bytes: Buffer, edit: (b: Buffer) => Buffer): string {
  const file = join(dir, name);
  writeFileSync(file, edit(Buffer.from(bytes)));
  return file;
}

describe("hostile disk images for oskit run qemu", function () {
  this.timeout(20000);
  let dir: string;
  let qcow2: Buffer;
  let vhd: Buffer;
  let diskSize: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-hostile-disks-"));
    const uki = testPe();
    const { disk } = buildEfiDisk(uki, minimalDiskSize(uki.length), 0);
    diskSize = disk.size;
    const file = join(dir, "source.qcow2");
    const out = createWriteStream(file);
    await writeQcow2(disk, (c) => new Promise<void>((ok) => out.write(c, () => ok())));
    await new Promise((ok) => out.end(ok));
    qcow2 = readFileSync(file);
    const raw = join(dir, "source.img");
    await disk.writeRaw(raw);
    vhd = Buffer.concat([
      readFileSync(raw),
      vhdFooter(disk.size, "00000000-0000-4000-8000-000000000000", 0),
    ]);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe("GIVEN the project's own sound images", () => {
    it("WHEN they are detected THEN qcow2 and VHD are accepted (the cuts below start from these)", () => {
      const q = variant(dir, "ok.qcow2", qcow2, (b) => b);
      const v = variant(dir, "ok.vhd", vhd, (b) => b);
      assert.deepEqual(detectTarget(q), { kind: "disk", file: q, format: "qcow2", efi: true });
      assert.deepEqual(detectTarget(v), { kind: "disk", file: v, format: "vpc", efi: true });
      execFileSync("qemu-img", ["check", "-q", q]);
    });
  });

  describe("GIVEN truncated or damaged qcow2 images", () => {
    it("WHEN only the header cluster is left THEN the refcount or L1 table is past the end", () => {
      const file = variant(dir, "header-only.qcow2", qcow2, (b) => b.subarray(0, 65536));
      assert.match(
        refusal(file),
        /header-only\.qcow2: qcow2 (L1|refcount) table .* ends past the end of the file \(65536 bytes\): the file is truncated/,
      );
    });

    it("WHEN the header is cut in the middle THEN it says how much of the header there is", () => {
      const file = variant(dir, "half-header.qcow2", qcow2, (b) => b.subarray(0, 50));
      assert.equal(
        refusal(file),
        `${file}: qcow2 header cut off: 50 of its 104 bytes (the file is truncated)`,
      );
    });

    it("WHEN the L1 table offset points past the end THEN the L1 table is named", () => {
      const file = variant(dir, "l1-past-end.qcow2", qcow2, (b) => {
        b.writeBigUInt64BE(1n << 40n, 40);
        return b;
      });
      assert.match(
        refusal(file),
        /qcow2 L1 table \(\d+ entries at offset 1099511627776\) ends past the end of the file/,
      );
    });

    it("WHEN the data clusters at the end are cut off THEN the first missing cluster is named", () => {
      const file = variant(dir, "cut-data.qcow2", qcow2, (b) => b.subarray(0, b.length - 65536));
      assert.match(
        refusal(file),
        /cut-data\.qcow2: qcow2 cluster \d+ is at offset \d+, past the end of the file \(\d+ bytes\): the file is truncated/,
      );
    });

    it("WHEN the header carries nonsense (version 9, cluster_bits 63) THEN QEMU's limits are named", () => {
      const version = variant(dir, "v9.qcow2", qcow2, (b) => {
        b.writeUInt32BE(9, 4);
        return b;
      });
      const bits = variant(dir, "bits.qcow2", qcow2, (b) => {
        b.writeUInt32BE(63, 20);
        return b;
      });
      assert.match(refusal(version), /qcow2 version 9; QEMU reads versions 2 and 3/);
      assert.match(refusal(bits), /qcow2 cluster_bits 63 is outside 9–21/);
    });

    it("WHEN the image names a backing file THEN it is refused, so QEMU never reads another host file", () => {
      const file = join(dir, "overlay.qcow2");
      execFileSync("qemu-img", [
        "create",
        "-q",
        "-f",
        "qcow2",
        "-b",
        "/etc/shadow",
        "-F",
        "raw",
        file,
        "1M",
      ]);
      assert.match(refusal(file), /qcow2 image has a backing file \("\/etc\/shadow"\)/);
    });

    it("WHEN a raw file is named .qcow2 THEN the missing magic is named", () => {
      const file = variant(dir, "fake.qcow2", qcow2, (b) => b.fill(0, 0, 4));
      assert.match(
        refusal(file),
        /fake\.qcow2 is named \.qcow2 but does not start with the qcow2 magic/,
      );
    });
  });

  describe("GIVEN truncated or damaged VHDs", () => {
    it("WHEN the footer is missing THEN the .vhd is refused instead of booted as raw", () => {
      const file = variant(dir, "no-footer.vhd", vhd, (b) => b.subarray(0, b.length - 512));
      assert.match(refusal(file), /no-footer\.vhd is named \.vhd but has no VHD footer/);
    });

    it("WHEN the footer's checksum is wrong THEN the footer is called damaged", () => {
      const file = variant(dir, "bad-checksum.vhd", vhd, (b) => {
        b[b.length - 512 + 40]! ^= 0xff;
        return b;
      });
      assert.match(
        refusal(file),
        /bad-checksum\.vhd: VHD footer checksum is [0-9a-f]+, but the footer's bytes give [0-9a-f]+: the footer is damaged/,
      );
    });

    it("WHEN the file is not the size the footer says THEN both sizes are named", () => {
      const file = variant(dir, "padded.vhd", vhd, (b) =>
        Buffer.concat([b.subarray(0, b.length - 512), Buffer.alloc(512), b.subarray(-512)]),
      );
      assert.equal(
        refusal(file),
        `${file}: VHD footer says a fixed disk of ${diskSize} bytes, so the file should be ${diskSize + 512} bytes, but it is ${diskSize + 1024}: the file is cut off or padded`,
      );
    });

    it("WHEN a dynamic VHD lost its header THEN it is refused; a differencing VHD is refused for its parent", () => {
      const dynamic = join(dir, "dynamic.vhd");
      execFileSync("qemu-img", ["create", "-q", "-f", "vpc", dynamic, "8M"]);
      assert.equal(detectTarget(dynamic).kind, "disk");
      const broken = variant(dir, "dynamic-broken.vhd", readFileSync(dynamic), (b) =>
        b.fill(0, 512, 1024),
      );
      assert.match(refusal(broken), /VHD dynamic disk has no header \("cxsparse"\) at offset 512/);
      const differencing = variant(dir, "diff.vhd", readFileSync(dynamic), (b) => {
        const footer = b.subarray(b.length - 512);
        footer.writeUInt32BE(4, 60);
        let sum = 0;
        footer.forEach((byte, i) => (sum += i >= 64 && i < 68 ? 0 : byte));
        footer.writeUInt32BE(~sum >>> 0, 64);
        return b;
      });
      assert.match(refusal(differencing), /differencing disk: it reads a parent file/);
    });
  });

  describe("GIVEN files that are no disk at all", () => {
    it("WHEN the file is empty or 1 byte THEN it is refused with its size", () => {
      writeFileSync(join(dir, "empty.img"), "");
      writeFileSync(join(dir, "one.img"), "x");
      assert.equal(
        refusal(join(dir, "empty.img")),
        `${join(dir, "empty.img")} is empty (0 bytes): not a disk image`,
      );
      assert.equal(
        refusal(join(dir, "one.img")),
        `${join(dir, "one.img")} is 1 byte, less than one 512-byte sector: not a disk image`,
      );
    });

    it("WHEN a .iso or a PE file is cut short THEN it is refused for what is missing", () => {
      writeFileSync(join(dir, "cut.iso"), Buffer.alloc(4096));
      const pe = testPe();
      writeFileSync(join(dir, "cut.efi"), pe.subarray(0, 64));
      assert.match(
        refusal(join(dir, "cut.iso")),
        /cut\.iso is named \.iso but has no ISO 9660 volume descriptor/,
      );
      assert.match(
        refusal(join(dir, "cut.efi")),
        /cut\.efi starts like a PE file \(MZ\) but has no PE header/,
      );
    });

    it("WHEN a build directory holds a kernel without its initrd, or an empty initrd THEN the missing part is named", () => {
      const out = join(dir, "out");
      mkdirSync(out);
      writeFileSync(join(out, "half-kernel"), "k");
      writeFileSync(join(out, "empty-kernel"), "k");
      writeFileSync(join(out, "empty-initrd.img"), "");
      assert.match(
        refusal(join(out, "half")),
        /half-kernel is there but .*half-initrd\.img is missing \(a build that stopped part way\?\)/,
      );
      assert.match(
        refusal(join(out, "empty")),
        /empty-initrd\.img is empty \(a build that stopped part way\?\)/,
      );
      assert.match(refusal(out), /is a directory; give the name prefix of a system in it/);
    });
  });

  describe("GIVEN oskit run qemu on the command line", () => {
    it("WHEN it is given a damaged image THEN it exits 1 before QEMU starts, naming the file, and leaves no state", () => {
      const state = join(dir, "state");
      const file = variant(dir, "cli-cut.qcow2", qcow2, (b) => b.subarray(0, 100));
      const result = oskit(["run", "qemu", file, "--state", state]);
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /cli-cut\.qcow2: qcow2 header cut off: 100 of its 104 bytes/);
      assert.equal(hasStackTrace(result.stderr), false, result.stderr);
      assert.ok(!readdirSync(dir).includes("state"), "no state directory");
    });
  });
});
