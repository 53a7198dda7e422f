import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { generateKeyPairSync } from "node:crypto";
import { join } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { MockMonitor } from "@pulumi/pulumi/runtime/mocks";
import type { RegisterResourceRequest } from "@pulumi/pulumi/proto/resource_pb";
import type { Artifact } from "../../../../provider/build/image-build";
import {
  adminUsernameProblems,
  checkVmSize,
  computerNameProblems,
  defaultComputerName,
  sshPublicKeyProblems,
  VirtualMachine,
  vmSizeMemoryMiB,
} from "../../../../provider/azure/virtual-machine";
import { ValidationError } from "../../../../sdk/errors";
import { ROOT } from "../../../support/paths";

const MiB = 1 << 20;
const artifact = (size: number, format: Artifact["format"] = "vhd"): Artifact => ({
  format,
  path: "/nowhere/hello.vhd",
  sha256: `sha256:${"ab".repeat(32)}`,
  size,
  files: [],
});
const IMAGE_ID =
  "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/oskit/providers/Microsoft.Compute/images/hello-abababababab-1a2b3c";
const SECRET_SIG = "4dabf18193072939515e22adb298388d";
const SECRET = "1b47061264138c4ac30d75fd1eb44270";

/** An SSH wire-format string: uint32 length, bytes. */
const sshString = (bytes: Buffer) => {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
};
/** An SSH mpint from unsigned big-endian bytes (a zero byte first when the top bit is set). */
const mpint = (bytes: Buffer) =>
  sshString((bytes[0]! & 0x80) !== 0 ? Buffer.concat([Buffer.of(0), bytes]) : bytes);
/** An OpenSSH public key line for a fresh key of the type. */
function sshKey(type: "ed25519" | "rsa", bits = 2048): string {
  if (type === "ed25519") {
    const jwk = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" });
    const blob = Buffer.concat([
      sshString(Buffer.from("ssh-ed25519")),
      sshString(Buffer.from(jwk.x!, "base64url")),
    ]);
    return `ssh-ed25519 ${blob.toString("base64")} alice@laptop`;
  }
  const jwk = generateKeyPairSync("rsa", { modulusLength: bits }).publicKey.export({
    format: "jwk",
  });
  const blob = Buffer.concat([
    sshString(Buffer.from("ssh-rsa")),
    mpint(Buffer.from(jwk.e!, "base64url")),
    mpint(Buffer.from(jwk.n!, "base64url")),
  ]);
  return `ssh-rsa ${blob.toString("base64")} bob@desk`;
}
const ED25519 = sshKey("ed25519");
const RSA_2048 = sshKey("rsa", 2048);
const RSA_1024 = sshKey("rsa", 1024);

/** The output's value (mocks resolve every output). */
function valueOf<T>(output: pulumi.Output<T>): Promise<T> {
  return new Promise((resolve) => output.apply(resolve));
}

