/**
 * A managed image (`Microsoft.Compute/images`) from an uploaded page blob: osType Linux, osState
 * Generalized, the blob's URI, hyperVGeneration V2 for EFI disks and V1 for BIOS ones, tags with
 * the artifact's digest and owner; created or updated with PUT and followed to its end (ARM's
 * long-running operation, with a timeout), deleted likewise, ARM's code and message surfaced.
 */
import { createHash } from "node:crypto";
import { armRequest, followLro, type ArmClient, type LroOptions } from "./arm";

/** The Compute API version oskit speaks for images. */
export const IMAGES_API_VERSION = "2024-03-01";

/** Managed image names: 1–80 of letters, digits, `_`, `-`, `.`; a letter or digit first, a letter, digit or `_` last. */
export const IMAGE_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,78}[A-Za-z0-9_])?$/;

/** The tags oskit puts on its images. */
export const TAG = {
  digest: "oskit-digest",
  owner: "oskit-owner",
  format: "oskit-format",
} as const;

/** Azure's Hyper-V generations: V1 boots with a BIOS, V2 with UEFI. */
export const HYPERV_GENERATIONS = ["V1", "V2"] as const;
export type HyperVGeneration = (typeof HYPERV_GENERATIONS)[number];

/** How a disk boots, as oskit knows it. */
export type DiskBoot = "uefi" | "bios" | "hybrid";

/** V2 for UEFI and hybrid disks (a Gen2 VM boots the ESP), V1 for BIOS-only ones. */
export function hyperVGenerationFor(boot: DiskBoot): HyperVGeneration {
  switch (boot) {
    case "uefi":
    case "hybrid":
      return "V2";
    case "bios":
      return "V1";
    default: {
      const never: never = boot;
      throw new Error(`unknown boot ${String(never)}`);
    }
  }
}

/**
 * How an oskit format boots: `vhd`, `raw-efi`, `aws` and `gce` are GPT disks whose ESP holds the
 * UKI (UEFI), `raw-bios` a BIOS disk, `raw-hybrid` either; other files need it said.
 */
export function diskBootOf(format: string | undefined): DiskBoot | undefined {
  switch (format) {
    case "vhd":
    case "raw-efi":
    case "aws":
    case "gce":
      return "uefi";
    case "raw-bios":
      return "bios";
    case "raw-hybrid":
      return "hybrid";
    default:
      return undefined;
  }
}

/** A valid managed image name from any text, at most `max` characters. */
export function azureName(text: string, max = 80): string {
  const name = text
    .replace(/[^-A-Za-z0-9_.]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, max)
    .replace(/[^A-Za-z0-9_]+$/, "");
  return name === "" ? "image" : name;
}

/** The image's name: the name, the digest's first 12 hex digits, 6 of the owner's hash. */
export function imageName(name: string, digest: string, owner: string): string {
  const short = digest.replace(/^sha256:/, "").slice(0, 12);
  const hash = createHash("sha256").update(owner).digest("hex").slice(0, 6);
  return `${azureName(name, 80 - 20)}-${short}-${hash}`;
}

/** Azure's tag values are at most 256 characters: a longer owner keeps its start and its hash. */
export function ownerTag(owner: string): string {
  if (owner.length <= 256) return owner;
  return `${owner.slice(0, 256 - 17)}…${createHash("sha256").update(owner).digest("hex").slice(0, 16)}`;
}

/** Azure's storage types for a managed image's OS disk. */
export const STORAGE_ACCOUNT_TYPES = [
  "Standard_LRS",
  "StandardSSD_LRS",
  "Premium_LRS",
  "StandardSSD_ZRS",
  "Premium_ZRS",
] as const;
export type StorageAccountType = (typeof STORAGE_ACCOUNT_TYPES)[number];

export interface RegisterOptions extends LroOptions {
  readonly subscription: string;
  readonly resourceGroup: string;
  readonly location: string;
  /** The image's name, valid already (imageName). */
  readonly name: string;
  /** The page blob's URI, `https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB`, without a SAS. */
  readonly blobUri: string;
  readonly digest: string;
  readonly owner: string;
  readonly format?: string;
  /** V2 for EFI disks, V1 for BIOS ones (hyperVGenerationFor). */
  readonly hyperVGeneration: HyperVGeneration;
  /** @default Standard_LRS */
  readonly storageAccountType?: StorageAccountType;
  /** The OS disk's size in GiB when it should be larger than the blob. */
  readonly diskSizeGB?: number;
  /** More tags. */
  readonly tags?: Readonly<Record<string, string>>;
  /** @default IMAGES_API_VERSION */
  readonly apiVersion?: string;
}

