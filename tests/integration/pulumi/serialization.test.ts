/**
 * The dynamic providers as a user has them: oskit installed from `npm pack` into a fresh project
 * with @pulumi/pulumi (once for the suite), a program there registers an ImageBuild or an Ami
 * (under Pulumi's mocks, which serialize the provider exactly as `pulumi up` does), and a new Node
 * process loads the serialized text the way Pulumi's dynamic-provider host does
 * (`require-from-string`, in the program's directory) and drives it: check, create, diff, delete
 * (the Ami's against the local EC2/EBS fake, the Azure Image's against Azurite and the ARM fake
 * with its token from a managed identity endpoint through DefaultAzureCredential, with the
 * credentials in that process's environment).
 */
import { strict as assert } from "node:assert";
import { execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { startAwsFake, type AwsFake } from "../../support/aws";
import { tinyAwsDisk } from "../../support/aws-disk";
import { startArmFake, type ArmFake } from "../../support/azure-arm";
import { tinyVhd } from "../../support/azure-disk";
import { startManagedIdentity, type ManagedIdentityEndpoint } from "../../support/azure-identity";
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  startAzurite,
  type RunningAzurite,
} from "../../support/azurite";
import { storeImage } from "../../support/images";
import { ROOT, TMP } from "../../support/paths";
import { tarOf } from "../../support/tar";

const NPM_FLAGS = [
  "--ignore-scripts",
  "--prefer-offline",
  "--no-audit",
  "--no-fund",
  "--loglevel=error",
];

/**
 * Runs a script with Node in `cwd`; returns the last line it printed on stdout, as JSON. The test
 * process goes on serving (the AWS fake lives in it) while the script runs.
 */
async function runNode(cwd: string, script: string, env: NodeJS.ProcessEnv = {}): Promise<unknown> {
  const file = join(cwd, `script-${readdirSync(cwd).length}.js`);
  writeFileSync(file, script);
  const child = spawn(process.execPath, [file], { cwd, env: { ...process.env, ...env } });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const [status] = (await once(child, "close")) as [number | null];
  assert.equal(status, 0, `${stderr}\n${stdout}`);
  return JSON.parse(stdout.trim().split("\n").pop()!);
}

/** The host's side: a new process in the program's directory loads the serialized provider as Pulumi does. */
const LOAD_PROVIDER = `
const { readFileSync } = require("node:fs");
const { dirname } = require("node:path");
const requireFromString = require(require.resolve("require-from-string", {
  paths: [dirname(require.resolve("@pulumi/pulumi"))],
}));
const load = (file) => requireFromString(readFileSync(file, "utf8")).handler();
`;