describe("oskit.azure.VirtualMachine: sizes and memory", () => {
  it("GIVEN common VM sizes WHEN looked up THEN the table gives their memory in MiB (Azure's size pages), case-insensitively", () => {
    const sizes = [
      "Standard_B1ls",
      "Standard_B1s",
      "Standard_B2ms",
      "Standard_B20ms",
      "Standard_B2ts_v2",
      "Standard_B2ls_v2",
      "Standard_B32s_v2",
      "Standard_B2ats_v2",
      "Standard_B16as_v2",
      "Standard_D2_v5",
      "Standard_D2s_v5",
      "Standard_D96as_v5",
      "Standard_E2s_v5",
      "Standard_E20s_v5",
      "Standard_E96s_v5",
      "Standard_E104is_v5",
      "Standard_F2s_v2",
      "Standard_F72s_v2",
      "Standard_A1_v2",
      "Standard_A8m_v2",
      "standard_d4s_v5",
      // not Azure sizes, or not in the table: it says nothing rather than guess
      "Standard_D2s_v6",
      "Standard_D12s_v5",
      "Standard_B3s",
      "Standard_A1m_v2",
      "B1s",
    ];
    assert.deepEqual(Object.fromEntries(sizes.map((s) => [s, vmSizeMemoryMiB(s)])), {
      Standard_B1ls: 512,
      Standard_B1s: 1024,
      Standard_B2ms: 8192,
      Standard_B20ms: 81920,
      Standard_B2ts_v2: 1024,
      Standard_B2ls_v2: 4096,
      Standard_B32s_v2: 131072,
      Standard_B2ats_v2: 1024,
      Standard_B16as_v2: 65536,
      Standard_D2_v5: 8192,
      Standard_D2s_v5: 8192,
      Standard_D96as_v5: 393216,
      Standard_E2s_v5: 16384,
      Standard_E20s_v5: 163840,
      Standard_E96s_v5: 688128,
      Standard_E104is_v5: 688128,
      Standard_F2s_v2: 4096,
      Standard_F72s_v2: 147456,
      Standard_A1_v2: 2048,
      Standard_A8m_v2: 65536,
      standard_d4s_v5: 16384,
      Standard_D2s_v6: undefined,
      Standard_D12s_v5: undefined,
      Standard_B3s: undefined,
      Standard_A1m_v2: undefined,
      B1s: undefined,
    });
  });

  it("GIVEN a size with less memory than the image needs WHEN checked THEN it is refused with both figures", () => {
    assert.throws(
      () => checkVmSize({ vmSize: "Standard_B1ls", artifact: artifact(120 * MiB) }),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.problems[0]?.path === "vmSize" &&
        error.message.includes(
          '"Standard_B1ls" has 512 MiB of memory; this image runs from RAM and needs 616 MiB (256 MiB + 3 × its 120.0 MiB vhd artifact): choose a larger type',
        ),
    );
    assert.deepEqual(checkVmSize({ vmSize: "Standard_B1s", artifact: artifact(120 * MiB) }), {
      needMiB: 616,
      haveMiB: 1024,
    });
    assert.deepEqual(
      checkVmSize({
        vmSize: "Standard_B1s",
        artifact: artifact(1024 * MiB),
        payloadBytes: 20 * MiB,
      }),
      { needMiB: 316, haveMiB: 1024 },
      "a fixed VHD counts what its sparse file holds, not its mostly-zero size",
    );
  });

  it("GIVEN a size the table does not know WHEN checked THEN memoryMiB is asked for, with the az command that tells it, and used when given", () => {
    assert.throws(
      () => checkVmSize({ vmSize: "Standard_D2s_v6", artifact: artifact(MiB) }),
      /vmSize: "Standard_D2s_v6" is not in oskit's table of VM sizes: give memoryMiB, its memory \(az vm list-sizes --location LOCATION --query "\[\?name=='Standard_D2s_v6'\]\.memoryInMB"\)/,
    );
    assert.deepEqual(
      checkVmSize({ vmSize: "Standard_D2s_v6", artifact: artifact(MiB), memoryMiB: 8192 }),
      { needMiB: 259, haveMiB: 8192 },
    );
  });

  it("GIVEN a Generation 1-only size (Av2) WHEN checked with a UEFI vhd THEN it is refused: the image is Generation 2", () => {
    assert.throws(
      () => checkVmSize({ vmSize: "Standard_A2_v2", artifact: artifact(MiB) }),
      /vmSize: "Standard_A2_v2" boots Generation 1 \(BIOS\) VMs only and this vhd image is Generation 2 \(UEFI\)/,
    );
    assert.throws(
      () => checkVmSize({ vmSize: "standard_a8m_v2", artifact: artifact(MiB), memoryMiB: 65536 }),
      /boots Generation 1 \(BIOS\) VMs only/,
      "whatever its memory",
    );
  });

  it("GIVEN no artifact WHEN checked THEN it says which input is missing", () => {
    assert.throws(
      () => checkVmSize({ vmSize: "Standard_B1s", artifact: undefined }),
      /artifact: no artifact: give the ImageBuild artifact the image was made from/,
    );
  });
});

