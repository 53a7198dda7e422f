import { strict as assert } from "node:assert";
import * as pulumi from "@pulumi/pulumi";
import * as oskit from "../../../../sdk/index";
import type { Artifact } from "../../../../provider/build/image-build";

interface Registered {
  readonly type: string;
  readonly name: string;
  readonly inputs: Record<string, unknown>;
}

const value = <T>(output: pulumi.Output<T>) =>
  new Promise<T>((resolve) => output.apply((v) => resolve(v)));

describe("oskit.aws.Ami in a Pulumi program", () => {
  const registered: Registered[] = [];
  const saved = { ...process.env };
  before(async () => {
    process.env.AWS_SECRET_ACCESS_KEY = "do-not-store-me";
    process.env.AWS_ACCESS_KEY_ID = "AKIDEXAMPLE";
    await pulumi.runtime.setMocks(
      {
        newResource: (args) => {
          const inputs = args.inputs as Record<string, unknown>;
          registered.push({ type: args.type, name: args.name, inputs });
          return {
            id: "ami-0123",
            state: {
              ...inputs,
              imageId: "ami-0123",
              snapshotId: "snap-0123",
              imageIds: { "eu-west-1": "ami-0123", "us-east-1": "ami-0456" },
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
    for (const key of ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID"])
      if (saved[key] === undefined) delete process.env[key];
      else process.env[key] = saved[key];
  });

  it("registers a dynamic oskit/aws:Ami with its inputs, the owner from the stack, and no credentials", async () => {
    const artifact: Artifact = {
      format: "aws",
      path: "/out/web.raw",
      sha256: `sha256:${"a".repeat(64)}`,
      size: 1 << 30,
      files: [],
    };
    const ami = new oskit.aws.Ami("web", {
      artifact,
      region: "eu-west-1",
      copyRegions: ["us-east-1"],
      tags: { team: "os" },
    });
    assert.equal(await value(ami.imageId), "ami-0123");
    assert.deepEqual(await value(ami.imageIds), {
      "eu-west-1": "ami-0123",
      "us-east-1": "ami-0456",
    });
    const r = registered.find((x) => x.name === "web")!;
    assert.equal(r.type, "pulumi-nodejs:dynamic/oskit/aws:Ami");
    assert.deepEqual(r.inputs.owner, { project: "proj", stack: "dev", resource: "web" });
    assert.equal(r.inputs.name, "web");
    assert.equal(r.inputs.region, "eu-west-1");
    assert.deepEqual(r.inputs.copyRegions, ["us-east-1"]);
    assert.deepEqual(r.inputs.artifact, artifact);
    const text = JSON.stringify(r.inputs);
    assert.doesNotMatch(text, /do-not-store-me|AKIDEXAMPLE/);
  });
});