describe("oskit's dynamic providers, serialized and run where Pulumi runs them", function () {
  this.timeout(180000);
  let dir: string;
  let project: string;
  let store: string;

  before(async () => {
    mkdirSync(TMP, { recursive: true });
    dir = mkdtempSync(join(TMP, "serialize-"));
    const npm = "npm";
    const tarball = execFileSync(npm, ["pack", "--pack-destination", dir, "--silent"], {
      cwd: ROOT,
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .pop()!;
    project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "program", private: true }),
    );
    const pulumiVersion = (
      JSON.parse(
        readFileSync(join(ROOT, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8"),
      ) as { version: string }
    ).version;
    execFileSync(
      npm,
      ["install", ...NPM_FLAGS, join(dir, tarball), `@pulumi/pulumi@${pulumiVersion}`],
      {
        cwd: project,
        stdio: "pipe",
      },
    );
    store = join(dir, "store");
    const s = await ContentStore.open(store);
    await storeImage(s, { ref: "test/kernel:1", layers: [await tarOf({ kernel: "bzImage" })] });
    await storeImage(s, {
      ref: "test/app:1",
      layers: [await tarOf({ "bin/app": "v1" })],
      entrypoint: ["/bin/app"],
    });
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  /** Environment without AWS credentials or settings of this machine. */
  const noAws = {
    AWS_ACCESS_KEY_ID: undefined,
    AWS_SECRET_ACCESS_KEY: undefined,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_REGION: undefined,
    AWS_DEFAULT_REGION: undefined,
  };

  it("ImageBuild: checks, builds, finds nothing to do, and deletes — with nothing of this checkout", async () => {
    // the program, in the user's project: mocks hand back what the engine would be given
    const registered = (await runNode(
      project,
      `
const pulumi = require("@pulumi/pulumi");
const registered = [];
pulumi.runtime.setMocks({
  newResource: (args) => { registered.push(args.inputs); return { id: "x", state: args.inputs }; },
  call: (args) => args.inputs,
}, "program", "dev", false).then(async () => {
  const oskit = require("oskit");
  const image = new oskit.Image({
    kernel: new oskit.Kernel({ image: "test/kernel:1", tar: "none" }),
    services: [new oskit.Service({ name: "app", image: "test/app:1" })],
    files: [oskit.File.text("/etc/token", oskit.input("token"))],
  });
  const build = new oskit.ImageBuild("sys", {
    image, formats: ["kernel+initrd"], inputs: { token: pulumi.secret("s3cret") },
    store: ${JSON.stringify(store)}, lock: false,
  });
  await new Promise((resolve) => build.manifestDigest.apply(resolve));
  console.log(JSON.stringify(registered[0]));
});
`,
    )) as Record<string, unknown>;
    const provider = registered.__provider as string;
    assert.equal(typeof provider, "string");
    assert.ok(!provider.includes(ROOT), "the serialized provider names nothing of this checkout");
    assert.ok(!provider.includes("s3cret"));
    const { __provider: _serialized, ...recorded } = registered;
    const inputs = { ...recorded, inputs: { token: "s3cret" } };
    writeFileSync(join(project, "provider.txt"), provider);
    writeFileSync(join(project, "inputs.json"), JSON.stringify(inputs));

    // the host: a new process, in the program's directory, loading the text as Pulumi does
    const outcome = (await runNode(
      project,
      `
${LOAD_PROVIDER}
(async () => {
  const provider = load("provider.txt");
  const news = JSON.parse(readFileSync("inputs.json", "utf8"));
  const bad = await provider.check({}, { ...news, formats: ["floppy"] });
  const checked = await provider.check({}, news);
  const created = await provider.create(checked.inputs);
  const same = await provider.diff(created.id, created.outs, checked.inputs);
  await provider.delete(created.id, created.outs);
  console.log(JSON.stringify({ bad: bad.failures, failures: checked.failures, created, same }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
      { OSKIT_STORE: store },
    )) as {
      bad: { property: string }[];
      failures: unknown[];
      created: { id: string; outs: { artifacts: Record<string, { files: { path: string }[] }> } };
      same: { changes: boolean };
    };
    assert.deepEqual(
      outcome.bad.map((f) => f.property),
      ["formats[0]"],
    );
    assert.deepEqual(outcome.failures, []);
    const files = outcome.created.outs.artifacts["kernel+initrd"]!.files.map((f) => f.path);
    assert.equal(files.length, 3);
    assert.ok(files.every((f) => f.startsWith(join(project, ".oskit", "build"))));
    assert.equal(outcome.same.changes, false);
    assert.ok(
      files.every((f) => !existsSync(f)),
      "delete removed the artifacts",
    );
    assert.ok(!existsSync(outcome.created.id));
  });

  describe("Ami, against the local EC2/EBS fake", () => {
    let aws: AwsFake;
    before(async () => {
      aws = await startAwsFake({ region: "eu-west-1" });
    });
    after(() => aws?.close());

    it("checks, uploads and registers, finds nothing to do, and deletes every trace, with the credentials only in the host's environment", async () => {
      const artifact = await tinyAwsDisk(dir);
      const credentials = {
        AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
      };
      // The program runs with credentials in its environment too: none may reach the state.
      const registered = (await runNode(
        project,
        `
const pulumi = require("@pulumi/pulumi");
const registered = [];
pulumi.runtime.setMocks({
  newResource: (args) => { registered.push(args.inputs); return { id: "ami-x", state: args.inputs }; },
  call: (args) => args.inputs,
}, "program", "dev", false).then(async () => {
  const oskit = require("oskit");
  const ami = new oskit.aws.Ami("web", {
    artifact: ${JSON.stringify(artifact)},
    region: "eu-west-1",
    endpoints: { ec2: ${JSON.stringify(aws.endpoint)}, ebs: ${JSON.stringify(aws.endpoint)} },
    tags: { team: "os" },
  });
  await new Promise((resolve) => ami.urn.apply(resolve));
  console.log(JSON.stringify(registered[0]));
});
`,
        { ...noAws, ...credentials },
      )) as Record<string, unknown>;
      const provider = registered.__provider as string;
      assert.equal(typeof provider, "string");
      assert.ok(!provider.includes(ROOT), "the serialized provider names nothing of this checkout");
      const state = JSON.stringify(registered);
      for (const value of Object.values(credentials))
        assert.equal(state.includes(value), false, "a credential in the inputs or the provider");
      const { __provider: _serialized, ...inputs } = registered;
      assert.deepEqual(inputs.owner, { project: "program", stack: "dev", resource: "web" });
      writeFileSync(join(project, "ami-provider.txt"), provider);
      writeFileSync(join(project, "ami-inputs.json"), JSON.stringify(inputs));

      // `pulumi up`: a host process checks and creates.
      const up = (await runNode(
        project,
        `
${LOAD_PROVIDER}
(async () => {
  const provider = load("ami-provider.txt");
  const news = JSON.parse(readFileSync("ami-inputs.json", "utf8"));
  const bad = await provider.check({}, { ...news, region: "mars", endpoints: { ec2: "http://key:secret@127.0.0.1:1" } });
  const checked = await provider.check({}, news);
  const created = await provider.create(checked.inputs);
  console.log(JSON.stringify({ bad: bad.failures, failures: checked.failures, checked: checked.inputs, created }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
        { ...noAws, ...credentials },
      )) as {
        bad: { property: string }[];
        failures: unknown[];
        checked: Record<string, unknown>;
        created: { id: string; outs: { imageId: string; snapshotId: string; region: string } };
      };
      assert.deepEqual(up.bad.map((f) => f.property).sort(), ["endpoints.ec2", "region"]);
      assert.deepEqual(up.failures, []);
      const { id, outs } = up.created;
      assert.match(id, /^ami-[0-9a-f]{17}$/);
      assert.equal(outs.imageId, id);
      assert.equal(outs.region, "eu-west-1");
      const image = aws.state.image(id);
      assert.equal(image.state, "available");
      assert.equal(image.tags.find((t) => t.Key === "oskit:owner")?.Value, "program/dev/web");
      const disk = readFileSync(artifact.path);
      assert.ok(
        aws.state.disk(outs.snapshotId, disk.length).equals(disk),
        "the snapshot is the disk",
      );
      for (const value of Object.values(credentials))
        assert.equal(JSON.stringify(up).includes(value), false, "a credential in the state");
      writeFileSync(join(project, "ami-checked.json"), JSON.stringify(up.checked));
      writeFileSync(join(project, "ami-state.json"), JSON.stringify(outs));

      // A later `pulumi up`, then `pulumi destroy`: another host process diffs and deletes.
      const later = (await runNode(
        project,
        `
${LOAD_PROVIDER}
(async () => {
  const provider = load("ami-provider.txt");
  const news = JSON.parse(readFileSync("ami-checked.json", "utf8"));
  const olds = JSON.parse(readFileSync("ami-state.json", "utf8"));
  const same = await provider.diff(olds.imageId, olds, news);
  const moved = await provider.diff(olds.imageId, olds, { ...news, region: "us-east-1" });
  await provider.delete(olds.imageId, olds);
  console.log(JSON.stringify({ same, moved }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
        { ...noAws, ...credentials },
      )) as {
        same: { changes: boolean };
        moved: { changes: boolean; replaces: string[] };
      };
      assert.equal(later.same.changes, false);
      assert.deepEqual(later.moved.replaces, ["region"]);
      assert.equal(aws.state.image(id).state, "deregistered", "delete deregistered the AMI");
      assert.equal(aws.state.snapshots.has(outs.snapshotId), false, "and deleted its snapshot");
      assert.deepEqual(aws.state.leftovers(), []);
    });
  });

  describe("Azure Image, against Azurite and the ARM fake", () => {
    let azurite: RunningAzurite;
    let arm: ArmFake;
    let identity: ManagedIdentityEndpoint;
    before(async () => {
      [azurite, arm] = await Promise.all([
        startAzurite(),
        startArmFake({ resourceGroups: ["oskit"], retryAfterSeconds: 0 }),
      ]);
      identity = await startManagedIdentity({ [arm.endpoint]: arm.token });
    });
    after(() => Promise.all([azurite?.stop(), arm?.close(), identity?.stop()]));

    it("checks, uploads and registers with DefaultAzureCredential's token and the key from the host's environment, finds nothing to do, and deletes image and blob", async () => {
      const vhd = await tinyVhd(dir);
      const artifact = {
        format: "vhd",
        path: vhd.path,
        sha256: vhd.sha256,
        size: vhd.size,
        files: [],
      };
      const host = {
        ...identity.env,
        AZURE_STORAGE_KEY: AZURITE_KEY,
        AZURE_CLIENT_ID: undefined,
        AZURE_TENANT_ID: undefined,
        AZURE_CLIENT_SECRET: undefined,
      };
      const registered = (await runNode(
        project,
        `
const pulumi = require("@pulumi/pulumi");
const registered = [];
pulumi.runtime.setMocks({
  newResource: (args) => { registered.push(args.inputs); return { id: "image", state: args.inputs }; },
  call: (args) => args.inputs,
}, "program", "dev", false).then(async () => {
  const oskit = require("oskit");
  const image = new oskit.azure.Image("web", {
    artifact: ${JSON.stringify(artifact)},
    subscriptionId: ${JSON.stringify(arm.subscription)},
    resourceGroupName: "oskit",
    location: "westeurope",
    storageAccount: ${JSON.stringify(AZURITE_ACCOUNT)},
    container: "images",
    endpoints: { arm: ${JSON.stringify(arm.endpoint)}, blob: ${JSON.stringify(azurite.blobEndpoint)} },
  });
  await new Promise((resolve) => image.urn.apply(resolve));
  console.log(JSON.stringify(registered[0]));
});
`,
        host,
      )) as Record<string, unknown>;
      const provider = registered.__provider as string;
      assert.ok(!provider.includes(ROOT), "the serialized provider names nothing of this checkout");
      assert.equal(JSON.stringify(registered).includes(AZURITE_KEY), false, "the key in the state");
      const { __provider: _serialized, ...inputs } = registered;
      writeFileSync(join(project, "azure-provider.txt"), provider);
      writeFileSync(join(project, "azure-inputs.json"), JSON.stringify(inputs));

      const up = (await runNode(
        project,
        `
${LOAD_PROVIDER}
(async () => {
  const provider = load("azure-provider.txt");
  const news = JSON.parse(readFileSync("azure-inputs.json", "utf8"));
  const checked = await provider.check({}, news);
  const created = await provider.create(checked.inputs);
  const same = await provider.diff(created.id, created.outs, checked.inputs);
  console.log(JSON.stringify({ failures: checked.failures, created, same }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
        host,
      )) as {
        failures: unknown[];
        created: { id: string; outs: { imageName: string; blobName: string } };
        same: { changes: boolean };
      };
      assert.deepEqual(up.failures, []);
      assert.equal(up.same.changes, false);
      const image = arm.state.image("oskit", up.created.outs.imageName)!;
      assert.equal(image.provisioningState, "Succeeded");
      assert.equal(image.tags["oskit-owner"], "program/dev/web");
      assert.ok(
        identity.requests.includes(arm.endpoint),
        "the token came from the identity endpoint",
      );
      assert.equal(JSON.stringify(up).includes(AZURITE_KEY), false, "the key in the state");
      assert.equal(JSON.stringify(up).includes(arm.token), false, "the token in the state");
      writeFileSync(join(project, "azure-state.json"), JSON.stringify(up.created.outs));

      await runNode(
        project,
        `
${LOAD_PROVIDER}
(async () => {
  const provider = load("azure-provider.txt");
  const olds = JSON.parse(readFileSync("azure-state.json", "utf8"));
  await provider.delete(olds.imageId, olds);
  console.log("{}");
})().catch((e) => { console.error(e); process.exit(1); });
`,
        host,
      );
      assert.equal(arm.state.image("oskit", up.created.outs.imageName), undefined);
      const sdk = await import("@azure/storage-blob");
      const blob = new sdk.BlobClient(
        `${azurite.blobEndpoint}/images/${up.created.outs.blobName}`,
        new sdk.StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
      );
      assert.equal(await blob.exists(), false, "delete removed the blob");
    });
  });
});
