import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileTree } from "../../../sdk/assemble/tree";
import { FormatError } from "../../../sdk/errors";
import {
  decodeNewcHeader,
  encodeNewcHeader,
  FileType,
  type NewcHeader,
} from "../../../sdk/formats/cpio/newc";
import { writeCpio } from "../../../sdk/formats/cpio/writer";
import { Digest } from "../../../sdk/manifest/digest";
import { FileData } from "../../../sdk/assemble/file-data";

const root = { uid: 0, gid: 0 };

function sample(): FileTree {
  const tree = new FileTree();
  tree.set("/bin/busybox", {
    kind: "file",
    mode: 0o755,
    data: FileData.of("#!busybox\n"),
    ...root,
  });
  tree.set("/bin/sh", { kind: "symlink", target: "busybox", ...root });
  tree.set("/usr/bin/a", {
    kind: "file",
    mode: 0o4755,
    data: FileData.of("linked"),
    uid: 5,
    gid: 6,
  });
  tree.link("/usr/bin/b", "/usr/bin/a");
  tree.set("/dev/console", {
    kind: "device",
    type: "char",
    mode: 0o600,
    major: 5,
    minor: 1,
    ...root,
  });
  tree.set("/boot/kernel", { kind: "file", mode: 0o644, data: FileData.of("kernel"), ...root });
  return tree;
}

async function archive(tree: FileTree): Promise<Buffer> {
  const chunks: Buffer[] = [];
  await writeCpio(tree, (c) => void chunks.push(c), { exclude: ["/boot"], mtime: 1492533000 });
  return Buffer.concat(chunks);
}

describe("newc cpio", () => {
  it("encodes and decodes a header, the name padded so data starts on 4 bytes", () => {
    const h: NewcHeader = {
      ino: 7,
      mode: FileType.File | 0o644,
      uid: 1,
      gid: 2,
      nlink: 1,
      mtime: 3,
      filesize: 4,
      devmajor: 0,
      devminor: 0,
      rdevmajor: 0,
      rdevminor: 0,
      name: "etc/motd",
    };
    const bytes = encodeNewcHeader(h);
    assert.equal(bytes.subarray(0, 14).toString(), "07070100000007");
    assert.equal(bytes.length % 4, 0);
    assert.deepEqual(decodeNewcHeader(bytes, 0), { header: h, dataOffset: bytes.length });
    assert.throws(
      () => encodeNewcHeader({ ...h, filesize: 2 ** 32 }),
      (e: unknown) => e instanceof FormatError && /4 GiB/.test(e.message),
    );
  });

  it("writes the same bytes every time, without /boot, ending with the trailer", async () => {
    const bytes = await archive(sample());
    assert.deepEqual(await archive(sample()), bytes);
    assert.ok(!bytes.includes("boot/kernel"));
    assert.ok(bytes.subarray(bytes.length - 124).includes("TRAILER!!!"));
    assert.equal(
      Digest.sha256(bytes).toString(),
      "sha256:ed4035b491750ed5c2bd36f1dd8c846cdd4d6d917bbb0d6f3abdfbda035cdb75",
    );
  });

  it("is extracted by GNU cpio with modes, owners, links and hard links as written", async function () {
    if (process.getuid?.() !== 0) this.skip();
    const dir = mkdtempSync(join(tmpdir(), "oskit-cpio-"));
    try {
      const extract = spawnSync("cpio", ["-idm", "--no-absolute-filenames", "--quiet"], {
        cwd: dir,
        input: await archive(sample()),
      });
      assert.equal(extract.status, 0, extract.stderr.toString());
      assert.equal(readFileSync(join(dir, "usr/bin/b"), "utf8"), "linked");
      assert.equal(statSync(join(dir, "usr/bin/a")).ino, statSync(join(dir, "usr/bin/b")).ino);
      assert.equal(statSync(join(dir, "usr/bin/a")).mode & 0o7777, 0o4755);
      assert.deepEqual(
        [statSync(join(dir, "usr/bin/a")).uid, statSync(join(dir, "usr/bin/a")).gid],
        [5, 6],
      );
      assert.equal(readlinkSync(join(dir, "bin/sh")), "busybox");
      assert.ok(lstatSync(join(dir, "dev/console")).isCharacterDevice());
      assert.equal(statSync(join(dir, "usr/bin/a")).mtimeMs, 1492533000 * 1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
