/**
 * A fixed VHD to an Azure managed image, the whole way, for `oskit push azure` and the Pulumi
 * resource: check the VHD as Azure will (footer, fixed, whole MiB) before anything is sent; adopt
 * the image this owner already made of this digest (an image of that name made by anyone else is
 * refused); else sweep the blobs a killed run of this owner left (its metadata, no image of their
 * digest), upload the page blob (resumed from what is there) and register the image. A failure
 * after the upload throws a PublishInterrupted naming the blob, so the caller can record it and
 * resume or clean up. `unpublishAzure` undoes it: the image, then the blob.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import type { Extent } from "../aws/blocks";
import type { RetryPolicy } from "../aws/retry";
import { ArmApiError, armRequest, type ArmClient, type LroOptions } from "./arm";
import {
  blobContainerClient,
  blobUrl,
  pageBlobClient,
  type BlobContainerApi,
  type BlobTarget,
  type ContainerTarget,
  type PageBlobApi,
} from "./blob";
import { ErrorCode, OskitError } from "../../sdk/errors";
import { redactSecrets } from "./credentials";
import {
  deleteImage,
  diskBootOf,
  hyperVGenerationFor,
  imageName,
  IMAGES_API_VERSION,
  imagePath,
  isOwnImage,
  ownerTag,
  registerImage,
  TAG,
  type AzureImage,
  type HyperVGeneration,
  type StorageAccountType,
} from "./register";
import {
  blobNameOf,
  checkVhd,
  DIGEST_KEY,
  uploadVhd,
  type AzureUploadProgress,
  type AzureUploadResult,
  type VhdFacts,
} from "./upload";

/** The metadata keys of oskit's blobs (Azure lowercases metadata keys; letters and digits only). */
export const METADATA = { digest: DIGEST_KEY, owner: "oskitowner", format: "oskitformat" } as const;

/** The start of every blob name oskit makes. */
export const BLOB_PREFIX = "oskit-";

/** The blob's name: the digest (blobNameOf) and 6 hex digits of the owner's hash (two owners, two blobs). */
export function blobNameFor(digest: string, owner: string): string {
  const hash = createHash("sha256").update(owner).digest("hex").slice(0, 6);
  return blobNameOf(digest).replace(/\.vhd$/, `-${hash}.vhd`);
}

/** A metadata value (printable ASCII) of any text: `%` and other characters percent-encoded. */
export const metadataValue = (text: string) =>
  text.replace(/[^\x20-\x24\x26-\x7e]/gu, (c) => encodeURIComponent(c));

/**
 * The blob's address as ARM reads it: at the blob endpoint when that is https, else (an emulator
 * such as Azurite, which ARM cannot reach) at `https://ACCOUNT.blob.core.windows.net`.
 */
export function imageBlobUri(target: BlobTarget): string {
  const https = target.blobEndpoint === undefined || /^https:/i.test(target.blobEndpoint);
  return blobUrl(https ? target : { ...target, blobEndpoint: undefined });
}

/** Where the blob goes: the storage account and container, and how to sign for them. */
export type AzureStorageTarget = ContainerTarget;

