import { strict as assert } from "node:assert";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import type { RegisterResourceRequest } from "@pulumi/pulumi/proto/resource_pb";
import { createJiti } from "jiti";
import type { Artifact } from "../../../provider/build/image-build";
import { ROOT } from "../../support/paths";

/** What the program asked the engine for, as the mock monitor received it. */
interface Registration {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  readonly inputs: Record<string, unknown>;
  readonly propertyDependencies: Readonly<Record<string, readonly string[]>>;
}

const MiB = 1 << 20;
const IMAGE_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/oskit/providers/Microsoft.Compute/images/hello-abababababab-1a2b3c";
const ARTIFACT: Artifact = {
  format: "vhd",
  path: "/stack/.oskit/build/0123456789abcdef/hello.vhd",
  sha256: `sha256:${"ab".repeat(32)}`,
  size: 64 * MiB,
  files: [
    {
      name: "hello.vhd",
      path: "/stack/.oskit/build/0123456789abcdef/hello.vhd",
      sha256: `sha256:${"ab".repeat(32)}`,
      size: 64 * MiB,
    },
  ],
};
const SSH_KEY =
  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb5Dqv0l2dUqCk0b3J6a7c1sEwFhZk8mTn3yJt0sQ1a alice@laptop";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";

/** The output's value (mocks resolve every output). */
function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("examples/azure under pulumi.runtime.setMocks", function () {
  this.timeout(60000);
  const registrations: Registration[] = [];
  let program: {
    url: pulumi.Output<string>;
    imageId: pulumi.Output<string>;
    vmName: pulumi.Output<string>;
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
            propertyDependencies,
          });
        callback(err, response);
      });
    } as typeof MockMonitor.prototype.registerResource;
    pulumi.runtime.setAllConfig(
      {
        "azure-native:location": "westeurope",
        "oskit-azure:resourceGroupName": "oskit",
        "oskit-azure:storageAccount": "oskitimages",
        "oskit-azure:sshPublicKey": SSH_KEY,
        "oskit-azure:message": "a secret nonce",
      },
      ["oskit-azure:message"],
    );
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          const inputs = args.inputs as Record<string, unknown>;
          const id = (kind: string) =>
            `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/oskit/providers/${kind}/${args.name}`;
          switch (args.type) {
            case "pulumi-nodejs:dynamic/oskit:ImageBuild":
              return {
                id: "/stack/.oskit/build/0123456789abcdef",
                state: { ...inputs, artifacts: { vhd: ARTIFACT } },
              };
            case "pulumi-nodejs:dynamic/oskit/azure:Image":
              return { id: IMAGE_ID, state: { ...inputs, imageId: IMAGE_ID } };
            case "azure-native:network:PublicIPAddress":
              return {
                id: id("Microsoft.Network/publicIPAddresses"),
                state: { ...inputs, ipAddress: "203.0.113.7" },
              };
            case "azure-native:network:NetworkInterface":
              return {
                id: id("Microsoft.Network/networkInterfaces"),
                state: { ...inputs, ipConfigurations: [{ privateIPAddress: "10.0.0.4" }] },
              };
            case "azure-native:compute:VirtualMachine":
              return {
                id: id("Microsoft.Compute/virtualMachines"),
                state: { ...inputs, name: `${args.name}9f8e7d6c` },
              };
            default:
              return {
                id: id(args.type.replace(/:/g, "/")),
                state: { ...inputs, name: args.name },
              };
          }
        },
        call: () => ({}),
      },
      "oskit-azure",
      "dev",
      false,
    );
    const jiti = createJiti(__filename, {
      interopDefault: true,
      alias: { oskit: join(ROOT, "dist", "sdk", "index.js") },
    });
    program = await jiti.import(join(ROOT, "examples", "azure", "index.ts"));
  });
  after(() => {
    MockMonitor.prototype.registerResource = register;
  });

  it("GIVEN the program WHEN run THEN it builds hello as vhd, registers it as an image and boots that image with the message as secret custom data, port 80 open", async () => {
    assert.equal(await valueOf(program.url), "http://203.0.113.7/cgi-bin/hello");
    assert.equal(await valueOf(program.imageId), IMAGE_ID);
    assert.equal(await valueOf(program.vmName), "hello9f8e7d6c");

    const build = one("pulumi-nodejs:dynamic/oskit:ImageBuild", "hello");
    const image = one("pulumi-nodejs:dynamic/oskit/azure:Image", "hello");
    const component = one("oskit:azure:VirtualMachine", "hello");
    const nsg = one("azure-native:network:NetworkSecurityGroup", "hello");
    const vm = one("azure-native:compute:VirtualMachine", "hello");
    for (const type of [
      "azure-native:network:VirtualNetwork",
      "azure-native:network:Subnet",
      "azure-native:network:PublicIPAddress",
      "azure-native:network:NetworkInterface",
    ])
      assert.equal(one(type, "hello").parent, component.urn, type);
    assert.equal(registrations.length, 9, registrations.map((r) => r.urn).join("\n"));

    assert.deepEqual(build.inputs.formats, ["vhd"]);
    assert.deepEqual(image.inputs.artifact, ARTIFACT, "the ImageBuild's vhd artifact");
    assert.equal(image.inputs.resourceGroupName, "oskit");
    assert.equal(image.inputs.location, "westeurope");
    assert.equal(image.inputs.storageAccount, "oskitimages");
    assert.equal(image.inputs.container, "vhds");
    assert.deepEqual(image.propertyDependencies.artifact, [build.urn]);

    assert.equal(nsg.parent, component.urn);
    assert.deepEqual(
      (nsg.inputs.securityRules as { destinationPortRange: string; protocol: string }[]).map(
        (r) => `${r.destinationPortRange}/${r.protocol}`,
      ),
      ["80/Tcp"],
    );
    assert.equal(vm.parent, component.urn);
    assert.deepEqual(vm.inputs.hardwareProfile, { vmSize: "Standard_B1s" });
    assert.ok(
      vm.propertyDependencies.hardwareProfile?.includes(build.urn),
      "the size waits for the artifact's memory check",
    );
    assert.deepEqual((vm.inputs.storageProfile as { imageReference: unknown }).imageReference, {
      id: IMAGE_ID,
    });
    assert.deepEqual(vm.propertyDependencies.storageProfile, [image.urn]);
    const osProfile = vm.inputs.osProfile as {
      customData: unknown;
      linuxConfiguration: { ssh: { publicKeys: unknown } };
    };
    assert.deepEqual(osProfile.customData, {
      [SECRET_SIG]: SECRET,
      value: Buffer.from("a secret nonce").toString("base64"),
    });
    assert.deepEqual(osProfile.linuxConfiguration.ssh.publicKeys, [
      { path: "/home/oskit/.ssh/authorized_keys", keyData: SSH_KEY },
    ]);
    assert.equal(vm.inputs.location, "westeurope");
    assert.equal(vm.inputs.resourceGroupName, "oskit");
  });
});
