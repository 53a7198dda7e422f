/**
 * The import path (`method: "import"`) against a real S3 (s3rver on loopback) and the AWS fake's
 * ImportSnapshot, which reads the object from that s3rver: the snapshot equals the disk byte for
 * byte, the parts go up in parallel, the object is removed afterwards (also when the import
 * fails), an object already there is not sent again, a `deleted` task's StatusMessage is
 * surfaced, and `oskit push aws --method import` does it from the command line.
 */
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
import { EC2Client, ImportSnapshotCommand } from "@aws-sdk/client-ec2";
import { checkAmi, createAmi, diffAmi, type AmiInputs } from "../../../provider/aws/ami";
import { sdkClients } from "../../../provider/aws/clients";
import {
  importSnapshot,
  ImportTaskError,
  objectKey,
  uploadDiskObject,
  waitForImport,
  type ImportOptions,
} from "../../../provider/aws/import";
import { publish } from "../../../provider/aws/publish";
import { TAG } from "../../../provider/aws/register";
import { startAwsFake, type AwsFake } from "../../support/aws";
import { S3RVER_CREDENTIALS, startS3rver, type S3Server } from "../../support/aws/s3rver";
import { oskitAsync } from "../../support/cli";
import { testPe } from "../../support/pe";

const MiB = 1 << 20;
const noWait = { sleep: () => Promise.resolve() };

