/**
 * A full disk during a build, for real: the output directory is a small tmpfs (mounting needs
 * root, which CI has). Whether the build's scratch space or an output runs out, the build fails
 * with a clear error, no partial artifact is left that a later step could publish, the space is
 * given back, and the previous outputs stay as they were.
 */
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ContentStore } from "../../sdk/resolve/store/store";
import { STUB_PATH } from "../../sdk/formats/efi/uki";
import { hasStackTrace, oskitAsync } from "../support/cli";
import { storeImage } from "../support/images";
import { TMP } from "../support/paths";
import { testPe } from "../support/pe";
import { tarOf } from "../support/tar";

const MiB = 1024 * 1024;

/** A tmpfs of `mib` MiB mounted on a new directory; unmounted by `release`. */
function smallDisk(mib: number): { dir: string; release(): void } {
  mkdirSync(TMP, { recursive: true });
  const dir = mkdtempSync(join(TMP, "full-"));
  const mounted = spawnSync("mount", [
    "-t",
    "tmpfs",
    "-o",
    `size=${mib}m,mode=0755`,
    "oskit-full",
    dir,
  ]);
  assert.equal(mounted.status, 0, `mount: ${mounted.stderr?.toString()}`);
  return {
    dir,
    release: () => {
      spawnSync("umount", [dir]);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Bytes in use on the filesystem holding `dir`. */
function used(dir: string): number {
  const fs = statfsSync(dir);
  return (fs.blocks - fs.bfree) * fs.bsize;
}

/** Every file in `dir` (hidden ones too) with the sha256 of its bytes. */
function contents(dir: string): Record<string, string> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => [
        name,
        createHash("sha256")
          .update(readFileSync(join(dir, name)))
          .digest("hex"),
      ]),
  );
}

describe("a full disk during a build", function () {
  this.timeout(60000);
  let store: string;
  let work: string;

  before(async function () {
    if (process.getuid?.() !== 0) {
      this.skip(); // mounting a small filesystem needs root; CI runs as root
    }
    mkdirSync(TMP, { recursive: true });
    work = mkdtempSync(join(TMP, "full-work-"));
    store = join(work, "store");
    const s = await ContentStore.open(store);
    const kernel = testPe({
      majorImageVersion: 1,
      sections: [{ name: ".text", data: Buffer.alloc(64 * 1024, 0x90) }],
    });
    await storeImage(s, { ref: "full.test/kernel:1", layers: [await tarOf({ kernel })] });
    await storeImage(s, {
      ref: "full.test/boot:1",
      layers: [await tarOf({ [STUB_PATH.slice(1)]: testPe() })],
    });
    // random bytes do not compress: the initrd is as large as the data
    for (const mib of [1, 3, 6])
      await storeImage(s, {
        ref: `full.test/data:${mib}`,
        layers: [await tarOf({ [`data/${mib}`]: randomBytes(mib * MiB) })],
      });
  });
  after(() => work && rmSync(work, { recursive: true, force: true }));

  /** The definition of a system holding `mib` MiB of random data. */
  const definition = (mib: number) => {
    const path = join(work, `sys-${mib}.yml`);
    writeFileSync(
      path,
      `kernel:\n  image: full.test/kernel:1\n  cmdline: console=ttyS0\n  tar: none\ninit:\n  - full.test/data:${mib}\n`,
    );
    return path;
  };
  const build = (mib: number, out: string, ...formats: string[]) =>
    oskitAsync([
      "build",
      definition(mib),
      ...formats.flatMap((f) => ["-f", f]),
      "-o",
      out,
      "--name",
      "sys",
      "--store",
      store,
      "--boot-image",
      "full.test/boot:1",
    ]);

  it("refuses when the build's scratch space runs out, and leaves the disk as it found it", async () => {
    const disk = smallDisk(2);
    try {
      const before = used(disk.dir);
      const result = await build(6, disk.dir, "kernel+initrd");
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /no space left in .*full-.* for the system's files .*free some space or build into another directory with -o/,
      );
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
      assert.deepEqual(readdirSync(disk.dir), []);
      assert.equal(used(disk.dir), before, "the scratch file's space is given back");
    } finally {
      disk.release();
    }
  });

  it("keeps the previous outputs when a new one does not fit, and leaves no part of it", async () => {
    const disk = smallDisk(8);
    try {
      const first = await build(1, disk.dir, "kernel+initrd");
      assert.equal(first.code, 0, first.stderr);
      const previous = contents(disk.dir);
      const before = used(disk.dir);

      const result = await build(6, disk.dir, "kernel+initrd");
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /no space left in .* while writing sys-kernel, sys-initrd.img: nothing was written and earlier outputs are as they were; free some space or build into another directory with -o/,
      );
      assert.ok(!hasStackTrace(result.stderr), result.stderr);
      assert.deepEqual(contents(disk.dir), previous, "the old outputs and cache, byte for byte");
      assert.equal(used(disk.dir), before);

      const again = await build(1, disk.dir, "kernel+initrd");
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /nothing to write, outputs are current/);
    } finally {
      disk.release();
    }
  });

  it("keeps the formats that were written when a later one does not fit, and knows they are current", async () => {
    const disk = smallDisk(8);
    try {
      const result = await build(3, disk.dir, "kernel+initrd", "tar");
      assert.equal(result.code, 1, result.stderr);
      assert.match(result.stderr, /no space left in .* while writing sys.tar: nothing was written/);
      assert.deepEqual(Object.keys(contents(disk.dir)), [
        ".oskit-build.json",
        "sys-cmdline",
        "sys-initrd.img",
        "sys-kernel",
      ]);
      const again = await build(3, disk.dir, "kernel+initrd");
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /nothing to write, outputs are current/);
    } finally {
      disk.release();
    }
  });

  it("leaves no disk image behind when a UEFI disk does not fit", async () => {
    const disk = smallDisk(8);
    try {
      const result = await build(6, disk.dir, "raw-efi");
      assert.equal(result.code, 1, result.stderr);
      assert.match(
        result.stderr,
        /no space left in .* while writing sys-efi.img: nothing was written/,
      );
      assert.deepEqual(readdirSync(disk.dir), []);
    } finally {
      disk.release();
    }
  });
});
