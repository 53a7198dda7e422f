import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { checkGceTarball, GiB } from "../../../../provider/gcp/tarball";
import { tinyGceTarball } from "../../../support/gce-disk";

/** A tar header block: the name, a size, a type and a magic, the rest zero. */
function header(name: string, size: number, type = "0", magic = "ustar  \0"): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, "utf8");
  const sizeField = 124;
  if (type === "S") block.write(size.toString(8).padStart(11, "0"), 483, "ascii");
  else block.write(size.toString(8).padStart(11, "0"), sizeField, "ascii");
  block.write(type, 156, "ascii");
  block.write(magic, 257, "latin1");
  return Buffer.concat([block, Buffer.alloc(1024)]);
}

describe("the GCE tarball check", function () {
  this.timeout(30_000);
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "oskit-gce-tar-"));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, data: Buffer) => {
    const path = join(dir, name);
    writeFileSync(path, data);
    return path;
  };

  it("GIVEN oskit's gce output WHEN checked THEN it is a sparse 1 GiB disk.raw of an x86-64 UKI", async () => {
    const artifact = await tinyGceTarball(dir);
    const info = await checkGceTarball(artifact.path);
    assert.deepEqual(info, { diskSize: GiB, sparse: true, architecture: "X86_64" });
  });

  it("GIVEN a plain old-GNU disk.raw of 2 GiB WHEN checked THEN its size is read", async () => {
    const info = await checkGceTarball(file("plain.tar.gz", gzipSync(header("disk.raw", 2 * GiB))));
    assert.equal(info.diskSize, 2 * GiB);
    assert.equal(info.sparse, false);
  });

  const refusals: [string, () => Buffer, RegExp][] = [
    ["a file that is not gzip", () => header("disk.raw", GiB), /not a gzip file/],
    [
      "a first member not named disk.raw",
      () => gzipSync(header("root.img", GiB)),
      /first member is "root.img", not "disk.raw"/,
    ],
    [
      "a POSIX ustar archive",
      () => gzipSync(header("disk.raw", GiB, "0", "ustar\x0000")),
      /not an old-GNU tar/,
    ],
    [
      "a disk of 1.5 GiB",
      () => gzipSync(header("disk.raw", 1.5 * GiB, "S")),
      /not a whole number of GiB/,
    ],
    ["a directory named disk.raw", () => gzipSync(header("disk.raw", 0, "5")), /tar type "5"/],
    ["an empty gzip", () => gzipSync(Buffer.alloc(0)), /holds no tar header/],
    [
      "a cut-off gzip",
      () => gzipSync(header("disk.raw", GiB)).subarray(0, 12),
      /cannot be decompressed|holds no tar header/,
    ],
  ];
  for (const [name, make, reason] of refusals)
    it(`GIVEN ${name} WHEN checked THEN it is refused, saying why and what GCE takes`, async () => {
      const path = file(`${name.replace(/\W+/g, "-")}.tar.gz`, make());
      await assert.rejects(checkGceTarball(path), (error: Error) => {
        assert.match(error.message, reason);
        assert.match(error.message, /GCE takes a gzip'd old-GNU tar holding disk.raw/);
        assert.ok(error.message.startsWith(path));
        return true;
      });
    });
});
