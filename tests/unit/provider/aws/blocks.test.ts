import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  blockDigest,
  candidateBlocks,
  clientToken,
  ec2Architecture,
  GiB,
  isZero,
  linearChecksum,
  nonZeroBlocks,
  peArchitecture,
  volumeSizeGiB,
  type DiskBlock,
  type ScanCounts,
} from "../../../../provider/aws/blocks";

const BLOCK = 512 * 1024;

async function collect(gen: AsyncGenerator<DiskBlock>): Promise<DiskBlock[]> {
  const out: DiskBlock[] = [];
  for await (const b of gen) out.push(b);
  return out;
}

describe("aws blocks", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "oskit-aws-blocks-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("sizes a snapshot in whole GiB, at least one", () => {
    assert.equal(volumeSizeGiB(1), 1);
    assert.equal(volumeSizeGiB(GiB), 1);
    assert.equal(volumeSizeGiB(GiB + 512), 2);
    assert.equal(volumeSizeGiB(0), 1);
  });

  it("tells an all-zero block from one with a single non-zero byte anywhere", () => {
    const block = Buffer.alloc(3 * 1024 * 1024);
    assert.equal(isZero(block), true);
    for (const at of [0, 1 << 20, block.length - 1]) {
      block[at] = 1;
      assert.equal(isZero(block), false, `byte ${at}`);
      block[at] = 0;
    }
  });

  it("aggregates the block digests LINEARly: SHA-256 over the raw digests in index order", () => {
    const a = blockDigest(Buffer.from("a"));
    const b = blockDigest(Buffer.from("b"));
    const expected = createHash("sha256").update(a).update(b).digest("base64");
    assert.equal(
      linearChecksum(
        new Map([
          [7, b],
          [2, a],
        ]),
      ),
      expected,
    );
    assert.equal(
      blockDigest(Buffer.from("a")).toString("base64"),
      "ypeBEsobvcr6wjGzmiPcTaeG7/gUfE5yuYB3ha/uSLs=",
    );
  });

  it("takes every block an allocation extent touches, and every block without one", () => {
    assert.deepEqual(candidateBlocks(4 * BLOCK, BLOCK), [0, 1, 2, 3]);
    assert.deepEqual(
      candidateBlocks(8 * BLOCK, BLOCK, [
        { offset: 0, length: 512 },
        { offset: BLOCK - 512, length: 1024 },
        { offset: 5 * BLOCK, length: 2 * BLOCK },
        { offset: 3 * BLOCK, length: 0 },
      ]),
      [0, 1, 5, 6],
    );
  });

  it("GIVEN a sparse disk WHEN scanned THEN yields exactly the non-zero blocks, the last padded", async () => {
    const path = join(dir, "disk.raw");
    const size = 5 * BLOCK + 4096; // a partial last block
    const fd = openSync(path, "w");
    ftruncateSync(fd, size);
    writeSync(fd, Buffer.from([1]), 0, 1, 0); // block 0
    writeSync(fd, Buffer.from([2]), 0, 1, 3 * BLOCK + BLOCK - 1); // last byte of block 3
    writeSync(fd, Buffer.from([3]), 0, 1, 5 * BLOCK + 100); // the partial block 5
    closeSync(fd);
    const counts: ScanCounts = { total: 0, zero: 0, data: 0 };
    const blocks = await collect(nonZeroBlocks(path, { blockSize: BLOCK, counts }));
    assert.deepEqual(
      blocks.map((b) => b.index),
      [0, 3, 5],
    );
    assert.ok(blocks.every((b) => b.data.length === BLOCK));
    assert.equal(blocks[2]!.data[100], 3);
    assert.deepEqual(counts, { total: 6, zero: 3, data: 3 });
    // A stale allocation naming zero blocks and missing none still sends no zero block.
    const hinted = await collect(
      nonZeroBlocks(path, {
        blockSize: BLOCK,
        allocation: [
          { offset: 0, length: 2 * BLOCK },
          { offset: 3 * BLOCK, length: 3 * BLOCK },
        ],
      }),
    );
    assert.deepEqual(
      hinted.map((b) => b.index),
      [0, 3, 5],
    );
  });

  it("derives a client token of at most 64 characters that changes with every parameter", () => {
    const base = { digest: "sha256:ab", VolumeSize: 1, Encrypted: undefined };
    const t = clientToken("oskit", base);
    assert.ok(t.length <= 64);
    assert.match(t, /^oskit-[0-9a-f]+$/);
    assert.equal(clientToken("oskit", { VolumeSize: 1, digest: "sha256:ab" }), t, "key order");
    assert.notEqual(clientToken("oskit", { ...base, VolumeSize: 2 }), t);
    assert.notEqual(clientToken("oskit", { ...base, digest: "sha256:ac" }), t);
    assert.notEqual(clientToken("oskit", { ...base, Encrypted: true }), t);
  });

  it("names EC2 architectures and refuses others (never i386)", () => {
    assert.equal(ec2Architecture("amd64"), "x86_64");
    assert.equal(ec2Architecture("x86_64"), "x86_64");
    assert.equal(ec2Architecture("arm64"), "arm64");
    assert.equal(ec2Architecture("aarch64"), "arm64");
    assert.throws(() => ec2Architecture("386"), /expected amd64 or arm64/);
  });

  it("reads the architecture from the first PE image at a sector", () => {
    const pe = (machine: number) => {
      const b = Buffer.alloc(2048);
      b.write("MZ", 1024, "latin1");
      b.writeUInt32LE(0x80, 1024 + 0x3c);
      b.writeUInt32LE(0x4550, 1024 + 0x80);
      b.writeUInt16LE(machine, 1024 + 0x84);
      return b;
    };
    assert.equal(peArchitecture(pe(0x8664)), "x86_64");
    assert.equal(peArchitecture(pe(0xaa64)), "arm64");
    assert.equal(peArchitecture(pe(0x14c)), undefined);
    assert.equal(peArchitecture(Buffer.alloc(4096)), undefined);
  });
});