export interface AzurePublishOptions extends LroOptions {
  /** The fixed VHD (an oskit `vhd` output, or any fixed VHD of a whole number of MiB). */
  readonly path: string;
  /** Its sha256 (`sha256:…`): checked against the file; names the blob, tags the image. */
  readonly digest: string;
  /** The oskit format that wrote it, when it is one (tagged; gives the Hyper-V generation). */
  readonly format?: string;
  /** project/stack/resource, or cli/NAME: whose blob and image these are. */
  readonly owner: string;
  /** The image's name before the digest and owner are appended (imageName). */
  readonly name: string;
  readonly storage: AzureStorageTarget;
  /** Needed to register (and to sweep). @default none */
  readonly subscription?: string;
  /** The image's resource group (it must exist). Needed to register. */
  readonly resourceGroup?: string;
  /** The image's region, e.g. westeurope. Needed to register. */
  readonly location?: string;
  /** V1 (BIOS) or V2 (UEFI). @default from the format (diskBootOf); else it must be given */
  readonly hyperVGeneration?: HyperVGeneration;
  /** The image's OS disk storage type. @default Standard_LRS */
  readonly storageAccountType?: StorageAccountType;
  /** The OS disk's size in GiB when it should be larger than the VHD. */
  readonly diskSizeGB?: number;
  /** More tags on the image. */
  readonly tags?: Readonly<Record<string, string>>;
  /** Register an image (false: the upload only). @default true */
  readonly register?: boolean;
  /** The byte ranges of the disk holding data (an oskit output's `allocation`): the rest is not read. */
  readonly allocation?: readonly Extent[];
  /** Put Page calls in flight at once. @default 8 */
  readonly parallel?: number;
  /** The blob calls' retries. @default 8 attempts, backoff from 500 ms up to 20 s */
  readonly retry?: RetryPolicy;
  /** Upload progress, at most every half second. */
  readonly progress?: (progress: AzureUploadProgress & { readonly url: string }) => void;
  /** Told when the blob is complete, before the image is asked for. */
  readonly onUploaded?: (blob: string) => void;
}

/** How publishing reaches Azure: ARM, and factories of the blob clients (real ones by default). */
export interface AzurePublishClients {
  /** ARM (azureArmClient): needed to register, adopt and sweep. */
  readonly arm?: ArmClient;
  /** @default pageBlobClient */
  readonly pageBlob?: (target: BlobTarget) => Promise<PageBlobApi>;
  /** @default blobContainerClient */
  readonly container?: (target: AzureStorageTarget) => Promise<BlobContainerApi>;
}

export interface AzurePublished {
  readonly container: string;
  /** The blob's name in the container. */
  readonly blob: string;
  /** Where the blob was uploaded (no SAS). */
  readonly blobUrl: string;
  /** The blob's address the image names. */
  readonly blobUri: string;
  /** The image's name (absent with `register: false`). */
  readonly imageName?: string;
  /** The image's ARM id (absent with `register: false`). */
  readonly imageId?: string;
  readonly image?: AzureImage;
  readonly hyperVGeneration?: HyperVGeneration;
  /** The VHD's sizes. */
  readonly vhd: VhdFacts;
  /** True when this owner's image of this digest was there and nothing was done. */
  readonly adopted: boolean;
  /** The upload's figures (absent when adopted). */
  readonly upload?: AzureUploadResult;
  /** Blobs of an earlier, killed run of this owner that were deleted. */
  readonly swept: readonly string[];
}

/** A publish that failed after the blob was uploaded: the blob is in `blob`; run again to resume. */
export class PublishInterrupted extends Error {
  constructor(
    message: string,
    readonly container: string,
    readonly blob: string,
    readonly blobUrl: string,
    readonly imageName: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PublishInterrupted";
  }
}

/** The file's sha256, `sha256:…`. */
export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

/**
 * The image, or undefined when the resource group has no image of that name; a missing resource
 * group or subscription is an error (ARM answers 404 for those too), so nothing is uploaded for an
 * image that cannot be made.
 */
export async function findImage(
  arm: ArmClient,
  subscription: string,
  resourceGroup: string,
  name: string,
): Promise<AzureImage | undefined> {
  try {
    return (await armRequest<AzureImage>(
      arm,
      `get image ${name}`,
      "GET",
      imagePath(subscription, resourceGroup, name),
      { apiVersion: IMAGES_API_VERSION },
    ))!.body;
  } catch (error) {
    if (
      error instanceof ArmApiError &&
      error.status === 404 &&
      (error.code === "ResourceNotFound" || error.code === "NotFound")
    )
      return undefined;
    throw error;
  }
}

/**
 * An error's message for people: Storage answers HEAD requests without a body, so their errors
 * have no message and the status and code stand in, with what to check on a refusal; the
 * RequestId lines are kept on one line; secrets are stripped.
 */
