/**
 * The uploader and the AMI resource's functions against the strict AWS fake, through the real
 * SDK v3 clients and the default credential chain: a synthetic oskit `aws` disk (and hello's, when
 * the e2e tests built it) uploaded block for block, faults retried, a killed run resumed, adoption
 * by digest and owner, and delete.
 */
import { strict as assert } from "node:assert";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isZero } from "../../../provider/aws/blocks";
import { sdkClients } from "../../../provider/aws/clients";
import { diskInfo } from "../../../provider/aws/disk";
import {
  createAmi,
  deleteAmi,
  diffAmi,
  updateAmi,
  PartialCreateError,
  type AmiInputs,
  type AmiOutputs,
} from "../../../provider/aws/ami";
import { publish, type PublishOptions } from "../../../provider/aws/publish";
import { FileData } from "../../../sdk/assemble/file-data";
import { FileTree } from "../../../sdk/assemble/tree";
import { build } from "../../../sdk/build/build";
import { loadDefinitions } from "../../../sdk/cli/load";
import { WRITERS } from "../../../sdk/formats/writers";
import { BLOCK_SIZE, startAwsFake, type AwsFake } from "../../support/aws";
import { ensurePackages, OSKIT_PACKAGES } from "../../support/packages";
import { ROOT, TMP } from "../../support/paths";
import { testPe } from "../../support/pe";

const MiB = 1 << 20;
const noWait = { sleep: () => Promise.resolve() };

/** A small system whose kernel is 3 MiB of varied bytes: its `aws` disk has a handful of data blocks. */
function system(): FileTree {
  const tree = new FileTree();
  const file = (data: Buffer, mode = 0o644) => ({
    kind: "file" as const,
    mode,
    data: FileData.of(data),
    uid: 0,
    gid: 0,
  });
  const text = Buffer.alloc(3 * MiB);
  for (let i = 0; i < text.length; i += 4096) text.writeUInt32LE(i, i);
  tree.set(
    "/boot/kernel",
    file(testPe({ majorImageVersion: 1, sections: [{ name: ".text", data: text }] })),
  );
  tree.set("/boot/cmdline", file(Buffer.from("console=ttyS0")));
  tree.set("/init", file(Buffer.from("#!/bin/sh\n"), 0o755));
  return tree;
}

/** Each non-zero block's bytes of the disk at the fake's block size. */
function nonZeroBytes(disk: Buffer): number {
  let bytes = 0;
  for (let at = 0; at < disk.length; at += BLOCK_SIZE)
    if (!isZero(disk.subarray(at, at + BLOCK_SIZE))) bytes += BLOCK_SIZE;
  return bytes;
}

