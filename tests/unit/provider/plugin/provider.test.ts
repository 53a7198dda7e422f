import { strict as assert } from "node:assert";
import { join } from "node:path";
import { oskitProvider, parseUrn } from "../../../../provider/plugin/provider";

const SIG = "4dabf18193072939515e22adb298388d";
const secret = (value: unknown) => ({ [SIG]: "1b47061264138c4ac30d75fd1eb44270", value });
const URN = "urn:pulumi:dev::site::oskit:index:ImageBuild::web";

describe("the plugin's provider", () => {
  it("reads the type and name from a URN, under a parent and with :: in the name", () => {
    assert.deepEqual(parseUrn(URN), { type: "oskit:index:ImageBuild", name: "web" });
    assert.deepEqual(parseUrn("urn:pulumi:dev::site::my:Component$oskit:index:ImageBuild::a::b"), {
      type: "oskit:index:ImageBuild",
      name: "a::b",
    });
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

  it("refuses a type the schema does not have", async () => {
    await assert.rejects(
      oskitProvider().check!("urn:pulumi:dev::site::oskit:index:Nope::x", {}, {}),
      /unknown resource type "oskit:index:Nope"; oskit has oskit:index:ImageBuild/,
    );
  });
});
