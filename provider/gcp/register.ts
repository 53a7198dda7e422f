/**
 * A GCE image from an uploaded tarball: images.insert with `rawDisk.source`, the architecture,
 * family, labels (GCE's label values are at most 63 lowercase characters: a shortened digest and
 * the owner go there, the full digest in the description), storage locations and the guest OS
 * features oskit's disks have (UEFI_COMPATIBLE, VIRTIO_SCSI_MULTIQUEUE, GVNIC); the global
 * operation is waited for with a timeout, and GCE's own error code and message are surfaced.
 */
import { createHash } from "node:crypto";
import {
  DEFAULT_ENDPOINTS,
  GcpApiError,
  requestJson,
  type GcpClient,
  type GcpEndpoints,
} from "./http";
import type { GceArchitecture } from "./tarball";

/** GCE's resource names (images, families): `[a-z]([-a-z0-9]{0,61}[a-z0-9])?`. */
export const NAME = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A label key: lowercase letters, digits, `_` and `-`, starting with a letter, at most 63. */
export const LABEL_KEY = /^[a-z][-_a-z0-9]{0,62}$/;
/** A label value: lowercase letters, digits, `_` and `-`, at most 63. */
export const LABEL_VALUE = /^[-_a-z0-9]{0,63}$/;

/** The labels oskit puts on its images. */
export const LABEL = {
  digest: "oskit-digest",
  owner: "oskit-owner",
  format: "oskit-format",
} as const;

/** A valid GCE name from any text: lowercased, other characters dashes, starting with a letter, ≤ `max`. */
export function gceName(text: string, max = 63): string {
  let name = text
    .toLowerCase()
    .replace(/[^-a-z0-9]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-+/, "");
  if (!/^[a-z]/.test(name)) name = `i-${name}`;
  name = name.slice(0, max).replace(/-+$/, "");
  return name === "" || name === "i" ? "image" : name;
}

/** A label value from any text (≤ 63 lowercase characters). */
export function labelValue(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^-_a-z0-9]+/g, "-")
    .slice(0, 63);
}

/** The digest's label: its first 40 hex digits (160 bits; the description holds all 64). */
export const digestLabel = (digest: string) => digest.replace(/^sha256:/, "").slice(0, 40);

/**
 * The owner's label: the owner made a label value, cut to leave room for 8 hex digits of the
 * owner's hash, so owners that read the same once lowercased still differ.
 */
export function ownerLabel(owner: string): string {
  const hash = createHash("sha256").update(owner).digest("hex").slice(0, 8);
  return `${labelValue(owner)
    .slice(0, 54)
    .replace(/[-_]+$/, "")}-${hash}`;
}

/** The description: the full digest and the owner, read back when adopting. */
export const imageDescription = (digest: string, owner: string, format?: string) =>
  `oskit ${format ?? "gce"} image ${digest} of ${owner}`;

/** The image's name: the name, the digest's first 12 hex digits, 6 of the owner's hash. */
export function imageName(name: string, digest: string, owner: string): string {
  const short = digest.replace(/^sha256:/, "").slice(0, 12);
  const hash = createHash("sha256").update(owner).digest("hex").slice(0, 6);
  return `${gceName(name, 63 - 20)}-${short}-${hash}`;
}

/** What GCE says of an image (the fields oskit reads). */
export interface GceImage {
  readonly name: string;
  readonly selfLink?: string;
  readonly id?: string;
  readonly status?: string;
  readonly family?: string;
  readonly description?: string;
  readonly architecture?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly archiveSizeBytes?: string;
  readonly diskSizeGb?: string;
  readonly guestOsFeatures?: readonly { type: string }[];
}

/** A Compute Engine operation. */
export interface Operation {
  readonly name: string;
  readonly status: "PENDING" | "RUNNING" | "DONE";
  readonly targetLink?: string;
  readonly error?: { errors?: readonly { code?: string; message?: string }[] };
  readonly httpErrorStatusCode?: number;
  readonly httpErrorMessage?: string;
}

/** An operation that ended in error: GCE's code (e.g. INVALID_IMAGE_TAR) and message. */
export class OperationError extends Error {
  constructor(
    readonly operation: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "OperationError";
  }
}