export function describeAzureError(
  error: unknown,
  secrets: readonly (string | undefined)[] = [],
): string {
  const e = error as
    | {
        message?: unknown;
        statusCode?: unknown;
        code?: unknown;
        request?: { method?: unknown; url?: unknown };
      }
    | undefined;
  let message = (typeof e?.message === "string" ? e.message : String(error))
    .replace(/\s*\n\s*/g, " ")
    .trim();
  const url = e?.request?.url;
  if (typeof url === "string" && typeof e?.request?.method === "string")
    message = `${e.request.method} ${url.replace(/\?.*$/, "")}: ${message}`.trim();
  const status = typeof e?.statusCode === "number" ? e.statusCode : undefined;
  const code = typeof e?.code === "string" ? e.code : undefined;
  if (status !== undefined && (message === "" || /:\s*(\(after \d+ attempts\))?$/.test(message)))
    message = `${message} HTTP ${status}${code !== undefined ? ` ${code}` : ""}`.trim();
  if (status === 403)
    message +=
      ": the storage account refused the key, SAS or token; check it, its expiry and its permissions (a SAS needs r, c, w and l; d to sweep and delete)";
  return redactSecrets(message, secrets);
}

/** All the images of a resource group (ARM pages through nextLink). */
export async function listImages(
  arm: ArmClient,
  subscription: string,
  resourceGroup: string,
): Promise<AzureImage[]> {
  const out: AzureImage[] = [];
  let next: string | undefined = imagePath(subscription, resourceGroup, "").replace(/\/$/, "");
  let first = true;
  while (next !== undefined) {
    const page: { value?: AzureImage[]; nextLink?: string } | undefined = (
      await armRequest<{ value?: AzureImage[]; nextLink?: string }>(
        arm,
        `list images in ${resourceGroup}`,
        "GET",
        next,
        first ? { apiVersion: IMAGES_API_VERSION } : {},
      )
    )?.body;
    out.push(...(page?.value ?? []));
    next = page?.nextLink;
    first = false;
  }
  return out;
}

/**
 * Deletes this owner's blobs in the container (but `keep`) that no image of the resource group
 * needs: none of this owner's images has their digest, and no image names them. Listing refused
 * (a SAS without the `l` permission) sweeps nothing.
 */
export async function sweepBlobs(
  arm: ArmClient,
  container: BlobContainerApi,
  options: {
    readonly subscription: string;
    readonly resourceGroup: string;
    readonly owner: string;
    readonly keep: string;
  },
): Promise<string[]> {
  let blobs;
  try {
    blobs = await container.list(BLOB_PREFIX);
  } catch (error) {
    if ((error as { statusCode?: unknown })?.statusCode === 403) return [];
    throw error;
  }
  const owner = metadataValue(options.owner);
  const mine = blobs.filter((b) => b.name !== options.keep && b.metadata[METADATA.owner] === owner);
  if (mine.length === 0) return [];
  const images = await listImages(arm, options.subscription, options.resourceGroup);
  const needed = (name: string, digest: string | undefined) =>
    images.some(
      (image) =>
        (digest !== undefined && isOwnImage(image, digest, options.owner)) ||
        image.properties.storageProfile?.osDisk?.blobUri?.endsWith(`/${name}`) === true,
    );
  const swept: string[] = [];
  for (const blob of mine) {
    if (needed(blob.name, blob.metadata[METADATA.digest])) continue;
    if (await container.remove(blob.name)) swept.push(blob.name);
  }
  return swept;
}

function problemsOf(options: AzurePublishOptions, register: boolean): string[] {
  const problems: string[] = [];
  if (options.owner === "") problems.push("owner: empty; give project/stack/resource or cli/NAME");
  if (register)
    for (const field of ["subscription", "resourceGroup", "location"] as const)
      if (options[field] === undefined || options[field] === "")
        problems.push(`${field}: needed to register the image (or publish with register: false)`);
  return problems;
}

