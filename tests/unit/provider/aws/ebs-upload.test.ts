import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { linearChecksum } from "../../../../provider/aws/blocks";
import type { EbsApi, Ec2Api } from "../../../../provider/aws/clients";
import {
  startSnapshotRequest,
  uploadSnapshot,
  type UploadProgress,
} from "../../../../provider/aws/ebs-upload";

const BLOCK = 512 * 1024;
const noWait = { sleep: () => Promise.resolve() };

/** An EBS that keeps blocks in memory, checks each checksum and the aggregate, and fails on cue. */
function memoryEbs(faults: { put?: (index: number, attempt: number) => Error | undefined } = {}) {
  const blocks = new Map<number, Buffer>();
  const attempts = new Map<number, number>();
  const calls: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let completed: { count: number; checksum: string } | undefined;
  let started: Record<string, unknown> | undefined;
  const ebs: EbsApi = {
    startSnapshot(input) {
      calls.push("StartSnapshot");
      started = input as unknown as Record<string, unknown>;
      return Promise.resolve({
        SnapshotId: "snap-1",
        BlockSize: BLOCK,
        Status: "pending",
        $metadata: {},
      });
    },
    async putSnapshotBlock(input) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      await new Promise((r) => setTimeout(r, 20));
      inFlight--;
      const index = input.BlockIndex!;
      const attempt = (attempts.get(index) ?? 0) + 1;
      attempts.set(index, attempt);
      const fault = faults.put?.(index, attempt);
      if (fault !== undefined) throw fault;
      const data = Buffer.from(input.BlockData);
      assert.equal(data.length, BLOCK);
      assert.equal(input.DataLength, BLOCK);
      assert.equal(input.Checksum, createHash("sha256").update(data).digest("base64"));
      blocks.set(index, data);
      return {};
    },
    completeSnapshot(input) {
      calls.push("CompleteSnapshot");
      const digests = new Map(
        [...blocks].map(([i, d]) => [i, createHash("sha256").update(d).digest()]),
      );
      assert.equal(input.ChangedBlocksCount, blocks.size);
      assert.equal(input.Checksum, linearChecksum(digests));
      assert.equal(input.ChecksumAggregationMethod, "LINEAR");
      completed = { count: input.ChangedBlocksCount, checksum: input.Checksum };
      return Promise.resolve({ Status: "completed", $metadata: {} });
    },
  };
  const ec2 = {
    describeSnapshots: () =>
      Promise.resolve({
        Snapshots: [{ SnapshotId: "snap-1", State: completed ? "completed" : "pending" }],
        $metadata: {},
      }),
  } as unknown as Ec2Api;
  return { ebs, ec2, blocks, calls, stats: () => ({ maxInFlight, completed, started }) };
}

const error = (name: string, status?: number, code?: string) =>
  Object.assign(new Error(`${name} happened`), {
    name,
    ...(code !== undefined && { code }),
    $metadata: { httpStatusCode: status },
  });

