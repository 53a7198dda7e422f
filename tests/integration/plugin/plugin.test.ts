import { strict as assert } from "node:assert";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { EngineService } from "@pulumi/pulumi/proto/engine_grpc_pb";
import * as enginepb from "@pulumi/pulumi/proto/engine_pb";
import { ResourceProviderClient } from "@pulumi/pulumi/proto/provider_grpc_pb";
import type { PluginInfo } from "@pulumi/pulumi/proto/plugin_pb";
import * as pb from "@pulumi/pulumi/proto/provider_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { ociArchitecture } from "../../../sdk/resolve/oci";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { startAwsFake, type AwsFake } from "../../support/aws";
import { tinyAwsDisk } from "../../support/aws-disk";
import { startGcpFake, type GcpFake } from "../../support/gcp";
import { startArmFake, type ArmFake } from "../../support/azure-arm";
import { tinyVhd } from "../../support/azure-disk";
import { startManagedIdentity, type ManagedIdentityEndpoint } from "../../support/azure-identity";
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  startAzurite,
  type RunningAzurite,
} from "../../support/azurite";
import { tinyGceTarball } from "../../support/gce-disk";
import { storeImage } from "../../support/images";
import { ROOT } from "../../support/paths";
import { tarOf } from "../../support/tar";

type Props = Record<string, unknown>;

const PLUGIN = join(ROOT, "bin", "pulumi-resource-oskit.js");
const URN = "urn:pulumi:test::program::oskit:index:ImageBuild::web";
const SIG = "4dabf18193072939515e22adb298388d";
const SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270";
const SECRET = "s3cret-7f1c";

/** A value as the engine sends a secret to a provider that accepts secrets. */
const secret = (value: unknown) => ({ [SIG]: SECRET_SIG, value });
const isSecret = (value: unknown) =>
  value !== null && typeof value === "object" && (value as Props)[SIG] === SECRET_SIG;
const struct = (props: Props) =>
  Struct.fromJavaScript(props as Parameters<typeof Struct.fromJavaScript>[0]);

/** The engine's side the plugin may call: Log (kept, to look for secrets in) and the rest answered empty. */
async function fakeEngine(logs: string[]): Promise<{ server: grpc.Server; address: string }> {
  const server = new grpc.Server();
  server.addService(EngineService, {
    log: (
      call: grpc.ServerUnaryCall<enginepb.LogRequest, Empty>,
      done: grpc.sendUnaryData<Empty>,
    ) => {
      logs.push(call.request.getMessage());
      done(null, new Empty());
    },
    getRootResource: (_call: unknown, done: grpc.sendUnaryData<enginepb.GetRootResourceResponse>) =>
      done(null, new enginepb.GetRootResourceResponse()),
    setRootResource: (_call: unknown, done: grpc.sendUnaryData<enginepb.SetRootResourceResponse>) =>
      done(null, new enginepb.SetRootResourceResponse()),
    startDebugging: (_call: unknown, done: grpc.sendUnaryData<Empty>) => done(null, new Empty()),
    requirePulumiVersion: (
      _call: unknown,
      done: grpc.sendUnaryData<enginepb.RequirePulumiVersionResponse>,
    ) => done(null, new enginepb.RequirePulumiVersionResponse()),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, p) =>
      error ? reject(error) : resolve(p),
    ),
  );
  return { server, address: `127.0.0.1:${port}` };
}

/** Starts the plugin as Pulumi does: the executable, the engine's address, the program's directory; its first stdout line is its port. */
function startPlugin(
  engine: string,
  cwd: string,
  output: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ child: ChildProcessWithoutNullStreams; port: number }> {
  const child = spawn(PLUGIN, [engine], {
    cwd,
    env: {
      ...process.env,
      ...env,
      PATH: `${dirname(process.execPath)}${delimiter}${process.env.PATH}`,
    },
  });
  child.stderr.on("data", (chunk: Buffer) => output.push(chunk.toString()));
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output.push(chunk.toString());
      seen += chunk.toString();
      const line = /^(\d+)\n/.exec(seen);
      if (line) resolve({ child, port: Number(line[1]) });
    });
    child.once("exit", (code) =>
      reject(new Error(`the plugin exited (${code}): ${output.join("")}`)),
    );
  });
}

