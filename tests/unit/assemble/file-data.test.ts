import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileData, SpillFile } from "../../../sdk/assemble/file-data";
import { FileTree } from "../../../sdk/assemble/tree";
import { readTar } from "../../../sdk/formats/tar/reader";
import { AssembleError } from "../../../sdk/errors";
import { tarOf } from "../../support/tar";

function* pieces(data: Buffer, size: number): Generator<Buffer> {
  for (let at = 0; at < data.length; at += size) yield data.subarray(at, at + size);
}

describe("file data and the spill file", () => {
  let dir: string;
  let spill: SpillFile;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "oskit-spill-"));
    spill = SpillFile.open(dir);
  });
  afterEach(() => {
    spill.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("holds data in a file without a name: nothing is ever left in the directory", () => {
    assert.deepEqual(readdirSync(dir), []);
  });

  it("reads back what was appended, whole and in 1 MiB pieces", async () => {
    const big = randomBytes(2.5 * 1024 * 1024);
    const small = Buffer.from("hello");
    const a = await spill.append(pieces(small, 2), small.length, "small");
    const b = await spill.append(pieces(big, 65536), big.length, "big");
    assert.deepEqual(a.read(), small);
    assert.deepEqual(b.read(), big);
    const chunks = [...b.chunks()];
    assert.deepEqual(
      chunks.map((c) => c.length),
      [1024 * 1024, 1024 * 1024, 0.5 * 1024 * 1024],
    );
    assert.deepEqual(Buffer.concat(chunks), big);
  });

  it("gives files appended side by side their own ranges", async () => {
    const one = randomBytes(300000);
    const two = randomBytes(200000);
    const [a, b] = await Promise.all([
      spill.append(pieces(one, 1000), one.length, "one"),
      spill.append(pieces(two, 1000), two.length, "two"),
    ]);
    assert.deepEqual(a.read(), one);
    assert.deepEqual(b.read(), two);
  });

  it("refuses data that is shorter or longer than announced, naming the entry", async () => {
    await assert.rejects(
      spill.append(pieces(Buffer.alloc(10), 4), 11, "img layer 1/1: entry a"),
      (e: Error) =>
        e instanceof AssembleError && /entry a: expected 11 bytes.* got 10/.test(e.message),
    );
    await assert.rejects(
      spill.append(pieces(Buffer.alloc(10), 4), 9, "entry b"),
      /entry b: more file data than the 9 bytes announced/,
    );
  });

  it("refuses to read after the build has ended", async () => {
    const data = await spill.append(pieces(Buffer.from("x"), 1), 1, "x");
    spill.close();
    assert.throws(() => data.read(), /read after its build ended/);
  });

  it("builds the same tree from a layer whether file data is spilled or in memory", async () => {
    const layer = await tarOf({ "etc/a": "alpha", "bin/b": randomBytes(100000), empty: "" });
    const inMemory = new FileTree();
    await inMemory.addTar(readTar([layer]), "layer");
    const spilled = new FileTree(spill);
    await spilled.addTar(readTar([layer]), "layer");
    assert.deepEqual(spilled.paths(), inMemory.paths());
    for (const path of inMemory.paths()) {
      const want = inMemory.get(path)!;
      const got = spilled.get(path)!;
      assert.equal(got.kind, want.kind);
      if (want.kind === "file" && got.kind === "file")
        assert.deepEqual(got.data.read(), want.data.read(), path);
    }
  });

  it("keeps small contents in memory as given", () => {
    const data = FileData.of("text");
    assert.equal(data.size, 4);
    assert.equal(data.read().toString(), "text");
    assert.deepEqual([...FileData.of("").chunks()], []);
  });
});