describe("EBS direct upload", () => {
  let dir: string;
  let disk: string;
  const size = 1024 ** 3; // 1 GiB, 2048 blocks
  const dataBlocks = [0, 1, 17, 1000, 2047];
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "oskit-aws-upload-"));
    disk = join(dir, "disk.raw");
    const fd = openSync(disk, "w");
    ftruncateSync(fd, size);
    for (const i of dataBlocks)
      writeSync(fd, Buffer.from(`block ${i}`), 0, undefined, i * BLOCK + 4096);
    closeSync(fd);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("asks StartSnapshot for whole GiB, the tags and a token covering digest and parameters", () => {
    const base = { digest: "sha256:aa", description: "d", tags: { b: "2", a: "1" } };
    const r = startSnapshotRequest(base, 1024 ** 3 + 1);
    assert.equal(r.VolumeSize, 2);
    assert.deepEqual(r.Tags, [
      { Key: "a", Value: "1" },
      { Key: "b", Value: "2" },
    ]);
    assert.equal(r.Timeout, 60);
    assert.equal("Encrypted" in r, false);
    assert.ok(r.ClientToken.length <= 64);
    const kms = startSnapshotRequest({ ...base, kmsKeyArn: "arn:aws:kms:k" }, 1);
    assert.equal(kms.Encrypted, true);
    assert.equal(kms.KmsKeyArn, "arn:aws:kms:k");
    assert.notEqual(kms.ClientToken, startSnapshotRequest(base, 1).ClientToken);
    assert.notEqual(
      startSnapshotRequest({ ...base, digest: "sha256:ab" }, 1).ClientToken,
      startSnapshotRequest(base, 1).ClientToken,
    );
    assert.notEqual(
      startSnapshotRequest(base, 1, 1).ClientToken,
      startSnapshotRequest(base, 1).ClientToken,
    );
  });

  it("GIVEN a sparse 1 GiB disk WHEN uploaded THEN only its non-zero blocks go, each once, in parallel within the bound", async () => {
    const fake = memoryEbs();
    const reports: UploadProgress[] = [];
    const result = await uploadSnapshot(
      {
        path: disk,
        digest: "sha256:aa",
        description: "t",
        tags: {},
        parallel: 3,
        progress: (p) => reports.push(p),
        progressEveryMs: 0,
        retry: noWait,
        pollMs: 0,
      },
      fake.ebs,
      fake.ec2,
    );
    assert.deepEqual(
      [...fake.blocks.keys()].sort((a, b) => a - b),
      dataBlocks,
    );
    assert.equal(result.blocksWritten, 5);
    assert.equal(result.blocksSkipped, 2043);
    assert.equal(result.blocksTotal, 2048);
    assert.equal(result.bytesSent, 5 * BLOCK);
    assert.equal(result.bytesResent, 0);
    assert.equal(result.reused, false);
    assert.ok(fake.stats().maxInFlight <= 3 && fake.stats().maxInFlight >= 2);
    const image = readFileSync(disk);
    for (const [i, data] of fake.blocks)
      assert.ok(data.equals(image.subarray(i * BLOCK, (i + 1) * BLOCK)));
    const last = reports.at(-1)!;
    assert.equal(last.phase, "complete");
    assert.equal(last.blocksWritten, 5);
    assert.equal(last.blocksSkipped, 2043);
    assert.equal(fake.stats().started!.VolumeSize, 1);
  });

  it("retries throttling, 500s, reset connections and a snapshot not visible yet, and sends each block's bytes once", async () => {
    const fake = memoryEbs({
      put: (index, attempt) => {
        if (attempt > 1) return undefined;
        if (index === 0) return error("ThrottlingException", 400);
        if (index === 1) return error("InternalServerException", 500);
        if (index === 17) return Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
        if (index === 1000) return error("ResourceNotFoundException", 404, undefined);
        return undefined;
      },
    });
    const result = await uploadSnapshot(
      { path: disk, digest: "sha256:aa", description: "t", tags: {}, retry: noWait, pollMs: 0 },
      fake.ebs,
      fake.ec2,
    );
    assert.deepEqual(
      [...fake.blocks.keys()].sort((a, b) => a - b),
      dataBlocks,
    );
    assert.equal(result.bytesSent, 5 * BLOCK);
    assert.equal(result.bytesResent, 4 * BLOCK);
    assert.equal(fake.stats().completed?.count, 5);
  });

  it("fails at once on an error that is not transient, naming the block", async () => {
    const fake = memoryEbs({
      put: (index) => (index === 17 ? error("ValidationException", 400) : undefined),
    });
    await assert.rejects(
      uploadSnapshot(
        { path: disk, digest: "sha256:aa", description: "t", tags: {}, retry: noWait, pollMs: 0 },
        fake.ebs,
        fake.ec2,
      ),
      /ValidationException happened/,
    );
    assert.deepEqual(fake.calls, ["StartSnapshot"]);
  });
});
