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
  type CompleteSnapshotCommandOutput,
  type PutSnapshotBlockCommandInput,
} from "@aws-sdk/client-ebs";
import {
  CopyImageCommand,
  CreateTagsCommand,
  DeleteSnapshotCommand,
  DeregisterImageCommand,
  DescribeImagesCommand,
  DescribeSnapshotsCommand,
  EC2Client,
  RegisterImageCommand,
  type DescribeSnapshotsCommandOutput,
  type RegisterImageCommandInput,
} from "@aws-sdk/client-ec2";
import { BLOCK_SIZE, startAwsFake, type AwsFake, type AwsFakeOptions } from "../../support/aws";
import { formatAmzDate, sha256Hex, signForTest } from "../../support/aws/sigv4";

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest();

/** Awaits a rejection and checks its error name (the AWS error code) and HTTP status. */
async function rejects(promise: Promise<unknown>, name: string, status?: number): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    assert.equal(e.name, name, e.message);
    if (status !== undefined) assert.equal(e.$metadata?.httpStatusCode, status);
    return e;
  }
  assert.fail(`expected ${name}`);
}

/** A block of one repeated byte, and its checksum. */
function block(fill: number): { data: Buffer; checksum: string } {
  const data = Buffer.alloc(BLOCK_SIZE, fill);
  return { data, checksum: sha256(data).toString("base64") };
}

