/** `oskit.gcp.Instance`: an oskit system running on GCE, over `@pulumi/gcp`'s `compute.Instance`. */
import * as pulumi from "@pulumi/pulumi";
import type * as gcp from "@pulumi/gcp";
import { ValidationError } from "../../sdk/errors";
import type { Artifact } from "../build/image-build";
import { checkMemory } from "../memory";

/** Shared-core machine types, one by one, in MiB (GCE's `memoryMb`). */
const SHARED_CORE: Readonly<Record<string, number>> = {
  "e2-micro": 1024,
  "e2-small": 2048,
  "e2-medium": 4096,
  "f1-micro": 614,
  "g1-small": 1740,
};

/** Predefined families: GiB per vCPU and the vCPU counts GCE offers (`FAMILY-N`). */
const PER_VCPU: Readonly<
  Record<string, { readonly gib: number; readonly vcpus: readonly number[] }>
> = (() => {
  const n2 = [2, 4, 8, 16, 32, 48, 64, 80, 96, 128];
  const c3 = [4, 8, 22, 44, 88, 176];
  const c3d = [4, 8, 16, 30, 60, 90, 180, 360];
  const n4 = [2, 4, 8, 16, 32, 48, 64, 80];
  const c2d = [2, 4, 8, 16, 32, 56, 112];
  const n1 = [2, 4, 8, 16, 32, 64, 96];
  return {
    "e2-standard": { gib: 4, vcpus: [2, 4, 8, 16, 32] },
    "e2-highmem": { gib: 8, vcpus: [2, 4, 8, 16] },
    "e2-highcpu": { gib: 1, vcpus: [2, 4, 8, 16, 32] },
    "n1-standard": { gib: 3.75, vcpus: [1, ...n1] },
    "n1-highmem": { gib: 6.5, vcpus: n1 },
    "n1-highcpu": { gib: 0.9, vcpus: n1 },
    "n2-standard": { gib: 4, vcpus: n2 },
    "n2-highmem": { gib: 8, vcpus: n2 },
    "n2-highcpu": { gib: 1, vcpus: n2.slice(0, -1) },
    "n2d-standard": { gib: 4, vcpus: [...n2, 224] },
    "n2d-highmem": { gib: 8, vcpus: n2.slice(0, -1) },
    "n2d-highcpu": { gib: 1, vcpus: [...n2, 224] },
    "n4-standard": { gib: 4, vcpus: n4 },
    "n4-highmem": { gib: 8, vcpus: n4 },
    "n4-highcpu": { gib: 2, vcpus: n4 },
    "t2d-standard": { gib: 4, vcpus: [1, 2, 4, 8, 16, 32, 48, 60] },
    "t2a-standard": { gib: 4, vcpus: [1, 2, 4, 8, 16, 32, 48] },
    "c2-standard": { gib: 4, vcpus: [4, 8, 16, 30, 60] },
    "c2d-standard": { gib: 4, vcpus: c2d },
    "c2d-highmem": { gib: 8, vcpus: c2d },
    "c2d-highcpu": { gib: 2, vcpus: c2d },
    "c3-standard": { gib: 4, vcpus: c3 },
    "c3-highmem": { gib: 8, vcpus: c3 },
    "c3-highcpu": { gib: 2, vcpus: c3 },
    "c3d-standard": { gib: 4, vcpus: c3d },
    "c3d-highmem": { gib: 8, vcpus: c3d },
    "c3d-highcpu": { gib: 2, vcpus: c3d },
  };
})();

/**
 * The memory of a machine type from the built-in table, in MiB; undefined for types it does not
 * know. Takes a name (`e2-small`), a URL or partial URL (`zones/Z/machineTypes/e2-small`), or a
 * custom type (`e2-custom-2-4096`, `custom-2-4096-ext`: the memory is in the name).
 */
export function machineTypeMemoryMiB(machineType: string): number | undefined {
  const name = machineType.slice(machineType.lastIndexOf("/") + 1);
  const custom = /(?:^|-)custom-\d+-(\d+)(?:-ext)?$/.exec(name);
  if (custom !== null) return Number(custom[1]);
  const shared = SHARED_CORE[name];
  if (shared !== undefined) return shared;
  const match = /^([a-z0-9]+-[a-z]+)-(\d+)$/.exec(name);
  const family = match === null ? undefined : PER_VCPU[match[1]!];
  const vcpus = Number(match?.[2]);
  if (family === undefined || !family.vcpus.includes(vcpus)) return undefined;
  return Math.floor(family.gib * vcpus * 1024);
}

