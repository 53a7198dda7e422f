import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Digest } from "../../../../sdk/manifest/digest";
import { TarType } from "../../../../sdk/formats/tar/header";
import { readTar } from "../../../../sdk/formats/tar/reader";
import { TarWriter } from "../../../../sdk/formats/tar/writer";

async function archive(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const writer = new TarWriter((chunk) => void chunks.push(chunk));
  const mtime = 1492533000;
  await writer.add({ path: "etc/", type: TarType.Directory, mode: 0o755, mtime });
  await writer.add(
    { path: "etc/motd", type: TarType.File, mode: 0o644, mtime },
    Buffer.from("hello\n"),
  );
  await writer.add({
    path: "etc/link",
    type: TarType.Symlink,
    mode: 0o777,
    linkname: "motd",
    mtime,
  });
  await writer.add({ path: "etc/hard", type: TarType.HardLink, linkname: "etc/motd", mtime });
  await writer.add(
    {
      path: `deep/${"n".repeat(150)}/${"m".repeat(120)}`,
      type: TarType.File,
      mode: 0o600,
      mtime,
      uid: 1000,
      gid: 3000000,
    },
    Buffer.from("x"),
  );
  await writer.add({
    path: "dev/null",
    type: TarType.CharDevice,
    mode: 0o666,
    devmajor: 1,
    devminor: 3,
    mtime,
  });
  await writer.finish();
  return Buffer.concat(chunks);
}

describe("TarWriter", () => {
  it("writes the same bytes every time (golden digest)", async () => {
    const bytes = await archive();
    assert.equal(bytes.length % 512, 0);
    assert.equal(Digest.sha256(bytes).toString(), Digest.sha256(await archive()).toString());
    assert.equal(
      Digest.sha256(bytes).toString(),
      "sha256:670917dbb01a4a4bf5c8124fe3e772e67e46e30e74b5fdaa7741755b7bbd18ad",
    );
  });

  it("writes archives GNU tar extracts, long paths and large ids included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oskit-tar-"));
    try {
      const file = join(dir, "a.tar");
      writeFileSync(file, await archive());
      const list = spawnSync("tar", ["-tvf", file, "--numeric-owner"], { encoding: "utf8" });
      assert.equal(list.status, 0, list.stderr);
      assert.match(list.stdout, /1000\/3000000 +1 2017-04-18 16:30 deep\/n{150}\/m{120}/);
      const out = join(dir, "out");
      spawnSync("mkdir", [out]);
      const extract = spawnSync("tar", ["-xf", file, "-C", out, "--exclude=dev"], {
        encoding: "utf8",
      });
      assert.equal(extract.status, 0, extract.stderr);
      assert.equal(readFileSync(join(out, "etc/motd"), "utf8"), "hello\n");
      assert.equal(readlinkSync(join(out, "etc/link")), "motd");
      assert.equal(statSync(join(out, "etc/hard")).ino, statSync(join(out, "etc/motd")).ino);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("refuses data that does not match the size, and contents on non-files", async () => {
    const writer = new TarWriter(() => undefined);
    await assert.rejects(
      writer.add({ path: "a", type: TarType.File, size: 5 }, Buffer.from("abc")),
      /3 bytes of data for size 5/,
    );
    await assert.rejects(
      writer.add({ path: "d/", type: TarType.Directory, size: 1 }),
      /only regular files have contents/,
    );
  });

  it("round-trips through the reader", async () => {
    const entries = [];
    for await (const entry of readTar([await archive()])) {
      entries.push({ ...entry.header, data: (await entry.readAll()).toString() });
    }
    assert.deepEqual(
      entries.map((e) => [e.path, e.type, e.data]),
      [
        ["etc/", "5", ""],
        ["etc/motd", "0", "hello\n"],
        ["etc/link", "2", ""],
        ["etc/hard", "1", ""],
        [`deep/${"n".repeat(150)}/${"m".repeat(120)}`, "0", "x"],
        ["dev/null", "3", ""],
      ],
    );
    assert.equal(entries[4]!.gid, 3000000);
    assert.deepEqual([entries[5]!.devmajor, entries[5]!.devminor], [1, 3]);
  });
});
