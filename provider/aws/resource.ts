/** `oskit.aws.Ami`: an oskit disk published as an AMI, with its snapshot, in one or more regions. */
import * as pulumi from "@pulumi/pulumi";
import type { Artifact } from "../build/image-build";
import type { AmiOwner } from "./ami";
import type { LaunchPermissions } from "./attributes";
import type { AwsEndpoints } from "./clients";
import type { RegionImage } from "./publish";
import { dynamicProvider } from "../dynamic-provider";
import type { BootMode } from "./register";

/** Serialized into the state with each resource: the area's name and nothing else. */
const provider = dynamicProvider("ami");

export interface AmiArgs {
  /**
   * The disk to publish: an ImageBuild's `artifacts["aws"]` (or `["raw-efi"]`), typed to take that
   * lookup as it is under `noUncheckedIndexedAccess`; a missing artifact fails `check`.
   */
  readonly artifact: pulumi.Input<Artifact> | undefined;
  /** The region to upload and register in. @default the `aws:region` config, else AWS_REGION */
  readonly region?: pulumi.Input<string>;
  /** The AMI's name (the artifact's short digest is appended). @default the resource's name */
  readonly name?: pulumi.Input<string>;
  /** amd64 or arm64. @default read from the disk's EFI binary */
  readonly architecture?: pulumi.Input<string>;
  /** uefi, legacy-bios or uefi-preferred. @default from the format: uefi for aws and raw-efi */
  readonly bootMode?: pulumi.Input<BootMode>;
  /** Give instances a TPM 2.0 (UEFI only). @default false */
  readonly tpm?: pulumi.Input<boolean>;
  /**
   * Encrypt the snapshot. The default `aws/ebs` key cannot be shared with other accounts: give
   * `kmsKeyArn` for an AMI others launch. @default the account's EBS default
   */
  readonly encrypted?: pulumi.Input<boolean>;
  /** The KMS key of the snapshot (implies encrypted). @default aws/ebs */
  readonly kmsKeyArn?: pulumi.Input<string>;
  /** More regions to copy the AMI to, tagged the same. @default none */
  readonly copyRegions?: pulumi.Input<pulumi.Input<string>[]>;
  /** EC2 and EBS endpoints, for tests and partitions (GovCloud, China). @default the region's */
  readonly endpoints?: pulumi.Input<AwsEndpoints>;
  /** More tags for the AMIs and snapshots. @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Who else may launch the AMI and its copies: account ids, or public. @default its owner alone */
  readonly launchPermissions?: pulumi.Input<LaunchPermissions>;
  /**
   * How the disk becomes a snapshot: `direct` writes only its blocks holding data with the EBS
   * direct APIs; `import` uploads it whole to `bucket` and runs EC2's ImportSnapshot with the
   * `roleName` service role (for accounts that allow S3 and VM Import but not EBS direct).
   * @default "direct"
   */
  readonly method?: pulumi.Input<"direct" | "import">;
  /** The S3 bucket, in `region`, that the import path uploads to. @default none */
  readonly bucket?: pulumi.Input<string>;
  /** The VM Import service role of the import path. @default "vmimport" */
  readonly roleName?: pulumi.Input<string>;
  /** Blocks uploaded at once. @default 32 */
  readonly parallel?: number;
}

/**
 * Uploads an oskit disk straight into an EBS snapshot (only the blocks holding data) and
 * registers it as an AMI: UEFI, ENA, IMDSv2 only, the architecture of the system. A new artifact
 * replaces the AMI; `pulumi destroy` deregisters every copy and deletes their snapshots. The
 * snapshots and AMIs are tagged with this stack and resource: an interrupted `pulumi up` resumes
 * or cleans up what it started, and an AMI of the same artifact this resource made is adopted.
 * Credentials come from the AWS SDK's default chain when the provider runs; none is in the state.
 *
 * @example
 * const build = new oskit.ImageBuild("web", { image: os, formats: ["aws"] });
 * const ami = new oskit.aws.Ami("web", { artifact: build.artifacts["aws"], region: "eu-west-1" });
 * export const imageId = ami.imageId;
 */
export class Ami extends pulumi.dynamic.Resource {
  /** The AMI in `region`. */
  declare readonly imageId: pulumi.Output<string>;
  /** Its root snapshot. */
  declare readonly snapshotId: pulumi.Output<string>;
  declare readonly region: pulumi.Output<string>;
  /** Each region's AMI id, the copies included. */
  declare readonly imageIds: pulumi.Output<Readonly<Record<string, string>>>;
  /** Each region's AMI and snapshot. */
  declare readonly images: pulumi.Output<Readonly<Record<string, RegionImage>>>;
  /** The name registered. */
  declare readonly amiName: pulumi.Output<string>;
  /** The AMI's architecture: x86_64 or arm64. */
  declare readonly resolvedArchitecture: pulumi.Output<string>;
  /** The AMI's boot mode. */
  declare readonly resolvedBootMode: pulumi.Output<BootMode>;
  /** The artifact published. */
  declare readonly artifact: pulumi.Output<Artifact>;

  constructor(name: string, args: AmiArgs, opts: pulumi.CustomResourceOptions = {}) {
    const owner: AmiOwner = {
      project: pulumi.getProject(),
      stack: pulumi.getStack(),
      resource: name,
    };
    const region =
      args.region ??
      new pulumi.Config("aws").get("region") ??
      process.env.AWS_REGION ??
      process.env.AWS_DEFAULT_REGION;
    super(
      provider,
      name,
      {
        artifact: args.artifact,
        region,
        name: args.name ?? name,
        ...(args.architecture !== undefined && { architecture: args.architecture }),
        ...(args.bootMode !== undefined && { bootMode: args.bootMode }),
        ...(args.tpm !== undefined && { tpm: args.tpm }),
        ...(args.encrypted !== undefined && { encrypted: args.encrypted }),
        ...(args.kmsKeyArn !== undefined && { kmsKeyArn: args.kmsKeyArn }),
        copyRegions: args.copyRegions ?? [],
        ...(args.endpoints !== undefined && { endpoints: args.endpoints }),
        tags: args.tags ?? {},
        ...(args.launchPermissions !== undefined && { launchPermissions: args.launchPermissions }),
        owner,
        ...(args.parallel !== undefined && { parallel: args.parallel }),
        ...(args.method !== undefined && { method: args.method }),
        ...(args.bucket !== undefined && { bucket: args.bucket }),
        ...(args.roleName !== undefined && { roleName: args.roleName }),
        imageId: undefined,
        snapshotId: undefined,
        imageIds: undefined,
        images: undefined,
        amiName: undefined,
        resolvedArchitecture: undefined,
        resolvedBootMode: undefined,
      },
      opts,
      "oskit/aws",
      "Ami",
    );
  }
}
