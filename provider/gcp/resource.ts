/** `oskit.gcp.Image`: an oskit `gce` tarball uploaded to Cloud Storage and registered as a GCE image. */
import * as pulumi from "@pulumi/pulumi";
import type { Artifact } from "../build/image-build";
import type { GcpEndpoints } from "./http";
import type { ImageOwner } from "./image";
import { dynamicProvider } from "../dynamic-provider";
import type { GceArchitecture } from "./tarball";

/** Serialized into the state with each resource: the area's name and nothing else. */
const provider = dynamicProvider("gcpImage");

export interface ImageArgs {
  /**
   * The tarball to publish: an ImageBuild's `artifacts["gce"]`, typed to take that lookup as it
   * is under `noUncheckedIndexedAccess`; a missing artifact fails `check`.
   */
  readonly artifact: pulumi.Input<Artifact> | undefined;
  /** The project of the image. @default the `gcp:project` config, else GOOGLE_CLOUD_PROJECT */
  readonly project?: pulumi.Input<string>;
  /** The Cloud Storage bucket the tarball is uploaded to (kept there while the image lives). */
  readonly bucket: pulumi.Input<string>;
  /** The image's name (the artifact's short digest and an owner hash are appended). @default the resource's name */
  readonly name?: pulumi.Input<string>;
  /** The image family, so instances can follow the latest image. @default none */
  readonly family?: pulumi.Input<string>;
  /** Where the image is stored, e.g. ["eu"]. @default GCE's choice near the bucket */
  readonly storageLocations?: pulumi.Input<pulumi.Input<string>[]>;
  /** X86_64 or ARM64. @default read from the disk's EFI binary */
  readonly architecture?: pulumi.Input<GceArchitecture>;
  /** Cloud Storage and Compute endpoints, for tests and private endpoints. @default Google's */
  readonly endpoints?: pulumi.Input<GcpEndpoints>;
  /** More labels (values ≤ 63 lowercase characters). @default none */
  readonly labels?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** Upload request size, a multiple of 256 KiB. @default 8 MiB */
  readonly chunkSize?: number;
}

/**
 * Uploads an oskit `gce` tarball to Cloud Storage with the resumable protocol (checksummed,
 * skipped when the object is there) and registers it as a GCE image: UEFI_COMPATIBLE,
 * VIRTIO_SCSI_MULTIQUEUE, GVNIC, the system's architecture, labelled with the digest and this
 * stack and resource. A new artifact replaces the image; `pulumi destroy` deletes the image and
 * the object. An interrupted `pulumi up` resumes, and this resource's image of the same artifact
 * is adopted. The token comes from GOOGLE_OAUTH_ACCESS_TOKEN or Application Default Credentials
 * when the provider runs; none is in the state.
 *
 * @example
 * const build = new oskit.ImageBuild("web", { image: os, formats: ["gce"] });
 * const image = new oskit.gcp.Image("web", { artifact: build.artifacts["gce"], bucket: "my-images" });
 * export const selfLink = image.selfLink;
 */
export class Image extends pulumi.dynamic.Resource {
  /** The image's name. */
  declare readonly imageName: pulumi.Output<string>;
  /** Its self link, what `compute.Instance`'s boot disk takes. */
  declare readonly selfLink: pulumi.Output<string>;
  /** The tarball's object in `bucket`. */
  declare readonly objectName: pulumi.Output<string>;
  declare readonly project: pulumi.Output<string>;
  declare readonly bucket: pulumi.Output<string>;
  /** X86_64 or ARM64. */
  declare readonly resolvedArchitecture: pulumi.Output<GceArchitecture>;
  /** The artifact published. */
  declare readonly artifact: pulumi.Output<Artifact>;

  constructor(name: string, args: ImageArgs, opts: pulumi.CustomResourceOptions = {}) {
    const owner: ImageOwner = {
      project: pulumi.getProject(),
      stack: pulumi.getStack(),
      resource: name,
    };
    const project =
      args.project ??
      new pulumi.Config("gcp").get("project") ??
      process.env.GOOGLE_CLOUD_PROJECT ??
      process.env.GOOGLE_PROJECT;
    super(
      provider,
      name,
      {
        artifact: args.artifact,
        project,
        bucket: args.bucket,
        name: args.name ?? name,
        ...(args.family !== undefined && { family: args.family }),
        ...(args.storageLocations !== undefined && { storageLocations: args.storageLocations }),
        ...(args.architecture !== undefined && { architecture: args.architecture }),
        ...(args.endpoints !== undefined && { endpoints: args.endpoints }),
        labels: args.labels ?? {},
        owner,
        ...(args.chunkSize !== undefined && { chunkSize: args.chunkSize }),
        imageName: undefined,
        selfLink: undefined,
        objectName: undefined,
        resolvedArchitecture: undefined,
      },
      opts,
      "oskit/gcp",
      "Image",
    );
  }
}
