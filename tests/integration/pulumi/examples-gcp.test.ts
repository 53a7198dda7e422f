import { strict as assert } from "node:assert";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import type { RegisterResourceRequest } from "@pulumi/pulumi/proto/resource_pb";
import { createJiti } from "jiti";
import { Instance } from "../../../provider/gcp/instance";
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
const SELF_LINK =
  "https://www.googleapis.com/compute/v1/projects/oskit-test/global/images/hello-abababababab-1a2b3c";
const ARTIFACT: Artifact = {
  format: "gce",
  path: "/stack/.oskit/build/0123456789abcdef/hello.tar.gz",
  sha256: `sha256:${"ab".repeat(32)}`,
  size: 30 * MiB,
  files: [
    {
      name: "hello.tar.gz",
      path: "/stack/.oskit/build/0123456789abcdef/hello.tar.gz",
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

describe("examples/gcp under pulumi.runtime.setMocks", function () {
  this.timeout(60000);
  const registrations: Registration[] = [];
  let program: {
    url: pulumi.Output<string>;
    imageSelfLink: pulumi.Output<string>;
    instanceName: pulumi.Output<string>;
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
      {
        "gcp:project": "oskit-test",
        "gcp:zone": "europe-west1-b",
        "oskit-gcp:bucket": "oskit-test-images",
        "oskit-gcp:message": "a secret nonce",
      },
      ["oskit-gcp:message"],
    );
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          const inputs = args.inputs as Record<string, unknown>;
          switch (args.type) {
            case "pulumi-nodejs:dynamic/oskit:ImageBuild":
              return {
                id: "/stack/.oskit/build/0123456789abcdef",
                state: { ...inputs, artifacts: { gce: ARTIFACT } },
              };
            case "pulumi-nodejs:dynamic/oskit/gcp:Image":
              return {
                id: "hello-abababababab-1a2b3c",
                state: { ...inputs, selfLink: SELF_LINK, imageName: "hello-abababababab-1a2b3c" },
              };
            case "gcp:compute/firewall:Firewall":
              return {
                id: `projects/oskit-test/global/firewalls/${args.name}-f1r3`,
                state: inputs,
              };
            case "gcp:compute/instance:Instance":
              return {
                id: `projects/oskit-test/zones/europe-west1-b/instances/${args.name}-1a2b3c4`,
                state: {
                  ...inputs,
                  name: `${args.name}-1a2b3c4`,
                  instanceId: "1234567890123456789",
                  networkInterfaces: [
                    { networkIp: "10.132.0.7", accessConfigs: [{ natIp: "203.0.113.9" }] },
                  ],
                },
              };
            default:
              return { id: `${args.name}-id`, state: inputs };
          }
        },
        call: () => ({}),
      },
      "oskit-gcp",
      "dev",
      false,
    );
    const jiti = createJiti(__filename, {
      interopDefault: true,
      alias: { oskit: join(ROOT, "dist", "sdk", "index.js") },
    });
    program = await jiti.import(join(ROOT, "examples", "gcp", "index.ts"));
  });
  after(() => {
    MockMonitor.prototype.registerResource = register;
  });

  it("GIVEN the program WHEN run THEN it builds hello as gce, registers it as an image and boots that image with the serial port enabled and the message as secret user data", async () => {
    assert.equal(await valueOf(program.url), "http://203.0.113.9/cgi-bin/hello");
    assert.equal(await valueOf(program.imageSelfLink), SELF_LINK);
    assert.equal(await valueOf(program.instanceName), "hello-1a2b3c4");

    const build = one("pulumi-nodejs:dynamic/oskit:ImageBuild", "hello");
    const image = one("pulumi-nodejs:dynamic/oskit/gcp:Image", "hello");
    const component = one("oskit:gcp:Instance", "hello");
    const firewall = one("gcp:compute/firewall:Firewall", "hello");
    const instance = one("gcp:compute/instance:Instance", "hello");
    assert.equal(registrations.length, 5, registrations.map((r) => r.urn).join("\n"));

    assert.deepEqual(build.inputs.formats, ["gce"]);
    const os = build.inputs.os as Record<string, Record<string, { order: number }>>;
    assert.deepEqual(
      Object.entries(os.onboot!)
        .sort(([, a], [, b]) => a.order - b.order)
        .map(([name]) => name),
      ["dhcpcd", "metadata"],
      "the network before the metadata server is asked",
    );
    assert.deepEqual(image.inputs.artifact, ARTIFACT, "the ImageBuild's gce artifact");
    assert.equal(image.inputs.bucket, "oskit-test-images");
    assert.equal(image.inputs.project, "oskit-test");
    assert.deepEqual(image.propertyDependencies.artifact, [build.urn]);

    assert.equal(component.parent, "", "the component is at the top of the stack");
    assert.equal(firewall.parent, component.urn);
    assert.equal(instance.parent, component.urn);
    assert.match(instance.urn, /::oskit:gcp:Instance\$gcp:compute\/instance:Instance::hello$/);

    assert.deepEqual(
      instance.inputs.bootDisk,
      { autoDelete: true, initializeParams: { image: SELF_LINK } },
      "the image's self link on the boot disk",
    );
    assert.deepEqual(instance.propertyDependencies.bootDisk, [image.urn]);
    assert.equal(instance.inputs.machineType, "e2-micro");
    assert.ok(
      instance.propertyDependencies.machineType?.includes(build.urn),
      "the type waits for the artifact's memory check",
    );
    assert.equal(instance.inputs.zone, "europe-west1-b");
    assert.deepEqual(instance.inputs.metadata, {
      "serial-port-enable": "TRUE",
      "user-data": { [SECRET_SIG]: SECRET, value: "a secret nonce" },
    });
    assert.ok(
      instance.additionalSecretOutputs.includes("metadata"),
      `${instance.additionalSecretOutputs.join()}: the metadata output is secret too`,
    );
    assert.deepEqual(instance.inputs.networkInterfaces, [
      { network: "default", accessConfigs: [{}] },
    ]);
    assert.deepEqual(instance.inputs.tags, ["oskit-hello"]);
    assert.equal(instance.inputs.allowStoppingForUpdate, true);

    assert.equal(firewall.inputs.network, "default");
    assert.equal(firewall.inputs.direction, "INGRESS");
    assert.deepEqual(firewall.inputs.allows, [{ protocol: "tcp", ports: ["80"] }]);
    assert.deepEqual(firewall.inputs.sourceRanges, ["0.0.0.0/0"]);
    assert.deepEqual(firewall.inputs.targetTags, ["oskit-hello"]);
  });

  it("GIVEN a machine type with less memory than the image needs WHEN launched THEN it is refused with the numbers and no instance is registered", async () => {
    // The refusal rejects the outputs that carry it; Pulumi's own host reports those, here we do.
    const rejections: unknown[] = [];
    const listeners = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    process.on("unhandledRejection", (reason) => rejections.push(reason));
    try {
      const tiny = new Instance("tiny", {
        image: SELF_LINK,
        artifact: pulumi.output({ ...ARTIFACT, size: 300 * MiB }),
        machineType: "e2-micro",
      });
      const memory = (tiny.memory as unknown as { promise(): Promise<unknown> }).promise();
      await assert.rejects(memory, (error: Error) =>
        error.message.includes(
          'machineType: "e2-micro" has 1024 MiB of memory; this image runs from RAM and needs 1156 MiB (256 MiB + 3 × its 300.0 MiB gce artifact): choose a larger type',
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      process.removeAllListeners("unhandledRejection");
      for (const listener of listeners) process.on("unhandledRejection", listener);
    }
    assert.equal(one("oskit:gcp:Instance", "tiny").type, "oskit:gcp:Instance");
    assert.deepEqual(
      registrations.filter((r) => r.type === "gcp:compute/instance:Instance").map((r) => r.name),
      ["hello"],
      "nothing launched for tiny",
    );
    assert.ok(rejections.length > 0);
    for (const rejection of rejections) assert.match(String(rejection), /needs 1156 MiB/);
  });

  it("GIVEN published UDP and TCP ports, no external IP, keys and reserved metadata WHEN launched THEN the firewall groups them by protocol, the interface has no access config, and user-data in metadata is refused", async () => {
    const vm = new Instance("dns", {
      image: SELF_LINK,
      artifact: ARTIFACT,
      machineType: "e2-small",
      publish: ["53/udp", "53", "22/tcp"],
      allowFrom: ["10.0.0.0/8"],
      externalIp: false,
      sshKeys: ["alice:ssh-ed25519 AAAAFake alice@laptop", "bob:ssh-ed25519 AAAAFake2 bob"],
      network: "oskit-net",
      subnetwork: "oskit-subnet",
      serialPortEnable: false,
    });
    assert.equal(await valueOf(vm.internalIp), "10.132.0.7");
    const firewall = one("gcp:compute/firewall:Firewall", "dns");
    const instance = one("gcp:compute/instance:Instance", "dns");
    assert.deepEqual(firewall.inputs.allows, [
      { protocol: "tcp", ports: ["53", "22"] },
      { protocol: "udp", ports: ["53"] },
    ]);
    assert.deepEqual(firewall.inputs.sourceRanges, ["10.0.0.0/8"]);
    assert.equal(firewall.inputs.network, "oskit-net");
    assert.deepEqual(instance.inputs.networkInterfaces, [
      { network: "oskit-net", subnetwork: "oskit-subnet", accessConfigs: [] },
    ]);
    assert.deepEqual(instance.inputs.metadata, {
      "serial-port-enable": "FALSE",
      "ssh-keys": "alice:ssh-ed25519 AAAAFake alice@laptop\nbob:ssh-ed25519 AAAAFake2 bob",
    });
    assert.ok(!instance.additionalSecretOutputs.includes("metadata"), "nothing secret to keep");

    assert.throws(
      () =>
        new Instance("raw", {
          image: SELF_LINK,
          artifact: ARTIFACT,
          machineType: "e2-small",
          metadata: { "user-data": "in the clear", "startup-script": "true" },
        }),
      /metadata\[user-data\]: set by oskit.gcp.Instance: use userData \(secret in the state\) instead/,
    );
    assert.throws(
      () =>
        new Instance("badport", {
          image: SELF_LINK,
          artifact: ARTIFACT,
          machineType: "e2-small",
          publish: ["http"],
        }),
      /publish\[0\]: "http" is not a port/,
    );
  });
});