describe("the AWS import path: S3 multipart upload and ImportSnapshot", function () {
  this.timeout(30_000);
  let s3: S3Server;
  let fake: AwsFake;
  let dir: string;
  let disk: string;
  let digest: string;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-aws-import-"));
    // Any raw disk: 36 MiB (five 8 MiB parts, the last one short), an EFI binary at 1 MiB,
    // varied bytes in the middle and at the very end, zeros between.
    disk = join(dir, "disk.img");
    const fd = openSync(disk, "w");
    ftruncateSync(fd, 36 * MiB);
    writeSync(fd, testPe(), 0, undefined, MiB);
    const varied = Buffer.alloc(3 * MiB);
    for (let i = 0; i < varied.length; i += 4) varied.writeUInt32LE((i * 2654435761) >>> 0, i);
    writeSync(fd, varied, 0, undefined, 17 * MiB + 12345);
    writeSync(fd, Buffer.from("the last bytes"), 0, undefined, 36 * MiB - 14);
    closeSync(fd);
    digest = `sha256:${createHash("sha256").update(readFileSync(disk)).digest("hex")}`;
    s3 = await startS3rver();
    fake = await startAwsFake({
      region: "eu-west-1",
      credentials: S3RVER_CREDENTIALS,
      s3Endpoint: s3.endpoint,
      importDelayMs: 150,
    });
    for (const key of [
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
      "AWS_SESSION_TOKEN",
      "AWS_PROFILE",
    ])
      saved[key] = process.env[key];
    process.env.AWS_ACCESS_KEY_ID = S3RVER_CREDENTIALS.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = S3RVER_CREDENTIALS.secretAccessKey;
    delete process.env.AWS_SESSION_TOKEN;
    delete process.env.AWS_PROFILE;
  });
  after(async () => {
    for (const [key, value] of Object.entries(saved))
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    await fake?.close();
    await s3?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const clients = () => sdkClients({ ec2: fake.endpoint, ebs: fake.endpoint, s3: s3.endpoint });
  const importOptions = (extra: Partial<ImportOptions> = {}): ImportOptions => ({
    path: disk,
    digest,
    bucket: s3.bucket,
    description: "oskit test import",
    tags: { [TAG.digest]: digest, [TAG.owner]: "test/dev/import" },
    pollMs: 20,
    retry: noWait,
    ...extra,
  });
  /** The object's HEAD status in the bucket (200 there, 404 gone). */
  const objectStatus = async (key = objectKey(digest)) =>
    (await fetch(`${s3.endpoint}/${s3.bucket}/${key}`, { method: "HEAD" })).status;

  it("GIVEN a raw disk WHEN published with method import THEN the parts go up in parallel, the snapshot equals the disk, the AMI is registered and the object is gone", async () => {
    const partsBefore = s3.parts.received;
    const published = await publish(
      {
        path: disk,
        digest,
        region: "eu-west-1",
        name: "imported",
        architecture: "x86_64",
        bootMode: "uefi",
        owner: "test/dev/imported",
        method: "import",
        bucket: s3.bucket,
        parallel: 4,
        pollMs: 20,
        retry: noWait,
      },
      clients(),
    );
    const bytes = readFileSync(disk);
    assert.ok(
      fake.state.disk(published.snapshotId, bytes.length).equals(bytes),
      "the snapshot is the disk",
    );
    assert.equal(published.imported!.uploaded, true);
    assert.equal(published.imported!.partsSent, 5);
    assert.equal(published.imported!.bytesSent, bytes.length);
    assert.equal(published.imported!.objectRemoved, true);
    assert.equal(published.upload, undefined);
    assert.equal(s3.parts.received - partsBefore, 5);
    assert.ok(s3.parts.maxInFlight >= 2, `parts in flight at once: ${s3.parts.maxInFlight}`);
    assert.equal(await objectStatus(), 404, "the object is removed");
    // Nothing went through the EBS direct APIs.
    assert.equal(fake.state.callsOf("StartSnapshot").length, 0);
    const call = fake.state.callsOf("ImportSnapshot").at(-1)!.params!;
    assert.equal(call["DiskContainer.Format"], "RAW");
    assert.equal(call["DiskContainer.UserBucket.S3Bucket"], s3.bucket);
    assert.equal(call["DiskContainer.UserBucket.S3Key"], objectKey(digest));
    assert.equal(call.RoleName, "vmimport");
    assert.ok(call.ClientToken!.length <= 64);
    assert.equal(call["TagSpecification.1.ResourceType"], "import-snapshot-task");
    const task = fake.state.importTask(published.imported!.importTaskId);
    assert.equal(task.status, "completed");
    assert.deepEqual(Object.fromEntries(task.tags.map((t) => [t.Key, t.Value])), {
      [TAG.digest]: digest,
      [TAG.owner]: "test/dev/imported",
    });
    const snapshot = fake.state.snapshot(published.snapshotId);
    const tags = Object.fromEntries(snapshot.tags.map((t) => [t.Key, t.Value]));
    assert.equal(tags[TAG.owner], "test/dev/imported");
    assert.equal(tags[TAG.digest], digest);
    assert.equal(snapshot.volumeSize, 1);
    const image = fake.state.image(published.imageId!);
    assert.equal(image.blockDeviceMappings[0]!.Ebs!.SnapshotId, published.snapshotId);
    assert.equal(image.bootMode, "uefi");
  });

  it("GIVEN the object of a killed run in the bucket WHEN imported again THEN nothing is uploaded, and the object is still removed", async () => {
    const first = await uploadDiskObject(importOptions(), await clients().s3("eu-west-1"));
    assert.equal(first.uploaded, true);
    assert.equal(await objectStatus(), 200);
    const parts = s3.parts.received;
    const c = clients();
    const result = await importSnapshot(
      importOptions(),
      await c.s3("eu-west-1"),
      await c.ec2("eu-west-1"),
    );
    assert.equal(result.uploaded, false);
    assert.equal(result.bytesSent, 0);
    assert.equal(s3.parts.received, parts, "no part was sent again");
    const bytes = readFileSync(disk);
    assert.ok(fake.state.disk(result.snapshotId, bytes.length).equals(bytes));
    assert.equal(await objectStatus(), 404);
  });

  it("GIVEN a task that EC2 ends deleted WHEN imported THEN its StatusMessage is the error, and the object is removed", async () => {
    const message = "ClientError: Disk validation failed [Unsupported specified file format]";
    fake.state.importFailures.push(message);
    const c = clients();
    const error = await importSnapshot(
      importOptions({ tags: { [TAG.digest]: digest, [TAG.owner]: "test/dev/deleted" } }),
      await c.s3("eu-west-1"),
      await c.ec2("eu-west-1"),
    ).then(
      () => assert.fail("the import should fail"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof ImportTaskError, String(error));
    assert.equal(error.status, "deleted");
    assert.equal(error.statusMessage, message);
    assert.ok(error.message.includes(message), error.message);
    assert.equal(fake.state.importTask(error.importTaskId).status, "deleted");
    assert.equal(await objectStatus(), 404, "the object is removed after a failed import");
  });

  it("the fake's task fails on a missing object or a format it does not model, refuses an unknown role, and is cancelled on a timeout", async () => {
    const ec2 = new EC2Client({
      region: "eu-west-1",
      endpoint: fake.endpoint,
      credentials: S3RVER_CREDENTIALS,
      maxAttempts: 1,
    });
    const container = (key: string, Format = "RAW") => ({
      Format,
      UserBucket: { S3Bucket: s3.bucket, S3Key: key },
    });
    const missing = await ec2.send(
      new ImportSnapshotCommand({ DiskContainer: container("no/such.raw") }),
    );
    await assert.rejects(
      waitForImport(await clients().ec2("eu-west-1"), missing.ImportTaskId!, { pollMs: 20 }),
      (e: unknown) => e instanceof ImportTaskError && /404/.test(e.statusMessage ?? ""),
    );
    const vmdk = await ec2.send(
      new ImportSnapshotCommand({ DiskContainer: container("x.vmdk", "VMDK") }),
    );
    await assert.rejects(
      waitForImport(await clients().ec2("eu-west-1"), vmdk.ImportTaskId!, { pollMs: 20 }),
      /RAW disks only/,
    );
    await assert.rejects(
      ec2.send(new ImportSnapshotCommand({ DiskContainer: container("x", "QCOW2") })),
      /diskContainer.format is invalid/,
    );
    await assert.rejects(
      ec2.send(new ImportSnapshotCommand({ DiskContainer: container("x"), RoleName: "nobody" })),
      /service role nobody provided does not exist/,
    );
    // A task still active at the timeout is cancelled.
    const slow = await ec2.send(
      new ImportSnapshotCommand({ DiskContainer: container("no/such.raw") }),
    );
    await assert.rejects(
      waitForImport(await clients().ec2("eu-west-1"), slow.ImportTaskId!, {
        pollMs: 10,
        timeoutMs: 1,
      }),
      /was cancelled/,
    );
    assert.equal(fake.state.importTask(slow.ImportTaskId!).status, "deleted");
    ec2.destroy();
  });

  it("oskit.aws.Ami with method import: checked, published through S3, and method/bucket/roleName are updates", async () => {
    const inputs: AmiInputs = {
      artifact: { format: "raw-efi", path: disk, sha256: digest, size: 36 * MiB, files: [] },
      region: "eu-west-1",
      name: "web",
      copyRegions: [],
      endpoints: { ec2: fake.endpoint, ebs: fake.endpoint, s3: s3.endpoint },
      tags: {},
      owner: { project: "test", stack: "dev", resource: "imported-web" },
      method: "import",
      bucket: s3.bucket,
      roleName: "vmimport",
    };
    assert.deepEqual(checkAmi(inputs).failures, []);
    const failures = checkAmi({
      ...inputs,
      bucket: undefined,
      method: "copy" as "import",
    }).failures;
    assert.deepEqual(
      failures.map((f) => f.property),
      ["method"],
    );
    assert.deepEqual(
      checkAmi({ ...inputs, bucket: undefined }).failures.map((f) => f.property),
      ["bucket"],
    );
    const { outs } = await createAmi(inputs, { pollMs: 20, sleep: () => Promise.resolve() });
    const bytes = readFileSync(disk);
    assert.ok(fake.state.disk(outs.snapshotId!, bytes.length).equals(bytes));
    assert.equal(fake.state.image(outs.imageId!).name, outs.amiName);
    assert.equal(await objectStatus(), 404);
    const diff = diffAmi(outs, { ...inputs, method: "direct", bucket: undefined });
    assert.deepEqual(diff.replaces, []);
    assert.ok(diff.changes);
  });

  it("oskit push aws --method import uploads through S3, prints the ids, and leaves no object", async () => {
    const result = await oskitAsync(
      [
        "push",
        "aws",
        disk,
        "--method",
        "import",
        "--bucket",
        s3.bucket,
        "--ec2-endpoint",
        fake.endpoint,
        "--ebs-endpoint",
        fake.endpoint,
        "--s3-endpoint",
        s3.endpoint,
        "--boot-mode",
        "uefi",
        "--name",
        "cli-import",
      ],
      {
        env: {
          AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
          AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
          AWS_SESSION_TOKEN: undefined,
          AWS_PROFILE: undefined,
          AWS_REGION: "eu-west-1",
          OSKIT_AWS_POLL_MS: "20",
        },
      },
    );
    assert.equal(result.code, 0, result.stderr);
    const [, snapshotId] = /^snapshot (snap-[0-9a-f]+)$/m.exec(result.stdout) ?? [];
    assert.match(result.stdout, /^image ami-[0-9a-f]+$/m);
    assert.ok(snapshotId !== undefined, result.stdout);
    const bytes = readFileSync(disk);
    assert.ok(fake.state.disk(snapshotId, bytes.length).equals(bytes));
    assert.match(
      result.stderr,
      /uploading s3:\/\/oskit-import\/oskit\/[0-9a-f]{64}\.raw: 5\/5 parts/,
    );
    assert.match(result.stderr, /imported import-snap-[0-9a-f]+: 5 parts, 36\.0 MiB uploaded/);
    assert.equal(await objectStatus(), 404);
    const refused = await oskitAsync(
      ["push", "aws", disk, "--method", "import", "--boot-mode", "uefi"],
      {
        env: { AWS_REGION: "eu-west-1" },
      },
    );
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--method import needs --bucket BUCKET/);
  });
});
