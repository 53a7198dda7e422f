/**
 * The AWS fake driven by the real AWS SDK v3 clients (@aws-sdk/client-ebs, @aws-sdk/client-ec2):
 * a full upload of a small disk, each rejection the real APIs make, and each fault.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  CompleteSnapshotCommand,
  EBSClient,
  GetSnapshotBlockCommand,
  ListSnapshotBlocksCommand,
  PutSnapshotBlockCommand,
  StartSnapshotCommand,
} from "@aws-sdk/client-ebs";
import {
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  RegisterImageCommand,
  type RegisterImageCommandInput,
} from "@aws-sdk/client-ec2";
import { BLOCK_SIZE, startAwsFake, type AwsFake, type AwsFakeOptions } from "../../support/aws";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest();

/** A small disk: 6 blocks, of which 1, 3 and 4 are all zeros, the last one short. */
function smallDisk(): Buffer {
  const disk = Buffer.alloc(5 * BLOCK_SIZE + 1000);
  for (const index of [0, 2, 5]) {
    const start = index * BLOCK_SIZE;
    for (let i = start; i < Math.min(start + BLOCK_SIZE, disk.length); i += 997)
      disk[i] = (i * 7 + index) & 0xff || 1;
  }
  return disk;
}

interface Clients {
  readonly aws: AwsFake;
  readonly ebs: EBSClient;
  readonly ec2: EC2Client;
}

async function start(options: AwsFakeOptions = {}, maxAttempts = 1): Promise<Clients> {
  const aws = await startAwsFake(options);
  const config = {
    endpoint: aws.endpoint,
    region: aws.region,
    credentials: aws.credentials,
    maxAttempts,
  };
  return { aws, ebs: new EBSClient(config), ec2: new EC2Client(config) };
}

async function stop(c: Clients | undefined): Promise<void> {
  if (!c) return;
  c.ebs.destroy();
  c.ec2.destroy();
  await c.aws.close();
}

/** What an uploader does: StartSnapshot, the non-zero blocks, CompleteSnapshot. */
async function upload(ebs: EBSClient, disk: Buffer, token?: string) {
  const started = await ebs.send(
    new StartSnapshotCommand({
      VolumeSize: 1,
      Description: "oskit test",
      Tags: [{ Key: "oskit:digest", Value: "sha256:abc" }],
      Timeout: 60,
      ...(token ? { ClientToken: token } : {}),
    }),
  );
  const snapshotId = started.SnapshotId!;
  const digests: Buffer[] = [];
  let count = 0;
  for (let index = 0; index * BLOCK_SIZE < disk.length; index++) {
    const block = Buffer.alloc(BLOCK_SIZE);
    disk.copy(block, 0, index * BLOCK_SIZE, Math.min((index + 1) * BLOCK_SIZE, disk.length));
    if (block.every((b) => b === 0)) continue;
    const digest = sha256(block);
    await ebs.send(
      new PutSnapshotBlockCommand({
        SnapshotId: snapshotId,
        BlockIndex: index,
        BlockData: block,
        DataLength: BLOCK_SIZE,
        Checksum: digest.toString("base64"),
        ChecksumAlgorithm: "SHA256",
      }),
    );
    digests.push(digest);
    count += 1;
  }
  const aggregate = sha256(Buffer.concat(digests)).toString("base64");
  const completed = await ebs.send(
    new CompleteSnapshotCommand({
      SnapshotId: snapshotId,
      ChangedBlocksCount: count,
      Checksum: aggregate,
      ChecksumAlgorithm: "SHA256",
      ChecksumAggregationMethod: "LINEAR",
    }),
  );
  return { started, snapshotId, count, aggregate, completed };
}

const registration = (snapshotId: string, name = "oskit-hello-1"): RegisterImageCommandInput => ({
  Name: name,
  Architecture: "x86_64",
  RootDeviceName: "/dev/xvda",
  BlockDeviceMappings: [
    {
      DeviceName: "/dev/xvda",
      Ebs: { SnapshotId: snapshotId, VolumeSize: 1, VolumeType: "gp3", DeleteOnTermination: true },
    },
  ],
  VirtualizationType: "hvm",
  EnaSupport: true,
  BootMode: "uefi",
  ImdsSupport: "v2.0",
  TagSpecifications: [
    { ResourceType: "image", Tags: [{ Key: "oskit:digest", Value: "sha256:abc" }] },
  ],
});