describe("publishing to AWS against the fake", function () {
  this.timeout(120_000);
  let fake: AwsFake;
  let dir: string;
  let disk: string;
  let digest: string;
  let allocation: readonly { offset: number; length: number }[];
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-aws-publish-"));
    const [file] = await WRITERS.aws.write(system(), {
      dir,
      name: "tiny",
      mtime: 1492533000,
      efiStub: testPe(),
      manifestDigest: `sha256:${"0".repeat(64)}`,
      shared: new Map(),
    });
    disk = join(dir, file!.name);
    digest = file!.sha256;
    allocation = file!.allocation!;
    fake = await startAwsFake({ region: "eu-west-1", otherRegions: ["us-east-1"] });
    // The SDK's default chain: credentials from the environment, as a user's would be.
    for (const key of [
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",
      "AWS_PROFILE",
    ])
      saved[key] = process.env[key];
    process.env.AWS_ACCESS_KEY_ID = fake.credentials.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = fake.credentials.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });
  after(async () => {
    for (const [key, value] of Object.entries(saved))
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => fake.faults.clear());

  const clients = () => sdkClients({ ec2: fake.endpoint, ebs: fake.endpoint });
  const options = (extra: Partial<PublishOptions> = {}): PublishOptions => ({
    path: disk,
    digest,
    format: "aws",
    region: "eu-west-1",
    name: `tiny-${extra.owner ?? "test/dev/tiny"}`,
    architecture: "x86_64",
    bootMode: "uefi",
    owner: "test/dev/tiny",
    pollMs: 5,
    retry: noWait,
    allocation,
    ...extra,
  });

  /** Asserts the snapshot holds the disk byte for byte and only non-zero blocks were sent. */
  function assertSnapshot(snapshotId: string, path: string): { sent: number; nonZero: number } {
    const bytes = readFileSync(path);
    assert.ok(fake.state.disk(snapshotId, bytes.length).equals(bytes), "the snapshot is the disk");
    const snapshot = fake.state.snapshot(snapshotId);
    for (const [index, block] of snapshot.blocks)
      assert.ok(!isZero(block), `block ${index} is all zeros and was sent`);
    const sent = fake.state
      .callsOf("PutSnapshotBlock")
      .filter((c) => c.snapshotId === snapshotId && c.status < 300)
      .reduce((n, c) => n + c.bytes, 0);
    return { sent, nonZero: nonZeroBytes(bytes) };
  }

  it("GIVEN an oskit aws disk WHEN published THEN the snapshot equals it, only non-zero blocks went, the AMI is registered as EC2 wants", async () => {
    const before = fake.state.bytesReceived;
    // No allocation: the whole disk is read, and still only non-zero blocks go.
    const published = await publish(
      options({ owner: "test/dev/first", allocation: undefined }),
      clients(),
    );
    const { sent, nonZero } = assertSnapshot(published.snapshotId, disk);
    assert.equal(sent, nonZero);
    assert.equal(fake.state.bytesReceived - before, nonZero);
    assert.equal(published.upload!.bytesSent, nonZero);
    assert.equal(published.upload!.blocksTotal, 2048);
    const image = fake.state.image(published.imageId!);
    const register = fake.state.callsOf("RegisterImage").at(-1)!.params!;
    assert.equal(register.Architecture, "x86_64");
    assert.equal(register.BootMode, "uefi");
    assert.equal(register.ImdsSupport, "v2.0");
    assert.equal(register.EnaSupport, "true");
    assert.equal(register["BlockDeviceMapping.1.Ebs.VolumeType"], "gp3");
    assert.equal(image.state, "available");
    const start = fake.state.callsOf("StartSnapshot").at(-1)!.params!;
    assert.ok(String(start.ClientToken).length <= 64);
    assert.deepEqual(fake.state.leftovers(), []);
  });

  it("retries throttling, a 500 and a dropped connection, and the snapshot is still byte-identical", async () => {
    fake.faults
      .add({ operation: "PutSnapshotBlock", fault: { kind: "throttle" }, times: 2 })
      .add({ operation: "PutSnapshotBlock", fault: { kind: "error" } })
      .add({ operation: "PutSnapshotBlock", fault: { kind: "drop" } })
      .add({ operation: "StartSnapshot", fault: { kind: "error" } })
      .add({ operation: "CompleteSnapshot", fault: { kind: "throttle" } })
      .add({ operation: "RegisterImage", fault: { kind: "throttle" } });
    const published = await publish(options({ owner: "test/dev/faults" }), clients());
    assert.deepEqual(fake.faults.pending, []);
    const { nonZero } = assertSnapshot(published.snapshotId, disk);
    assert.equal(published.upload!.bytesSent, nonZero);
    assert.ok(published.upload!.bytesResent > 0);
    assert.deepEqual(fake.state.leftovers(), []);
  });

  it("GIVEN a run killed after StartSnapshot WHEN run again THEN it resumes that snapshot and nothing is left over", async () => {
    // "Killed": every block write fails for good after StartSnapshot answered.
    fake.faults.add({
      operation: "PutSnapshotBlock",
      fault: { kind: "error", status: 400, code: "ValidationException" },
      times: 1000,
    });
    let started: string | undefined;
    await assert.rejects(
      publish(
        options({ owner: "test/dev/killed", onCreated: (p) => (started = p.snapshotId) }),
        clients(),
      ),
      /ValidationException|internal error/i,
    );
    fake.faults.clear();
    assert.ok(started !== undefined);
    assert.equal(fake.state.snapshot(started).status, "pending");
    const published = await publish(options({ owner: "test/dev/killed" }), clients());
    assert.equal(published.snapshotId, started, "the same token gives back the pending snapshot");
    assertSnapshot(published.snapshotId, disk);
    assert.deepEqual(fake.state.leftovers(), []);
  });

  it("sweeps this owner's snapshots left in error or pending by another digest, never another owner's", async () => {
    const other = await publish(
      options({ owner: "test/dev/other", register: false, digest: `sha256:${"1".repeat(64)}` }),
      clients(),
    );
    fake.faults.add({
      operation: "PutSnapshotBlock",
      fault: { kind: "error", status: 400, code: "ValidationException" },
      times: 1000,
    });
    let left: string | undefined;
    await publish(
      options({
        owner: "test/dev/sweep",
        digest: `sha256:${"2".repeat(64)}`,
        onCreated: (p) => (left = p.snapshotId),
      }),
      clients(),
    ).catch(() => undefined);
    fake.faults.clear();
    const published = await publish(options({ owner: "test/dev/sweep" }), clients());
    assert.deepEqual(published.swept, [left]);
    assert.equal(fake.state.snapshots.has(left!), false);
    assert.equal(fake.state.snapshot(other.snapshotId).status, "completed");
  });

  describe("oskit.aws.Ami's functions", () => {
    const owner = { project: "test", stack: "dev", resource: "web" };
    const inputs = (extra: Partial<AmiInputs> = {}): AmiInputs => ({
      artifact: { format: "aws", path: disk, sha256: digest, size: 1 << 30, files: [] },
      region: "eu-west-1",
      name: "web",
      copyRegions: ["us-east-1"],
      endpoints: { ec2: fake.endpoint, ebs: fake.endpoint },
      tags: { team: "os" },
      owner,
      ...extra,
    });
    const deps = { pollMs: 5, sleep: () => Promise.resolve() };
    let outs: AmiOutputs;

    it("creates the AMI and its copy, tagged with the digest and owner, the architecture read from the disk", async () => {
      const created = await createAmi(inputs(), deps);
      outs = created.outs;
      assert.equal(created.id, outs.imageId);
      assert.equal(outs.resolvedArchitecture, "x86_64");
      assert.equal(outs.resolvedBootMode, "uefi");
      assert.deepEqual(Object.keys(outs.imageIds).sort(), ["eu-west-1", "us-east-1"]);
      const copy = fake.state.image(outs.imageIds["us-east-1"]!);
      const tags = Object.fromEntries(copy.tags.map((t) => [t.Key, t.Value]));
      assert.equal(tags["oskit:owner"], "test/dev/web");
      assert.equal(tags["oskit:artifact-sha256"], digest);
      assert.equal(tags.team, "os");
      assert.match(outs.amiName, /^web-[0-9a-f]{12}-[0-9a-f]{6}$/);
      assert.doesNotMatch(JSON.stringify(outs), new RegExp(fake.credentials.secretAccessKey));
    });

    it("adopts the AMI of the same digest and owner instead of uploading again; another owner uploads its own", async () => {
      const puts = fake.state.callsOf("PutSnapshotBlock").length;
      const again = await createAmi(inputs(), deps);
      assert.equal(again.outs.imageId, outs.imageId);
      assert.equal(fake.state.callsOf("PutSnapshotBlock").length, puts);
      const theirs = await createAmi(
        inputs({ owner: { ...owner, stack: "prod" }, copyRegions: [] }),
        deps,
      );
      assert.notEqual(theirs.outs.imageId, outs.imageId);
      await deleteAmi(theirs.outs, deps);
      assert.equal(fake.state.image(outs.imageId!).state, "available", "deleting theirs left ours");
    });

    it("replaces on a new digest or registration input, deleting first only when the digest is the same", () => {
      assert.deepEqual(diffAmi(outs, inputs()).changes, false);
      const renamed = diffAmi(outs, inputs({ name: "web2" }));
      assert.deepEqual(renamed.replaces, ["name"]);
      assert.equal(renamed.deleteBeforeReplace, true);
      const rebuilt = diffAmi(
        outs,
        inputs({ artifact: { ...inputs().artifact, sha256: `sha256:${"3".repeat(64)}` } }),
      );
      assert.deepEqual(rebuilt.replaces, ["artifact"]);
      assert.equal(rebuilt.deleteBeforeReplace, false);
      const moved = diffAmi(
        outs,
        inputs({ endpoints: { ec2: "http://127.0.0.1:1", ebs: "http://127.0.0.1:1" } }),
      );
      assert.deepEqual(moved, {
        changes: true,
        replaces: [],
        changed: ["endpoints"],
        deleteBeforeReplace: false,
      });
    });

    it("GIVEN a create interrupted after StartSnapshot WHEN updated THEN it resumes; delete removes every copy and snapshot", async () => {
      const owner2 = { ...owner, resource: "partial" };
      fake.faults.add({
        operation: "RegisterImage",
        fault: { kind: "error", status: 400, code: "InvalidParameterValue" },
      });
      const error = await createAmi(inputs({ owner: owner2 }), deps).then(
        () => assert.fail("expected a partial create"),
        (e: unknown) => e,
      );
      assert.ok(error instanceof PartialCreateError, String(error));
      assert.equal(error.id, error.properties.snapshotId);
      assert.equal(error.properties.imageId, undefined);
      assert.equal(diffAmi(error.properties, inputs({ owner: owner2 })).changes, true);
      const resumed = await updateAmi(error.properties, inputs({ owner: owner2 }), deps);
      assert.equal(
        resumed.snapshotId,
        error.properties.snapshotId,
        "the completed snapshot is used",
      );
      await deleteAmi(resumed, deps);
      await deleteAmi(outs, deps);
      for (const o of [resumed, outs])
        for (const image of Object.values(o.images)) {
          assert.equal(
            fake.state.images.get(image.imageId)?.state ?? "deregistered",
            "deregistered",
          );
          assert.equal(fake.state.snapshots.has(image.snapshotId), false);
        }
      assert.deepEqual(fake.state.leftovers(), []);
    });
  });

  it("uploads hello's aws disk with exactly its non-zero blocks", async function () {
    this.timeout(300000); // builds oskit's packages into the tests' shared store when it lacks them
    const out = join(TMP, "aws-hello");
    await build((await loadDefinitions([join(ROOT, "examples", "hello", "os.ts")])).manifest, {
      store: await ensurePackages(OSKIT_PACKAGES),
      formats: ["aws"],
      outDir: out,
      name: "hello",
      platform: { os: "linux", architecture: "amd64" },
      baseDir: join(ROOT, "examples", "hello"),
    });
    const hello = join(out, "hello.raw");
    const info = await diskInfo(hello);
    const sha = `sha256:${createHash("sha256").update(readFileSync(hello)).digest("hex")}`;
    const published = await publish(
      options({
        path: hello,
        digest: sha,
        owner: "test/dev/hello",
        diskSize: info.diskSize,
        ...(info.allocation && { allocation: info.allocation }),
      }),
      clients(),
    );
    const { sent, nonZero } = assertSnapshot(published.snapshotId, hello);
    assert.equal(sent, nonZero);
    console.log(
      `      hello.raw: ${sent} bytes uploaded / ${nonZero} bytes of non-zero ${BLOCK_SIZE}-byte blocks = ${(sent / nonZero).toFixed(2)} (${published.upload!.blocksWritten} of ${published.upload!.blocksTotal} blocks, ${published.upload!.seconds.toFixed(2)} s)`,
    );
  });
});
