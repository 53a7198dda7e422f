/**
 * `oskit.azure.VirtualMachine`: an oskit system running on Azure, over `@pulumi/azure-native`'s
 * `compute.VirtualMachine` and the network resources it needs.
 */
import * as pulumi from "@pulumi/pulumi";
import type * as compute from "@pulumi/azure-native/compute";
import type * as network from "@pulumi/azure-native/network";
import { ValidationError, type Problem } from "../../sdk/errors";
import type { Artifact } from "../build/image-build";
import { checkMemory } from "../memory";
import { diskBootOf, hyperVGenerationFor, type HyperVGeneration } from "./register";

/**
 * Memory of common sizes in GiB, from the size series pages of Azure's documentation
 * (learn.microsoft.com/azure/virtual-machines/sizes/…: bv1, bsv2, basv2, dv5, dsv5, dasv5, esv5,
 * fsv2, av2). Keys are lowercase: Azure's size names are case-insensitive.
 */
const SIZE_GIB: ReadonlyMap<string, number> = (() => {
  const sizes = new Map<string, number>();
  const add = (name: string, gib: number) => sizes.set(`standard_${name}`.toLowerCase(), gib);
  // Bv1: one by one.
  for (const [name, gib] of [
    ["B1ls", 0.5],
    ["B1s", 1],
    ["B1ms", 2],
    ["B2s", 4],
    ["B2ms", 8],
    ["B4ms", 16],
    ["B8ms", 32],
    ["B12ms", 48],
    ["B16ms", 64],
    ["B20ms", 80],
  ] as const)
    add(name, gib);
  // Bsv2 (Intel) and Basv2 (AMD): ts 0.5 GiB per vCPU, ls 2, s 4.
  for (const amd of ["", "a"]) {
    add(`B2${amd}ts_v2`, 1);
    for (const vcpus of [2, 4, 8, 16, 32]) {
      add(`B${vcpus}${amd}ls_v2`, 2 * vcpus);
      add(`B${vcpus}${amd}s_v2`, 4 * vcpus);
    }
  }
  // Dv5, Dsv5, Dasv5: 4 GiB per vCPU.
  for (const vcpus of [2, 4, 8, 16, 32, 48, 64, 96])
    for (const suffix of ["", "s", "as"]) add(`D${vcpus}${suffix}_v5`, 4 * vcpus);
  // Esv5: 8 GiB per vCPU up to 64, then 672 GiB.
  for (const vcpus of [2, 4, 8, 16, 20, 32, 48, 64]) add(`E${vcpus}s_v5`, 8 * vcpus);
  add("E96s_v5", 672);
  add("E104is_v5", 672);
  // Fsv2: 2 GiB per vCPU.
  for (const vcpus of [2, 4, 8, 16, 32, 48, 64, 72]) add(`F${vcpus}s_v2`, 2 * vcpus);
  // Av2: 2 GiB per vCPU, m 8.
  for (const vcpus of [1, 2, 4, 8]) add(`A${vcpus}_v2`, 2 * vcpus);
  for (const vcpus of [2, 4, 8]) add(`A${vcpus}m_v2`, 8 * vcpus);
  return sizes;
})();

/** Sizes that boot only Generation 1 (BIOS) VMs (Azure's "Support for generation 2 VMs" page). */
const GENERATION_1_ONLY = /^standard_a\d+m?_v2$/i;

/** The memory of a VM size from the built-in table, in MiB; undefined for sizes it does not know. */
export function vmSizeMemoryMiB(vmSize: string): number | undefined {
  const gib = SIZE_GIB.get(vmSize.toLowerCase());
  return gib === undefined ? undefined : gib * 1024;
}

/** The Hyper-V generation an artifact's image is registered with (V2 for UEFI disks). */
export function artifactGeneration(artifact: Artifact): HyperVGeneration | undefined {
  const boot = diskBootOf(artifact.format);
  return boot === undefined ? undefined : hyperVGenerationFor(boot);
}

/**
 * Refuses a size with less memory than the image needs, or one that cannot boot the image's
 * generation (Av2 sizes boot Generation 1 only; oskit's `vhd` is a UEFI disk, Generation 2);
 * returns both memory figures.
 */
