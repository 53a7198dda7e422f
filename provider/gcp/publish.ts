/**
 * A GCE tarball to an image, the whole way, for `oskit.gcp.Image` and `oskit push gcp`: check
 * the tarball as GCE will; adopt the image this owner already made of this digest; else sweep
 * the objects a killed run of this owner left (its metadata, no image of their digest), upload
 * the tarball resumably (kept when an identical object is there) and register it. A failure after
 * the upload throws a PublishInterrupted naming the object, so the caller can record it and
 * resume or clean up.
 */
import { createHash } from "node:crypto";
import type { GcpClient, GcpEndpoints } from "./http";
import {
  findImages,
  getImage,
  imageName,
  isOwnImage,
  LABEL,
  digestLabel,
  ownerLabel,
  registerImage,
  type GceImage,
  type RegisterOptions,
} from "./register";
import { checkGceTarball, type GceArchitecture } from "./tarball";
import {
  deleteObject,
  fileDigests,
  listObjects,
  uploadObject,
  type UploadProgress,
  type UploadResult,
} from "./upload";

/** The metadata keys of oskit's objects. */
export const METADATA = { digest: "oskit-digest", owner: "oskit-owner", format: "oskit-format" };

/** Where oskit puts its tarballs in a bucket. */
export const OBJECT_PREFIX = "oskit/";

/** The object's name: the digest, and 6 hex digits of the owner's hash (two owners, two objects). */
export function objectName(digest: string, owner: string): string {
  const hash = createHash("sha256").update(owner).digest("hex").slice(0, 6);
  return `${OBJECT_PREFIX}${digest.replace(/^sha256:/, "")}-${hash}.tar.gz`;
}

export interface GcePublishOptions {
  /** The tarball. */
  readonly path: string;
  /** Its sha256 (`sha256:…`): checked against the file. */
  readonly digest: string;
  /** The oskit format, when it is one (labelled). */
  readonly format?: string;
  readonly project: string;
  readonly bucket: string;
  /** The image's name before the digest and owner are appended. */
  readonly name: string;
  /** project/stack/resource, or cli/NAME. */
  readonly owner: string;
  readonly family?: string;
  readonly storageLocations?: readonly string[];
  readonly labels?: Readonly<Record<string, string>>;
  /** @default read from the disk's EFI binary */
  readonly architecture?: GceArchitecture;
  /** Register an image (false: the upload only). @default true */
  readonly register?: boolean;
  /** Bytes per upload request (a multiple of 256 KiB). @default 8 MiB */
  readonly chunkSize?: number;
  readonly progress?: (progress: UploadProgress) => void;
  /** Told when the object is complete, before the image is asked for. */
  readonly onUploaded?: (object: string) => void;
  readonly timeoutMs?: number;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface GcePublished {
  readonly bucket: string;
  readonly object: string;
  /** The registered image's name (absent with `register: false`). */
  readonly imageName?: string;
  readonly image?: GceImage;
  readonly architecture: GceArchitecture;
  /** True when this owner's image of this digest was there and nothing was done. */
  readonly adopted: boolean;
  /** The upload's figures (absent when adopted). */
  readonly upload?: UploadResult;
  /** Objects of an earlier, killed run that were deleted. */
  readonly swept: readonly string[];
}

/** A publish that failed after the object was uploaded: the object is in `object`. */
export class PublishInterrupted extends Error {
  constructor(
    message: string,
    readonly bucket: string,
    readonly object: string,
    readonly imageName: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PublishInterrupted";
  }
}

/** Deletes this owner's objects in the bucket whose digest has no image of this owner. */
export async function sweepObjects(
  client: GcpClient,
  endpoints: GcpEndpoints,
  options: Pick<GcePublishOptions, "project" | "bucket" | "owner"> & { keep: string },
): Promise<string[]> {
  const swept: string[] = [];
  for (const object of await listObjects(client, endpoints, options.bucket, OBJECT_PREFIX)) {
    if (object.name === options.keep || object.metadata?.[METADATA.owner] !== options.owner)
      continue;
    const digest = object.metadata?.[METADATA.digest];
    if (digest !== undefined) {
      const images = await findImages(client, endpoints, options.project, {
        [LABEL.digest]: digestLabel(digest),
        [LABEL.owner]: ownerLabel(options.owner),
      });
      if (images.length > 0) continue;
    }
    if (await deleteObject(client, endpoints, options.bucket, object.name)) swept.push(object.name);
  }
  return swept;
}

/** Checks, uploads and registers (or adopts). */
export async function publishGce(
  client: GcpClient,
  endpoints: GcpEndpoints,
  options: GcePublishOptions,
): Promise<GcePublished> {
  const info = await checkGceTarball(options.path);
  const architecture = options.architecture ?? info.architecture;
  if (architecture === undefined)
    throw new Error(
      `cannot tell the architecture of ${options.path} (no EFI binary near the start of disk.raw): give the architecture, X86_64 or ARM64`,
    );
  const object = objectName(options.digest, options.owner);
  const name = imageName(options.name, options.digest, options.owner);
  const register = options.register !== false;
  const base = { bucket: options.bucket, object, architecture };
  if (register) {
    const existing = await getImage(client, endpoints, options.project, name);
    if (existing !== undefined) {
      if (!isOwnImage(existing, options.digest, options.owner))
        throw new Error(
          `image ${name} exists in ${options.project} and is not ${options.owner}'s image of ${options.digest} (its labels or description differ); delete it or choose another name`,
        );
      return { ...base, imageName: name, image: existing, adopted: true, swept: [] };
    }
  }
  const digests = await fileDigests(options.path);
  if (digests.sha256 !== options.digest)
    throw new Error(
      `${options.path} has changed since it was built: its sha256 is ${digests.sha256}, the artifact's ${options.digest}; build it again before publishing`,
    );
  const swept = await sweepObjects(client, endpoints, { ...options, keep: object });
  const upload = await uploadObject(client, endpoints, {
    path: options.path,
    bucket: options.bucket,
    object,
    digests,
    metadata: {
      [METADATA.digest]: options.digest,
      [METADATA.owner]: options.owner,
      ...(options.format !== undefined && { [METADATA.format]: options.format }),
    },
    ...(options.chunkSize !== undefined && { chunkSize: options.chunkSize }),
    ...(options.progress !== undefined && { progress: options.progress }),
  });
  options.onUploaded?.(object);
  if (!register) return { ...base, adopted: false, upload, swept };
  const registration: RegisterOptions = {
    project: options.project,
    name,
    bucket: options.bucket,
    object,
    digest: options.digest,
    owner: options.owner,
    architecture,
    ...(options.format !== undefined && { format: options.format }),
    ...(options.family !== undefined && { family: options.family }),
    ...(options.storageLocations !== undefined && { storageLocations: options.storageLocations }),
    ...(options.labels !== undefined && { labels: options.labels }),
    ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
    ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
    ...(options.sleep !== undefined && { sleep: options.sleep }),
  };
  try {
    const image = await registerImage(client, endpoints, registration);
    return { ...base, imageName: name, image, adopted: false, upload, swept };
  } catch (error) {
    throw new PublishInterrupted(
      `gs://${options.bucket}/${object} was uploaded but image ${name} was not made: ${(error as Error).message}`,
      options.bucket,
      object,
      name,
      { cause: error },
    );
  }
}