/**
 * Checks, uploads and registers (or adopts). Nothing is sent before the VHD is checked.
 *
 * @example
 *   const arm = await azureArmClient();
 *   const published = await publishAzure(
 *     { path: "out/hello.vhd", digest, format: "vhd", owner: "cli/hello", name: "hello",
 *       storage: { account: "oskitimages", container: "images", credential },
 *       subscription, resourceGroup: "images", location: "westeurope" },
 *     { arm },
 *   );
 *   published.imageId; // /subscriptions/…/providers/Microsoft.Compute/images/hello-1a2b3c4d5e6f-9a8b7c
 */
export async function publishAzure(
  options: AzurePublishOptions,
  clients: AzurePublishClients = {},
): Promise<AzurePublished> {
  const vhd = await checkVhd(options.path);
  const register = options.register !== false;
  const problems = problemsOf(options, register);
  const generation =
    options.hyperVGeneration ??
    (() => {
      const boot = diskBootOf(options.format);
      return boot !== undefined ? hyperVGenerationFor(boot) : undefined;
    })();
  if (register && generation === undefined)
    problems.push(
      `hyperVGeneration: cannot tell how ${options.path} boots (${options.format !== undefined ? `format ${options.format}` : "not an oskit output"}); give V2 (UEFI) or V1 (BIOS)`,
    );
  if (register && clients.arm === undefined)
    problems.push("clients.arm: needed to register the image (azureArmClient makes one)");
  if (problems.length > 0)
    throw new OskitError(ErrorCode.Publish, `publish to Azure:\n  ${problems.join("\n  ")}`);

  const blob = blobNameFor(options.digest, options.owner);
  const target: BlobTarget = { ...options.storage, blob };
  const url = blobUrl(target);
  const blobUri = imageBlobUri(target);
  const name = imageName(options.name, options.digest, options.owner);
  const base = {
    container: options.storage.container,
    blob,
    blobUrl: url,
    blobUri,
    vhd,
    ...(generation !== undefined && { hyperVGeneration: generation }),
  };
  const arm = clients.arm;
  const subscription = options.subscription;
  const resourceGroup = options.resourceGroup;

  if (register) {
    const existing = await findImage(arm!, subscription!, resourceGroup!, name);
    if (existing !== undefined) {
      if (!isOwnImage(existing, options.digest, options.owner))
        throw new Error(
          `image ${name} exists in resource group ${resourceGroup!} and is not ${options.owner}'s image of ${options.digest} (its ${TAG.digest} and ${TAG.owner} tags differ); delete it or choose another name`,
        );
      const state = existing.properties.provisioningState;
      if (state === undefined || state === "Succeeded")
        return {
          ...base,
          imageName: name,
          imageId: existing.id,
          image: existing,
          adopted: true,
          swept: [],
        };
      // A killed run's image, Failed or still Creating: the PUT below makes it again or joins it.
    }
  }
  const sha256 = await fileSha256(options.path);
  if (sha256 !== options.digest)
    throw new Error(
      `${options.path} has changed since it was built: its sha256 is ${sha256}, the artifact's ${options.digest}; build it again before publishing`,
    );
  const container = await (clients.container ?? blobContainerClient)(options.storage);
  const swept =
    arm !== undefined && subscription !== undefined && resourceGroup !== undefined
      ? await sweepBlobs(arm, container, {
          subscription,
          resourceGroup,
          owner: options.owner,
          keep: blob,
        })
      : [];
  const api = await (clients.pageBlob ?? pageBlobClient)(target);
  const progress = options.progress;
  const upload = await uploadVhd(
    {
      path: options.path,
      digest: options.digest,
      metadata: {
        [METADATA.owner]: metadataValue(options.owner),
        ...(options.format !== undefined && { [METADATA.format]: options.format }),
      },
      ...(options.allocation !== undefined && { allocation: options.allocation }),
      ...(options.parallel !== undefined && { parallel: options.parallel }),
      ...(options.retry !== undefined && { retry: options.retry }),
      ...(progress !== undefined && { progress: (p) => progress({ ...p, url }) }),
    },
    api,
  );
  options.onUploaded?.(blob);
  if (!register) return { ...base, adopted: false, upload, swept };
  try {
    const image = await registerImage(arm!, {
      subscription: subscription!,
      resourceGroup: resourceGroup!,
      location: options.location!,
      name,
      blobUri,
      digest: options.digest,
      owner: options.owner,
      hyperVGeneration: generation!,
      ...(options.format !== undefined && { format: options.format }),
      ...(options.storageAccountType !== undefined && {
        storageAccountType: options.storageAccountType,
      }),
      ...(options.diskSizeGB !== undefined && { diskSizeGB: options.diskSizeGB }),
      ...(options.tags !== undefined && { tags: options.tags }),
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
      ...(options.sleep !== undefined && { sleep: options.sleep }),
    });
    return { ...base, imageName: name, imageId: image.id, image, adopted: false, upload, swept };
  } catch (error) {
    throw new PublishInterrupted(
      `${url} was uploaded but image ${name} was not made: ${describeAzureError(error)}`,
      options.storage.container,
      blob,
      url,
      name,
      { cause: error },
    );
  }
}