describe("AWS fake through the AWS SDK v3", function () {
  this.timeout(20_000);
  let c: Clients | undefined;
  afterEach(async () => {
    await stop(c);
    c = undefined;
  });

  describe("a full upload of a small disk", () => {
    it("GIVEN the non-zero blocks uploaded THEN the snapshot rebuilds the disk byte for byte and registers as an AMI", async () => {
      c = await start();
      const disk = smallDisk();
      const { started, snapshotId, completed } = await upload(c.ebs, disk);

      assert.equal(started.BlockSize, BLOCK_SIZE);
      assert.equal(started.Status, "pending");
      assert.equal(started.VolumeSize, 1);
      assert.equal(started.OwnerId, c.aws.accountId);
      assert.ok(started.StartTime instanceof Date);
      assert.equal(completed.Status, "completed");
      assert.deepEqual(c.aws.state.blockIndexes(snapshotId), [0, 2, 5]);
      assert.equal(c.aws.state.bytesReceived, 3 * BLOCK_SIZE);
      assert.ok(c.aws.state.disk(snapshotId, disk.length).equals(disk));

      const described = await c.ec2.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ["self"],
          Filters: [{ Name: "tag:oskit:digest", Values: ["sha256:abc"] }],
        }),
      );
      assert.deepEqual(
        described.Snapshots?.map((s) => [s.SnapshotId, s.State, s.VolumeSize, s.Tags?.[0]?.Value]),
        [[snapshotId, "completed", 1, "sha256:abc"]],
      );

      const { ImageId } = await c.ec2.send(new RegisterImageCommand(registration(snapshotId)));
      assert.match(ImageId!, /^ami-[0-9a-f]{17}$/);
      const images = await c.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }));
      const image = images.Images?.[0];
      assert.equal(image?.Name, "oskit-hello-1");
      assert.equal(image?.State, "available");
      assert.equal(image?.Architecture, "x86_64");
      assert.equal(image?.BootMode, "uefi");
      assert.equal(image?.ImdsSupport, "v2.0");
      assert.equal(image?.EnaSupport, true);
      assert.equal(image?.VirtualizationType, "hvm");
      assert.equal(image?.RootDeviceName, "/dev/xvda");
      assert.equal(image?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId, snapshotId);
      assert.equal(image?.BlockDeviceMappings?.[0]?.Ebs?.VolumeType, "gp3");
      assert.deepEqual(image?.Tags, [{ Key: "oskit:digest", Value: "sha256:abc" }]);
      assert.equal(c.aws.state.image(ImageId!).architectureDefaulted, false);

      const byName = await c.ec2.send(
        new DescribeImagesCommand({
          Owners: ["self"],
          Filters: [{ Name: "name", Values: ["oskit-hello-*"] }],
        }),
      );
      assert.deepEqual(
        byName.Images?.map((i) => i.ImageId),
        [ImageId],
      );

      // The blocks read back through the EBS read APIs carry the same bytes and checksums.
      const listed = await c.ebs.send(new ListSnapshotBlocksCommand({ SnapshotId: snapshotId }));
      assert.deepEqual(
        listed.Blocks?.map((b) => b.BlockIndex),
        [0, 2, 5],
      );
      const got = await c.ebs.send(
        new GetSnapshotBlockCommand({
          SnapshotId: snapshotId,
          BlockIndex: 2,
          BlockToken: listed.Blocks[1]!.BlockToken!,
        }),
      );
      const bytes = Buffer.from(await got.BlockData!.transformToByteArray());
      assert.ok(bytes.equals(disk.subarray(2 * BLOCK_SIZE, 3 * BLOCK_SIZE)));
      assert.equal(got.Checksum, sha256(bytes).toString("base64"));

      await c.ec2.send(new DeregisterImageCommand({ ImageId: ImageId! }));
      await c.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
      assert.equal(c.aws.state.snapshots.size, 0);
      assert.deepEqual(
        c.aws.state.calls.map((call) => call.operation),
        [
          "StartSnapshot",
          "PutSnapshotBlock",
          "PutSnapshotBlock",
          "PutSnapshotBlock",
          "CompleteSnapshot",
          "DescribeSnapshots",
          "RegisterImage",
          "DescribeImages",
          "DescribeImages",
          "ListSnapshotBlocks",
          "GetSnapshotBlock",
          "DeregisterImage",
          "DeleteSnapshot",
        ],
      );
      assert.ok(c.aws.state.calls.every((call) => call.errorCode === undefined));
    });
  });
});
