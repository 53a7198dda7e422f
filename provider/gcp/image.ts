/**
 * What `oskit.gcp.Image` does, as plain async functions (the dynamic provider calls these): check
 * the inputs, tell a replacement from an update, publish a `gce` artifact as an image
 * (publish.ts), and remove the image and its object. The token source is made inside the
 * functions (GOOGLE_OAUTH_ACCESS_TOKEN, else Application Default Credentials): nothing in the
 * inputs or outputs is a credential.
 */
import type { Artifact } from "../build/image-build";
import { gcpClient, type GcpClient, type GcpEndpoints } from "./http";
import { objectName, publishGce, PublishInterrupted } from "./publish";
import {
  deleteImage,
  getImage,
  imageName,
  isOwnImage,
  LABEL_KEY,
  LABEL_VALUE,
  NAME,
} from "./register";
import { GCE_ARCHITECTURES, type GceArchitecture } from "./tarball";
import { deleteObject } from "./upload";

/** The value Pulumi gives for an input it does not know yet (a preview). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const isUnknown = (value: unknown) => value === UNKNOWN;

/** Who owns the image: labelled on it and in its object's metadata. */
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

/** What an Image is given (defaults resolved by the resource class). */
export interface ImageInputs {
  /** The ImageBuild artifact: a `gce` tarball. */
  readonly artifact: Artifact;
  /** The GCP project of the image. */
  readonly project: string;
  /** The bucket the tarball is uploaded to. */
  readonly bucket: string;
  /** The image's name; the artifact's short digest and an owner hash are appended. */
  readonly name: string;
  readonly family?: string;
  readonly storageLocations?: readonly string[];
  /** X86_64 or ARM64. @default read from the disk's EFI binary */
  readonly architecture?: GceArchitecture;
  /** Storage and Compute endpoint overrides (tests). */
  readonly endpoints?: GcpEndpoints;
  readonly labels: Readonly<Record<string, string>>;
  readonly owner: ImageOwner;
  /** Upload request size, a multiple of 256 KiB. @default 8 MiB */
  readonly chunkSize?: number;
}

/** What an Image records. */
export interface ImageOutputs extends ImageInputs {
  /** The image's name (absent in a partial create). */
  readonly imageName?: string;
  /** Its self link (absent in a partial create). */
  readonly selfLink?: string;
  /** The uploaded tarball's object in `bucket`. */
  readonly objectName: string;
  readonly resolvedArchitecture?: GceArchitecture;
}

export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}

/** The client, handed in (tests give their own fetch, token and sleep). */
export interface ImageDeps {
  readonly client?: GcpClient;
  readonly pollMs?: number;
}

const PROJECT = /^([a-z][-a-z0-9.]*[a-z0-9]:)?[a-z][-a-z0-9]{4,28}[a-z0-9]$/;
const BUCKET = /^[a-z0-9][-_.a-z0-9]{1,220}[a-z0-9]$/;
const LOCATION = /^[a-z]+[-a-z0-9]*[a-z0-9]$/;