export function checkVmSize(input: {
  readonly vmSize: string;
  readonly artifact: Artifact | undefined;
  readonly memoryMiB?: number | undefined;
  readonly payloadBytes?: number;
}): { readonly needMiB: number; readonly haveMiB: number } {
  const { vmSize, artifact } = input;
  if (
    artifact !== undefined &&
    GENERATION_1_ONLY.test(vmSize) &&
    artifactGeneration(artifact) === "V2"
  )
    throw new ValidationError([
      {
        path: "vmSize",
        message: `"${vmSize}" boots Generation 1 (BIOS) VMs only and this ${artifact.format} image is Generation 2 (UEFI): choose a size that supports Generation 2 (B, Bsv2, Dv5, Dsv5, Dasv5, Esv5, Fsv2, …)`,
      },
    ]);
  return checkMemory({
    type: vmSize,
    artifact,
    haveMiB: input.memoryMiB ?? vmSizeMemoryMiB(vmSize),
    payloadBytes: input.payloadBytes,
    wording: {
      field: "vmSize",
      kinds: "VM sizes",
      artifact: "the ImageBuild artifact the image was made from",
      lookup: (size) =>
        `az vm list-sizes --location LOCATION --query "[?name=='${size}'].memoryInMB"`,
    },
  });
}

/** A published port: `PORT`, `PORT/tcp` or `PORT/udp`. */
function parsePort(spec: string, index: number): { port: number; protocol: "tcp" | "udp" } {
  const match = /^(\d{1,5})(?:\/(tcp|udp))?$/.exec(spec);
  const port = Number(match?.[1]);
  if (match === null || port < 1 || port > 65535)
    throw new ValidationError([
      {
        path: `publish[${index}]`,
        message: `"${spec}" is not a port: expected PORT, PORT/tcp or PORT/udp (1–65535)`,
      },
    ]);
  return { port, protocol: match[2] === "udp" ? "udp" : "tcp" };
}

/**
 * Names Azure refuses for the admin user (the API reference of `osProfile.adminUsername`; the Azure
 * CLI refuses the same list).
 */
const RESERVED_USERNAMES: ReadonlySet<string> = new Set([
  "administrator",
  "admin",
  "user",
  "user1",
  "test",
  "user2",
  "test1",
  "user3",
  "admin1",
  "1",
  "123",
  "a",
  "actuser",
  "adm",
  "admin2",
  "aspnet",
  "backup",
  "console",
  "david",
  "guest",
  "john",
  "owner",
  "root",
  "server",
  "sql",
  "support",
  "support_388945a0",
  "sys",
  "test2",
  "test3",
  "user4",
  "user5",
]);

/**
 * Azure's rules for a Linux admin user name: 1–64 characters; no upper case, whitespace or
 * `\/"[]:|<>+=;,?*@#()!`; not starting with `$` or `-`; not a reserved name.
 */
