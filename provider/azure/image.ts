/**
 * What `oskit.azure.Image` does, as plain async functions (the dynamic provider calls these):
 * check the inputs, tell a replacement from an update, publish a `vhd` artifact as a managed
 * image (publish.ts) and, when asked, a gallery image version of it (gallery.ts), and remove
 * them and the blob. Credentials are found inside the functions — ARM tokens from
 * DefaultAzureCredential; the blob signed with AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN when
 * set, else the same credential: nothing in the inputs or outputs is a credential.
 */
import type { Artifact } from "../build/image-build";
import type { ArmClient } from "./arm";
import type { BlobContainerApi, BlobTarget, PageBlobApi } from "./blob";
import { azureArmClient, defaultAzureCredential, type AzureTokenCredential } from "./credentials";
import {
  deleteGalleryVersion,
  galleryTargetProblems,
  getVersion,
  isOwnVersion,
  registerGalleryVersion,
  type TargetRegion,
} from "./gallery";
import {
  blobNameFor,
  PublishInterrupted,
  publishAzure,
  unpublishAzure,
  type AzureStorageTarget,
} from "./publish";
import {
  HYPERV_GENERATIONS,
  imageName,
  STORAGE_ACCOUNT_TYPES,
  type HyperVGeneration,
  type StorageAccountType,
} from "./register";

/** The value Pulumi gives for an input it does not know yet (a preview). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const isUnknown = (value: unknown) => value === UNKNOWN;

/** Who owns the image: tagged on it and its gallery version, and in its blob's metadata. */
export interface ImageOwner {
  /** The Pulumi project. */
  readonly project: string;
  /** The stack. */
  readonly stack: string;
  /** The resource's name. */
  readonly resource: string;
}

/** The owner's value: project/stack/resource. */
export const ownerOf = (owner: ImageOwner) => `${owner.project}/${owner.stack}/${owner.resource}`;

/** Where the clients connect (tests, sovereign clouds, private endpoints). */
export interface AzureEndpoints {
  /** Azure Resource Manager's root. @default https://management.azure.com */
  readonly arm?: string;
  /** The storage account's blob service. @default https://ACCOUNT.blob.core.windows.net */
  readonly blob?: string;
}

/** A Shared Image Gallery version to make of the image. */
export interface GalleryVersionArgs {
  /** The gallery's resource group. @default the image's */
  readonly resourceGroupName?: string;
  /** The gallery (it must exist). */
  readonly gallery: string;
  /** The image definition (it must exist: Linux, Generalized, the disk's Hyper-V generation). */
  readonly definition: string;
  /** MAJOR.MINOR.PATCH; a new artifact needs a new version. */
  readonly version: string;
  /** The regions it is replicated to. @default the image's location alone */
  readonly targetRegions?: readonly TargetRegion[];
  /** Keep VMs that ask for `latest` on the version before. @default false */
  readonly excludeFromLatest?: boolean;
}

/** What an Image is given (defaults resolved by the resource class). */
export interface ImageInputs {
  /** The ImageBuild artifact: a `vhd`. */
  readonly artifact: Artifact;
  readonly subscriptionId: string;
  readonly resourceGroupName: string;
  readonly location: string;
  /** The storage account the page blob is uploaded to (kept there while the image lives). */
  readonly storageAccount: string;
  readonly container: string;
  /** The image's name; the artifact's short digest and an owner hash are appended. */
  readonly name: string;
  readonly hyperVGeneration?: HyperVGeneration;
  readonly storageAccountType?: StorageAccountType;
  readonly diskSizeGB?: number;
  readonly tags: Readonly<Record<string, string>>;
  readonly gallery?: GalleryVersionArgs;
  readonly endpoints?: AzureEndpoints;
  readonly owner: ImageOwner;
  /** Put Page calls in flight at once. @default 8 */
  readonly parallel?: number;
}

/** What an Image records. */
export interface ImageOutputs extends ImageInputs {
  /** The managed image's name (absent in a partial create). */
  readonly imageName?: string;
  /** Its ARM id (absent in a partial create). */
  readonly imageId?: string;
  /** The page blob in `container`. */
  readonly blobName: string;
  readonly blobUrl: string;
  readonly resolvedHyperVGeneration?: HyperVGeneration;
  /** The gallery image version's ARM id, when one was asked for. */
  readonly galleryImageVersionId?: string;
}