describe("oskit.azure.VirtualMachine: what Azure requires of the OS profile", () => {
  it("GIVEN admin user names WHEN checked THEN Azure's reserved names, characters and lengths are refused", () => {
    for (const ok of ["oskit", "alice", "a1", "web_admin", "x".repeat(64), "deploy.bot"])
      assert.deepEqual(adminUsernameProblems(ok), [], ok);
    const refused = {
      root: /"root" is a name Azure reserves/,
      Admin: /"Admin" contains a character Azure refuses/,
      administrator: /reserves/,
      guest: /reserves/,
      "": /is not 1–64 characters long/,
      ["y".repeat(65)]: /is not 1–64 characters long/,
      "-oskit": /starts with \$ or -/,
      $oskit: /starts with \$ or -/,
      "bad name": /contains a character/,
      "a@b": /contains a character/,
    };
    for (const [name, pattern] of Object.entries(refused)) {
      const problems = adminUsernameProblems(name);
      assert.equal(problems.length, 1, name);
      assert.equal(problems[0]!.path, "adminUsername");
      assert.match(problems[0]!.message, pattern);
    }
  });

  it("GIVEN computer names WHEN checked THEN only Linux host names of 1–64 are taken; the default is the resource's name made one", () => {
    for (const ok of ["hello", "web-1", "a", "web.example", "x".repeat(64), "9lives"])
      assert.deepEqual(computerNameProblems(ok), [], ok);
    for (const bad of ["", "-web", "web-", "web.", "web_1", "x".repeat(65), "héllo"])
      assert.match(
        computerNameProblems(bad)[0]?.message ?? "",
        /is not a Linux computer name/,
        bad,
      );
    assert.equal(defaultComputerName("Web_Server.1"), "web-server-1");
    assert.equal(defaultComputerName("__"), "oskit");
    assert.equal(defaultComputerName("a".repeat(70)), "a".repeat(63));
  });

  it("GIVEN SSH public keys WHEN checked THEN ssh-ed25519 and ssh-rsa of 2048 bits or more pass; short RSA, ECDSA and garbage are refused", () => {
    assert.deepEqual(sshPublicKeyProblems(ED25519, 0), []);
    assert.deepEqual(sshPublicKeyProblems(RSA_2048, 0), []);
    assert.deepEqual(
      sshPublicKeyProblems(`  ${ED25519.split(" ").slice(0, 2).join(" ")}\n`, 0),
      [],
    );
    assert.match(
      sshPublicKeyProblems(RSA_1024, 2)[0]?.message ?? "",
      /is a 1024-bit RSA key: Azure requires at least 2048 bits/,
    );
    assert.equal(sshPublicKeyProblems(RSA_1024, 2)[0]?.path, "sshPublicKeys[2]");
    assert.match(
      sshPublicKeyProblems("ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTY= x", 0)[0]
        ?.message ?? "",
      /is not an ssh-rsa or ssh-ed25519 public key, the key types Azure accepts/,
    );
    assert.match(
      sshPublicKeyProblems("ssh-ed25519 not-base64!", 0)[0]?.message ?? "",
      /has no base64 key after "ssh-ed25519"/,
    );
    assert.match(
      sshPublicKeyProblems(`ssh-ed25519 ${RSA_2048.split(" ")[1]!}`, 0)[0]?.message ?? "",
      /is not a valid ssh-ed25519 key: its data does not name ssh-ed25519/,
    );
  });
});

/** What the program asked the engine for, as the mock monitor received it. */
interface Registration {
  readonly urn: string;
  readonly type: string;
  readonly name: string;
  readonly parent: string;
  readonly inputs: Record<string, unknown>;
  readonly additionalSecretOutputs: readonly string[];
  readonly replaceOnChanges: readonly string[];
  readonly deleteBeforeReplace: boolean;
}

