import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import * as oskit from "../../../../sdk/index";
import type { Artifact } from "../../../../provider/build/image-build";
import { checkImage, diffImage, type ImageOutputs } from "../../../../provider/gcp/image";

interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}

const value = <T>(output: pulumi.Output<T>) =>
  new Promise<T>((resolve) => output.apply((v) => resolve(v)));

const artifact: Artifact = {
  format: "gce",
  path: "/out/web.img.tar.gz",
  sha256: `sha256:${"a".repeat(64)}`,
  size: 1 << 20,
  files: [],
};

describe("oskit.gcp.Image in a Pulumi program", () => {
  const registered: Registered[] = [];
  const saved = { ...process.env };
  before(async () => {
    process.env.GOOGLE_OAUTH_ACCESS_TOKEN = "ya29.do-not-store-me";
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          const inputs = args.inputs as Record<string, unknown>;
          registered.push({ type: args.type, name: args.name, inputs });
          return {
            id: "projects/my-project/global/images/web-aaaaaaaaaaaa-123456",
            state: {
              ...inputs,
              imageName: "web-aaaaaaaaaaaa-123456",
              selfLink:
                "https://compute.googleapis.com/compute/v1/projects/my-project/global/images/web-aaaaaaaaaaaa-123456",
            },
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
    if (saved.GOOGLE_OAUTH_ACCESS_TOKEN === undefined) delete process.env.GOOGLE_OAUTH_ACCESS_TOKEN;
    else process.env.GOOGLE_OAUTH_ACCESS_TOKEN = saved.GOOGLE_OAUTH_ACCESS_TOKEN;
  });

  it("registers a dynamic oskit/gcp:Image with its inputs, the owner from the stack, and no token", async () => {
    const image = new oskit.gcp.Image("web", {
      artifact,
      project: "my-project",
      bucket: "my-images",
      family: "web",
      storageLocations: ["eu"],
      labels: { team: "os" },
    });
    assert.equal(await value(image.imageName), "web-aaaaaaaaaaaa-123456");
    assert.match(await value(image.selfLink), /global\/images\/web-aaaaaaaaaaaa-123456$/);
    const r = registered.find((x) => x.name === "web")!;
    assert.equal(r.type, "pulumi-nodejs:dynamic/oskit/gcp:Image");
    assert.deepEqual(r.inputs.owner, { project: "proj", stack: "dev", resource: "web" });
    assert.equal(r.inputs.name, "web");
    assert.equal(r.inputs.project, "my-project");
    assert.equal(r.inputs.bucket, "my-images");
    assert.equal(r.inputs.family, "web");
    assert.deepEqual(r.inputs.storageLocations, ["eu"]);
    assert.deepEqual(r.inputs.labels, { team: "os" });
    assert.deepEqual(r.inputs.artifact, artifact);
    assert.doesNotMatch(JSON.stringify(r.inputs), /do-not-store-me|ya29/);
  });
});

describe("oskit.gcp.Image's check and diff", () => {
  const inputs = {
    artifact,
    project: "my-project",
    bucket: "my-images",
    name: "web",
    labels: {},
    owner: { project: "p", stack: "dev", resource: "web" },
  };

  it("GIVEN wrong inputs WHEN checked THEN each is named with what is accepted", () => {
    const { failures } = checkImage({
      ...inputs,
      artifact: { ...artifact, format: "aws" },
      project: "X",
      family: "Web_1",
      labels: { "oskit-digest": "x", Team: "OS" },
      endpoints: { storage: "http://user:pw@localhost" },
      chunkSize: 1000,
    });
    const props = failures.map((f) => f.property);
    assert.deepEqual(props.sort(), [
      "artifact.format",
      "chunkSize",
      "endpoints.storage",
      "family",
      "labels.Team",
      "labels.Team",
      "labels.oskit-digest",
      "project",
    ]);
    assert.deepEqual(checkImage(inputs).failures, []);
  });

  it("GIVEN a new digest WHEN diffed THEN the image is replaced, made before the old one goes", () => {
    const olds: ImageOutputs = { ...inputs, imageName: "n", selfLink: "s", objectName: "o" };
    const d = diffImage(olds, {
      ...inputs,
      artifact: { ...artifact, sha256: `sha256:${"b".repeat(64)}` },
    });
    assert.deepEqual(d.replaces, ["artifact"]);
    assert.equal(d.deleteBeforeReplace, false);
    const f = diffImage(olds, { ...inputs, family: "web" });
    assert.deepEqual(f.replaces, ["family"]);
    assert.equal(f.deleteBeforeReplace, true);
    assert.equal(diffImage(olds, inputs).changes, false);
    const partial: ImageOutputs = { ...inputs, objectName: "o" };
    assert.deepEqual(diffImage(partial, inputs), {
      changes: true,
      replaces: [],
      changed: ["selfLink"],
      deleteBeforeReplace: false,
    });
  });
});