/** What ARM says of an image (the fields oskit reads). */
export interface AzureImage {
  readonly id: string;
  readonly name: string;
  readonly location: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly properties: {
    readonly provisioningState?: string;
    readonly hyperVGeneration?: HyperVGeneration;
    readonly storageProfile?: {
      readonly osDisk?: {
        readonly osType?: string;
        readonly osState?: string;
        readonly blobUri?: string;
        readonly storageAccountType?: string;
        readonly diskSizeGB?: number;
      };
    };
  };
}

/** The image's path under ARM's root. */
export const imagePath = (subscription: string, resourceGroup: string, name: string) =>
  `/subscriptions/${encodeURIComponent(subscription)}/resourceGroups/${encodeURIComponent(resourceGroup)}/providers/Microsoft.Compute/images/${encodeURIComponent(name)}`;

/** The PUT body. */
export function imageBody(options: RegisterOptions): Record<string, unknown> {
  return {
    location: options.location,
    tags: {
      ...options.tags,
      [TAG.digest]: options.digest,
      [TAG.owner]: ownerTag(options.owner),
      ...(options.format !== undefined && { [TAG.format]: options.format }),
    },
    properties: {
      storageProfile: {
        osDisk: {
          osType: "Linux",
          osState: "Generalized",
          blobUri: options.blobUri,
          storageAccountType: options.storageAccountType ?? "Standard_LRS",
          ...(options.diskSizeGB !== undefined && { diskSizeGB: options.diskSizeGB }),
        },
      },
      hyperVGeneration: options.hyperVGeneration,
    },
  };
}

/** True when the image is this owner's of this digest (its tags). */
export const isOwnImage = (image: AzureImage, digest: string, owner: string) =>
  image.tags?.[TAG.digest] === digest && image.tags?.[TAG.owner] === ownerTag(owner);

/** The image, or undefined when there is none. */
export async function getImage(
  client: ArmClient,
  subscription: string,
  resourceGroup: string,
  name: string,
  apiVersion = IMAGES_API_VERSION,
): Promise<AzureImage | undefined> {
  const got = await armRequest<AzureImage>(
    client,
    `get image ${name}`,
    "GET",
    imagePath(subscription, resourceGroup, name),
    { apiVersion, notFound: true },
  );
  return got?.body;
}

/**
 * Creates (or updates: only tags may change) the image and follows the operation to its end; the
 * image as ARM then describes it, provisioningState Succeeded.
 */
export async function registerImage(
  client: ArmClient,
  options: RegisterOptions,
): Promise<AzureImage> {
  const problems: string[] = [];
  if (!IMAGE_NAME.test(options.name))
    problems.push(
      `name ${JSON.stringify(options.name)}: expected 1–80 letters, digits, _ - . starting with a letter or digit and ending with one or _ (imageName makes one)`,
    );
  let blob: URL | undefined;
  try {
    blob = new URL(options.blobUri);
  } catch {
    // reported below
  }
  if (blob === undefined || blob.protocol !== "https:" || blob.pathname.split("/").length < 3)
    problems.push(
      `blobUri ${JSON.stringify(options.blobUri)}: expected https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB`,
    );
  else if (blob.search !== "")
    problems.push("blobUri: give it without a query (a SAS is neither needed nor kept)");
  if (problems.length > 0) throw new Error(`managed image:\n  ${problems.join("\n  ")}`);

  const apiVersion = options.apiVersion ?? IMAGES_API_VERSION;
  const path = imagePath(options.subscription, options.resourceGroup, options.name);
  const what = `create image ${options.name}`;
  const first = (await armRequest<AzureImage>(client, what, "PUT", path, {
    apiVersion,
    body: imageBody(options),
  }))!;
  await followLro(client, what, first, options);
  const image = await getImage(
    client,
    options.subscription,
    options.resourceGroup,
    options.name,
    apiVersion,
  );
  if (image === undefined)
    throw new Error(`${what}: the image is not there after its operation succeeded`);
  const state = image.properties.provisioningState;
  if (state !== undefined && state !== "Succeeded")
    throw new Error(`${what}: the operation succeeded but the image is ${state}`);
  return image;
}

/** Deletes the image and follows the operation; false when it was not there. */
export async function deleteImage(
  client: ArmClient,
  subscription: string,
  resourceGroup: string,
  name: string,
  options: LroOptions & { readonly apiVersion?: string } = {},
): Promise<boolean> {
  const what = `delete image ${name}`;
  const first = await armRequest<unknown>(
    client,
    what,
    "DELETE",
    imagePath(subscription, resourceGroup, name),
    { apiVersion: options.apiVersion ?? IMAGES_API_VERSION, notFound: true },
  );
  if (first === undefined || first.status === 204) return false;
  await followLro(client, what, first, options);
  return true;
}
