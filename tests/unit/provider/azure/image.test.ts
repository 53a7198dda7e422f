import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import * as oskit from "../../../../sdk/index";
import type { Artifact } from "../../../../provider/build/image-build";
import { checkImage, diffImage, type ImageOutputs } from "../../../../provider/azure/image";

interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}

const value = <T>(output: pulumi.Output<T>) =>
  new Promise<T>((resolve) => output.apply((v) => resolve(v)));

const SUBSCRIPTION = "00000000-1111-2222-3333-444444444444";
const artifact: Artifact = {
  format: "vhd",
  path: "/out/web.vhd",
  sha256: `sha256:${"a".repeat(64)}`,
  size: 32 << 20,
  files: [],
};
const IMAGE_ID = `/subscriptions/${SUBSCRIPTION}/resourceGroups/rg/providers/Microsoft.Compute/images/web-aaaaaaaaaaaa-123456`;

describe("oskit.azure.Image in a Pulumi program", () => {
  const registered: Registered[] = [];
  const saved = { ...process.env };
  before(async () => {
    process.env.AZURE_STORAGE_KEY = "c2VjcmV0LWtleS1kby1ub3Qtc3RvcmU=";
    process.env.AZURE_SUBSCRIPTION_ID = SUBSCRIPTION;
    pulumi.runtime.setAllConfig({ "azure-native:location": "westeurope" });
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          const inputs = args.inputs as Record<string, unknown>;
          registered.push({ type: args.type, name: args.name, inputs });
          return {
            id: IMAGE_ID,
            state: { ...inputs, imageId: IMAGE_ID, resolvedHyperVGeneration: "V2" },
          };
        },
        call: (args) => args.inputs as Record<string, unknown>,
      },
      "proj",
      "dev",
      false,
    );
  });
  after(() => {
    for (const key of ["AZURE_STORAGE_KEY", "AZURE_SUBSCRIPTION_ID"])
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
    pulumi.runtime.setAllConfig({});
  });

  it("registers a dynamic oskit/azure:Image with its inputs, the subscription and location from the environment and config, the owner from the stack, and no key", async () => {
    const image = new oskit.azure.Image("web", {
      artifact,
      resourceGroupName: "rg",
      storageAccount: "oskitimages",
      container: "images",
      gallery: { gallery: "systems", definition: "web", version: "1.2.3" },
      tags: { team: "os" },
    });
    assert.equal(await value(image.imageId), IMAGE_ID);
    const r = registered.find((x) => x.name === "web")!;
    assert.equal(r.type, "pulumi-nodejs:dynamic/oskit/azure:Image");
    assert.deepEqual(r.inputs.owner, { project: "proj", stack: "dev", resource: "web" });
    assert.equal(r.inputs.subscriptionId, SUBSCRIPTION);
    assert.equal(r.inputs.location, "westeurope");
    assert.equal(r.inputs.name, "web");
    assert.deepEqual(r.inputs.gallery, { gallery: "systems", definition: "web", version: "1.2.3" });
    assert.deepEqual(r.inputs.tags, { team: "os" });
    assert.deepEqual(r.inputs.artifact, artifact);
    assert.doesNotMatch(JSON.stringify(r.inputs), /c2VjcmV0|secret-key/);
  });
});

describe("oskit.azure.Image's check and diff", () => {
  const inputs = {
    artifact,
    subscriptionId: SUBSCRIPTION,
    resourceGroupName: "rg",
    location: "westeurope",
    storageAccount: "oskitimages",
    container: "images",
    name: "web",
    tags: {},
    owner: { project: "p", stack: "dev", resource: "web" },
  };

  it("GIVEN wrong inputs WHEN checked THEN each is named with what is accepted, and good ones pass", () => {
    const { failures } = checkImage({
      ...inputs,
      artifact: { ...artifact, format: "raw-efi" },
      subscriptionId: "my-sub",
      location: "West Europe",
      storageAccount: "Oskit_Images",
      container: "im--ages",
      hyperVGeneration: "V3" as never,
      diskSizeGB: 5000,
      tags: { "oskit-digest": "x", "a/b": "c" },
      gallery: { gallery: "-g", definition: "web", version: "1.0" },
      endpoints: { blob: "https://oskitimages.blob.core.windows.net?sv=1&sig=x" },
      parallel: 0,
    });
    assert.deepEqual(failures.map((f) => f.property).sort(), [
      "artifact.format",
      "container",
      "diskSizeGB",
      "endpoints.blob",
      "gallery.gallery",
      "gallery.version",
      "hyperVGeneration",
      "location",
      "parallel",
      "storageAccount",
      "subscriptionId",
      "tags.a/b",
      "tags.oskit-digest",
    ]);
    assert.doesNotMatch(JSON.stringify(failures), /sig=x/);
    assert.deepEqual(checkImage(inputs).failures, []);
  });

  it("GIVEN a new digest WHEN diffed THEN the image is replaced, made before the old one goes; other inputs replace it after; endpoints change nothing", () => {
    const olds: ImageOutputs = {
      ...inputs,
      imageName: "n",
      imageId: IMAGE_ID,
      blobName: "b",
      blobUrl: "u",
    };
    const d = diffImage(olds, {
      ...inputs,
      artifact: { ...artifact, sha256: `sha256:${"b".repeat(64)}` },
    });
    assert.deepEqual(d.replaces, ["artifact"]);
    assert.equal(d.deleteBeforeReplace, false);
    const g = diffImage(olds, { ...inputs, storageAccountType: "Premium_LRS" });
    assert.deepEqual(g.replaces, ["storageAccountType"]);
    assert.equal(g.deleteBeforeReplace, true);
    const e = diffImage(olds, {
      ...inputs,
      endpoints: { arm: "https://management.usgovcloudapi.net" },
    });
    assert.deepEqual([e.replaces, e.changed], [[], ["endpoints"]]);
    assert.equal(diffImage(olds, inputs).changes, false);
  });
});