export function adminUsernameProblems(username: string): Problem[] {
  const problem = (message: string): Problem[] => [
    { path: "adminUsername", message: `"${username}" ${message}` },
  ];
  if (username.length < 1 || username.length > 64)
    return problem("is not 1–64 characters long, as Azure requires for Linux");
  if (/[A-Z\s\\/"[\]:|<>+=;,?*@#()!]/.test(username))
    return problem(
      'contains a character Azure refuses for Linux: upper case, whitespace or \\/"[]:|<>+=;,?*@#()!',
    );
  if (/^[$-]/.test(username)) return problem("starts with $ or -, which Azure refuses for Linux");
  if (RESERVED_USERNAMES.has(username.toLowerCase()))
    return problem("is a name Azure reserves (root, admin, administrator, user, test, …)");
  return [];
}

/**
 * Azure's rules for a Linux computer name (the host name): 1–64 letters, digits, `.` and `-`,
 * starting with a letter or digit and not ending with `.` or `-`.
 */
export function computerNameProblems(computerName: string): Problem[] {
  if (/^[A-Za-z0-9](?:[-A-Za-z0-9.]{0,62}[A-Za-z0-9])?$/.test(computerName)) return [];
  return [
    {
      path: "computerName",
      message: `"${computerName}" is not a Linux computer name: 1–64 letters, digits, "." and "-", starting with a letter or digit and not ending with "." or "-"`,
    },
  ];
}

/** The default computer name: the resource's name made a host name (a DNS label of at most 63). */
export function defaultComputerName(name: string): string {
  const label = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .slice(0, 63)
    .replace(/^-+|-+$/g, "");
  return label === "" ? "oskit" : label;
}

/** Reads an SSH wire-format string (uint32 length, bytes) at `offset`. */
function readSshString(blob: Buffer, offset: number): { value: Buffer; next: number } | undefined {
  if (offset + 4 > blob.length) return undefined;
  const length = blob.readUInt32BE(offset);
  const end = offset + 4 + length;
  if (end > blob.length) return undefined;
  return { value: blob.subarray(offset + 4, end), next: end };
}

/** The bits of an SSH mpint (a big-endian integer, a leading zero byte when the top bit is set). */
function mpintBits(value: Buffer): number {
  let start = 0;
  while (start < value.length && value[start] === 0) start += 1;
  if (start === value.length) return 0;
  return (value.length - start) * 8 - Math.clz32(value[start]!) + 24;
}

/**
 * Azure's rules for an SSH public key (OpenSSH's one-line form, `TYPE BASE64 [COMMENT]`): RSA of
 * at least 2048 bits or Ed25519; ECDSA and the others are refused by Azure.
 */
export function sshPublicKeyProblems(key: string, index: number): Problem[] {
  const path = `sshPublicKeys[${index}]`;
  const shown = key.length > 40 ? `${key.slice(0, 37)}…` : key;
  const problem = (message: string): Problem[] => [{ path, message: `"${shown}" ${message}` }];
  const [type = "", data = ""] = key.trim().split(/\s+/);
  if (type !== "ssh-rsa" && type !== "ssh-ed25519")
    return problem(
      "is not an ssh-rsa or ssh-ed25519 public key, the key types Azure accepts (ECDSA and others are refused)",
    );
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data))
    return problem(
      `has no base64 key after "${type}": expected OpenSSH's form, TYPE BASE64 [COMMENT]`,
    );
  const blob = Buffer.from(data, "base64");
  const name = readSshString(blob, 0);
  if (name === undefined || name.value.toString("latin1") !== type)
    return problem(`is not a valid ${type} key: its data does not name ${type}`);
  if (type === "ssh-ed25519") {
    const point = readSshString(blob, name.next);
    return point?.value.length === 32 ? [] : problem("is not a valid ssh-ed25519 key");
  }
  const exponent = readSshString(blob, name.next);
  const modulus = exponent === undefined ? undefined : readSshString(blob, exponent.next);
  if (modulus === undefined) return problem("is not a valid ssh-rsa key");
  const bits = mpintBits(modulus.value);
  return bits >= 2048
    ? []
    : problem(`is a ${bits}-bit RSA key: Azure requires at least 2048 bits (or use ssh-ed25519)`);
}

/** Azure's limit on custom data: the decoded bytes, at most 65535. */
const CUSTOM_DATA_MAX_BYTES = 65535;