/** A unary call as a promise. */
function call<Res>(
  start: (done: (error: grpc.ServiceError | null, response: Res) => void) => unknown,
): Promise<Res> {
  return new Promise((resolve, reject) =>
    start((error, response) => (error ? reject(error) : resolve(response))),
  );
}

describe("pulumi-resource-oskit, started and driven over gRPC as the Pulumi engine does", function () {
  this.timeout(30_000);
  let dir: string;
  let program: string;
  let store: string;
  let engine: grpc.Server;
  let plugin: ChildProcessWithoutNullStreams;
  let client: ResourceProviderClient;
  let aws: AwsFake;
  let gcp: GcpFake;
  let artifact: Props;
  let tarball: Props;
  let vhd: Props;
  let azurite: RunningAzurite;
  let arm: ArmFake;
  let identity: ManagedIdentityEndpoint;
  const logs: string[] = [];
  const output: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-plugin-"));
    program = join(dir, "program");
    mkdirSync(program);
    store = join(dir, "store");
    const s = await ContentStore.open(store);
    await storeImage(s, { ref: "test/kernel:1", layers: [await tarOf({ kernel: "bzImage" })] });
    await storeImage(s, {
      ref: "test/app:1",
      layers: [await tarOf({ "bin/app": "v1" })],
      entrypoint: ["/bin/app"],
    });
    artifact = await tinyAwsDisk(dir);
    aws = await startAwsFake({ region: "eu-west-1" });
    tarball = { ...(await tinyGceTarball(dir)) };
    gcp = await startGcpFake({ project: "oskit-test", buckets: ["oskit-images"] });
    const tiny = await tinyVhd(dir);
    vhd = { format: "vhd", path: tiny.path, sha256: tiny.sha256, size: tiny.size, files: [] };
    [azurite, arm] = await Promise.all([
      startAzurite(),
      startArmFake({ resourceGroups: ["oskit"], retryAfterSeconds: 0 }),
    ]);
    identity = await startManagedIdentity({ [arm.endpoint]: arm.token });
    const fake = await fakeEngine(logs);
    engine = fake.server;
    // The user's environment: the SDK's default chain finds the credentials there, and nothing else.
    const started = await startPlugin(fake.address, program, output, {
      AWS_ACCESS_KEY_ID: aws.credentials.accessKeyId,
      AWS_SECRET_ACCESS_KEY: aws.credentials.secretAccessKey,
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_REGION: undefined,
      AWS_DEFAULT_REGION: undefined,
      GOOGLE_OAUTH_ACCESS_TOKEN: gcp.token,
      GOOGLE_CLOUD_PROJECT: undefined,
      GOOGLE_PROJECT: undefined,
      ...identity.env,
      AZURE_STORAGE_KEY: AZURITE_KEY,
      AZURE_SUBSCRIPTION_ID: undefined,
      AZURE_CLIENT_ID: undefined,
      AZURE_TENANT_ID: undefined,
      AZURE_CLIENT_SECRET: undefined,
    });
    plugin = started.child;
    client = new ResourceProviderClient(
      `127.0.0.1:${started.port}`,
      grpc.credentials.createInsecure(),
    );
  });

  after(async () => {
    client?.close();
    plugin?.kill();
    engine?.forceShutdown();
    await aws?.close();
    await gcp?.close();
    await Promise.all([azurite?.stop(), arm?.close(), identity?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** An OS as a program in another language writes it: the manifest, lists and all. */
  const os = (motd: string, capabilities: string[] = []) => ({
    kernel: { image: "test/kernel:1", tar: "none" },
    services: [{ name: "web", image: "test/app:1", capabilities }],
    files: [
      { path: "/etc/motd", contents: motd },
      { path: "/etc/token", contents: { $input: "token" } },
    ],
  });
  const news = (motd: string, token: string): Props => ({
    os: os(motd),
    formats: ["kernel+initrd", "tar"],
    inputs: { token: secret(token) },
    store,
  });

  async function check(props: Props) {
    const request = new pb.CheckRequest();
    request.setUrn(URN);
    request.setOlds(struct({}));
    request.setNews(struct(props));
    return call<pb.CheckResponse>((done) => client.check(request, done));
  }

  async function diff(olds: Struct, checked: Struct) {
    const request = new pb.DiffRequest();
    request.setId("id");
    request.setUrn(URN);
    request.setOlds(olds);
    request.setNews(checked);
    return call<pb.DiffResponse>((done) => client.diff(request, done));
  }

  let created: pb.CreateResponse;

  it("accepts secrets at Configure and gives oskit's version", async () => {
    const request = new pb.ConfigureRequest();
    request.setAcceptsecrets(true);
    request.setAcceptresources(true);
    const configured = await call<pb.ConfigureResponse>((done) => client.configure(request, done));
    assert.equal(configured.getAcceptsecrets(), true);
    const info = await call<PluginInfo>((done) => client.getPluginInfo(new Empty(), done));
    const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
    assert.equal(info.getVersion(), pkg.version);
  });

  it("GetSchema returns schema.json", async () => {
    const response = await call<pb.GetSchemaResponse>((done) =>
      client.getSchema(new pb.GetSchemaRequest(), done),
    );
    assert.equal(response.getSchema(), readFileSync(join(ROOT, "schema.json"), "utf8"));
  });

  it("Check reports a bad capability at its property path", async () => {
    const response = await check({ ...news("hi", SECRET), os: os("hi", ["CAP_FOO"]) });
    const failures = response.getFailuresList().map((f) => [f.getProperty(), f.getReason()]);
    assert.equal(failures.length, 1, JSON.stringify(failures));
    assert.equal(failures[0]![0], "os.services.web.capabilities[0]");
    assert.match(failures[0]![1]!, /unknown capability "CAP_FOO"/);
  });

  it("Check fills in the defaults, keys the OS by name and path and keeps the input values secret", async () => {
    const response = await check(news("hello", SECRET));
    assert.deepEqual(response.getFailuresList(), []);
    const inputs = response.getInputs()!.toJavaScript();
    assert.equal(inputs.name, "web");
    assert.equal(inputs.baseDir, program);
    assert.equal(inputs.outDir, join(program, ".oskit", "build"));
    assert.equal(inputs.arch, ociArchitecture());
    assert.match(inputs.manifestDigest as string, /^sha256:[0-9a-f]{64}$/);
    assert.deepEqual(Object.keys(inputs.os as Props).sort(), ["files", "kernel", "services"]);
    assert.deepEqual((inputs.os as { services: Props }).services, {
      web: { image: "test/app:1", capabilities: [], order: 0 },
    });
    assert.deepEqual(inputs.inputs, secret({ token: SECRET }));
  });

  it("Create builds into the program's directory; the secret input and the artifacts come back secret", async () => {
    const checked = (await check(news("hello", SECRET))).getInputs()!;
    const request = new pb.CreateRequest();
    request.setUrn(URN);
    request.setProperties(checked);
    created = await call<pb.CreateResponse>((done) => client.create(request, done));
    const outs = created.getProperties()!.toJavaScript();
    assert.equal(created.getId(), outs.dir);
    assert.ok((outs.dir as string).startsWith(join(program, ".oskit", "build")));
    assert.deepEqual(outs.inputs, secret({ token: SECRET }));
    assert.ok(isSecret(outs.artifacts), "the artifacts' digests are of bytes holding the secret");
    assert.equal(isSecret(outs.dir), false);
    const artifacts = (outs.artifacts as { value: Record<string, { path: string; size: number }> })
      .value;
    assert.deepEqual(Object.keys(artifacts), ["kernel+initrd", "tar"]);
    const tar = readFileSync(artifacts.tar!.path);
    assert.equal(tar.length, artifacts.tar!.size);
    assert.ok(tar.includes(SECRET), "the secret's value reached the build");
  });

  it("Diff: none for the same inputs, a replacement for a new OS, an update for a new secret value", async () => {
    const olds = created.getProperties()!;
    const same = await diff(olds, (await check(news("hello", SECRET))).getInputs()!);
    assert.equal(same.getChanges(), pb.DiffResponse.DiffChanges.DIFF_NONE);

    const newOs = await diff(olds, (await check(news("hello, world", SECRET))).getInputs()!);
    assert.equal(newOs.getChanges(), pb.DiffResponse.DiffChanges.DIFF_SOME);
    assert.deepEqual(newOs.getReplacesList(), ["os"]);

    const newValue = await diff(olds, (await check(news("hello", "another"))).getInputs()!);
    assert.equal(newValue.getChanges(), pb.DiffResponse.DiffChanges.DIFF_SOME);
    assert.deepEqual(newValue.getReplacesList(), []);
  });

  it("Update builds the new value in place and keeps it secret", async () => {
    const request = new pb.UpdateRequest();
    request.setId(created.getId());
    request.setUrn(URN);
    request.setOlds(created.getProperties());
    request.setNews((await check(news("hello", `${SECRET}-2`))).getInputs());
    const updated = await call<pb.UpdateResponse>((done) => client.update(request, done));
    const outs = updated.getProperties()!.toJavaScript();
    assert.equal(outs.dir, created.getId());
    assert.deepEqual(outs.inputs, secret({ token: `${SECRET}-2` }));
    assert.ok(isSecret(outs.artifacts));
    created.setProperties(updated.getProperties());
  });

  it("Delete removes the artifacts and their directory", async () => {
    const request = new pb.DeleteRequest();
    request.setId(created.getId());
    request.setUrn(URN);
    request.setProperties(created.getProperties());
    await call<Empty>((done) => client.delete(request, done));
    assert.equal(existsSync(created.getId()), false);
  });

  it("an unknown resource type is an error naming the types it has", async () => {
    const request = new pb.CheckRequest();
    request.setUrn("urn:pulumi:test::program::oskit:index:Floppy::x");
    request.setOlds(struct({}));
    request.setNews(struct({}));
    await assert.rejects(
      call<pb.CheckResponse>((done) => client.check(request, done)),
      /oskit:index:ImageBuild/,
    );
  });

  it("a secret never shows in a failure or an error: Check and Create take it out", async () => {
    const failed = await check({ ...news("hi", SECRET), name: secret(`a/${SECRET}`) });
    const reasons = failed.getFailuresList().map((f) => f.getReason());
    assert.match(reasons.join("\n"), /name "\[secret\]": expected a file name/);
    assert.equal(reasons.join("\n").includes(SECRET), false);

    const request = new pb.CreateRequest();
    request.setUrn(URN);
    const checked = (await check(news("hi", SECRET))).getInputs()!.toJavaScript();
    request.setProperties(struct({ ...checked, os: secret(os("hi", [`CAP_${SECRET}`])) }));
    await assert.rejects(
      call<pb.CreateResponse>((done) => client.create(request, done)),
      (error: Error) =>
        /unknown capability "\[secret\]"/.test(error.message) && !error.message.includes(SECRET),
    );
  });

  const AMI_URN = "urn:pulumi:test::program::oskit:aws:Ami::web";
  async function checkAmi(props: Props) {
    const request = new pb.CheckRequest();
    request.setUrn(AMI_URN);
    request.setOlds(struct({}));
    request.setNews(struct(props));
    return call<pb.CheckResponse>((done) => client.check(request, done));
  }
  const failuresOf = (response: pb.CheckResponse) =>
    Object.fromEntries(response.getFailuresList().map((f) => [f.getProperty(), f.getReason()]));

  it("Ami: Check names each bad input, asks for a region, and refuses credentials in an endpoint", async () => {
    const bad = failuresOf(
      await checkAmi({
        artifact: { ...artifact, format: "tar", sha256: "md5:0" },
        region: "Europe",
        copyRegions: ["us-east-1", "us-east-1"],
        endpoints: { ec2: "http://AKID:secret@127.0.0.1:1", ebs: "ftp://127.0.0.1:2" },
        tags: { "oskit:owner": "me" },
        parallel: 0,
        bootMode: "bios",
      }),
    );
    assert.deepEqual(Object.keys(bad).sort(), [
      "artifact.format",
      "artifact.sha256",
      "bootMode",
      "copyRegions[1]",
      "endpoints.ebs",
      "endpoints.ec2",
      "parallel",
      "region",
      "tags.oskit:owner",
    ]);
    assert.match(bad["endpoints.ec2"]!, /default chain/);
    assert.equal(JSON.stringify(bad).includes("secret@"), false);

    const noRegion = failuresOf(await checkAmi({ artifact }));
    assert.deepEqual(Object.keys(noRegion), ["region"]);
    assert.match(noRegion.region!, /AWS_REGION/);
    assert.deepEqual(Object.keys(failuresOf(await checkAmi({}))).sort(), ["artifact", "region"]);
  });

  it("Ami: Create uploads and registers it in the fake with the plugin's environment credentials; Delete removes it", async () => {
    const checked = await checkAmi({
      artifact,
      region: "eu-west-1",
      endpoints: { ec2: aws.endpoint, ebs: aws.endpoint },
      tags: { team: "os" },
    });
    assert.deepEqual(checked.getFailuresList(), []);
    const inputs = checked.getInputs()!.toJavaScript();
    assert.deepEqual(inputs.owner, { project: "program", stack: "test", resource: "web" });
    assert.equal(inputs.name, "web");

    const request = new pb.CreateRequest();
    request.setUrn(AMI_URN);
    request.setProperties(checked.getInputs());
    const made = await call<pb.CreateResponse>((done) => client.create(request, done));
    const outs = made.getProperties()!.toJavaScript() as {
      imageId: string;
      snapshotId: string;
      images: Record<string, { imageId: string }>;
      resolvedArchitecture: string;
    };
    const image = aws.state.image(made.getId());
    assert.equal(outs.imageId, made.getId());
    assert.equal(image.state, "available");
    assert.equal(image.architecture, "x86_64");
    assert.equal(outs.resolvedArchitecture, "x86_64");
    assert.deepEqual(outs.images, {
      "eu-west-1": { imageId: image.id, snapshotId: outs.snapshotId },
    });
    assert.deepEqual(Object.fromEntries(image.tags.map((t) => [t.Key, t.Value])), {
      team: "os",
      "oskit:artifact-sha256": artifact.sha256,
      "oskit:owner": "program/test/web",
      "oskit:format": "aws",
    });
    const disk = readFileSync(artifact.path as string);
    assert.ok(
      aws.state.disk(outs.snapshotId, disk.length).equals(disk),
      "the snapshot is the disk",
    );

    const again = new pb.DiffRequest();
    again.setId(made.getId());
    again.setUrn(AMI_URN);
    again.setOlds(made.getProperties());
    again.setNews(checked.getInputs());
    const none = await call<pb.DiffResponse>((done) => client.diff(again, done));
    assert.equal(none.getChanges(), pb.DiffResponse.DiffChanges.DIFF_NONE);

    const removal = new pb.DeleteRequest();
    removal.setId(made.getId());
    removal.setUrn(AMI_URN);
    removal.setProperties(made.getProperties());
    await call<Empty>((done) => client.delete(removal, done));
    assert.equal(aws.state.image(made.getId()).state, "deregistered");
    assert.equal(aws.state.snapshots.has(outs.snapshotId), false);
    assert.deepEqual(aws.state.leftovers(), []);
  });

  const GCP_URN = "urn:pulumi:test::program::oskit:gcp:Image::web";
  async function checkGcpImage(props: Props) {
    const request = new pb.CheckRequest();
    request.setUrn(GCP_URN);
    request.setOlds(struct({}));
    request.setNews(struct(props));
    return call<pb.CheckResponse>((done) => client.check(request, done));
  }

  it("gcp Image: Check names bad inputs and asks for a project; Create uploads and registers it in the fake with the plugin's environment token; Delete removes image and object", async () => {
    const bad = failuresOf(
      await checkGcpImage({ artifact: { ...tarball, format: "vhd" }, bucket: "Bad Bucket" }),
    );
    assert.deepEqual(Object.keys(bad).sort(), ["artifact.format", "bucket", "project"]);
    assert.match(bad.project!, /GOOGLE_CLOUD_PROJECT/);

    const endpoints = { storage: gcp.storageEndpoint, compute: gcp.computeEndpoint };
    const checked = await checkGcpImage({
      artifact: tarball,
      project: "oskit-test",
      bucket: "oskit-images",
      endpoints,
    });
    assert.deepEqual(checked.getFailuresList(), []);
    const inputs = checked.getInputs()!.toJavaScript();
    assert.deepEqual(inputs.owner, { project: "program", stack: "test", resource: "web" });
    assert.equal(inputs.name, "web");

    const request = new pb.CreateRequest();
    request.setUrn(GCP_URN);
    request.setProperties(checked.getInputs());
    const made = await call<pb.CreateResponse>((done) => client.create(request, done));
    const outs = made.getProperties()!.toJavaScript() as {
      imageName: string;
      selfLink: string;
      objectName: string;
      resolvedArchitecture: string;
    };
    assert.equal(made.getId(), `projects/oskit-test/global/images/${outs.imageName}`);
    assert.match(outs.imageName, /^web-[0-9a-f]{12}-[0-9a-f]{6}$/);
    assert.equal(outs.resolvedArchitecture, "X86_64");
    const listed = await fetch(
      `${gcp.computeEndpoint}/compute/v1/projects/oskit-test/global/images/${outs.imageName}`,
      { headers: { authorization: `Bearer ${gcp.token}` } },
    );
    assert.equal(listed.status, 200);

    const removal = new pb.DeleteRequest();
    removal.setId(made.getId());
    removal.setUrn(GCP_URN);
    removal.setProperties(made.getProperties());
    await call<Empty>((done) => client.delete(removal, done));
    const gone = await fetch(
      `${gcp.computeEndpoint}/compute/v1/projects/oskit-test/global/images/${outs.imageName}`,
      { headers: { authorization: `Bearer ${gcp.token}` } },
    );
    assert.equal(gone.status, 404);
    const object = await fetch(
      `${gcp.storageEndpoint}/storage/v1/b/oskit-images/o/${encodeURIComponent(outs.objectName)}`,
      { headers: { authorization: `Bearer ${gcp.token}` } },
    );
    assert.equal(object.status, 404);
  });

  const AZURE_URN = "urn:pulumi:test::program::oskit:azure:Image::web";
  async function checkAzureImage(props: Props) {
    const request = new pb.CheckRequest();
    request.setUrn(AZURE_URN);
    request.setOlds(struct({}));
    request.setNews(struct(props));
    return call<pb.CheckResponse>((done) => client.check(request, done));
  }

  it("azure Image: Check names bad inputs and asks for a subscription; Create uploads and registers with DefaultAzureCredential and the environment's key; Delete removes image and blob", async () => {
    const bad = failuresOf(
      await checkAzureImage({
        artifact: { ...vhd, format: "qcow2" },
        resourceGroupName: "oskit",
        location: "West Europe",
        storageAccount: AZURITE_ACCOUNT,
        container: "Images",
      }),
    );
    assert.deepEqual(Object.keys(bad).sort(), [
      "artifact.format",
      "container",
      "location",
      "subscriptionId",
    ]);
    assert.match(bad.subscriptionId!, /AZURE_SUBSCRIPTION_ID/);

    const checked = await checkAzureImage({
      artifact: vhd,
      subscriptionId: arm.subscription,
      resourceGroupName: "oskit",
      location: "westeurope",
      storageAccount: AZURITE_ACCOUNT,
      container: "images",
      endpoints: { arm: arm.endpoint, blob: azurite.blobEndpoint },
    });
    assert.deepEqual(checked.getFailuresList(), []);
    const inputs = checked.getInputs()!.toJavaScript();
    assert.deepEqual(inputs.owner, { project: "program", stack: "test", resource: "web" });

    const request = new pb.CreateRequest();
    request.setUrn(AZURE_URN);
    request.setProperties(checked.getInputs());
    const made = await call<pb.CreateResponse>((done) => client.create(request, done));
    const outs = made.getProperties()!.toJavaScript() as {
      imageName: string;
      imageId: string;
      resolvedHyperVGeneration: string;
    };
    assert.equal(made.getId(), outs.imageId);
    assert.equal(outs.resolvedHyperVGeneration, "V2");
    const image = arm.state.image("oskit", outs.imageName)!;
    assert.equal(image.provisioningState, "Succeeded");
    assert.equal(image.tags["oskit-owner"], "program/test/web");

    const removal = new pb.DeleteRequest();
    removal.setId(made.getId());
    removal.setUrn(AZURE_URN);
    removal.setProperties(made.getProperties());
    await call<Empty>((done) => client.delete(removal, done));
    assert.equal(arm.state.image("oskit", outs.imageName), undefined);
  });

  it("no secret value or credential reached the plugin's output or the engine's log", () => {
    const said = [...output, ...logs].join("\n");
    assert.ok(output.join("").length > 0, "the port at least");
    assert.equal(said.includes(SECRET), false, said);
    assert.equal(said.includes(aws.credentials.secretAccessKey), false, said);
    assert.equal(said.includes(aws.credentials.accessKeyId), false, said);
    assert.equal(said.includes(gcp.token), false, said);
    assert.equal(said.includes(arm.token), false, said);
    assert.equal(said.includes(AZURITE_KEY), false, said);
  });
});
