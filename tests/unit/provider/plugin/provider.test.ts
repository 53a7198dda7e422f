import { strict as assert } from "node:assert";
import { join } from "node:path";
import { oskitProvider, parseUrn } from "../../../../provider/plugin/provider";
import { HANDLERS } from "../../../../provider/plugin/resources";

const SIG = "4dabf18193072939515e22adb298388d";
const secret = (value: unknown) => ({ [SIG]: "1b47061264138c4ac30d75fd1eb44270", value });
const URN = "urn:pulumi:dev::site::oskit:index:ImageBuild::web";

describe("the plugin's provider", () => {
  it("reads the stack, project, type and name from a URN, under a parent and with :: in the name", () => {
    assert.deepEqual(parseUrn(URN), {
      stack: "dev",
      project: "site",
      type: "oskit:index:ImageBuild",
      name: "web",
    });
    assert.deepEqual(parseUrn("urn:pulumi:dev::site::my:Component$oskit:index:ImageBuild::a::b"), {
      stack: "dev",
      project: "site",
      type: "oskit:index:ImageBuild",
      name: "a::b",
    });
  });

  it("Check of an Ami takes the owner from the URN and the region from AWS_REGION", async () => {
    const saved = process.env.AWS_REGION;
    process.env.AWS_REGION = "eu-north-1";
    try {
      const provider = oskitProvider({ cwd: "/srv/site" });
      const artifact = {
        format: "aws",
        path: "/srv/site/os.raw",
        sha256: `sha256:${"a".repeat(64)}`,
        size: 1,
        files: [],
      };
      const result = await provider.check!(
        "urn:pulumi:prod::site::oskit:aws:Ami::web",
        {},
        { artifact, owner: { project: "other", stack: "x", resource: "y" } },
      );
      assert.deepEqual(result.failures, []);
      assert.deepEqual(result.inputs, {
        artifact,
        owner: { project: "site", stack: "prod", resource: "web" },
        region: "eu-north-1",
        name: "web",
        copyRegions: [],
        tags: {},
      });
    } finally {
      if (saved === undefined) delete process.env.AWS_REGION;
      else process.env.AWS_REGION = saved;
    }
  });

  it("Check fills the defaults from the program's directory and marks the schema's secrets", async () => {
    const provider = oskitProvider({ cwd: "/srv/site" });
    const result = await provider.check!(
      URN,
      {},
      {
        os: { kernel: { image: "k:1" }, files: [{ path: "/etc/t", contents: { $input: "t" } }] },
        formats: ["tar"],
        outDir: "out",
        inputs: { t: "plain, yet secret by the schema" },
      },
    );
    assert.deepEqual(result.failures, []);
    const inputs = result.inputs as Record<string, unknown>;
    assert.equal(inputs.outDir, join("/srv/site", "out"));
    assert.equal(inputs.baseDir, "/srv/site");
    assert.deepEqual(inputs.inputs, secret({ t: "plain, yet secret by the schema" }));
    assert.deepEqual((inputs.os as { files: unknown }).files, {
      "/etc/t": { contents: { $input: "t" }, order: 0 },
    });
  });

  it("QemuVm: Check fills the class's defaults, keeps data secret and names a bad forward", async () => {
    const provider = oskitProvider({ cwd: "/srv/site" });
    const artifact = {
      format: "kernel+initrd",
      path: "/srv/site/.oskit/build/x/vm",
      sha256: `sha256:${"0".repeat(64)}`,
      size: 3,
      files: [],
    };
    const urn = "urn:pulumi:dev::site::oskit:local:QemuVm::vm";
    const good = await provider.check!(urn, {}, { artifact, data: "hello" });
    assert.deepEqual(good.failures, []);
    assert.deepEqual(good.inputs, {
      artifact,
      publish: [],
      mem: 1024,
      cpus: 1,
      data: secret("hello"),
      stateDir: join("/srv/site", ".oskit", "vms", "vm"),
    });
    const bad = await provider.check!(urn, {}, { artifact, publish: ["8080"] });
    assert.deepEqual(
      bad.failures?.map((f) => f.property),
      ["publish[0]"],
    );
  });

  it("a partial create reaches the engine with its id, its properties marked secret as outputs are, and no secret in its reasons", async () => {
    const provider = oskitProvider({
      handlers: {
        ...HANDLERS,
        "oskit:local:QemuVm": {
          ...HANDLERS["oskit:local:QemuVm"],
          create: (inputs) =>
            Promise.reject(
              Object.assign(new Error(`QEMU would not stop (data ${String(inputs.data)})`), {
                id: "/state",
                properties: { ...inputs, pid: 7 },
              }),
            ),
        },
      },
    });
    const urn = "urn:pulumi:dev::site::oskit:local:QemuVm::vm";
    await assert.rejects(provider.create!(urn, { data: secret("s3") }), (error: unknown) => {
      const partial = error as Error & { id: string; properties: unknown; reasons: string[] };
      assert.equal(partial.message, "QEMU would not stop (data [secret])");
      assert.equal(partial.id, "/state");
      assert.deepEqual(partial.properties, { data: secret("s3"), pid: 7 });
      assert.deepEqual(partial.reasons, ["QEMU would not stop (data [secret])"]);
      return true;
    });
  });

  it("refuses a type the schema does not have", async () => {
    await assert.rejects(
      oskitProvider().check!("urn:pulumi:dev::site::oskit:index:Nope::x", {}, {}),
      /unknown resource type "oskit:index:Nope"; oskit has oskit:index:ImageBuild/,
    );
  });
});
