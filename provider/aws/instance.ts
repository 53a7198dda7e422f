/** `oskit.aws.Instance`: an oskit system running on EC2, over `@pulumi/aws`'s `ec2.Instance`. */
import * as pulumi from "@pulumi/pulumi";
import type * as aws from "@pulumi/aws";
import { ValidationError } from "../../sdk/errors";
import type { Artifact } from "../build/image-build";
import { checkMemory } from "../memory";

export { imageMemoryNeedMiB } from "../memory";

/**
 * Memory of common instance types in MiB. Burstable types one by one; the others by family, whose
 * sizes scale a fixed memory per vCPU (medium 1 vCPU, large 2, xlarge 4, NxLarge 4N).
 */
const BURSTABLE: Readonly<Record<string, number>> = {
  nano: 512,
  micro: 1024,
  small: 2048,
  medium: 4096,
  large: 8192,
  xlarge: 16384,
  "2xlarge": 32768,
};
const GIB_PER_VCPU: Readonly<Record<string, number>> = {
  ...Object.fromEntries(
    ["c5", "c5a", "c6a", "c6g", "c6i", "c7a", "c7g", "c7i", "c8g"].map((f) => [f, 2]),
  ),
  ...Object.fromEntries(
    ["m5", "m5a", "m6a", "m6g", "m6i", "m7a", "m7g", "m7i", "m8g"].map((f) => [f, 4]),
  ),
  ...Object.fromEntries(["r5", "r5a", "r6a", "r6g", "r6i", "r7g", "r7i"].map((f) => [f, 8])),
};
const VCPUS: Readonly<Record<string, number>> = {
  medium: 1,
  large: 2,
  xlarge: 4,
  ...Object.fromEntries([2, 4, 8, 9, 12, 16, 18, 24].map((n) => [`${n}xlarge`, 4 * n])),
};

/** The memory of an instance type from the built-in table, in MiB; undefined for types it does not know. */
export function instanceTypeMemoryMiB(instanceType: string): number | undefined {
  const [family = "", size = ""] = instanceType.split(".");
  if (/^t(2|3|3a|4g)$/.test(family)) return BURSTABLE[size];
  const perVcpu = GIB_PER_VCPU[family];
  const vcpus = VCPUS[size];
  if (perVcpu === undefined || vcpus === undefined) return undefined;
  if (size === "medium" && !family.endsWith("g")) return undefined; // medium is Graviton's only
  return perVcpu * vcpus * 1024;
}

