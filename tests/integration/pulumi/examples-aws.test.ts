import { strict as assert } from "node:assert";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import type { RegisterResourceRequest } from "@pulumi/pulumi/proto/resource_pb";
import { createJiti } from "jiti";
import { Instance } from "../../../provider/aws/instance";
import type { Artifact } from "../../../provider/build/image-build";
import { ROOT } from "../../support/paths";

/** What the program asked the engine for, as the mock monitor received it. */
interface Registration {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  readonly inputs: Record<string, unknown>;
  readonly dependencies: readonly string[];
  readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
  readonly additionalSecretOutputs: readonly string[];
}

const MiB = 1 << 20;
const IMAGE_ID = "ami-0123456789abcdef0";
const ARTIFACT: Artifact = {
  format: "raw-efi",
  path: "/stack/.oskit/build/0123456789abcdef/hello-efi.img",
  sha256: `sha256:${"ab".repeat(32)}`,
  size: 30 * MiB,
  files: [
    {
      name: "hello-efi.img",
      path: "/stack/.oskit/build/0123456789abcdef/hello-efi.img",
      sha256: `sha256:${"ab".repeat(32)}`,
      size: 30 * MiB,
    },
  ],
};
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";

/** The output's value (mocks resolve every output). */
function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("examples/aws under pulumi.runtime.setMocks", function () {
  this.timeout(60000);
  const registrations: Registration[] = [];
  let program: {
    url: pulumi.Output<string>;
    imageId: pulumi.Output<string>;
    instanceId: pulumi.Output<string>;
  };
  let register: typeof MockMonitor.prototype.registerResource;
  const one = (type: string, name: string) => {
    const found = registrations.filter((r) => r.type === type && r.name === name);
    assert.equal(found.length, 1, `${type} ${name}: ${registrations.map((r) => r.urn).join("\n")}`);
    return found[0]!;
  };

  before(async () => {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the monitor as `this`, restored after
    register = MockMonitor.prototype.registerResource;
    MockMonitor.prototype.registerResource = function (
      this: MockMonitor,
      req: RegisterResourceRequest,
      callback: (err: unknown, response: { getUrn(): string } | undefined) => void,
    ) {
      const propertyDependencies: Record<string, string[]> = {};
      req
        .getPropertydependenciesMap()
        .forEach((deps, key) => (propertyDependencies[key] = deps.getUrnsList()));
      return register.call(this, req, (err: unknown, response: { getUrn(): string }) => {
        if (response !== undefined)
          registrations.push({
            urn: response.getUrn(),
            type: req.getType(),
            name: req.getName(),
            parent: req.getParent(),
            inputs: req.getObject()?.toJavaScript() ?? {},
            dependencies: req.getDependenciesList(),
            propertyDependencies,
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
          });
        callback(err, response);
      });
    } as typeof MockMonitor.prototype.registerResource;
    pulumi.runtime.setAllConfig(
      { "aws:region": "eu-west-1", "oskit-aws:message": "a secret nonce" },
      ["oskit-aws:message"],
    );
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          const inputs = args.inputs as Record<string, unknown>;
          switch (args.type) {
            case "pulumi-nodejs:dynamic/oskit:ImageBuild":
              return {
                id: "/stack/.oskit/build/0123456789abcdef",
                state: { ...inputs, artifacts: { "raw-efi": ARTIFACT } },
              };
            case "pulumi-nodejs:dynamic/oskit/aws:Ami":
              return { id: IMAGE_ID, state: { ...inputs, imageId: IMAGE_ID } };
            case "aws:ec2/securityGroup:SecurityGroup":
              return { id: "sg-0123456789abcdef0", state: inputs };
            case "aws:ec2/instance:Instance":
              return {
                id: "i-0123456789abcdef0",
                state: { ...inputs, publicIp: "203.0.113.7", privateIp: "172.31.0.7" },
              };
            default:
              return { id: `${args.name}-id`, state: inputs };
          }
        },
        call: () => ({}),
      },
      "oskit-aws",
      "dev",
      false,
    );
    const jiti = createJiti(__filename, {
      interopDefault: true,
      alias: { oskit: join(ROOT, "dist", "sdk", "index.js") },
    });
    program = await jiti.import(join(ROOT, "examples", "aws", "index.ts"));
  });
  after(() => {
    MockMonitor.prototype.registerResource = register;
  });

  it("GIVEN the program WHEN run THEN it builds hello, registers its raw-efi disk as an AMI and launches that AMI with IMDSv2 required and the message as secret user data", async () => {
    assert.equal(await valueOf(program.url), "http://203.0.113.7/cgi-bin/hello");
    assert.equal(await valueOf(program.imageId), IMAGE_ID);
    assert.equal(await valueOf(program.instanceId), "i-0123456789abcdef0");

    const build = one("pulumi-nodejs:dynamic/oskit:ImageBuild", "hello");
    const ami = one("pulumi-nodejs:dynamic/oskit/aws:Ami", "hello");
    const component = one("oskit:aws:Instance", "hello");
    const group = one("aws:ec2/securityGroup:SecurityGroup", "hello");
    const instance = one("aws:ec2/instance:Instance", "hello");
    assert.equal(registrations.length, 5, registrations.map((r) => r.urn).join("\n"));

    assert.deepEqual(build.inputs.formats, ["raw-efi"]);
    const os = build.inputs.os as Record<string, Record<string, { order: number }>>;
    assert.deepEqual(
      Object.entries(os.onboot!)
        .sort(([, a], [, b]) => a.order - b.order)
        .map(([name]) => name),
      ["dhcpcd", "metadata"],
      "the network before the metadata service is asked",
    );
    assert.deepEqual(ami.inputs.artifact, ARTIFACT, "the ImageBuild's raw-efi artifact");
    assert.equal(ami.inputs.region, "eu-west-1");
    assert.deepEqual(ami.propertyDependencies.artifact, [build.urn]);

    assert.equal(component.parent, "", "the component is at the top of the stack");
    assert.equal(group.parent, component.urn);
    assert.equal(instance.parent, component.urn);
    assert.match(instance.urn, /::oskit:aws:Instance\$aws:ec2\/instance:Instance::hello$/);

    assert.equal(instance.inputs.ami, IMAGE_ID, "the AMI's id");
    assert.deepEqual(instance.propertyDependencies.ami, [ami.urn]);
    assert.equal(instance.inputs.instanceType, "t3.micro");
    assert.ok(
      instance.propertyDependencies.instanceType?.includes(build.urn),
      "the type waits for the artifact's memory check",
    );
    assert.deepEqual(instance.inputs.metadataOptions, {
      httpEndpoint: "enabled",
      httpTokens: "required",
      httpPutResponseHopLimit: 1,
    });
    assert.deepEqual(instance.inputs.userData, {
      [SECRET_SIG]: SECRET,
      value: "a secret nonce",
    });
    assert.deepEqual(instance.additionalSecretOutputs, ["userData", "userDataBase64"]);
    assert.equal(instance.inputs.region, "eu-west-1");
    assert.deepEqual(instance.inputs.vpcSecurityGroupIds, ["sg-0123456789abcdef0"]);
    assert.deepEqual(instance.propertyDependencies.vpcSecurityGroupIds, [group.urn]);
    assert.deepEqual(instance.inputs.tags, { Name: "hello" });
    assert.equal(instance.inputs.keyName, undefined);

    assert.deepEqual(group.inputs.ingress, [
      { protocol: "tcp", fromPort: 80, toPort: 80, cidrBlocks: ["0.0.0.0/0"] },
    ]);
    assert.deepEqual(group.inputs.egress, [
      { protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] },
    ]);
    assert.equal(group.inputs.region, "eu-west-1");
  });

  it("GIVEN an instance type with less memory than the image needs WHEN launched THEN it is refused with the numbers and no instance is registered", async () => {
    // The refusal rejects the outputs that carry it; Pulumi's own host reports those, here we do.
    const rejections: unknown[] = [];
    const listeners = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    process.on("unhandledRejection", (reason) => rejections.push(reason));
    try {
      const tiny = new Instance("tiny", {
        ami: IMAGE_ID,
        artifact: pulumi.output({ ...ARTIFACT, size: 300 * MiB }),
        instanceType: "t3.nano",
      });
      const memory = (tiny.memory as unknown as { promise(): Promise<unknown> }).promise();
      await assert.rejects(memory, (error: Error) =>
        error.message.includes(
          'instanceType: "t3.nano" has 512 MiB of memory; this image runs from RAM and needs 1156 MiB (256 MiB + 3 × its 300.0 MiB raw-efi artifact): choose a larger type',
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      process.removeAllListeners("unhandledRejection");
      for (const listener of listeners) process.on("unhandledRejection", listener);
    }
    assert.equal(one("oskit:aws:Instance", "tiny").type, "oskit:aws:Instance");
    assert.deepEqual(
      registrations.filter((r) => r.type === "aws:ec2/instance:Instance").map((r) => r.name),
      ["hello"],
      "nothing launched for tiny",
    );
    assert.ok(rejections.length > 0);
    for (const rejection of rejections) assert.match(String(rejection), /needs 1156 MiB/);
  });
});
