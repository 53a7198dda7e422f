/**
 * The AMI resource's functions against the strict AWS fake, for what changes an AMI without a new
 * upload or refuses one: an artifact file that is not the recorded bytes, launch permissions on
 * the AMI and its copies, and tags changed in place.
 */
import { strict as assert } from "node:assert";
import { appendFileSync, copyFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  DescribeImageAttributeCommand,
  EC2Client,
  ModifyImageAttributeCommand,
} from "@aws-sdk/client-ec2";
import {
  checkAmi,
  createAmi,
  deleteAmi,
  diffAmi,
  updateAmi,
  type AmiInputs,
  type AmiOutputs,
} from "../../../provider/aws/ami";
import type { Artifact } from "../../../provider/build/image-build";
import { startAwsFake, type AwsFake, type Tag } from "../../support/aws";
import { tinyAwsDisk } from "../../support/aws-disk";

const deps = { pollMs: 5, sleep: () => Promise.resolve() };
const tagsOf = (tags: readonly Tag[]) => Object.fromEntries(tags.map((t) => [t.Key, t.Value]));

describe("oskit.aws.Ami's changes in place and refusals, against the fake", function () {
  this.timeout(60_000);
  let fake: AwsFake;
  let dir: string;
  let artifact: Artifact;
  const saved: Record<string, string | undefined> = {};

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-ami-"));
    artifact = (await tinyAwsDisk(dir)) as Artifact;
    fake = await startAwsFake({ region: "eu-west-1", otherRegions: ["us-east-1"] });
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

  const inputs = (resource: string, extra: Partial<AmiInputs> = {}): AmiInputs => ({
    artifact,
    region: "eu-west-1",
    name: resource,
    copyRegions: [],
    endpoints: { ec2: fake.endpoint, ebs: fake.endpoint },
    tags: {},
    owner: { project: "p", stack: "dev", resource },
    ...extra,
  });

  it("GIVEN an artifact file changed since it was built WHEN created THEN it is refused before anything is uploaded", async () => {
    const changed = join(dir, "changed.raw");
    copyFileSync(artifact.path, changed);
    appendFileSync(changed, Buffer.from("x"));
    const started = fake.state.callsOf("StartSnapshot").length;
    await assert.rejects(
      createAmi(inputs("changed", { artifact: { ...artifact, path: changed } }), deps),
      (error: Error) =>
        error.message.includes(`${changed} has changed since it was built`) &&
        error.message.includes(artifact.sha256),
    );
    assert.equal(fake.state.callsOf("StartSnapshot").length, started, "nothing was started");
  });

  it("launch permissions: 12-digit accounts checked, set on the AMI and its copy, changed in place, public on request", async () => {
    const bad = checkAmi(
      inputs("shared", {
        launchPermissions: { accounts: ["12345", "111122223333", "111122223333"] },
        encrypted: true,
      }),
    ).failures.map((f) => f.property);
    assert.deepEqual(bad, [
      "launchPermissions.accounts[0]",
      "launchPermissions.accounts[2]",
      "launchPermissions",
    ]);

    const first = inputs("shared", {
      copyRegions: ["us-east-1"],
      launchPermissions: { accounts: ["111122223333"] },
    });
    const { outs } = await createAmi(first, deps);
    const permissions = () =>
      Object.values(outs.images).map((i) => fake.state.image(i.imageId).launchPermission);
    assert.deepEqual(permissions(), [
      { userIds: ["111122223333"], groups: [] },
      { userIds: ["111122223333"], groups: [] },
    ]);

    const next = inputs("shared", {
      copyRegions: ["us-east-1"],
      launchPermissions: { accounts: ["444455556666"], public: true },
    });
    const diff = diffAmi(outs, next);
    assert.deepEqual([diff.changes, diff.replaces], [true, []]);
    const registered = fake.state.callsOf("RegisterImage").length;
    const updated = await updateAmi(outs, next, deps);
    assert.equal(updated.imageId, outs.imageId);
    assert.equal(fake.state.callsOf("RegisterImage").length, registered);
    assert.deepEqual(permissions(), [
      { userIds: ["444455556666"], groups: ["all"] },
      { userIds: ["444455556666"], groups: ["all"] },
    ]);

    // The SDK reads them back as EC2 answers; the fake refuses what EC2 refuses.
    const ec2 = new EC2Client({ region: "eu-west-1", endpoint: fake.endpoint });
    const read = await ec2.send(
      new DescribeImageAttributeCommand({ ImageId: outs.imageId, Attribute: "launchPermission" }),
    );
    assert.deepEqual(read.LaunchPermissions, [{ UserId: "444455556666" }, { Group: "all" }]);
    await assert.rejects(
      ec2.send(
        new ModifyImageAttributeCommand({
          ImageId: outs.imageId,
          LaunchPermission: { Add: [{ UserId: "4444-5555-6666" }] },
        }),
      ),
      (error: Error) => error.name === "InvalidAMIAttributeItemValue",
    );
    ec2.destroy();
    await deleteAmi(updated, deps);
  });

  it("GIVEN new tags WHEN diffed and updated THEN nothing is replaced: every AMI and snapshot is retagged, oskit's tags kept", async () => {
    const first = inputs("tagged", { copyRegions: ["us-east-1"], tags: { team: "os", cost: "1" } });
    const { outs } = await createAmi(first, deps);
    const next = inputs("tagged", {
      copyRegions: ["us-east-1"],
      tags: { team: "kernel", env: "prod" },
    });
    const diff = diffAmi(outs, next);
    assert.deepEqual([diff.changes, diff.replaces, diff.deleteBeforeReplace], [true, [], false]);
    const calls = fake.state.calls.length;
    const updated: AmiOutputs = await updateAmi(outs, next, deps);
    assert.deepEqual(updated.images, outs.images);
    assert.deepEqual(updated.tags, { team: "kernel", env: "prod" });
    const made = fake.state.calls.slice(calls).map((c) => c.operation);
    assert.deepEqual([...new Set(made)].sort(), ["CreateTags", "DeleteTags"]);
    for (const { imageId, snapshotId } of Object.values(outs.images))
      for (const tags of [fake.state.image(imageId).tags, fake.state.snapshot(snapshotId).tags]) {
        const plain = tagsOf(tags);
        assert.equal(plain.team, "kernel");
        assert.equal(plain.env, "prod");
        assert.equal(plain.cost, undefined);
        assert.equal(plain["oskit:owner"], "p/dev/tagged");
        assert.equal(plain["oskit:artifact-sha256"], artifact.sha256);
      }
    assert.equal(diffAmi(updated, next).changes, false);
    await deleteAmi(updated, deps);
  });
});
