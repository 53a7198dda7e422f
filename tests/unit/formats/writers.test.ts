import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { createWriteStream, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { FileTree } from "../../../sdk/assemble/tree";
import { WRITERS, type WriteContext } from "../../../sdk/formats/writers";
import { FileData } from "../../../sdk/assemble/file-data";

const root = { uid: 0, gid: 0 };

/** A system whose initrd does not compress: a megabyte of random bytes. */
function system(): FileTree {
  const tree = new FileTree();
  tree.set("/boot/kernel", { kind: "file", mode: 0o644, data: FileData.of("bzImage"), ...root });
  tree.set("/boot/cmdline", { kind: "file", mode: 0o644, data: FileData.of("quiet"), ...root });
  tree.set("/noise", {
    kind: "file",
    mode: 0o644,
    data: FileData.of(randomBytes(1024 * 1024)),
    ...root,
  });
  return tree;
}

/** Opens files as usual, but the one named like `victim` fails with ENOSPC after `limit` bytes. */
function diskFullFor(victim: RegExp, limit: number): (path: string) => Writable {
  return (path) => {
    const file = createWriteStream(path);
    if (!victim.test(path)) return file;
    let written = 0;
    return new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.length;
        if (written <= limit) file.write(chunk, callback);
        else
          callback(
            Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" }),
          );
      },
      final: (callback) => file.end(callback),
      destroy: (error, callback) => {
        file.destroy();
        callback(error);
      },
    });
  };
}

describe("format writers", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-writers-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("fails a write that runs out of space at once, and leaves neither half a file nor part of the format", async function () {
    this.timeout(10000);
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", record);
    try {
      writeFileSync(join(dir, "sys-kernel"), "the previous build");
      const ctx: WriteContext = {
        dir,
        name: "sys",
        mtime: 0,
        openFile: diskFullFor(/initrd/, 64 * 1024),
      };
      await assert.rejects(
        WRITERS["kernel+initrd"].write(system(), ctx),
        /no space left in .* while writing sys-kernel, sys-initrd.img: nothing was written and earlier outputs are as they were/,
      );
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(readdirSync(dir), ["sys-kernel"], "the outputs are renamed together or not");
      assert.deepEqual(unhandled, []);
    } finally {
      process.off("unhandledRejection", record);
    }
  });

  it("writes every file of a format when nothing fails", async () => {
    const files = await WRITERS["kernel+initrd"].write(system(), { dir, name: "sys", mtime: 0 });
    assert.deepEqual(
      files.map((f) => f.name),
      ["sys-kernel", "sys-initrd.img", "sys-cmdline"],
    );
    assert.deepEqual(readdirSync(dir).sort(), ["sys-cmdline", "sys-initrd.img", "sys-kernel"]);
  });
});