export interface VirtualMachineArgs {
  /**
   * The image to boot: an `oskit.azure.Image`'s `imageId`, a managed image's id
   * (`/subscriptions/S/resourceGroups/G/providers/Microsoft.Compute/images/I`) or a gallery image
   * version's (`…/galleries/G/images/I/versions/V`). The VM's Hyper-V generation is the image's.
   */
  readonly image: pulumi.Input<string>;
  /**
   * The ImageBuild artifact the image was made from (typed to take `build.artifacts["vhd"]` as it
   * is under `noUncheckedIndexedAccess`): what it holds says how much memory the system needs.
   */
  readonly artifact: pulumi.Input<Artifact> | undefined;
  /** The VM size (`Standard_B1s`); refused when its memory is below what the image needs. */
  readonly vmSize: pulumi.Input<string>;
  /** The size's memory in MiB, for a size not in oskit's table (Bv1, Bsv2, Basv2, Dv5, Dsv5, Dasv5, Esv5, Fsv2, Av2). @default from the table */
  readonly memoryMiB?: number;
  /** The resource group of the VM and of the resources made for it. */
  readonly resourceGroupName: pulumi.Input<string>;
  /** The region. @default the provider's (`azure-native:location`), else the resource group's */
  readonly location?: pulumi.Input<string>;
  /** The subnet of the network interface. @default a virtual network and subnet of their own (`addressPrefix`) */
  readonly subnetId?: pulumi.Input<string>;
  /** The address range of the virtual network and subnet made when no `subnetId` is given. @default "10.0.0.0/24" */
  readonly addressPrefix?: string;
  /** A public IPv4 address (Standard SKU, static); Standard addresses let in only what the security group allows. @default true */
  readonly publicIp?: boolean;
  /** Ports to open to `allowFrom` in a network security group on the interface (`80`, `22/tcp`, `53/udp`). @default none: no group is made */
  readonly publish?: readonly string[];
  /** The source address ranges the published ports are open to. @default ["0.0.0.0/0"] */
  readonly allowFrom?: pulumi.Input<readonly string[]>;
  /** Custom data (`osProfile.customData`, base64-encoded here; at most 65535 bytes): the metadata package reads it from ovf-env.xml into `/run/config/userdata`. Always secret in the state. @default none */
  readonly customData?: pulumi.Input<string>;
  /** The admin user Azure requires on Linux (1–64 characters, not a reserved name such as root or admin). @default "oskit" */
  readonly adminUsername?: string;
  /** SSH public keys for the admin user, OpenSSH's one-line form (`ssh-ed25519 AAAA… alice@laptop`): RSA of at least 2048 bits or Ed25519, at least one (Azure requires one when password authentication is off, as it always is here). */
  readonly sshPublicKeys: pulumi.Input<readonly string[]>;
  /** The host name (Linux: 1–64 letters, digits, `.` and `-`). @default the resource's name, made a host name */
  readonly computerName?: string;
  /** The OS disk's storage type. @default "StandardSSD_LRS" */
  readonly osDiskType?: pulumi.Input<"Standard_LRS" | "StandardSSD_LRS" | "Premium_LRS">;
  /** The OS disk's size in GiB. @default the image's */
  readonly osDiskSizeGb?: pulumi.Input<number>;
  /** Accelerated networking on the interface (needs the size's support and a mlx5 or MANA driver in the system). @default false */
  readonly acceleratedNetworking?: boolean;
  /** Tags for the VM and every resource made for it. @default none */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * An oskit system on Azure: a `compute.VirtualMachine` booting the image with its OS disk deleted
 * with it, boot diagnostics on (managed storage: the serial log in the portal and `az vm
 * boot-diagnostics get-boot-log`), its custom data secret, an admin user with SSH keys as Azure
 * requires, and a network interface in the given subnet or in a small network of its own, with a
 * static Standard public address unless turned off and a network security group when ports are
 * published. The system runs from RAM, so a size with less memory than the image needs is refused,
 * with both figures.
 *
 * @example
 * const image = new oskit.azure.Image("web", { artifact: build.artifacts["vhd"], resourceGroupName, location, storageAccount, container });
 * const vm = new oskit.azure.VirtualMachine("web", {
 *   image: image.imageId,
 *   artifact: build.artifacts["vhd"],
 *   vmSize: "Standard_B1s",
 *   resourceGroupName,
 *   publish: ["80"],
 *   customData: config.requireSecret("message"),
 *   sshPublicKeys: [config.require("sshPublicKey")],
 * });
 * export const url = pulumi.interpolate`http://${vm.publicIpAddress}/`;
 */
export class VirtualMachine extends pulumi.ComponentResource {
  /** The Azure VM. */
  readonly vm: compute.VirtualMachine;
  /** Its network interface. */
  readonly networkInterface: network.NetworkInterface;
  /** Its public IP address resource, unless `publicIp` is false. */
  readonly publicIp: network.PublicIPAddress | undefined;
  /** The network security group of the published ports, when there are any. */
  readonly networkSecurityGroup: network.NetworkSecurityGroup | undefined;
  /** The virtual network made when no `subnetId` is given. */
  readonly virtualNetwork: network.VirtualNetwork | undefined;
  /** The subnet made when no `subnetId` is given. */
  readonly subnet: network.Subnet | undefined;
  /** Its public IPv4 address (empty without `publicIp`). */
  readonly publicIpAddress: pulumi.Output<string>;
  /** Its private IPv4 address. */
  readonly privateIpAddress: pulumi.Output<string>;
  /** The VM's name (Azure's, with Pulumi's suffix). */
  readonly vmName: pulumi.Output<string>;
  /** The memory the image needs and the size has, in MiB. */
  readonly memory: pulumi.Output<{ readonly needMiB: number; readonly haveMiB: number }>;