describe("oskit.azure.VirtualMachine under pulumi.runtime.setMocks", function () {
  this.timeout(60000);
  const registrations: Registration[] = [];
  let register: typeof MockMonitor.prototype.registerResource;
  const all = (type: string, name: string) =>
    registrations.filter((r) => r.type === type && r.name === name);
  const one = (type: string, name: string) => {
    const found = all(type, name);
    assert.equal(found.length, 1, `${type} ${name}: ${registrations.map((r) => r.urn).join("\n")}`);
    return found[0]!;
  };
  const base = {
    image: IMAGE_ID,
    artifact: artifact(30 * MiB),
    vmSize: "Standard_B1s",
    resourceGroupName: "oskit-rg",
    sshPublicKeys: [ED25519],
  };

  before(async () => {
    // eslint-disable-next-line @typescript-eslint/unbound-method -- called with the monitor as `this`, restored after
    register = MockMonitor.prototype.registerResource;
    MockMonitor.prototype.registerResource = function (
      this: MockMonitor,
      req: RegisterResourceRequest,
      callback: (err: unknown, response: { getUrn(): string } | undefined) => void,
    ) {
      return register.call(this, req, (err: unknown, response: { getUrn(): string }) => {
        if (response !== undefined)
          registrations.push({
            urn: response.getUrn(),
            type: req.getType(),
            name: req.getName(),
            parent: req.getParent(),
            inputs: req.getObject()?.toJavaScript() ?? {},
            additionalSecretOutputs: req.getAdditionalsecretoutputsList(),
            replaceOnChanges: req.getReplaceonchangesList(),
            deleteBeforeReplace: req.getDeletebeforereplace(),
          });
        callback(err, response);
      });
    } as typeof MockMonitor.prototype.registerResource;
    await pulumi.runtime.setMocks(
      {
        newResource(args) {
          const inputs = args.inputs as Record<string, unknown>;
          const id = (kind: string) =>
            `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/oskit-rg/providers/${kind}/${args.name}`;
          switch (args.type) {
            case "azure-native:network:VirtualNetwork":
              return {
                id: id("Microsoft.Network/virtualNetworks"),
                state: { ...inputs, name: `${args.name}1a2b` },
              };
            case "azure-native:network:Subnet":
              return { id: id("Microsoft.Network/virtualNetworks/vnet/subnets"), state: inputs };
            case "azure-native:network:PublicIPAddress":
              return {
                id: id("Microsoft.Network/publicIPAddresses"),
                state: { ...inputs, ipAddress: "203.0.113.7" },
              };
            case "azure-native:network:NetworkSecurityGroup":
              return { id: id("Microsoft.Network/networkSecurityGroups"), state: inputs };
            case "azure-native:network:NetworkInterface":
              return {
                id: id("Microsoft.Network/networkInterfaces"),
                state: {
                  ...inputs,
                  ipConfigurations: [{ name: "primary", privateIPAddress: "10.0.0.4" }],
                },
              };
            case "azure-native:compute:VirtualMachine":
              return {
                id: id("Microsoft.Compute/virtualMachines"),
                state: { ...inputs, name: `${args.name}9f8e7d6c` },
              };
            default:
              return { id: `${args.name}-id`, state: inputs };
          }
        },
        call: () => ({}),
      },
      "oskit-azure",
      "dev",
      false,
    );
  });
  after(() => {
    MockMonitor.prototype.registerResource = register;
  });

  it("GIVEN an image, a size, published ports and custom data WHEN launched THEN it makes a network, a static Standard address, a security group per port and a VM booting the image with secret base64 custom data, SSH keys and boot diagnostics", async () => {
    const vm = new VirtualMachine("hello", {
      ...base,
      location: "westeurope",
      publish: ["80", "53/udp", "80/tcp"],
      allowFrom: ["198.51.100.0/24"],
      customData: "a secret nonce",
      sshPublicKeys: [ED25519, RSA_2048],
      tags: { team: "os" },
    });
    assert.equal(await valueOf(vm.publicIpAddress), "203.0.113.7");
    assert.equal(await valueOf(vm.privateIpAddress), "10.0.0.4");
    assert.equal(await valueOf(vm.vmName), "hello9f8e7d6c");
    assert.deepEqual(await valueOf(vm.memory), { needMiB: 346, haveMiB: 1024 });

    const component = one("oskit:azure:VirtualMachine", "hello");
    const vnet = one("azure-native:network:VirtualNetwork", "hello");
    const subnet = one("azure-native:network:Subnet", "hello");
    const ip = one("azure-native:network:PublicIPAddress", "hello");
    const nsg = one("azure-native:network:NetworkSecurityGroup", "hello");
    const nic = one("azure-native:network:NetworkInterface", "hello");
    const machine = one("azure-native:compute:VirtualMachine", "hello");
    for (const child of [vnet, subnet, ip, nsg, nic, machine])
      assert.equal(child.parent, component.urn, child.type);
    const arm = (kind: string) =>
      `/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/oskit-rg/providers/${kind}/hello`;

    assert.equal(vnet.inputs.resourceGroupName, "oskit-rg");
    assert.equal(vnet.inputs.location, "westeurope");
    assert.deepEqual(vnet.inputs.tags, { team: "os" });
    assert.deepEqual(vnet.inputs.addressSpace, { addressPrefixes: ["10.0.0.0/24"] });
    assert.equal(subnet.inputs.resourceGroupName, "oskit-rg");
    assert.equal(
      subnet.inputs.virtualNetworkName,
      "hello1a2b",
      "the network's name as Azure has it",
    );
    assert.equal(subnet.inputs.addressPrefix, "10.0.0.0/24");
    assert.deepEqual(ip.inputs.sku, { name: "Standard", tier: "Regional" });
    assert.equal(ip.inputs.publicIPAllocationMethod, "Static");
    assert.equal(ip.inputs.publicIPAddressVersion, "IPv4");
    assert.equal(ip.inputs.location, "westeurope");

    const rule = (protocol: string, port: number, priority: number) => ({
      name: `oskit-${protocol.toLowerCase()}-${port}`,
      description: `oskit hello: published port ${port}/${protocol.toLowerCase()}`,
      direction: "Inbound",
      access: "Allow",
      priority,
      protocol,
      sourceAddressPrefixes: ["198.51.100.0/24"],
      sourcePortRange: "*",
      destinationAddressPrefix: "*",
      destinationPortRange: `${port}`,
    });
    assert.deepEqual(
      nsg.inputs.securityRules,
      [rule("Tcp", 80, 1000), rule("Udp", 53, 1010)],
      "one rule per port and protocol, the repeated 80/tcp once",
    );

    assert.deepEqual(nic.inputs.ipConfigurations, [
      {
        name: "primary",
        primary: true,
        privateIPAllocationMethod: "Dynamic",
        subnet: { id: arm("Microsoft.Network/virtualNetworks/vnet/subnets") },
        publicIPAddress: { id: arm("Microsoft.Network/publicIPAddresses") },
      },
    ]);
    assert.deepEqual(nic.inputs.networkSecurityGroup, {
      id: arm("Microsoft.Network/networkSecurityGroups"),
    });
    assert.equal(nic.inputs.enableAcceleratedNetworking, false);

    assert.deepEqual(machine.inputs.hardwareProfile, { vmSize: "Standard_B1s" });
    assert.deepEqual(machine.inputs.storageProfile, {
      imageReference: { id: IMAGE_ID },
      osDisk: {
        createOption: "FromImage",
        deleteOption: "Delete",
        caching: "ReadWrite",
        managedDisk: { storageAccountType: "StandardSSD_LRS" },
      },
    });
    const osProfile = machine.inputs.osProfile as Record<string, unknown>;
    assert.deepEqual(osProfile.customData, {
      [SECRET_SIG]: SECRET,
      value: Buffer.from("a secret nonce").toString("base64"),
    });
    assert.deepEqual(
      { ...osProfile, customData: "(checked above)" },
      {
        computerName: "hello",
        adminUsername: "oskit",
        customData: "(checked above)",
        allowExtensionOperations: false,
        linuxConfiguration: {
          disablePasswordAuthentication: true,
          provisionVMAgent: false,
          ssh: {
            publicKeys: [
              { path: "/home/oskit/.ssh/authorized_keys", keyData: ED25519 },
              { path: "/home/oskit/.ssh/authorized_keys", keyData: RSA_2048 },
            ],
          },
        },
      },
    );
    assert.ok(machine.additionalSecretOutputs.includes("osProfile"), "osProfile's outputs too");
    assert.deepEqual(
      machine.replaceOnChanges,
      ["osProfile", "storageProfile.imageReference"],
      "Azure changes neither in place",
    );
    assert.equal(machine.deleteBeforeReplace, true, "the NIC is the old VM's until it is gone");
    assert.deepEqual(machine.inputs.networkProfile, {
      networkInterfaces: [{ id: arm("Microsoft.Network/networkInterfaces"), primary: true }],
    });
    assert.deepEqual(machine.inputs.diagnosticsProfile, { bootDiagnostics: { enabled: true } });
    assert.equal(machine.inputs.location, "westeurope");
    assert.deepEqual(machine.inputs.tags, { team: "os" });
    assert.equal(machine.inputs.resourceGroupName, "oskit-rg");
  });

  it("GIVEN a subnet, no public IP and nothing published WHEN launched THEN no network, address or security group is made, and the location is left to the provider", async () => {
    const vm = new VirtualMachine("inside", {
      ...base,
      subnetId:
        "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/apps",
      publicIp: false,
      adminUsername: "deploy",
      computerName: "inside.example",
      osDiskType: "Premium_LRS",
      osDiskSizeGb: 4,
      acceleratedNetworking: true,
    });
    assert.equal(await valueOf(vm.publicIpAddress), "");
    assert.equal(await valueOf(vm.privateIpAddress), "10.0.0.4");
    assert.equal(await valueOf(vm.vmName), "inside9f8e7d6c");
    assert.equal(vm.publicIp, undefined);
    assert.equal(vm.networkSecurityGroup, undefined);
    assert.equal(vm.virtualNetwork, undefined);
    for (const type of [
      "azure-native:network:VirtualNetwork",
      "azure-native:network:Subnet",
      "azure-native:network:PublicIPAddress",
      "azure-native:network:NetworkSecurityGroup",
    ])
      assert.deepEqual(all(type, "inside"), [], type);
    const nic = one("azure-native:network:NetworkInterface", "inside");
    assert.deepEqual(nic.inputs.ipConfigurations, [
      {
        name: "primary",
        primary: true,
        privateIPAllocationMethod: "Dynamic",
        subnet: {
          id: "/subscriptions/s/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/v/subnets/apps",
        },
      },
    ]);
    assert.equal(nic.inputs.networkSecurityGroup, undefined);
    assert.equal(nic.inputs.enableAcceleratedNetworking, true);
    const machine = one("azure-native:compute:VirtualMachine", "inside");
    assert.equal(machine.inputs.location, undefined);
    const osProfile = machine.inputs.osProfile as Record<string, unknown>;
    assert.equal(osProfile.customData, undefined);
    assert.equal(osProfile.computerName, "inside.example");
    assert.equal(osProfile.adminUsername, "deploy");
    assert.deepEqual((machine.inputs.storageProfile as { osDisk: unknown }).osDisk, {
      createOption: "FromImage",
      deleteOption: "Delete",
      caching: "ReadWrite",
      managedDisk: { storageAccountType: "Premium_LRS" },
      diskSizeGB: 4,
    });
    assert.ok(!machine.additionalSecretOutputs.includes("osProfile"), "nothing secret to keep");
  });

  it("GIVEN a size with less memory than the image needs, or one the table does not know, WHEN launched THEN it is refused with the numbers and no VM is registered", async () => {
    // The refusal rejects the outputs that carry it; Pulumi's own host reports those, here we do.
    const rejections: unknown[] = [];
    const listeners = process.listeners("unhandledRejection");
    process.removeAllListeners("unhandledRejection");
    process.on("unhandledRejection", (reason) => rejections.push(reason));
    try {
      const tiny = new VirtualMachine("tiny", {
        ...base,
        artifact: pulumi.output(artifact(300 * MiB)),
        vmSize: "Standard_B1ls",
      });
      await assert.rejects(
        (tiny.memory as unknown as { promise(): Promise<unknown> }).promise(),
        (error: Error) =>
          error.message.includes(
            'vmSize: "Standard_B1ls" has 512 MiB of memory; this image runs from RAM and needs 1156 MiB (256 MiB + 3 × its 300.0 MiB vhd artifact): choose a larger type',
          ),
      );
      const unknown = new VirtualMachine("unknown", { ...base, vmSize: "Standard_X9_v9" });
      await assert.rejects(
        (unknown.memory as unknown as { promise(): Promise<unknown> }).promise(),
        /"Standard_X9_v9" is not in oskit's table of VM sizes: give memoryMiB/,
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
    } finally {
      process.removeAllListeners("unhandledRejection");
      for (const listener of listeners) process.on("unhandledRejection", listener);
    }
    assert.deepEqual(all("azure-native:compute:VirtualMachine", "tiny"), [], "nothing launched");
    assert.deepEqual(all("azure-native:compute:VirtualMachine", "unknown"), []);
    assert.ok(rejections.length > 0);
  });

  it("GIVEN bad inputs WHEN constructed THEN each is refused at once, naming the input", () => {
    assert.throws(
      () =>
        new VirtualMachine("bad", {
          ...base,
          adminUsername: "root",
          computerName: "bad_name",
          sshPublicKeys: [RSA_1024, "ssh-dss AAAAB3NzaC1kc3M= old"],
        }),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.problems.map((p) => p.path).join() ===
          "adminUsername,computerName,sshPublicKeys[0],sshPublicKeys[1]",
    );
    assert.throws(
      () => new VirtualMachine("nokeys", { ...base, sshPublicKeys: [] }),
      /sshPublicKeys: no key: Azure requires at least one SSH public key/,
    );
    assert.throws(
      () => new VirtualMachine("badport", { ...base, publish: ["http"] }),
      /publish\[0\]: "http" is not a port/,
    );
  });
});

describe("oskit.azure.VirtualMachine: loading", () => {
  it("GIVEN no @pulumi/azure-native installed WHEN oskit is imported THEN it loads, oskit.azure.VirtualMachine included", () => {
    const script = [
      'const Module = require("node:module");',
      "const resolve = Module._resolveFilename;",
      "Module._resolveFilename = function (request, ...rest) {",
      '  if (request === "@pulumi/azure-native" || request.startsWith("@pulumi/azure-native/")) throw new Error("no @pulumi/azure-native here");',
      "  return resolve.call(this, request, ...rest);",
      "};",
      `const oskit = require(${JSON.stringify(join(ROOT, "dist", "sdk", "index.js"))});`,
      "console.log(typeof oskit.azure.VirtualMachine,",
      '  Object.keys(require.cache).some((p) => p.includes("@pulumi/azure-native")));',
    ].join("\n");
    const result = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), "function false");
  });
});