/** Refuses an instance type with less memory than the image needs; returns both figures. */
export function checkInstanceMemory(input: {
  readonly instanceType: string;
  readonly artifact: Artifact | undefined;
  readonly memoryMiB?: number | undefined;
  readonly payloadBytes?: number;
}): { readonly needMiB: number; readonly haveMiB: number } {
  return checkMemory({
    type: input.instanceType,
    artifact: input.artifact,
    haveMiB: input.memoryMiB ?? instanceTypeMemoryMiB(input.instanceType),
    payloadBytes: input.payloadBytes,
    wording: {
      field: "instanceType",
      kinds: "instance types",
      artifact: "the ImageBuild artifact the AMI was made from",
      lookup: (type) => `aws ec2 describe-instance-types --instance-types ${type}`,
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

export interface InstanceArgs {
  /** The AMI to boot: an `oskit.aws.Ami`'s `imageId`. */
  readonly ami: pulumi.Input<string>;
  /**
   * The ImageBuild artifact the AMI was made from (typed to take `build.artifacts["raw-efi"]` as it
   * is under `noUncheckedIndexedAccess`): its size says how much memory the system needs.
   */
  readonly artifact: pulumi.Input<Artifact> | undefined;
  /** The instance type; refused when its memory is below what the image needs. */
  readonly instanceType: pulumi.Input<string>;
  /** The type's memory in MiB, for a type not in oskit's table (t2/t3/t3a/t4g, c/m/r 5–8). @default from the table */
  readonly memoryMiB?: number;
  /** User data: the metadata package puts it in `/run/config/userdata`. Always secret in the state. @default none */
  readonly userData?: pulumi.Input<string>;
  /** An EC2 key pair's name: its public key goes to `/run/config/ssh/authorized_keys`. @default none */
  readonly keyName?: pulumi.Input<string>;
  /** Ports to open to `allowFrom` in a security group of its own (`80`, `22/tcp`, `53/udp`). @default none: no group is made */
  readonly publish?: readonly string[];
  /** The CIDR blocks the published ports are open to. @default ["0.0.0.0/0"] */
  readonly allowFrom?: pulumi.Input<readonly string[]>;
  /** The VPC of the security group; set it with `subnetId` outside the default VPC. @default the default VPC */
  readonly vpcId?: pulumi.Input<string>;
  /** The subnet to launch in. @default a default subnet */
  readonly subnetId?: pulumi.Input<string>;
  /** More security groups. @default none (with no `publish`, the VPC's default group) */
  readonly securityGroupIds?: pulumi.Input<readonly string[]>;
  /** The region (the AMI's). @default the provider's */
  readonly region?: pulumi.Input<string>;
  /** Tags for the instance and the security group; `Name` defaults to the resource's name. */
  readonly tags?: Readonly<Record<string, string>>;
}

/**
 * An oskit system on EC2: an `aws.ec2.Instance` that requires IMDSv2 (the metadata package reads
 * user data, SSH keys and the hostname with a session token), with its user data secret, and a
 * security group when ports are published. The system runs from RAM, so an instance type with
 * less memory than the image needs is refused, with both figures.
 *
 * @example
 * const ami = new oskit.aws.Ami("web", { artifact: build.artifacts["raw-efi"], region: "eu-west-1" });
 * const vm = new oskit.aws.Instance("web", {
 *   ami: ami.imageId,
 *   artifact: build.artifacts["raw-efi"],
 *   instanceType: "t3.micro",
 *   region: "eu-west-1",
 *   publish: ["80"],
 *   userData: config.requireSecret("message"),
 * });
 * export const url = pulumi.interpolate`http://${vm.publicIp}/`;
 */
export class Instance extends pulumi.ComponentResource {
  /** The EC2 instance. */
  readonly instance: aws.ec2.Instance;
  /** The security group of the published ports, when there are any. */
  readonly securityGroup: aws.ec2.SecurityGroup | undefined;
  /** The instance's id. */
  readonly instanceId: pulumi.Output<string>;
  /** Its public IPv4 address (empty in a subnet without them). */
  readonly publicIp: pulumi.Output<string>;
  /** Its private IPv4 address. */
  readonly privateIp: pulumi.Output<string>;
  /** The memory the image needs and the type has, in MiB. */
  readonly memory: pulumi.Output<{ readonly needMiB: number; readonly haveMiB: number }>;

  constructor(name: string, args: InstanceArgs, opts: pulumi.ComponentResourceOptions = {}) {
    super("oskit:aws:Instance", name, {}, opts);
    // Loaded here, not at the top: `import "oskit"` must work without @pulumi/aws installed.
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- see above
    const awsSdk = require("@pulumi/aws") as typeof aws;
    const ports = (args.publish ?? []).map(parsePort);
    const tags = { Name: name, ...args.tags };
    const region = args.region !== undefined ? { region: args.region } : {};

    this.memory = pulumi
      .all([args.instanceType, args.artifact])
      .apply(([instanceType, artifact]) =>
        checkInstanceMemory({ instanceType, artifact, memoryMiB: args.memoryMiB }),
      );
    // The type reaches EC2 only through the check: a refused type fails before anything launches.
    const instanceType = pulumi
      .all([args.instanceType, this.memory])
      .apply(([instanceType]) => instanceType);

    this.securityGroup =
      ports.length === 0
        ? undefined
        : new awsSdk.ec2.SecurityGroup(
            name,
            {
              description: `oskit ${name}: published ports`,
              ...(args.vpcId !== undefined && { vpcId: args.vpcId }),
              ingress: ports.map(({ port, protocol }) => ({
                protocol,
                fromPort: port,
                toPort: port,
                cidrBlocks: pulumi.output(args.allowFrom ?? ["0.0.0.0/0"]).apply((c) => [...c]),
              })),
              // Terraform's provider drops EC2's default allow-all egress; the system needs it.
              egress: [{ protocol: "-1", fromPort: 0, toPort: 0, cidrBlocks: ["0.0.0.0/0"] }],
              tags,
              ...region,
            },
            { parent: this },
          );
    const securityGroupIds = pulumi
      .all([args.securityGroupIds ?? [], this.securityGroup?.id])
      .apply(([ids, own]) => [...ids, ...(own === undefined ? [] : [own])]);

    this.instance = new awsSdk.ec2.Instance(
      name,
      {
        ami: args.ami,
        instanceType,
        metadataOptions: {
          httpEndpoint: "enabled",
          httpTokens: "required",
          // The metadata container uses the host's network: one hop is all a token needs to travel.
          httpPutResponseHopLimit: 1,
        },
        ...(args.userData !== undefined && { userData: pulumi.secret(args.userData) }),
        ...(args.keyName !== undefined && { keyName: args.keyName }),
        ...(args.subnetId !== undefined && { subnetId: args.subnetId }),
        ...((ports.length > 0 || args.securityGroupIds !== undefined) && {
          vpcSecurityGroupIds: securityGroupIds,
        }),
        tags,
        ...region,
      },
      {
        parent: this,
        ...(args.userData !== undefined && {
          additionalSecretOutputs: ["userData", "userDataBase64"],
        }),
      },
    );
    this.instanceId = this.instance.id;
    this.publicIp = this.instance.publicIp;
    this.privateIp = this.instance.privateIp;
    this.registerOutputs({
      instanceId: this.instanceId,
      publicIp: this.publicIp,
      privateIp: this.privateIp,
      memory: this.memory,
    });
  }
}