export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}

/** The clients, handed in (tests give their own); real ones are made from the environment. */
export interface ImageDeps {
  readonly arm?: ArmClient;
  /** The blob service's credential when no key or SAS is in the environment. */
  readonly credential?: AzureTokenCredential;
  readonly pageBlob?: (target: BlobTarget) => Promise<PageBlobApi>;
  readonly container?: (target: AzureStorageTarget) => Promise<BlobContainerApi>;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const SUBSCRIPTION = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const RESOURCE_GROUP = /^[-\w.()]{0,89}[-\w()]$/;
const LOCATION = /^[a-z][a-z0-9]{1,39}$/;
const STORAGE_ACCOUNT = /^[a-z0-9]{3,24}$/;
const CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

/** Validates the inputs (unknown values of a preview pass). */
export function checkImage(raw: ImageInputs): { inputs: ImageInputs; failures: CheckFailure[] } {
  const news = raw as unknown as Readonly<Record<string, unknown>>;
  const failures: CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  const artifact = news.artifact;
  if (artifact === undefined || artifact === null)
    fail("artifact", 'expected an ImageBuild artifact, e.g. build.artifacts["vhd"]');
  else if (!isUnknown(artifact)) {
    const { format, path, sha256 } = artifact as Record<string, unknown>;
    if (!isUnknown(format) && format !== "vhd")
      fail(
        "artifact.format",
        `Azure boots a fixed VHD; build the vhd format (got ${JSON.stringify(format)})`,
      );
    if (!isUnknown(path) && (typeof path !== "string" || !path.startsWith("/")))
      fail("artifact.path", "expected the artifact's absolute path");
    if (!isUnknown(sha256) && (typeof sha256 !== "string" || !/^sha256:[0-9a-f]{64}$/.test(sha256)))
      fail("artifact.sha256", 'expected "sha256:" and 64 hex digits');
  }
  const str = (key: string, pattern: RegExp, what: string, optional = false) => {
    const v = news[key];
    if (isUnknown(v) || (optional && v === undefined)) return;
    if (typeof v !== "string" || !pattern.test(v))
      fail(key, `${JSON.stringify(v)}: expected ${what}`);
  };
  str(
    "subscriptionId",
    SUBSCRIPTION,
    "a subscription id (a GUID); set azure-native:subscriptionId or AZURE_SUBSCRIPTION_ID, or give it",
  );
  str(
    "resourceGroupName",
    RESOURCE_GROUP,
    "a resource group name: 1–90 letters, digits, _ - . ( ), not ending with .",
  );
  str(
    "location",
    LOCATION,
    "a region such as westeurope (lowercase, no spaces); set azure-native:location, or give it",
  );
  str("storageAccount", STORAGE_ACCOUNT, "a storage account name: 3–24 lowercase letters, digits");
  str(
    "container",
    CONTAINER,
    "a container name: 3–63 lowercase letters, digits and single dashes, starting and ending with a letter or digit",
  );
  if (!isUnknown(news.name) && (typeof news.name !== "string" || news.name.trim() === ""))
    fail("name", "expected a name");
  const oneOf = (key: string, allowed: readonly string[]) => {
    const v = news[key];
    if (v !== undefined && !isUnknown(v) && !allowed.includes(v as string))
      fail(key, `${JSON.stringify(v)}: expected ${allowed.join(", ")}`);
  };
  oneOf("hyperVGeneration", HYPERV_GENERATIONS);
  oneOf("storageAccountType", STORAGE_ACCOUNT_TYPES);
  const size = news.diskSizeGB;
  if (
    size !== undefined &&
    !isUnknown(size) &&
    !(Number.isInteger(size) && (size as number) >= 1 && (size as number) <= 4095)
  )
    fail("diskSizeGB", "expected a whole number of GiB from 1 to 4095");
  const parallel = news.parallel;
  if (
    parallel !== undefined &&
    !(Number.isInteger(parallel) && (parallel as number) >= 1 && (parallel as number) <= 64)
  )
    fail("parallel", "expected 1 to 64 Put Page calls at once");
  const tags = news.tags;
  if (!isUnknown(tags)) {
    if (tags === null || typeof tags !== "object" || Array.isArray(tags))
      fail("tags", "expected an object of tag names and values");
    else {
      const entries = Object.entries(tags as Record<string, unknown>);
      if (entries.length > 47) fail("tags", "a resource has at most 50 tags, 3 of them oskit's");
      for (const [key, value] of entries) {
        if (key.toLowerCase().startsWith("oskit-")) fail(`tags.${key}`, "oskit- tags are reserved");
        else if (key.length > 512 || /[<>%&\\?/]/.test(key))
          fail(`tags.${key}`, "a tag name is at most 512 characters, without < > % & \\ ? /");
        if (!isUnknown(value) && (typeof value !== "string" || value.length > 256))
          fail(`tags.${key}`, "a tag value is a string of at most 256 characters");
      }
    }
  }
  const gallery = news.gallery;
  if (gallery !== undefined && !isUnknown(gallery)) {
    if (gallery === null || typeof gallery !== "object" || Array.isArray(gallery))
      fail("gallery", "expected { gallery, definition, version }");
    else {
      const g = gallery as Record<string, unknown>;
      const known = (k: string) => (isUnknown(g[k]) ? undefined : g[k]);
      if (![g.gallery, g.definition, g.version].some(isUnknown))
        for (const problem of galleryTargetProblems({
          gallery: known("gallery") as string,
          definition: known("definition") as string,
          version: known("version") as string,
        }))
          fail(
            `gallery.${problem.startsWith("image definition") ? "definition" : problem.startsWith("gallery") ? "gallery" : "version"}`,
            problem,
          );
      if (
        g.resourceGroupName !== undefined &&
        !isUnknown(g.resourceGroupName) &&
        (typeof g.resourceGroupName !== "string" || !RESOURCE_GROUP.test(g.resourceGroupName))
      )
        fail("gallery.resourceGroupName", "expected a resource group name");
      if (g.targetRegions !== undefined && !isUnknown(g.targetRegions)) {
        if (!Array.isArray(g.targetRegions) || g.targetRegions.length === 0)
          fail("gallery.targetRegions", "expected a non-empty list of { name }");
        else
          g.targetRegions.forEach((r: unknown, i) => {
            const name = (r as { name?: unknown } | null)?.name;
            if (!isUnknown(name) && (typeof name !== "string" || !LOCATION.test(name)))
              fail(`gallery.targetRegions[${i}].name`, "expected a region such as northeurope");
          });
      }
    }
  }
  const endpoints = news.endpoints;
  if (endpoints !== undefined && !isUnknown(endpoints)) {
    if (endpoints === null || typeof endpoints !== "object")
      fail("endpoints", "expected { arm?: URL, blob?: URL }");
    else
      for (const [key, url] of Object.entries(endpoints as Record<string, unknown>)) {
        if (isUnknown(url)) continue;
        let parsed: URL | undefined;
        try {
          parsed = new URL(String(url));
        } catch {
          parsed = undefined;
        }
        if (key !== "arm" && key !== "blob") fail(`endpoints.${key}`, "expected arm or blob");
        else if (parsed === undefined || !/^https?:$/.test(parsed.protocol))
          fail(`endpoints.${key}`, "expected an http(s) URL");
        else if (parsed.username !== "" || parsed.password !== "" || parsed.search !== "")
          fail(
            `endpoints.${key}`,
            "an endpoint carries no credentials or query: keys and SAS tokens come from AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN where Pulumi runs",
          );
      }
  }
  return { inputs: raw, failures };
}

const REPLACING = [
  "subscriptionId",
  "resourceGroupName",
  "location",
  "storageAccount",
  "container",
  "name",
  "hyperVGeneration",
  "storageAccountType",
  "diskSizeGB",
  "tags",
  "gallery",
  "owner",
] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * A new artifact (its sha256) or any input of the image replaces it: with the same artifact the
 * old image goes first (its name would be the new one's); a new artifact's image is made before
 * the old one is removed. Endpoints and `parallel` touch nothing; a partial create is an update
 * that resumes it.
 */
export function diffImage(
  olds: ImageOutputs,
  news: ImageInputs,
): { changes: boolean; replaces: string[]; changed: string[]; deleteBeforeReplace: boolean } {
  const replaces: string[] = [];
  const artifact = news.artifact as unknown;
  const digest = (artifact as Artifact | undefined)?.sha256;
  const newDigest = isUnknown(artifact) || isUnknown(digest) || olds.artifact?.sha256 !== digest;
  if (newDigest) replaces.push("artifact");
  replaces.push(...REPLACING.filter((key) => !same(olds[key], news[key])));
  const changed = [
    ...replaces,
    ...(["endpoints", "parallel"] as const).filter((key) => !same(olds[key], news[key])),
  ];
  const partial =
    olds.imageId === undefined ||
    (olds.gallery !== undefined && olds.galleryImageVersionId === undefined);
  if (partial) changed.push("imageId");
  return {
    changes: changed.length > 0,
    replaces,
    changed,
    deleteBeforeReplace: replaces.length > 0 && !newDigest,
  };
}

/**
 * A create that uploaded the blob (and perhaps made the image) but did not finish: Pulumi records
 * it (the dynamic provider's initialization failure), so `pulumi up` resumes it with update and
 * `pulumi destroy` removes it.
 */
export class PartialCreateError extends Error {
  readonly id: string;
  readonly properties: ImageOutputs;
  readonly reasons: string[];
  constructor(message: string, id: string, properties: ImageOutputs) {
    super(message);
    this.name = "PartialCreateError";
    this.id = id;
    this.properties = properties;
    this.reasons = [message];
  }
}

/** The storage target: the account and container, the endpoint, and how to sign for them. */
async function storageOf(inputs: ImageInputs, deps: ImageDeps): Promise<AzureStorageTarget> {
  const keyed = [process.env.AZURE_STORAGE_KEY, process.env.AZURE_STORAGE_SAS_TOKEN].some(
    (v) => v !== undefined && v.trim() !== "",
  );
  return {
    account: inputs.storageAccount,
    container: inputs.container,
    ...(inputs.endpoints?.blob !== undefined && { blobEndpoint: inputs.endpoints.blob }),
    ...(!keyed && { credential: deps.credential ?? (await defaultAzureCredential()) }),
  };
}

const armOf = async (inputs: ImageInputs, deps: ImageDeps) =>
  deps.arm ??
  (await azureArmClient({
    ...(inputs.endpoints?.arm !== undefined && { endpoint: inputs.endpoints.arm }),
  }));

const lro = (deps: ImageDeps) => ({
  ...(deps.pollMs !== undefined && { pollMs: deps.pollMs }),
  ...(deps.sleep !== undefined && { sleep: deps.sleep }),
});

const galleryTarget = (inputs: ImageInputs, gallery: GalleryVersionArgs) => ({
  subscription: inputs.subscriptionId,
  resourceGroup: gallery.resourceGroupName ?? inputs.resourceGroupName,
  gallery: gallery.gallery,
  definition: gallery.definition,
  version: gallery.version,
});

/** Publishes the artifact (and its gallery version); the id is the managed image's ARM id. */
export async function createImage(
  inputs: ImageInputs,
  deps: ImageDeps = {},
): Promise<{ id: string; outs: ImageOutputs }> {
  const owner = ownerOf(inputs.owner);
  const blobName = blobNameFor(inputs.artifact.sha256, owner);
  const arm = await armOf(inputs, deps);
  const storage = await storageOf(inputs, deps);
  const clients = {
    arm,
    ...(deps.pageBlob !== undefined && { pageBlob: deps.pageBlob }),
    ...(deps.container !== undefined && { container: deps.container }),
  };
  let partial: ImageOutputs | undefined;
  try {
    const published = await publishAzure(
      {
        path: inputs.artifact.path,
        digest: inputs.artifact.sha256,
        format: inputs.artifact.format,
        owner,
        name: inputs.name,
        storage,
        subscription: inputs.subscriptionId,
        resourceGroup: inputs.resourceGroupName,
        location: inputs.location,
        tags: inputs.tags,
        ...(inputs.hyperVGeneration !== undefined && {
          hyperVGeneration: inputs.hyperVGeneration,
        }),
        ...(inputs.storageAccountType !== undefined && {
          storageAccountType: inputs.storageAccountType,
        }),
        ...(inputs.diskSizeGB !== undefined && { diskSizeGB: inputs.diskSizeGB }),
        ...(inputs.parallel !== undefined && { parallel: inputs.parallel }),
        ...lro(deps),
      },
      clients,
    );
    const outs: ImageOutputs = {
      ...inputs,
      imageName: published.imageName!,
      imageId: published.imageId!,
      blobName: published.blob,
      blobUrl: published.blobUrl,
      resolvedHyperVGeneration: published.hyperVGeneration!,
    };
    if (inputs.gallery === undefined) return { id: outs.imageId!, outs };
    partial = outs;
    const version = await registerGalleryVersion(arm, {
      ...galleryTarget(inputs, inputs.gallery),
      location: inputs.location,
      sourceImageId: outs.imageId!,
      generation: outs.resolvedHyperVGeneration!,
      digest: inputs.artifact.sha256,
      owner,
      format: inputs.artifact.format,
      tags: inputs.tags,
      ...(inputs.gallery.targetRegions !== undefined && {
        targetRegions: inputs.gallery.targetRegions,
      }),
      ...(inputs.gallery.excludeFromLatest !== undefined && {
        excludeFromLatest: inputs.gallery.excludeFromLatest,
      }),
      ...lro(deps),
    });
    return { id: outs.imageId!, outs: { ...outs, galleryImageVersionId: version.id } };
  } catch (error) {
    if (partial !== undefined)
      throw new PartialCreateError(
        `image ${partial.imageName!} was made but its gallery version was not: ${(error as Error).message}; run pulumi up to make the version, or pulumi destroy to remove the image`,
        partial.imageId!,
        partial,
      );
    if (!(error instanceof PublishInterrupted)) throw error;
    throw new PartialCreateError(
      `${error.message}; run pulumi up to make the image from the uploaded blob, or pulumi destroy to remove it`,
      error.blobUrl,
      { ...inputs, blobName, blobUrl: error.blobUrl },
    );
  }
}

/** A finished image changes nothing in place; a partial create is resumed (the upload is skipped). */
export async function updateImage(
  olds: ImageOutputs,
  news: ImageInputs,
  deps: ImageDeps = {},
): Promise<ImageOutputs> {
  const finished =
    olds.imageId !== undefined &&
    (news.gallery === undefined || olds.galleryImageVersionId !== undefined);
  if (finished)
    return {
      ...news,
      imageName: olds.imageName!,
      imageId: olds.imageId,
      blobName: olds.blobName,
      blobUrl: olds.blobUrl,
      ...(olds.resolvedHyperVGeneration !== undefined && {
        resolvedHyperVGeneration: olds.resolvedHyperVGeneration,
      }),
      ...(olds.galleryImageVersionId !== undefined && {
        galleryImageVersionId: olds.galleryImageVersionId,
      }),
    };
  const { outs } = await createImage(news, deps);
  return outs;
}

/**
 * Deletes the gallery version (when this owner's), the image (a partial create's too, when its
 * name holds this owner's image of the digest) and the blob; what another owner tagged is left.
 */
export async function deleteImageResource(olds: ImageOutputs, deps: ImageDeps = {}): Promise<void> {
  const owner = ownerOf(olds.owner);
  const arm = await armOf(olds, deps);
  if (olds.gallery !== undefined) {
    const target = galleryTarget(olds, olds.gallery);
    const version = await getVersion(arm, target);
    if (version !== undefined && isOwnVersion(version, olds.artifact.sha256, owner))
      await deleteGalleryVersion(arm, target, lro(deps));
  }
  await unpublishAzure(
    {
      subscription: olds.subscriptionId,
      resourceGroup: olds.resourceGroupName,
      imageName: olds.imageName ?? imageName(olds.name, olds.artifact.sha256, owner),
      storage: await storageOf(olds, deps),
      blob: olds.blobName,
      owner,
      ...lro(deps),
    },
    {
      arm,
      ...(deps.pageBlob !== undefined && { pageBlob: deps.pageBlob }),
      ...(deps.container !== undefined && { container: deps.container }),
    },
  );
}