/** Validates the inputs (unknown values of a preview pass). */
export function checkImage(raw: ImageInputs): { inputs: ImageInputs; failures: CheckFailure[] } {
  const news = raw as unknown as Readonly<Record<string, unknown>>;
  const failures: CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  const artifact = news.artifact;
  if (artifact === undefined || artifact === null)
    fail("artifact", 'expected an ImageBuild artifact, e.g. build.artifacts["gce"]');
  else if (!isUnknown(artifact)) {
    const { format, path, sha256 } = artifact as Record<string, unknown>;
    if (!isUnknown(format) && format !== "gce")
      fail(
        "artifact.format",
        `GCE takes a disk.raw tarball; build the gce format (got ${JSON.stringify(format)})`,
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
  str("project", PROJECT, "a project id such as my-project-123 (6 to 30 characters)");
  str("bucket", BUCKET, "a Cloud Storage bucket name");
  str("family", NAME, "a family name: lowercase letters, digits and dashes, ≤ 63", true);
  if (!isUnknown(news.name) && (typeof news.name !== "string" || news.name.trim() === ""))
    fail("name", "expected a name");
  const arch = news.architecture;
  if (
    arch !== undefined &&
    !isUnknown(arch) &&
    !(GCE_ARCHITECTURES as readonly unknown[]).includes(arch)
  )
    fail("architecture", `${JSON.stringify(arch)}: expected ${GCE_ARCHITECTURES.join(" or ")}`);
  const locations = news.storageLocations;
  if (locations !== undefined && !isUnknown(locations)) {
    if (!Array.isArray(locations)) fail("storageLocations", "expected a list of locations");
    else
      locations.forEach((l, i) => {
        if (!isUnknown(l) && (typeof l !== "string" || !LOCATION.test(l)))
          fail(
            `storageLocations[${i}]`,
            `${JSON.stringify(l)}: expected a region or multi-region such as eu or europe-west1`,
          );
      });
  }
  const endpoints = news.endpoints;
  if (endpoints !== undefined && !isUnknown(endpoints)) {
    if (endpoints === null || typeof endpoints !== "object")
      fail("endpoints", "expected { storage?: URL, compute?: URL }");
    else
      for (const [key, url] of Object.entries(endpoints as Record<string, unknown>)) {
        if (isUnknown(url)) continue;
        let parsed: URL | undefined;
        try {
          parsed = new URL(String(url));
        } catch {
          parsed = undefined;
        }
        if (key !== "storage" && key !== "compute")
          fail(`endpoints.${key}`, "expected storage or compute");
        else if (parsed === undefined || !/^https?:$/.test(parsed.protocol))
          fail(`endpoints.${key}`, "expected an http(s) URL");
        else if (parsed.username !== "" || parsed.password !== "" || parsed.search !== "")
          fail(`endpoints.${key}`, "an endpoint carries no credentials or query");
      }
  }
  const labels = news.labels;
  if (!isUnknown(labels)) {
    if (labels === null || typeof labels !== "object" || Array.isArray(labels))
      fail("labels", "expected an object of label keys and values");
    else {
      const entries = Object.entries(labels as Record<string, unknown>);
      if (entries.length > 61) fail("labels", "an image has at most 64 labels, 3 of them oskit's");
      for (const [key, value] of entries) {
        if (key.startsWith("oskit-")) fail(`labels.${key}`, "oskit- labels are reserved");
        else if (!LABEL_KEY.test(key))
          fail(
            `labels.${key}`,
            "a label key is lowercase letters, digits, _ and -, starting with a letter, ≤ 63",
          );
        if (!isUnknown(value) && (typeof value !== "string" || !LABEL_VALUE.test(value)))
          fail(
            `labels.${key}`,
            `${JSON.stringify(value)}: a label value is ≤ 63 lowercase letters, digits, _ and -`,
          );
      }
    }
  }
  const chunk = news.chunkSize;
  if (
    chunk !== undefined &&
    !(Number.isSafeInteger(chunk) && (chunk as number) > 0 && (chunk as number) % 262144 === 0)
  )
    fail("chunkSize", "expected a positive multiple of 262144 (256 KiB)");
  return { inputs: raw, failures };
}

const REPLACING = [
  "project",
  "bucket",
  "name",
  "family",
  "storageLocations",
  "architecture",
  "labels",
  "owner",
] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * A new artifact (its sha256) or any input of the image replaces it: with the same artifact the
 * old image goes first (its name would be the new one's); a new artifact's image is made before
 * the old one is removed. Endpoints and the chunk size touch nothing; a partial create is an
 * update that resumes it.
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
    ...(["endpoints", "chunkSize"] as const).filter((key) => !same(olds[key], news[key])),
  ];
  if (olds.selfLink === undefined) changed.push("selfLink");
  return {
    changes: changed.length > 0,
    replaces,
    changed,
    deleteBeforeReplace: replaces.length > 0 && !newDigest,
  };
}

/**
 * A create that uploaded the tarball but made no image: Pulumi records it (the dynamic provider's
 * initialization failure), so `pulumi up` resumes it with update and `pulumi destroy` removes it.
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

const clientOf = (deps: ImageDeps) => deps.client ?? gcpClient();
const imageId = (project: string, name: string) => `projects/${project}/global/images/${name}`;

/** Publishes the artifact; the id is `projects/P/global/images/NAME`. */
export async function createImage(
  inputs: ImageInputs,
  deps: ImageDeps = {},
): Promise<{ id: string; outs: ImageOutputs }> {
  const owner = ownerOf(inputs.owner);
  const object = objectName(inputs.artifact.sha256, owner);
  const client = clientOf(deps);
  try {
    const published = await publishGce(client, inputs.endpoints ?? {}, {
      path: inputs.artifact.path,
      digest: inputs.artifact.sha256,
      format: inputs.artifact.format,
      project: inputs.project,
      bucket: inputs.bucket,
      name: inputs.name,
      owner,
      labels: inputs.labels,
      ...(inputs.family !== undefined && { family: inputs.family }),
      ...(inputs.storageLocations !== undefined && { storageLocations: inputs.storageLocations }),
      ...(inputs.architecture !== undefined && { architecture: inputs.architecture }),
      ...(inputs.chunkSize !== undefined && { chunkSize: inputs.chunkSize }),
      ...(deps.pollMs !== undefined && { pollMs: deps.pollMs }),
      ...(client.retry.sleep !== undefined && { sleep: client.retry.sleep }),
    });
    const name = published.imageName!;
    return {
      id: imageId(inputs.project, name),
      outs: {
        ...inputs,
        imageName: name,
        selfLink: published.image?.selfLink ?? imageId(inputs.project, name),
        objectName: published.object,
        resolvedArchitecture: published.architecture,
      },
    };
  } catch (error) {
    if (!(error instanceof PublishInterrupted)) throw error;
    throw new PartialCreateError(
      `${error.message}; run pulumi up to make the image from the uploaded tarball, or pulumi destroy to remove it`,
      `gs://${inputs.bucket}/${object}`,
      { ...inputs, objectName: object },
    );
  }
}

/** A finished image changes nothing in place; a partial create is resumed (the upload is skipped). */
export async function updateImage(
  olds: ImageOutputs,
  news: ImageInputs,
  deps: ImageDeps = {},
): Promise<ImageOutputs> {
  if (olds.selfLink !== undefined && olds.imageName !== undefined)
    return {
      ...news,
      imageName: olds.imageName,
      selfLink: olds.selfLink,
      objectName: olds.objectName,
      ...(olds.resolvedArchitecture !== undefined && {
        resolvedArchitecture: olds.resolvedArchitecture,
      }),
    };
  const { outs } = await createImage(news, deps);
  return outs;
}

/**
 * Deletes the image (a partial create's too, when its name holds this owner's image of the
 * digest) and the tarball's object.
 */
export async function deleteImageResource(olds: ImageOutputs, deps: ImageDeps = {}): Promise<void> {
  const client = clientOf(deps);
  const endpoints = olds.endpoints ?? {};
  const owner = ownerOf(olds.owner);
  const name = olds.imageName ?? imageName(olds.name, olds.artifact.sha256, owner);
  const image = await getImage(client, endpoints, olds.project, name);
  if (
    image !== undefined &&
    (olds.imageName !== undefined || isOwnImage(image, olds.artifact.sha256, owner))
  )
    await deleteImage(client, endpoints, olds.project, name, {
      ...(deps.pollMs !== undefined && { pollMs: deps.pollMs }),
      ...(client.retry.sleep !== undefined && { sleep: client.retry.sleep }),
    });
  await deleteObject(client, endpoints, olds.bucket, olds.objectName);
}