export interface RegisterOptions {
  readonly project: string;
  /** The image's name, valid already (imageName). */
  readonly name: string;
  /** The tarball's bucket and object. */
  readonly bucket: string;
  readonly object: string;
  readonly digest: string;
  readonly owner: string;
  readonly format?: string;
  readonly architecture: GceArchitecture;
  readonly family?: string;
  readonly storageLocations?: readonly string[];
  /** UEFI_COMPATIBLE for EFI disks. @default true */
  readonly uefi?: boolean;
  /** More labels. */
  readonly labels?: Readonly<Record<string, string>>;
  /** How long the operation may take. @default 20 minutes */
  readonly timeoutMs?: number;
  /** Between polls when the wait endpoint returns early. @default 2000 */
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const compute = (endpoints: GcpEndpoints, project: string) =>
  `${endpoints.compute ?? DEFAULT_ENDPOINTS.compute}/compute/v1/projects/${encodeURIComponent(project)}/global`;

/** The `https://storage.googleapis.com/BUCKET/OBJECT` address GCE reads rawDisk.source from. */
export const rawDiskSource = (bucket: string, object: string) =>
  `https://storage.googleapis.com/${bucket}/${object.split("/").map(encodeURIComponent).join("/")}`;

/** The images.insert body. */
export function imageBody(options: RegisterOptions): Record<string, unknown> {
  return {
    name: options.name,
    description: imageDescription(options.digest, options.owner, options.format),
    rawDisk: { source: rawDiskSource(options.bucket, options.object) },
    architecture: options.architecture,
    ...(options.family !== undefined && { family: options.family }),
    labels: {
      ...options.labels,
      [LABEL.digest]: digestLabel(options.digest),
      [LABEL.owner]: ownerLabel(options.owner),
      ...(options.format !== undefined && { [LABEL.format]: labelValue(options.format) }),
    },
    ...(options.storageLocations !== undefined &&
      options.storageLocations.length > 0 && { storageLocations: options.storageLocations }),
    guestOsFeatures: [
      ...(options.uefi !== false ? [{ type: "UEFI_COMPATIBLE" }] : []),
      { type: "VIRTIO_SCSI_MULTIQUEUE" },
      { type: "GVNIC" },
    ],
  };
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Throws GCE's error when the operation ended in one. */
function failed(op: Operation): void {
  const first = op.error?.errors?.[0];
  if (first === undefined && op.httpErrorStatusCode === undefined) return;
  if (first === undefined && (op.httpErrorStatusCode ?? 200) < 400) return;
  const code = first?.code ?? String(op.httpErrorStatusCode);
  const messages = (op.error?.errors ?? []).map((e) => e.message).filter((m) => m !== undefined);
  throw new OperationError(
    op.name,
    code,
    `${code}: ${messages.join("; ") || op.httpErrorMessage || "the operation failed"}`,
  );
}

/** Waits for a global operation (the wait endpoint, else get), until DONE or the timeout. */
export async function waitForOperation(
  client: GcpClient,
  endpoints: GcpEndpoints,
  project: string,
  operation: Operation,
  options: Pick<RegisterOptions, "timeoutMs" | "pollMs" | "sleep"> = {},
): Promise<Operation> {
  const deadline = Date.now() + (options.timeoutMs ?? 20 * 60_000);
  const sleep = options.sleep ?? wait;
  let op = operation;
  const url = `${compute(endpoints, project)}/operations/${encodeURIComponent(op.name)}`;
  while (op.status !== "DONE") {
    if (Date.now() > deadline)
      throw new OperationError(
        op.name,
        "TIMEOUT",
        `operation ${op.name} is still ${op.status} after ${Math.round((options.timeoutMs ?? 1_200_000) / 1000)} s; look at it with gcloud compute operations describe ${op.name} --global`,
      );
    const before = Date.now();
    op = (await requestJson<Operation>(client, `wait for ${op.name}`, "POST", `${url}/wait`))!;
    // The wait endpoint returns at once from some servers; do not spin.
    if (op.status !== "DONE" && Date.now() - before < 1000) await sleep(options.pollMs ?? 2000);
  }
  failed(op);
  return op;
}

/** The image, or undefined. */
export async function getImage(
  client: GcpClient,
  endpoints: GcpEndpoints,
  project: string,
  name: string,
): Promise<GceImage | undefined> {
  return requestJson<GceImage>(
    client,
    `get image ${name}`,
    "GET",
    `${compute(endpoints, project)}/images/${encodeURIComponent(name)}`,
    { notFound: true },
  );
}

/** The project's images whose labels are all `labels`. */
export async function findImages(
  client: GcpClient,
  endpoints: GcpEndpoints,
  project: string,
  labels: Readonly<Record<string, string>>,
): Promise<GceImage[]> {
  const found: GceImage[] = [];
  let pageToken: string | undefined;
  do {
    const url = new URL(`${compute(endpoints, project)}/images`);
    url.searchParams.set(
      "filter",
      Object.entries(labels)
        .map(([k, v]) => `labels.${k}=${v}`)
        .join(" AND "),
    );
    if (pageToken !== undefined) url.searchParams.set("pageToken", pageToken);
    const page = await requestJson<{ items?: GceImage[]; nextPageToken?: string }>(
      client,
      "list images",
      "GET",
      url.toString(),
    );
    found.push(
      ...(page?.items ?? []).filter((i) =>
        Object.entries(labels).every(([k, v]) => i.labels?.[k] === v),
      ),
    );
    pageToken = page?.nextPageToken;
  } while (pageToken !== undefined && pageToken !== "");
  return found;
}

/** True when the image is this owner's of this digest (labels and the full digest in the description). */
export const isOwnImage = (image: GceImage, digest: string, owner: string) =>
  image.labels?.[LABEL.digest] === digestLabel(digest) &&
  image.labels?.[LABEL.owner] === ownerLabel(owner) &&
  (image.description ?? "").includes(` ${digest} of ${owner}`);

/** images.insert, waited for; the image as GCE then describes it. */
export async function registerImage(
  client: GcpClient,
  endpoints: GcpEndpoints,
  options: RegisterOptions,
): Promise<GceImage> {
  if (!NAME.test(options.name))
    throw new Error(`image name ${JSON.stringify(options.name)}: expected ${NAME.source}`);
  let op: Operation;
  try {
    op = (await requestJson<Operation>(
      client,
      `insert image ${options.name}`,
      "POST",
      `${compute(endpoints, options.project)}/images`,
      { body: imageBody(options) },
    ))!;
  } catch (error) {
    // A retried insert whose first attempt went through: the image is there, its operation ours.
    if (!(error instanceof GcpApiError && error.status === 409)) throw error;
    const image = await getImage(client, endpoints, options.project, options.name);
    if (image === undefined || !isOwnImage(image, options.digest, options.owner)) throw error;
    return waitReady(client, endpoints, options, image);
  }
  await waitForOperation(client, endpoints, options.project, op, options);
  const image = await getImage(client, endpoints, options.project, options.name);
  if (image === undefined)
    throw new Error(`image ${options.name} is not there after its insert finished`);
  return waitReady(client, endpoints, options, image);
}

/** Polls an image until it is READY (FAILED is an error). */
async function waitReady(
  client: GcpClient,
  endpoints: GcpEndpoints,
  options: RegisterOptions,
  first: GceImage,
): Promise<GceImage> {
  const deadline = Date.now() + (options.timeoutMs ?? 20 * 60_000);
  let image: GceImage | undefined = first;
  while (image !== undefined && image.status !== undefined && image.status !== "READY") {
    if (image.status === "FAILED")
      throw new OperationError("", "IMAGE_FAILED", `image ${image.name} is FAILED`);
    if (Date.now() > deadline)
      throw new OperationError("", "TIMEOUT", `image ${image.name} is still ${image.status}`);
    await (options.sleep ?? wait)(options.pollMs ?? 2000);
    image = await getImage(client, endpoints, options.project, options.name);
  }
  if (image === undefined) throw new Error(`image ${options.name} disappeared`);
  return image;
}

/** Deletes the image and waits; false when it was not there. */
export async function deleteImage(
  client: GcpClient,
  endpoints: GcpEndpoints,
  project: string,
  name: string,
  options: Pick<RegisterOptions, "timeoutMs" | "pollMs" | "sleep"> = {},
): Promise<boolean> {
  const op = await requestJson<Operation>(
    client,
    `delete image ${name}`,
    "DELETE",
    `${compute(endpoints, project)}/images/${encodeURIComponent(name)}`,
    { notFound: true },
  );
  if (op === undefined) return false;
  await waitForOperation(client, endpoints, project, op, options);
  return true;
}
