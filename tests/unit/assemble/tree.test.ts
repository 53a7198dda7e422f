import { strict as assert } from "node:assert";
import { lstatSync, mkdtempSync, readlinkSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AssembleError } from "../../../sdk/errors";
import { TarType, type TarHeader } from "../../../sdk/formats/tar/header";
import { readTar } from "../../../sdk/formats/tar/reader";
import { TarWriter } from "../../../sdk/formats/tar/writer";
import { FileTree, normalizeTreePath } from "../../../sdk/assemble/tree";
import { FileData } from "../../../sdk/assemble/file-data";

const file = (data: string, mode = 0o644) => ({
  kind: "file" as const,
  mode,
  uid: 0,
  gid: 0,
  data: FileData.of(data),
});

async function tarEntries(tree: FileTree) {
  const chunks: Buffer[] = [];
  const writer = new TarWriter((c) => void chunks.push(c));
  await tree.writeTar(writer, 100);
  await writer.finish();
  const out: string[] = [];
  for await (const e of readTar([Buffer.concat(chunks)])) {
    out.push(
      `${e.header.type} ${e.header.path}${e.header.linkname ? ` -> ${e.header.linkname}` : ""} ${e.header.mode.toString(8)} ${e.header.uid}:${e.header.gid} ${e.header.mtime}`,
    );
  }
  return out;
}

/** A tar archive of entries (a hard link is `{ path, type: HardLink, linkname }` without data). */
async function archive(
  ...entries: (readonly [Partial<TarHeader> & { path: string }, string?])[]
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const writer = new TarWriter((c) => void chunks.push(c));
  for (const [header, data] of entries) {
    const bytes = data === undefined ? undefined : Buffer.from(data);
    await writer.add(
      { type: TarType.File, mode: 0o644, ...header, ...(bytes && { size: bytes.length }) },
      bytes,
    );
  }
  await writer.finish();
  return Buffer.concat(chunks);
}

const LINKED = () =>
  archive([{ path: "a" }, "hello"], [{ path: "b", type: TarType.HardLink, linkname: "a" }]);

/** A tree of layers applied in order, as an image's. */
async function layers(...tars: Buffer[]): Promise<FileTree> {
  const tree = new FileTree();
  for (const [i, tar] of tars.entries())
    await tree.addTar(readTar([tar]), `image layer ${i + 1}`, { whiteouts: true });
  return tree;
}

/** The text of a file in the tree (whichever of its names `path` is). */
function text(tree: FileTree, path: string): string | undefined {
  const node = tree.get(path);
  return node?.kind === "file" ? node.data.read().toString() : undefined;
}