/** What to delete: the image and the blob a publish made. */
export interface AzureUnpublishOptions extends LroOptions {
  readonly subscription: string;
  readonly resourceGroup: string;
  /** The image's name (AzurePublished.imageName); none when only a blob was uploaded. */
  readonly imageName?: string;
  readonly storage: AzureStorageTarget;
  /** The blob's name in the container (AzurePublished.blob). */
  readonly blob: string;
  /** When given, an image or blob tagged with another owner is left alone. */
  readonly owner?: string;
}

/** What happened to each: deleted, already gone, or left because another owner's. */
export type UnpublishOutcome = "deleted" | "absent" | "not-own";

export interface AzureUnpublished {
  readonly image: UnpublishOutcome;
  readonly blob: UnpublishOutcome;
}

/**
 * Deletes the image (following ARM's operation), then the blob: either already gone is fine.
 * With `owner`, one that carries another owner's tag or metadata is left and said so.
 */
export async function unpublishAzure(
  options: AzureUnpublishOptions,
  clients: AzurePublishClients & { readonly arm: ArmClient },
): Promise<AzureUnpublished> {
  let image: UnpublishOutcome = "absent";
  if (options.imageName !== undefined) {
    // A resource group deleted with its images leaves nothing to delete.
    const existing = await findImage(
      clients.arm,
      options.subscription,
      options.resourceGroup,
      options.imageName,
    ).catch((error: unknown) => {
      if (error instanceof ArmApiError && error.code === "ResourceGroupNotFound") return undefined;
      throw error;
    });
    if (
      existing !== undefined &&
      options.owner !== undefined &&
      existing.tags?.[TAG.owner] !== ownerTag(options.owner)
    )
      image = "not-own";
    else if (existing !== undefined)
      image = (await deleteImage(
        clients.arm,
        options.subscription,
        options.resourceGroup,
        options.imageName,
        options,
      ))
        ? "deleted"
        : "absent";
  }
  const target: BlobTarget = { ...options.storage, blob: options.blob };
  const facts = await (await (clients.pageBlob ?? pageBlobClient)(target)).properties();
  let blob: UnpublishOutcome = "absent";
  if (
    facts !== undefined &&
    options.owner !== undefined &&
    facts.metadata[METADATA.owner] !== metadataValue(options.owner)
  )
    blob = "not-own";
  else if (facts !== undefined) {
    const container = await (clients.container ?? blobContainerClient)(options.storage);
    blob = (await container.remove(options.blob)) ? "deleted" : "absent";
  }
  return { image, blob };
}