/** Refuses a machine type with less memory than the image needs; returns both figures. */
export function checkMachineMemory(input: {
  readonly machineType: string;
  readonly artifact: Artifact | undefined;
  readonly memoryMiB?: number | undefined;
  readonly payloadBytes?: number;
}): { readonly needMiB: number; readonly haveMiB: number } {
  return checkMemory({
    type: input.machineType,
    artifact: input.artifact,
    haveMiB: input.memoryMiB ?? machineTypeMemoryMiB(input.machineType),
    payloadBytes: input.payloadBytes,
    wording: {
      field: "machineType",
      kinds: "machine types",
      artifact: "the ImageBuild artifact the image was made from",
      lookup: (type) => `gcloud compute machine-types describe ${type} --zone ZONE`,
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

/** The network tag the firewall targets: `oskit-NAME`, made a valid GCE tag (RFC 1035, ≤ 63). */
export function networkTag(name: string): string {
  const tag = `oskit-${name.toLowerCase().replace(/[^a-z0-9-]+/g, "-")}`.slice(0, 63);
  return tag.replace(/-+$/, "");
}

/** Metadata keys the inputs set, and the input that sets each. */
const RESERVED_METADATA: ReadonlyMap<string, string> = new Map([
  ["user-data", "userData (secret in the state)"],
  ["ssh-keys", "sshKeys"],
  ["serial-port-enable", "serialPortEnable"],
]);

export interface InstanceArgs {
  /** The image to boot: an `oskit.gcp.Image`'s self link or name (`projects/P/global/images/I`). */
  readonly image: pulumi.Input<string>;
  /**
   * The ImageBuild artifact the image was made from (typed to take `build.artifacts["gce"]` as it
   * is under `noUncheckedIndexedAccess`): its size says how much memory the system needs.
   */
  readonly artifact: pulumi.Input<Artifact> | undefined;
  /** The machine type (`e2-small`); refused when its memory is below what the image needs. */
  readonly machineType: pulumi.Input<string>;
  /** The type's memory in MiB, for a type not in oskit's table (e2, n1, n2, n2d, n4, t2d, t2a, c2, c2d, c3, c3d; custom types). @default from the table */
  readonly memoryMiB?: number;
  /** The zone. @default the provider's (`gcp:zone`) */
  readonly zone?: pulumi.Input<string>;
  /** The project. @default the provider's (`gcp:project`) */
  readonly project?: pulumi.Input<string>;
  /** User data (metadata `user-data`): the metadata package puts it in `/run/config/userdata`. Always secret in the state. @default none */
  readonly userData?: pulumi.Input<string>;
  /** SSH keys (metadata `ssh-keys`), `USER:KEY` each (`alice:ssh-ed25519 AAAA… alice@laptop`): they go to `/run/config/ssh/authorized_keys`. @default none (the project's keys still apply) */
  readonly sshKeys?: pulumi.Input<readonly string[]>;
  /** More metadata; `user-data`, `ssh-keys` and `serial-port-enable` are refused here: the inputs above set them. @default none */
  readonly metadata?: Readonly<Record<string, pulumi.Input<string>>>;
  /** Interactive access to the serial console (metadata `serial-port-enable`); the console's output can be read either way. @default true */
  readonly serialPortEnable?: boolean;
  /** The VPC network of the interface and the firewall. @default "default" */
  readonly network?: pulumi.Input<string>;
  /** The subnetwork; give `network` too outside the default network. @default the network's in the zone's region */
  readonly subnetwork?: pulumi.Input<string>;
  /** An ephemeral external IPv4 address. @default true */
  readonly externalIp?: boolean;
  /** Ports to open to `allowFrom` in a firewall of their own, for this instance's tag (`80`, `22/tcp`, `53/udp`). @default none: no firewall is made */
  readonly publish?: readonly string[];
  /** The source ranges the published ports are open to. @default ["0.0.0.0/0"] */
  readonly allowFrom?: pulumi.Input<readonly string[]>;
  /** The boot disk's size in GB. @default the image's */
  readonly diskSizeGb?: pulumi.Input<number>;
  /** More network tags. @default none */
  readonly tags?: readonly string[];
  /** Labels for the instance. @default none */
  readonly labels?: Readonly<Record<string, string>>;
}

/**
 * An oskit system on GCE: a `gcp.compute.Instance` booting the image, with its serial port enabled,
 * its user data secret in the metadata the `metadata` package reads, an external address unless
 * turned off, and a firewall when ports are published. The system runs from RAM, so a machine type
 * with less memory than the image needs is refused, with both figures.
 *
 * @example
 * const image = new oskit.gcp.Image("web", { artifact: build.artifacts["gce"], bucket });
 * const vm = new oskit.gcp.Instance("web", {
 *   image: image.selfLink,
 *   artifact: build.artifacts["gce"],
 *   machineType: "e2-small",
 *   publish: ["80"],
 *   userData: config.requireSecret("message"),
 * });
 * export const url = pulumi.interpolate`http://${vm.externalIp}/`;
 */
export class Instance extends pulumi.ComponentResource {
  /** The GCE instance. */
  readonly instance: gcp.compute.Instance;
  /** The firewall of the published ports, when there are any. */
  readonly firewall: gcp.compute.Firewall | undefined;
  /** The instance's name (GCE's, with Pulumi's suffix). */
  readonly instanceName: pulumi.Output<string>;
  /** GCE's numeric id of the instance. */
  readonly instanceId: pulumi.Output<string>;
  /** Its ephemeral external IPv4 address (empty without `externalIp`). */
  readonly externalIp: pulumi.Output<string>;
  /** Its internal IPv4 address. */
  readonly internalIp: pulumi.Output<string>;
  /** The memory the image needs and the type has, in MiB. */
  readonly memory: pulumi.Output<{ readonly needMiB: number; readonly haveMiB: number }>;

  constructor(name: string, args: InstanceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("oskit:gcp:Instance", name, {}, opts);
    // Loaded here, not at the top: `import "oskit"` must work without @pulumi/gcp installed.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    const gcpSdk = require("@pulumi/gcp") as typeof gcp;
    const ports = (args.publish ?? []).map(parsePort);
    const reserved = Object.keys(args.metadata ?? {}).filter((key) => RESERVED_METADATA.has(key));
    if (reserved.length > 0)
      throw new ValidationError(
        reserved.map((key) => ({
          path: `metadata[${key}]`,
          message: `set by oskit.gcp.Instance: use ${RESERVED_METADATA.get(key)} instead`,
        })),
      );
    const project = args.project !== undefined ? { project: args.project } : {};
    const network = args.network ?? "default";
    const tag = networkTag(name);

    this.memory = pulumi
      .all([args.machineType, args.artifact])
      .apply(([machineType, artifact]) =>
        checkMachineMemory({ machineType, artifact, memoryMiB: args.memoryMiB }),
      );
    // The type reaches GCE only through the check: a refused type fails before anything launches.
    const machineType = pulumi
      .all([args.machineType, this.memory])
      .apply(([machineType]) => machineType);

    this.firewall =
      ports.length === 0
        ? undefined
        : new gcpSdk.compute.Firewall(
            name,
            {
              description: `oskit ${name}: published ports`,
              network,
              direction: "INGRESS",
              allows: (["tcp", "udp"] as const)
                .map((protocol) => ({
                  protocol,
                  ports: ports.filter((p) => p.protocol === protocol).map((p) => `${p.port}`),
                }))
                .filter((allow) => allow.ports.length > 0),
              sourceRanges: pulumi.output(args.allowFrom ?? ["0.0.0.0/0"]).apply((r) => [...r]),
              targetTags: [tag],
              ...project,
            },
            { parent: this },
          );

    const metadata: Record<string, pulumi.Input<string>> = {
      ...args.metadata,
      "serial-port-enable": args.serialPortEnable === false ? "FALSE" : "TRUE",
      ...(args.sshKeys !== undefined && {
        "ssh-keys": pulumi.output(args.sshKeys).apply((keys) => keys.join("\n")),
      }),
      ...(args.userData !== undefined && { "user-data": pulumi.secret(args.userData) }),
    };

    this.instance = new gcpSdk.compute.Instance(
      name,
      {
        machineType,
        ...(args.zone !== undefined && { zone: args.zone }),
        bootDisk: {
          autoDelete: true,
          initializeParams: {
            image: args.image,
            ...(args.diskSizeGb !== undefined && { size: args.diskSizeGb }),
          },
        },
        networkInterfaces: [
          {
            network,
            ...(args.subnetwork !== undefined && { subnetwork: args.subnetwork }),
            // An access config without an address: an ephemeral external one.
            accessConfigs: args.externalIp === false ? [] : [{}],
          },
        ],
        metadata,
        ...((ports.length > 0 || args.tags !== undefined) && {
          tags: [...new Set([...(ports.length > 0 ? [tag] : []), ...(args.tags ?? [])])],
        }),
        ...(args.labels !== undefined && { labels: { ...args.labels } }),
        // A new machine type needs the instance stopped; the system boots again from its image.
        allowStoppingForUpdate: true,
        ...project,
      },
      {
        parent: this,
        ...(args.userData !== undefined && { additionalSecretOutputs: ["metadata"] }),
      },
    );
    const nic = this.instance.networkInterfaces.apply((interfaces) => interfaces[0]);
    this.instanceName = this.instance.name;
    this.instanceId = this.instance.instanceId;
    this.externalIp = nic.apply((n) => n?.accessConfigs?.[0]?.natIp ?? "");
    this.internalIp = nic.apply((n) => n?.networkIp ?? "");
    this.registerOutputs({
      instanceName: this.instanceName,
      instanceId: this.instanceId,
      externalIp: this.externalIp,
      internalIp: this.internalIp,
      memory: this.memory,
    });
  }
}