const put = (
  snapshotId: string,
  index: number,
  fill = 1,
  patch: Partial<PutSnapshotBlockCommandInput> = {},
) => {
  const b = block(fill);
  return new PutSnapshotBlockCommand({
    SnapshotId: snapshotId,
    BlockIndex: index,
    BlockData: b.data,
    DataLength: BLOCK_SIZE,
    Checksum: b.checksum,
    ChecksumAlgorithm: "SHA256",
    ...patch,
  });
};

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
  describe("EBS rejections", () => {
    it("GIVEN a ClientToken repeated THEN the same snapshot with the same parameters, ConflictException with others", async () => {
      c = await start();
      const input = { VolumeSize: 1, Description: "d", ClientToken: "tok-1", Timeout: 60 };
      const first = await c.ebs.send(new StartSnapshotCommand(input));
      const again = await c.ebs.send(new StartSnapshotCommand(input));
      assert.equal(again.SnapshotId, first.SnapshotId);
      await rejects(
        c.ebs.send(new StartSnapshotCommand({ ...input, VolumeSize: 2 })),
        "ConflictException",
        409,
      );
      await rejects(
        c.ebs.send(new StartSnapshotCommand({ ...input, Description: "e" })),
        "ConflictException",
        409,
      );
      assert.equal(c.aws.state.snapshots.size, 1);
    });

    it("GIVEN StartSnapshot out of range THEN ValidationException", async () => {
      c = await start();
      await rejects(
        c.ebs.send(new StartSnapshotCommand({ VolumeSize: 0 })),
        "ValidationException",
        400,
      );
      await rejects(
        c.ebs.send(new StartSnapshotCommand({ VolumeSize: 1, Timeout: 5 })),
        "ValidationException",
      );
      await rejects(
        c.ebs.send(
          new StartSnapshotCommand({ VolumeSize: 1, Tags: [{ Key: "aws:x", Value: "y" }] }),
        ),
        "ValidationException",
      );
      await rejects(
        c.ebs.send(
          new StartSnapshotCommand({
            VolumeSize: 1,
            KmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k",
          }),
        ),
        "ValidationException",
      );
      const encrypted = await c.ebs.send(
        new StartSnapshotCommand({
          VolumeSize: 1,
          Encrypted: true,
          KmsKeyArn: "arn:aws:kms:eu-west-1:123456789012:key/k",
        }),
      );
      assert.equal(encrypted.KmsKeyArn, "arn:aws:kms:eu-west-1:123456789012:key/k");
    });

    it("GIVEN a block outside the volume, of the wrong length or checksum THEN ValidationException and nothing stored", async () => {
      c = await start();
      const { SnapshotId } = await c.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
      const id = SnapshotId!;
      // 1 GiB holds blocks 0…2047.
      await rejects(c.ebs.send(put(id, 2048)), "ValidationException", 400);
      await c.ebs.send(put(id, 2047));
      const short = Buffer.alloc(4096, 1);
      await rejects(
        c.ebs.send(
          put(id, 1, 1, {
            BlockData: short,
            DataLength: 4096,
            Checksum: sha256(short).toString("base64"),
          }),
        ),
        "ValidationException",
      );
      await rejects(
        c.ebs.send(put(id, 1, 1, { Checksum: block(2).checksum })),
        "ValidationException",
      );
      await rejects(c.ebs.send(put("snap-0123456789abcdef0", 0)), "ResourceNotFoundException", 404);
      assert.deepEqual(c.aws.state.blockIndexes(id), [2047]);
      assert.equal(c.aws.state.bytesReceived, BLOCK_SIZE);
      const refused = c.aws.state.callsOf("PutSnapshotBlock").filter((call) => call.errorCode);
      assert.deepEqual(
        refused.map((call) => [call.errorCode, call.status]),
        [
          ["ValidationException", 400],
          ["ValidationException", 400],
          ["ValidationException", 400],
          ["ResourceNotFoundException", 404],
        ],
      );
    });

    it("GIVEN a wrong ChangedBlocksCount or aggregated checksum THEN the snapshot turns to error, as DescribeSnapshots shows", async () => {
      c = await start();
      const cases = {
        count: {
          ChangedBlocksCount: 3,
          checksum: (digests: Buffer[]) => sha256(Buffer.concat(digests)),
        },
        // The documented "concatenate the checksums" read as base64 text rather than raw digests.
        text: {
          ChangedBlocksCount: 2,
          checksum: (digests: Buffer[]) =>
            sha256(Buffer.from(digests.map((d) => d.toString("base64")).join(""))),
        },
        // Index order matters: block 7's digest before block 3's.
        order: {
          ChangedBlocksCount: 2,
          checksum: (digests: Buffer[]) => sha256(Buffer.concat([...digests].reverse())),
        },
      };
      for (const [name, k] of Object.entries(cases)) {
        const { SnapshotId } = await c.ebs.send(
          new StartSnapshotCommand({ VolumeSize: 1, Description: name }),
        );
        await c.ebs.send(put(SnapshotId!, 7, 7));
        await c.ebs.send(put(SnapshotId!, 3, 3));
        const digests = [block(3), block(7)].map((b) => Buffer.from(b.checksum, "base64"));
        const done: CompleteSnapshotCommandOutput = await c.ebs.send(
          new CompleteSnapshotCommand({
            SnapshotId: SnapshotId!,
            ChangedBlocksCount: k.ChangedBlocksCount,
            Checksum: k.checksum(digests).toString("base64"),
            ChecksumAlgorithm: "SHA256",
            ChecksumAggregationMethod: "LINEAR",
          }),
        );
        assert.equal(done.Status, "pending", name);
        const described: DescribeSnapshotsCommandOutput = await c.ec2.send(
          new DescribeSnapshotsCommand({ SnapshotIds: [SnapshotId!] }),
        );
        assert.equal(described.Snapshots?.[0]?.State, "error", name);
        assert.match(
          described.Snapshots?.[0]?.StateMessage ?? "",
          name === "count" ? /ChangedBlocksCount 3/ : /checksum/,
        );
      }
      assert.equal(c.aws.state.leftovers().length, 3);
    });

    it("GIVEN a completion delay THEN pending until it passes, and blocks can no longer be written", async () => {
      c = await start({ completionDelayMs: 300 });
      const { snapshotId, completed } = await upload(c.ebs, smallDisk());
      assert.equal(completed.Status, "pending");
      await rejects(c.ebs.send(put(snapshotId, 9)), "ValidationException");
      const state = async () =>
        (await c!.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] })))
          .Snapshots?.[0]?.State;
      assert.equal(await state(), "pending");
      await rejects(
        c.ec2.send(new RegisterImageCommand(registration(snapshotId))),
        "IncorrectState",
        400,
      );
      await new Promise((resolve) => setTimeout(resolve, 350));
      assert.equal(await state(), "completed");
      await rejects(c.ebs.send(put(snapshotId, 9)), "ValidationException");
    });

    it("GIVEN a pending snapshot past its Timeout THEN error", async () => {
      c = await start();
      const { SnapshotId } = await c.ebs.send(
        new StartSnapshotCommand({ VolumeSize: 1, Timeout: 10 }),
      );
      c.aws.state.clockOffsetMs = 11 * 60_000;
      assert.equal(c.aws.state.snapshot(SnapshotId!).status, "error");
      await rejects(c.ebs.send(put(SnapshotId!, 0)), "ValidationException");
    });
  });

  describe("EC2 rejections", () => {
    it("GIVEN a snapshot not yet visible THEN 'does not exist' by id and absent by filter, until the delay passes", async () => {
      c = await start({ visibilityDelayMs: 300 });
      const { SnapshotId } = await c.ebs.send(
        new StartSnapshotCommand({ VolumeSize: 1, Tags: [{ Key: "owner", Value: "stack-a" }] }),
      );
      const error = await rejects(
        c.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [SnapshotId!] })),
        "InvalidSnapshot.NotFound",
        400,
      );
      assert.match(error.message, new RegExp(`The snapshot '${SnapshotId!}' does not exist`));
      const byTag = { Filters: [{ Name: "tag:owner", Values: ["stack-a"] }] };
      assert.deepEqual((await c.ec2.send(new DescribeSnapshotsCommand(byTag))).Snapshots, []);
      await new Promise((resolve) => setTimeout(resolve, 350));
      const found = await c.ec2.send(new DescribeSnapshotsCommand(byTag));
      assert.deepEqual(
        found.Snapshots?.map((s) => [s.SnapshotId, s.State]),
        [[SnapshotId, "pending"]],
      );
    });

    it("GIVEN RegisterImage calls EC2 refuses THEN each answers EC2's error code", async () => {
      c = await start();
      const { snapshotId } = await upload(c.ebs, smallDisk());
      const { SnapshotId: pending } = await c.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
      const base = registration(snapshotId);
      const refusals: [RegisterImageCommandInput, string][] = [
        [{ ...base, RootDeviceName: undefined }, "MissingParameter"],
        [{ ...base, BlockDeviceMappings: undefined }, "MissingParameter"],
        [{ ...base, RootDeviceName: "/dev/sda1" }, "InvalidBlockDeviceMapping"],
        [registration(pending!), "IncorrectState"],
        [registration("snap-0123456789abcdef0"), "InvalidSnapshot.NotFound"],
        [{ ...base, Name: "ab" }, "InvalidAMIName.Malformed"],
        [{ ...base, Name: "oskit:hello" }, "InvalidAMIName.Malformed"],
        [{ ...base, Name: "x".repeat(129) }, "InvalidAMIName.Malformed"],
        [{ ...base, BootMode: "bios" as never }, "InvalidParameterValue"],
        [{ ...base, ImdsSupport: "v1.0" as never }, "InvalidParameterValue"],
        [{ ...base, BootMode: "legacy-bios", TpmSupport: "v2.0" }, "InvalidParameterCombination"],
        [
          { ...base, BootMode: "uefi-preferred", TpmSupport: "v2.0" },
          "InvalidParameterCombination",
        ],
        [
          {
            ...base,
            BlockDeviceMappings: [
              {
                DeviceName: "/dev/xvda",
                Ebs: { SnapshotId: snapshotId, VolumeSize: 1, VolumeType: "gp9" as never },
              },
            ],
          },
          "InvalidParameterValue",
        ],
      ];
      for (const [input, code] of refusals) {
        await rejects(c.ec2.send(new RegisterImageCommand(input)), code, 400);
      }
      assert.equal(c.aws.state.images.size, 0);

      const { ImageId } = await c.ec2.send(
        new RegisterImageCommand({ ...base, TpmSupport: "v2.0" }),
      );
      await rejects(c.ec2.send(new RegisterImageCommand(base)), "InvalidAMIName.Duplicate", 400);
      // Architecture may be left out: EC2 then registers i386, which the fake records.
      const { ImageId: defaulted } = await c.ec2.send(
        new RegisterImageCommand({ ...base, Name: "no-arch", Architecture: undefined }),
      );
      assert.equal(c.aws.state.image(defaulted!).architecture, "i386");
      assert.equal(c.aws.state.image(defaulted!).architectureDefaulted, true);
      assert.equal(c.aws.state.image(ImageId!).architectureDefaulted, false);
      assert.equal(c.aws.state.image(ImageId!).tpmSupport, "v2.0");
    });

    it("GIVEN an image availability delay THEN the AMI is pending, then available", async () => {
      c = await start({ imageAvailableDelayMs: 200 });
      const { snapshotId } = await upload(c.ebs, smallDisk());
      const { ImageId } = await c.ec2.send(new RegisterImageCommand(registration(snapshotId)));
      const state = async () =>
        (await c!.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] }))).Images?.[0]?.State;
      assert.equal(await state(), "pending");
      await new Promise((resolve) => setTimeout(resolve, 250));
      assert.equal(await state(), "available");
    });

    it("GIVEN a snapshot an image uses THEN DeleteSnapshot is InvalidSnapshot.InUse until the image is deregistered", async () => {
      c = await start();
      const { snapshotId } = await upload(c.ebs, smallDisk());
      const { ImageId } = await c.ec2.send(new RegisterImageCommand(registration(snapshotId)));
      const error = await rejects(
        c.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })),
        "InvalidSnapshot.InUse",
        400,
      );
      assert.match(error.message, new RegExp(ImageId!));
      await c.ec2.send(new DeregisterImageCommand({ ImageId: ImageId! }));
      await rejects(
        c.ec2.send(new DescribeImagesCommand({ ImageIds: [ImageId!] })),
        "InvalidAMIID.NotFound",
        400,
      );
      await rejects(
        c.ec2.send(new DeregisterImageCommand({ ImageId: ImageId! })),
        "InvalidAMIID.NotFound",
      );
      await c.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId }));
      await rejects(
        c.ec2.send(new DeleteSnapshotCommand({ SnapshotId: snapshotId })),
        "InvalidSnapshot.NotFound",
      );
      // The name is free again once the image is gone.
      const { snapshotId: second } = await upload(c.ebs, smallDisk());
      await c.ec2.send(new RegisterImageCommand(registration(second)));
    });

    it("GIVEN CreateTags THEN DescribeImages and DescribeSnapshots find by tag; aws: keys are refused", async () => {
      c = await start();
      const { snapshotId } = await upload(c.ebs, smallDisk());
      const { ImageId } = await c.ec2.send(new RegisterImageCommand(registration(snapshotId)));
      await c.ec2.send(
        new CreateTagsCommand({
          Resources: [ImageId!, snapshotId],
          Tags: [{ Key: "oskit:stack", Value: "dev" }],
        }),
      );
      const filter = { Filters: [{ Name: "tag:oskit:stack", Values: ["dev"] }] };
      const images = await c.ec2.send(new DescribeImagesCommand({ Owners: ["self"], ...filter }));
      assert.deepEqual(
        images.Images?.map((i) => i.ImageId),
        [ImageId],
      );
      const snapshots = await c.ec2.send(
        new DescribeSnapshotsCommand({ OwnerIds: ["self"], ...filter }),
      );
      assert.deepEqual(
        snapshots.Snapshots?.map((s) => s.SnapshotId),
        [snapshotId],
      );
      const none = await c.ec2.send(
        new DescribeImagesCommand({ Filters: [{ Name: "tag:oskit:stack", Values: ["prod"] }] }),
      );
      assert.deepEqual(none.Images, []);
      await rejects(
        c.ec2.send(
          new CreateTagsCommand({ Resources: [ImageId!], Tags: [{ Key: "aws:x", Value: "y" }] }),
        ),
        "InvalidParameterValue",
      );
      await rejects(
        c.ec2.send(
          new CreateTagsCommand({
            Resources: ["ami-0123456789abcdef0"],
            Tags: [{ Key: "k", Value: "v" }],
          }),
        ),
        "InvalidAMIID.NotFound",
      );
      await rejects(
        c.ec2.send(new DescribeImagesCommand({ Filters: [{ Name: "nonsense", Values: ["x"] }] })),
        "InvalidParameterValue",
      );
    });

    it("GIVEN CopyImage to another region with a ClientToken THEN one copy, its own snapshot, the same blocks", async () => {
      c = await start({ otherRegions: ["us-east-1"] });
      const disk = smallDisk();
      const { snapshotId } = await upload(c.ebs, disk);
      const { ImageId } = await c.ec2.send(new RegisterImageCommand(registration(snapshotId)));
      const east = new EC2Client({
        endpoint: c.aws.endpoint,
        region: "us-east-1",
        credentials: c.aws.credentials,
        maxAttempts: 1,
      });
      try {
        const input = {
          SourceImageId: ImageId!,
          SourceRegion: c.aws.region,
          Name: "oskit-hello-1",
          ClientToken: "copy-1",
          CopyImageTags: true,
        };
        const first = await east.send(new CopyImageCommand(input));
        const again = await east.send(new CopyImageCommand(input));
        assert.equal(again.ImageId, first.ImageId);
        const copy = (await east.send(new DescribeImagesCommand({ ImageIds: [first.ImageId!] })))
          .Images?.[0];
        assert.equal(copy?.SourceImageId, ImageId);
        assert.deepEqual(copy?.Tags, [{ Key: "oskit:digest", Value: "sha256:abc" }]);
        const copiedSnapshot = copy?.BlockDeviceMappings?.[0]?.Ebs?.SnapshotId;
        assert.notEqual(copiedSnapshot, snapshotId);
        assert.ok(c.aws.state.disk(copiedSnapshot!, disk.length).equals(disk));
        // The copy lives in us-east-1 only.
        await rejects(
          c.ec2.send(new DescribeImagesCommand({ ImageIds: [first.ImageId!] })),
          "InvalidAMIID.NotFound",
        );
        await rejects(
          east.send(new CopyImageCommand({ ...input, ClientToken: "x".repeat(65) })),
          "InvalidParameterValue",
        );
      } finally {
        east.destroy();
      }
    });
  });

  describe("SigV4 through the SDK and by hand", () => {
    it("GIVEN a wrong secret THEN EBS answers InvalidSignatureException and EC2 SignatureDoesNotMatch, both 403", async () => {
      c = await start();
      const config = {
        endpoint: c.aws.endpoint,
        region: c.aws.region,
        credentials: { ...c.aws.credentials, secretAccessKey: "wrong" },
        maxAttempts: 1,
      };
      const ebs = new EBSClient(config);
      const ec2 = new EC2Client(config);
      try {
        await rejects(
          ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })),
          "InvalidSignatureException",
          403,
        );
        await rejects(ec2.send(new DescribeSnapshotsCommand({})), "SignatureDoesNotMatch", 403);
      } finally {
        ebs.destroy();
        ec2.destroy();
      }
      assert.equal(c.aws.state.snapshots.size, 0);
    });

    it("GIVEN a client for another region or access key THEN refused", async () => {
      c = await start();
      const other = new EC2Client({
        endpoint: c.aws.endpoint,
        region: "us-west-2",
        credentials: c.aws.credentials,
        maxAttempts: 1,
      });
      const stranger = new EBSClient({
        endpoint: c.aws.endpoint,
        region: c.aws.region,
        credentials: { accessKeyId: "AKIASTRANGER", secretAccessKey: "x" },
        maxAttempts: 1,
      });
      try {
        const error = await rejects(
          other.send(new DescribeImagesCommand({})),
          "SignatureDoesNotMatch",
          403,
        );
        assert.match(error.message, /scoped to a valid region, not 'us-west-2'/);
        await rejects(
          stranger.send(new StartSnapshotCommand({ VolumeSize: 1 })),
          "UnrecognizedClientException",
          403,
        );
      } finally {
        other.destroy();
        stranger.destroy();
      }
    });

    it("GIVEN the server's clock an hour ahead THEN the first answer is stale-date and the SDK corrects its skew from the Date header", async () => {
      c = await start({ clockOffsetMs: 3_600_000 }, 3);
      await c.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
      await c.ec2.send(new DescribeSnapshotsCommand({}));
      assert.deepEqual(
        c.aws.state.calls.map((call) => [call.operation, call.errorCode ?? call.status]),
        [
          ["StartSnapshot", "InvalidSignatureException"],
          ["StartSnapshot", 201],
          ["DescribeSnapshots", "RequestExpired"],
          ["DescribeSnapshots", 200],
        ],
      );
    });

    it("GIVEN hand-made requests: unsigned, stale, signed for ec2 but sent to EBS THEN AWS's codes", async () => {
      c = await start();
      const aws = c.aws;
      const body = "Action=DescribeSnapshots&Version=2016-11-15";
      const send = async (path: string, headers: Record<string, string>, payload = body) => {
        const response = await fetch(`${aws.endpoint}${path}`, {
          method: "POST",
          headers,
          body: payload,
        });
        return {
          status: response.status,
          type: response.headers.get("x-amzn-errortype"),
          text: await response.text(),
        };
      };
      const host = new URL(aws.endpoint).host;
      const form = { "content-type": "application/x-www-form-urlencoded", host };
      const signed = (when: number, service: string, path = "/", payload = body) =>
        signForTest(
          { method: "POST", target: path, headers: form, payloadHash: sha256Hex(payload) },
          aws.credentials,
          aws.region,
          service,
          formatAmzDate(when),
        );

      const unsigned = await send("/", form);
      assert.equal(unsigned.status, 401);
      assert.match(unsigned.text, /<Response><Errors><Error><Code>AuthFailure<\/Code>/);
      const stale = await send("/", signed(Date.now() - 20 * 60_000, "ec2"));
      assert.equal(stale.status, 400);
      assert.match(stale.text, /<Code>RequestExpired<\/Code>/);
      const fresh = await send("/", signed(Date.now(), "ec2"));
      assert.equal(fresh.status, 200);
      assert.match(
        fresh.text,
        /<DescribeSnapshotsResponse xmlns="http:\/\/ec2\.amazonaws\.com\/doc\/2016-11-15\/">/,
      );
      const wrongService = await send(
        "/snapshots",
        signed(Date.now(), "ec2", "/snapshots", "{}"),
        "{}",
      );
      assert.deepEqual(
        [wrongService.status, wrongService.type],
        [403, "InvalidSignatureException"],
      );
      assert.match(wrongService.text, /correct service: 'ebs'/);
      const tampered = await send(
        "/",
        signed(Date.now(), "ec2"),
        body.replace("Snapshots", "Images"),
      );
      assert.equal(tampered.status, 403);
      const missing = await send("/snapshots", { "content-type": "application/json", host }, "{}");
      assert.deepEqual(
        [missing.status, missing.type],
        [403, "MissingAuthenticationTokenException"],
      );
    });
  });

  describe("faults", () => {
    it("GIVEN throttling on a block and on DescribeSnapshots THEN the SDK retries (400 ThrottlingException, 503 RequestLimitExceeded)", async () => {
      c = await start({}, 3);
      c.aws.faults
        .add({ operation: "PutSnapshotBlock", blockIndex: 2, fault: { kind: "throttle" } })
        .add({ operation: "DescribeSnapshots", fault: { kind: "throttle" } });
      const disk = smallDisk();
      const { snapshotId } = await upload(c.ebs, disk);
      await c.ec2.send(new DescribeSnapshotsCommand({ SnapshotIds: [snapshotId] }));
      const refused = c.aws.state.calls.filter((call) => call.fault);
      assert.deepEqual(
        refused.map((call) => [call.operation, call.status, call.errorCode]),
        [
          ["PutSnapshotBlock", 400, "ThrottlingException"],
          ["DescribeSnapshots", 503, "RequestLimitExceeded"],
        ],
      );
      assert.ok(c.aws.state.disk(snapshotId, disk.length).equals(disk));
      assert.equal(c.aws.faults.pending.length, 0);
    });

    it("GIVEN throttling with no retries left THEN the SDK surfaces the throttling error", async () => {
      c = await start();
      c.aws.faults.add({
        service: "ebs",
        fault: { kind: "throttle", code: "RequestThrottledException" },
      });
      await rejects(
        c.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 })),
        "RequestThrottledException",
        400,
      );
      c.aws.faults.add({ service: "ec2", fault: { kind: "throttle" } });
      await rejects(c.ec2.send(new DescribeImagesCommand({})), "RequestLimitExceeded", 503);
    });

    it("GIVEN HTTP 500 on CompleteSnapshot and RegisterImage THEN the SDK retries and both succeed once", async () => {
      c = await start({}, 3);
      c.aws.faults
        .add({ operation: "CompleteSnapshot", fault: { kind: "error" } })
        .add({ operation: "RegisterImage", fault: { kind: "error" } });
      const { snapshotId, completed } = await upload(c.ebs, smallDisk());
      assert.equal(completed.Status, "completed");
      await c.ec2.send(new RegisterImageCommand(registration(snapshotId)));
      assert.equal(c.aws.state.images.size, 1);
      assert.deepEqual(
        c.aws.state.calls
          .filter((call) => call.fault)
          .map((call) => [call.operation, call.status, call.errorCode]),
        [
          ["CompleteSnapshot", 500, "InternalServerException"],
          ["RegisterImage", 500, "InternalError"],
        ],
      );
    });

    it("GIVEN the connection dropped mid-block THEN the block is not stored and a retry stores it", async () => {
      c = await start();
      c.aws.faults.add({
        operation: "PutSnapshotBlock",
        fault: { kind: "drop", afterBytes: 100_000 },
      });
      const { SnapshotId } = await c.ebs.send(new StartSnapshotCommand({ VolumeSize: 1 }));
      const error = await c.ebs.send(put(SnapshotId!, 4)).then(
        () => assert.fail("expected the dropped connection to fail the call"),
        (e: unknown) => e as Error & { code?: string },
      );
      assert.match(
        `${error.name} ${error.code ?? ""} ${error.message}`,
        /ECONNRESET|EPIPE|socket hang up|aborted/i,
      );
      assert.deepEqual(c.aws.state.blockIndexes(SnapshotId!), []);
      assert.equal(c.aws.state.bytesReceived, 0);

      // The SDK's own retry survives the same fault.
      const retrying = new EBSClient({
        endpoint: c.aws.endpoint,
        region: c.aws.region,
        credentials: c.aws.credentials,
        maxAttempts: 3,
      });
      try {
        c.aws.faults.add({ operation: "PutSnapshotBlock", fault: { kind: "drop" } });
        await retrying.send(put(SnapshotId!, 4));
      } finally {
        retrying.destroy();
      }
      assert.deepEqual(c.aws.state.blockIndexes(SnapshotId!), [4]);
      assert.deepEqual(
        c.aws.state.callsOf("PutSnapshotBlock").map((call) => [call.fault ?? "-", call.status]),
        [
          ["drop", 0],
          ["drop", 0],
          ["-", 201],
        ],
      );
    });

    it("GIVEN a slow answer THEN it arrives after the delay, unchanged", async () => {
      c = await start();
      c.aws.faults.add({ operation: "DescribeImages", fault: { kind: "delay", ms: 300 } });
      const began = Date.now();
      const images = await c.ec2.send(new DescribeImagesCommand({ Owners: ["self"] }));
      assert.ok(Date.now() - began >= 300);
      assert.deepEqual(images.Images, []);
    });

    it("GIVEN an uploader killed after StartSnapshot THEN the pending snapshot is left, found by its tags, and can be deleted", async () => {
      c = await start();
      const { SnapshotId } = await c.ebs.send(
        new StartSnapshotCommand({
          VolumeSize: 1,
          Tags: [{ Key: "oskit:owner", Value: "stack/res" }],
        }),
      );
      await c.ebs.send(put(SnapshotId!, 0));
      assert.deepEqual(
        c.aws.state.leftovers().map((s) => s.id),
        [SnapshotId],
      );
      const found = await c.ec2.send(
        new DescribeSnapshotsCommand({
          OwnerIds: ["self"],
          Filters: [
            { Name: "tag:oskit:owner", Values: ["stack/res"] },
            { Name: "status", Values: ["pending", "error"] },
          ],
        }),
      );
      assert.deepEqual(
        found.Snapshots?.map((s) => s.SnapshotId),
        [SnapshotId],
      );
      await c.ec2.send(new DeleteSnapshotCommand({ SnapshotId: SnapshotId! }));
      assert.deepEqual(c.aws.state.leftovers(), []);
    });
  });
});
