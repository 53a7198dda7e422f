/** `oskit.azure.Image`: an oskit `vhd` uploaded as a page blob and registered as an Azure managed image. */
import * as pulumi from "@pulumi/pulumi";
import type { Artifact } from "../build/image-build";
import { dynamicProvider } from "../dynamic-provider";
import type { TargetRegion } from "./gallery";
import type { AzureEndpoints, ImageOwner } from "./image";
import type { HyperVGeneration, StorageAccountType } from "./register";

/** Serialized into the state with each resource: the area's name and nothing else. */
const provider = dynamicProvider("azureImage");

/** A Shared Image Gallery version to make of the image. */
export interface ImageGalleryArgs {
  /** The gallery's resource group. @default the image's */
  readonly resourceGroupName?: pulumi.Input<string>;
  /** The gallery (it must exist). */
  readonly gallery: pulumi.Input<string>;
  /** The image definition (it must exist: Linux, Generalized, the disk's Hyper-V generation). */
  readonly definition: pulumi.Input<string>;
  /** MAJOR.MINOR.PATCH; a new artifact needs a new version. */
  readonly version: pulumi.Input<string>;
  /** The regions it is replicated to. @default the image's location alone */
  readonly targetRegions?: pulumi.Input<readonly TargetRegion[]>;
  /** Keep VMs that ask for `latest` on the version before. @default false */
  readonly excludeFromLatest?: pulumi.Input<boolean>;
}

export interface ImageArgs {
  /**
   * The disk to publish: an ImageBuild's `artifacts["vhd"]`, typed to take that lookup as it is
   * under `noUncheckedIndexedAccess`; a missing artifact fails `check`.
   */
  readonly artifact: pulumi.Input<Artifact> | undefined;
  /** The subscription. @default the `azure-native:subscriptionId` config, else AZURE_SUBSCRIPTION_ID */
  readonly subscriptionId?: pulumi.Input<string>;
  /** The resource group of the image (it must exist). */
  readonly resourceGroupName: pulumi.Input<string>;
  /** The image's region, e.g. westeurope. @default the `azure-native:location` config */
  readonly location?: pulumi.Input<string>;
  /** The storage account the page blob is uploaded to (kept there while the image lives), in the same region. */
  readonly storageAccount: pulumi.Input<string>;
  /** The blob container (made when missing). */
  readonly container: pulumi.Input<string>;
  /** The image's name (the artifact's short digest and an owner hash are appended). @default the resource's name */
  readonly name?: pulumi.Input<string>;
  /** V1 (BIOS) or V2 (UEFI). @default from the format: V2 for vhd */
  readonly hyperVGeneration?: pulumi.Input<HyperVGeneration>;
  /** The storage type of VMs' OS disks made from the image. @default Standard_LRS */
  readonly storageAccountType?: pulumi.Input<StorageAccountType>;
  /** The OS disk's size in GiB, when larger than the VHD. @default the VHD's */
  readonly diskSizeGB?: pulumi.Input<number>;
  /** More tags for the image (and its gallery version). @default none */
  readonly tags?: pulumi.Input<Record<string, pulumi.Input<string>>>;
  /** A gallery image version to make of the image, for sharing and replication. @default none */
  readonly gallery?: pulumi.Input<ImageGalleryArgs>;
  /** ARM and blob endpoints, for tests, sovereign clouds and private endpoints. @default Azure's public cloud */
  readonly endpoints?: pulumi.Input<AzureEndpoints>;
  /** Put Page calls in flight at once. @default 8 */
  readonly parallel?: number;
}

/**
 * Uploads an oskit `vhd` as a page blob (only its 512-byte pages holding data, in parallel Put
 * Page calls of at most 4 MiB, resumed from what is there) and registers it as a managed image:
 * Linux, generalized, Hyper-V generation V2 for UEFI disks; with `gallery`, also a gallery image
 * version of it. A new artifact replaces the image; `pulumi destroy` deletes the version, the
 * image and the blob. Everything is tagged with the digest and this stack and resource: an
 * interrupted `pulumi up` resumes, and this resource's image of the same artifact is adopted.
 * ARM tokens come from DefaultAzureCredential, the blob is signed with AZURE_STORAGE_KEY or
 * AZURE_STORAGE_SAS_TOKEN when set (else the same credential) when the provider runs; none is in
 * the state.
 *
 * @example
 * const build = new oskit.ImageBuild("web", { image: os, formats: ["vhd"] });
 * const image = new oskit.azure.Image("web", {
 *   artifact: build.artifacts["vhd"],
 *   resourceGroupName: group.name,
 *   storageAccount: "oskitimages",
 *   container: "images",
 * });
 * export const imageId = image.imageId;
 */
export class Image extends pulumi.dynamic.Resource {
  /** The managed image's name. */
  declare readonly imageName: pulumi.Output<string>;
  /** Its ARM id, what a VM's `storageProfile.imageReference.id` takes. */
  declare readonly imageId: pulumi.Output<string>;
  /** The page blob in `container`. */
  declare readonly blobName: pulumi.Output<string>;
  /** The blob's URL (no SAS). */
  declare readonly blobUrl: pulumi.Output<string>;
  /** V1 or V2: what VMs of the image must be. */
  declare readonly resolvedHyperVGeneration: pulumi.Output<HyperVGeneration>;
  /** The gallery image version's ARM id, when `gallery` is given. */
  declare readonly galleryImageVersionId: pulumi.Output<string | undefined>;
  declare readonly subscriptionId: pulumi.Output<string>;
  declare readonly location: pulumi.Output<string>;
  /** The artifact published. */
  declare readonly artifact: pulumi.Output<Artifact>;

  constructor(name: string, args: ImageArgs, opts: pulumi.CustomResourceOptions = {}) {
    const owner: ImageOwner = {
      project: pulumi.getProject(),
      stack: pulumi.getStack(),
      resource: name,
    };
    const native = new pulumi.Config("azure-native");
    const subscriptionId: pulumi.Input<string> | undefined =
      args.subscriptionId ??
      native.get("subscriptionId") ??
      process.env.AZURE_SUBSCRIPTION_ID ??
      process.env.ARM_SUBSCRIPTION_ID;
    const location: pulumi.Input<string> | undefined = args.location ?? native.get("location");
    super(
      provider,
      name,
      {
        artifact: args.artifact,
        subscriptionId,
        resourceGroupName: args.resourceGroupName,
        location,
        storageAccount: args.storageAccount,
        container: args.container,
        name: args.name ?? name,
        ...(args.hyperVGeneration !== undefined && { hyperVGeneration: args.hyperVGeneration }),
        ...(args.storageAccountType !== undefined && {
          storageAccountType: args.storageAccountType,
        }),
        ...(args.diskSizeGB !== undefined && { diskSizeGB: args.diskSizeGB }),
        tags: args.tags ?? {},
        ...(args.gallery !== undefined && { gallery: args.gallery }),
        ...(args.endpoints !== undefined && { endpoints: args.endpoints }),
        owner,
        ...(args.parallel !== undefined && { parallel: args.parallel }),
        imageName: undefined,
        imageId: undefined,
        blobName: undefined,
        blobUrl: undefined,
        resolvedHyperVGeneration: undefined,
        galleryImageVersionId: undefined,
      },
      opts,
      "oskit/azure",
      "Image",
    );
  }
}