  constructor(name: string, args: VirtualMachineArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("oskit:azure:VirtualMachine", name, {}, opts);
    // Loaded here, not at the top: `import "oskit"` must work without @pulumi/azure-native
    // installed. Only the two submodules: the whole package is 136 MB.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    const computeSdk = require("@pulumi/azure-native/compute") as typeof compute;
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    const networkSdk = require("@pulumi/azure-native/network") as typeof network;

    const ports = [
      ...new Map(
        (args.publish ?? []).map((spec, i) => {
          const port = parsePort(spec, i);
          return [`${port.protocol}/${port.port}`, port] as const;
        }),
      ).values(),
    ];
    const adminUsername = args.adminUsername ?? "oskit";
    const computerName = args.computerName ?? defaultComputerName(name);
    const problems = [
      ...adminUsernameProblems(adminUsername),
      ...computerNameProblems(computerName),
    ];
    if (Array.isArray(args.sshPublicKeys)) problems.push(...sshKeysProblems(args.sshPublicKeys));
    if (problems.length > 0) throw new ValidationError(problems);

    const common = {
      resourceGroupName: args.resourceGroupName,
      ...(args.location !== undefined && { location: args.location }),
      ...(args.tags !== undefined && { tags: { ...args.tags } }),
    };

    this.memory = pulumi
      .all([args.vmSize, args.artifact])
      .apply(([vmSize, artifact]) => checkVmSize({ vmSize, artifact, memoryMiB: args.memoryMiB }));
    // The size reaches Azure only through the check: a refused size fails before anything launches.
    const vmSize = pulumi.all([args.vmSize, this.memory]).apply(([vmSize]) => vmSize);

    let subnetId: pulumi.Input<string>;
    if (args.subnetId !== undefined) {
      subnetId = args.subnetId;
    } else {
      const addressPrefix = args.addressPrefix ?? "10.0.0.0/24";
      this.virtualNetwork = new networkSdk.VirtualNetwork(
        name,
        { ...common, addressSpace: { addressPrefixes: [addressPrefix] } },
        { parent: this },
      );
      this.subnet = new networkSdk.Subnet(
        name,
        {
          resourceGroupName: args.resourceGroupName,
          virtualNetworkName: this.virtualNetwork.name,
          addressPrefix,
        },
        { parent: this },
      );
      subnetId = this.subnet.id;
    }

    this.publicIp =
      args.publicIp === false
        ? undefined
        : new networkSdk.PublicIPAddress(
            name,
            {
              ...common,
              sku: { name: "Standard", tier: "Regional" },
              publicIPAllocationMethod: "Static",
              publicIPAddressVersion: "IPv4",
            },
            { parent: this },
          );

    const allowFrom = pulumi.output(args.allowFrom ?? ["0.0.0.0/0"]).apply((r) => [...r]);
    this.networkSecurityGroup =
      ports.length === 0
        ? undefined
        : new networkSdk.NetworkSecurityGroup(
            name,
            {
              ...common,
              securityRules: ports.map(({ port, protocol }, i) => ({
                name: `oskit-${protocol}-${port}`,
                description: `oskit ${name}: published port ${port}/${protocol}`,
                direction: "Inbound",
                access: "Allow",
                priority: 1000 + 10 * i,
                protocol: protocol === "tcp" ? "Tcp" : "Udp",
                sourceAddressPrefixes: allowFrom,
                sourcePortRange: "*",
                destinationAddressPrefix: "*",
                destinationPortRange: `${port}`,
              })),
            },
            { parent: this },
          );

    const publicIpId = this.publicIp?.id;
    const nsgId = this.networkSecurityGroup?.id;
    this.networkInterface = new networkSdk.NetworkInterface(
      name,
      {
        ...common,
        ipConfigurations: [
          {
            name: "primary",
            primary: true,
            privateIPAllocationMethod: "Dynamic",
            subnet: { id: subnetId },
            ...(publicIpId !== undefined && { publicIPAddress: { id: publicIpId } }),
          },
        ],
        ...(nsgId !== undefined && { networkSecurityGroup: { id: nsgId } }),
        enableAcceleratedNetworking: args.acceleratedNetworking ?? false,
      },
      { parent: this },
    );

    const sshKeys = pulumi.output(args.sshPublicKeys).apply((keys) => {
      const keyProblems = sshKeysProblems(keys);
      if (keyProblems.length > 0) throw new ValidationError(keyProblems);
      return keys.map((keyData) => ({
        path: `/home/${adminUsername}/.ssh/authorized_keys`,
        keyData: keyData.trim(),
      }));
    });
    const customData =
      args.customData === undefined
        ? undefined
        : pulumi.secret(pulumi.output(args.customData).apply(encodeCustomData));

    this.vm = new computeSdk.VirtualMachine(
      name,
      {
        ...common,
        hardwareProfile: { vmSize },
        storageProfile: {
          imageReference: { id: args.image },
          osDisk: {
            createOption: "FromImage",
            deleteOption: "Delete",
            caching: "ReadWrite",
            managedDisk: { storageAccountType: args.osDiskType ?? "StandardSSD_LRS" },
            ...(args.osDiskSizeGb !== undefined && { diskSizeGB: args.osDiskSizeGb }),
          },
        },
        osProfile: {
          computerName,
          adminUsername,
          ...(customData !== undefined && { customData }),
          // No Azure agent in an oskit system: no extensions, no password.
          allowExtensionOperations: false,
          linuxConfiguration: {
            disablePasswordAuthentication: true,
            provisionVMAgent: false,
            ssh: { publicKeys: sshKeys },
          },
        },
        networkProfile: {
          networkInterfaces: [{ id: this.networkInterface.id, primary: true }],
        },
        // Boot diagnostics without a storage URI: Azure's managed storage keeps the serial log.
        diagnosticsProfile: { bootDiagnostics: { enabled: true } },
      },
      {
        parent: this,
        ...(customData !== undefined && { additionalSecretOutputs: ["osProfile"] }),
        // Azure refuses to change an OS profile (custom data, user, keys, host name) or the image
        // after creation: a new one replaces the VM, the old one deleted first as the NIC is its.
        replaceOnChanges: ["osProfile", "storageProfile.imageReference"],
        deleteBeforeReplace: true,
      },
    );

    this.vmName = this.vm.name;
    this.publicIpAddress =
      this.publicIp === undefined
        ? pulumi.output("")
        : this.publicIp.ipAddress.apply((address) => address ?? "");
    this.privateIpAddress = this.networkInterface.ipConfigurations.apply(
      (configs) => configs?.[0]?.privateIPAddress ?? "",
    );
    this.registerOutputs({
      vmName: this.vmName,
      publicIpAddress: this.publicIpAddress,
      privateIpAddress: this.privateIpAddress,
      memory: this.memory,
    });
  }
}

/** Every problem with a list of SSH public keys, at least one of which Azure requires. */
function sshKeysProblems(keys: readonly string[]): Problem[] {
  if (keys.length === 0)
    return [
      {
        path: "sshPublicKeys",
        message:
          "no key: Azure requires at least one SSH public key for a Linux VM without password authentication (ssh-ed25519, or ssh-rsa of at least 2048 bits)",
      },
    ];
  return keys.flatMap((key, i) => sshPublicKeyProblems(key, i));
}

/** Custom data as Azure takes it: base64 of the UTF-8 bytes, at most 65535 bytes decoded. */
function encodeCustomData(data: string): string {
  const bytes = Buffer.from(data, "utf8");
  if (bytes.length > CUSTOM_DATA_MAX_BYTES)
    throw new ValidationError([
      {
        path: "customData",
        message: `${bytes.length} bytes: Azure takes at most ${CUSTOM_DATA_MAX_BYTES} bytes of custom data`,
      },
    ]);
  return bytes.toString("base64");
}
