import { strict as assert } from "node:assert";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import * as oskit from "../../../../sdk/index";
import { manifestOf } from "../../../../provider/build/os-input";
import type { Artifact } from "../../../../provider/build/image-build";
import { validateManifest } from "../../../../sdk/manifest/validate";

interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}

/** The value of an output (mocks resolve them at once). */
const value = <T>(output: pulumi.Output<T>) =>
  new Promise<T>((resolve) => output.apply((v) => resolve(v)));

describe("oskit.ImageBuild in a Pulumi program", () => {
  const registered: Registered[] = [];
  before(async () => {
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          const inputs = args.inputs as Record<string, unknown>;
          registered.push({ type: args.type, name: args.name, inputs });
          const artifact: Artifact = {
            format: "raw-efi",
            path: "/out/web-efi.img",
            sha256: "sha256:00",
            size: 1,
            files: [],
          };
          return {
            id: `${args.name}-id`,
            state: { ...inputs, dir: "/out", artifacts: { "raw-efi": artifact } },
          };
        },
        call: (args) => args.inputs as Record<string, unknown>,
      },
      "oskit",
      "test",
      false,
    );
  });

  const image = new oskit.Image({
    kernel: new oskit.Kernel({ image: "example.com/kernel:1", cmdline: "console=ttyS0" }),
    init: ["example.com/init:1"],
    services: [
      new oskit.Service({
        name: "web",
        image: "example.com/httpd:1",
        capabilities: ["CAP_NET_BIND_SERVICE"],
      }),
    ],
    files: [oskit.File.text("/etc/token", oskit.input("apiToken"))],
  });

  it("registers a dynamic resource whose inputs are the OS keyed by name and path, and the options", async () => {
    const build = new oskit.ImageBuild("web", {
      image,
      formats: ["raw-efi"],
      inputs: { apiToken: "plain" },
      lock: false,
    });
    assert.equal(await value(build.manifestDigest), image.digest());
    const mine = registered.find((r) => r.name === "web")!;
    assert.equal(mine.type, "pulumi-nodejs:dynamic/oskit:ImageBuild");
    const os = mine.inputs.os as Record<string, Record<string, Record<string, unknown>>>;
    assert.deepEqual(os.services!.web!.capabilities, ["CAP_NET_BIND_SERVICE"]);
    assert.deepEqual(os.files!["/etc/token"]!.contents, { $input: "apiToken" });
    assert.deepEqual(
      validateManifest(manifestOf(mine.inputs.os as Record<string, unknown>)),
      image.synth(),
    );
    assert.deepEqual(mine.inputs.formats, ["raw-efi"]);
    assert.equal(mine.inputs.name, "web");
    assert.equal(mine.inputs.outDir, join(process.cwd(), ".oskit", "build"));
    assert.deepEqual(mine.inputs.inputs, { apiToken: "plain" });
    const artifact = await value(build.artifacts);
    assert.equal(artifact["raw-efi"]!.path, "/out/web-efi.img");
  });

  it("serializes a provider that captures no data and loads oskit by the package's name", () => {
    const provider = registered.find((r) => r.name === "web")!.inputs.__provider as string;
    assert.match(provider, /require\("oskit\/dynamic"\)/);
    assert.ok(provider.length < 20000, `${provider.length} characters`);
    assert.ok(!provider.includes(process.cwd()), "no path of this machine");
    assert.ok(!provider.includes("plain"), "no input value");
  });

  it("marks what is built from secret input values secret in the state", () => {
    const options = new Map<string, pulumi.ResourceOptions>();
    const record: pulumi.ResourceTransformation = (args) => {
      options.set(args.name, args.opts);
      return undefined;
    };
    new oskit.ImageBuild(
      "secretive",
      {
        image,
        formats: ["raw-efi"],
        inputs: { apiToken: pulumi.secret("s3cret") },
        lock: false,
      },
      { transformations: [record] },
    );
    new oskit.ImageBuild(
      "plain",
      {
        image,
        formats: ["raw-efi"],
        inputs: { apiToken: "x" },
        lock: false,
      },
      { transformations: [record] },
    );
    assert.deepEqual(
      (options.get("secretive") as pulumi.CustomResourceOptions).additionalSecretOutputs,
      ["inputs", "artifacts", "dir"],
    );
    assert.deepEqual(
      (options.get("plain") as pulumi.CustomResourceOptions).additionalSecretOutputs,
      ["inputs"],
    );
  });
});