describe("FileTree", () => {
  it("normalizes paths and refuses those that climb out of the root", () => {
    assert.equal(normalizeTreePath("./usr//bin/", "t"), "/usr/bin");
    assert.throws(
      () => normalizeTreePath("usr/../../etc", "deb foo"),
      (e: unknown) => e instanceof AssembleError && /deb foo: refusing the path/.test(e.message),
    );
  });

  it("creates parents, and refuses entries below a file or a symlink", () => {
    const tree = new FileTree();
    tree.set("/usr/bin/app", file("x"));
    assert.deepEqual(tree.paths(), ["/usr", "/usr/bin", "/usr/bin/app"]);
    tree.set("/lib", { kind: "symlink", target: "/usr/lib", uid: 0, gid: 0 });
    assert.throws(() => tree.set("/lib/evil.so", file("x")), /it is a symlink, not a directory/);
    assert.throws(() => tree.set("/usr/bin/app/x", file("x")), /it is a file, not a directory/);
    assert.throws(() => tree.link("/h", "/nowhere"), /not a file in the tree/);
  });

  it("writes tar entries in byte order, one mtime, hard links after the file that holds the data", async () => {
    const tree = new FileTree();
    tree.set("/z/data", { ...file("d", 0o600), uid: 7, gid: 8 });
    tree.link("/a/link", "/z/data");
    tree.set("/dev/null", {
      kind: "device",
      type: "char",
      mode: 0o666,
      major: 1,
      minor: 3,
      uid: 0,
      gid: 0,
    });
    tree.set("/B", { kind: "symlink", target: "z", uid: 0, gid: 0 });
    assert.deepEqual(await tarEntries(tree), [
      "2 B -> z 777 0:0 100",
      "5 a/ 755 0:0 100",
      "0 a/link 600 7:8 100",
      "5 dev/ 755 0:0 100",
      "3 dev/null 666 0:0 100",
      "5 z/ 755 0:0 100",
      `${TarType.HardLink} z/data -> a/link 600 7:8 100`,
    ]);
  });

  it("materializes with exact modes whatever the umask, and reads back keeping owners and hard links", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oskit-tree-"));
    const old = process.umask(0o077);
    try {
      const tree = new FileTree();
      tree.set("/bin/tool", { ...file("#!/bin/sh\n", 0o4755), uid: 0, gid: 50 });
      tree.link("/bin/alias", "/bin/tool");
      tree.set("/ro", { kind: "dir", mode: 0o555, uid: 0, gid: 0 });
      tree.set("/ro/inside", file("x", 0o444));
      tree.set("/l", { kind: "symlink", target: "bin/tool", uid: 0, gid: 0 });
      tree.set("/dev/null", {
        kind: "device",
        type: "char",
        mode: 0o666,
        major: 1,
        minor: 3,
        uid: 0,
        gid: 0,
      });
      await tree.materialize(join(dir, "root"));
      assert.equal(statSync(join(dir, "root/bin/tool")).mode & 0o7777, 0o4755);
      assert.equal(statSync(join(dir, "root/ro")).mode & 0o7777, 0o555);
      assert.equal(
        statSync(join(dir, "root/bin/alias")).ino,
        statSync(join(dir, "root/bin/tool")).ino,
      );
      assert.equal(readlinkSync(join(dir, "root/l")), "bin/tool");
      assert.equal(lstatSync(join(dir, "root/dev")).isDirectory(), true);
      const back = await FileTree.fromDirectory(join(dir, "root"), tree);
      assert.deepEqual(await tarEntries(back), await tarEntries(tree));
    } finally {
      process.umask(old);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("keeps only what a filter accepts, with the directories above it", () => {
    const tree = new FileTree();
    tree.set("/a/b/keep", file("k"));
    tree.set("/a/drop", file("d"));
    tree.set("/c", file("c"));
    tree.retain((p) => p === "/a/b/keep");
    assert.deepEqual(tree.paths(), ["/a", "/a/b", "/a/b/keep"]);
  });

  describe("hard links", () => {
    it("refuses a link to itself, naming the archive and the entry", async () => {
      await assert.rejects(
        layers(
          await archive(
            [{ path: "a" }, "x"],
            [{ path: "a", type: TarType.HardLink, linkname: "a" }],
          ),
        ),
        (e: unknown) =>
          e instanceof AssembleError &&
          /image layer 1: entry "a": hard link \/a points at itself/.test(e.message),
      );
    });

    it("takes a link back and forth (a → b → a) as two names of one file", async () => {
      const tree = await layers(
        await archive(
          [{ path: "a" }, "x"],
          [{ path: "b", type: TarType.HardLink, linkname: "a" }],
          [{ path: "a", type: TarType.HardLink, linkname: "b" }],
        ),
      );
      assert.deepEqual([text(tree, "/a"), text(tree, "/b")], ["x", "x"]);
      assert.deepEqual(await tarEntries(tree), [
        "0 a 644 0:0 100",
        `${TarType.HardLink} b -> a 644 0:0 100`,
      ]);
    });

    it("keeps the file for the other names when the first is whited out, made a directory or replaced", async () => {
      const whitedOut = await layers(await LINKED(), await archive([{ path: ".wh.a" }, ""]));
      assert.deepEqual(await tarEntries(whitedOut), ["0 b 644 0:0 100"]);
      assert.equal(text(whitedOut, "/b"), "hello");
      const madeDir = await layers(
        await LINKED(),
        await archive([{ path: "a/", type: TarType.Directory, mode: 0o755 }]),
      );
      assert.equal(text(madeDir, "/b"), "hello");
      const replaced = await layers(await LINKED(), await archive([{ path: "a" }, "new"]));
      assert.deepEqual([text(replaced, "/a"), text(replaced, "/b")], ["new", "hello"]);
      assert.deepEqual(await tarEntries(replaced), ["0 a 644 0:0 100", "0 b 644 0:0 100"]);
    });

    it("keeps the file when a filter keeps only a later name", async () => {
      const tree = await layers(await LINKED());
      tree.retain((p) => p === "/b");
      assert.deepEqual(await tarEntries(tree), ["0 b 644 0:0 100"]);
    });

    it("adds a link a Debian include accepts even when it leaves out the file's first name", async () => {
      const tree = new FileTree();
      await tree.addTar(
        readTar([
          await archive(
            [{ path: "usr/bin/perl", mode: 0o755 }, "perl"],
            [{ path: "usr/bin/perl5.36.0", type: TarType.HardLink, linkname: "usr/bin/perl" }],
          ),
        ]),
        "perl-base",
        { include: (p) => ["/usr", "/usr/bin", "/usr/bin/perl5.36.0"].includes(p) },
      );
      assert.deepEqual(tree.paths(), ["/usr", "/usr/bin", "/usr/bin/perl5.36.0"]);
      assert.equal(text(tree, "/usr/bin/perl5.36.0"), "perl");
    });

    it("grafts an image's links as links of the copy, and two copies apart", async () => {
      const image = await layers(await LINKED());
      const root = new FileTree();
      root.graft("/one", image, "one");
      root.graft("/two", image, "two");
      assert.deepEqual(await tarEntries(root), [
        "5 one/ 755 0:0 100",
        "0 one/a 644 0:0 100",
        `${TarType.HardLink} one/b -> one/a 644 0:0 100`,
        "5 two/ 755 0:0 100",
        "0 two/a 644 0:0 100",
        `${TarType.HardLink} two/b -> two/a 644 0:0 100`,
      ]);
    });
  });
});
