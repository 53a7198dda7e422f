/**
 * Pulling an image into the store: its index (or manifest), the manifests of the platforms
 * asked for, their configs and layers. Every blob's digest is checked before it is stored, so the
 * store never holds anything the registry did not vouch for by digest.
 */
import { ResolveError } from "../errors";
import { Digest } from "../manifest/digest";
import { ImageRef } from "../manifest/reference";
import type { Platform } from "./image";
import {
  indexSchema,
  INDEX_MEDIA_TYPES,
  manifestSchema,
  MANIFEST_MEDIA_TYPES,
  type Descriptor,
} from "./oci";
import { RegistryClient } from "./registry/client";
import type { RegistryOptions } from "./registry/hosts";
import type { ContentStore } from "./store/store";

export interface PullOptions {
  /** The platforms to fetch; every platform of an index when absent. */
  readonly platforms?: readonly Platform[];
  readonly registry?: RegistryOptions;
  readonly progress?: (message: string) => void;
}

function platformMatches(descriptor: Descriptor, wanted: readonly Platform[] | undefined): boolean {
  if (wanted === undefined) return true;
  const p = descriptor.platform;
  return p !== undefined && wanted.some((w) => w.os === p.os && w.architecture === p.architecture);
}

type Parsed<T> =
  | { success: true; data: T }
  | { success: false; error: { issues: readonly { path: PropertyKey[]; message: string }[] } };

/**
 * A manifest or index from its bytes: JSON of the right shape, whose own `mediaType` (when it
 * says one) is the media type the registry sent it as.
 */
function parse<T extends { readonly mediaType?: string }>(
  bytes: Buffer,
  schema: { safeParse(v: unknown): Parsed<T> },
  what: string,
  mediaType: string,
): T {
  let value: unknown;
  try {
    value = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new ResolveError(`${what} is not JSON (${bytes.length} bytes sent as ${mediaType})`);
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const at =
      issue === undefined
        ? ""
        : `: ${issue.path.map(String).join(".") || "(top)"}: ${issue.message}`;
    throw new ResolveError(`${what} is not a valid OCI document${at}`);
  }
  const declared = parsed.data.mediaType;
  if (declared !== undefined && declared !== mediaType)
    throw new ResolveError(
      `${what} was sent as ${mediaType} but says it is ${declared}; refusing a document whose type is in doubt`,
    );
  return parsed.data;
}

/** What the registry may answer for a manifest, for messages. */
const EXPECTED_TYPES = "an OCI or Docker image manifest or index";

/** Pulls a reference into the store and tags it there (when it has a tag); returns its top descriptor. */
export async function pull(
  refText: string,
  store: ContentStore,
  options: PullOptions = {},
): Promise<Descriptor> {
  const ref = ImageRef.parse(refText);
  const client = RegistryClient.for(ref, options.registry);
  const progress = options.progress ?? (() => undefined);
  const top = await client.getManifest(ref, ref.digest ?? ref.tag ?? "latest");
  const topDescriptor: Descriptor = {
    mediaType: top.mediaType,
    digest: top.digest.toString(),
    size: top.bytes.length,
  };
  let manifests: Descriptor[];
  if (INDEX_MEDIA_TYPES.includes(top.mediaType)) {
    const index = parse(top.bytes, indexSchema, `${refText} index`, top.mediaType);
    manifests = index.manifests.filter((m) => platformMatches(m, options.platforms));
    if (manifests.length === 0) {
      const have = index.manifests
        .map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : "unknown"))
        .join(", ");
      throw new ResolveError(
        `${refText} has no image for ${options.platforms?.map((p) => `${p.os}/${p.architecture}`).join(", ") ?? "any platform"} (it has ${have})`,
      );
    }
  } else if (MANIFEST_MEDIA_TYPES.includes(top.mediaType)) {
    manifests = [topDescriptor];
  } else {
    throw new ResolveError(
      `${refText}: the registry answered with media type "${top.mediaType}"; expected ${EXPECTED_TYPES}`,
    );
  }
  for (const descriptor of manifests) {
    const fetched =
      descriptor.digest === topDescriptor.digest
        ? top
        : await client.getManifest(ref, descriptor.digest);
    const what = `${refText} manifest ${descriptor.digest}`;
    if (!MANIFEST_MEDIA_TYPES.includes(fetched.mediaType))
      throw new ResolveError(
        `${what}: the registry answered with media type "${fetched.mediaType}" where an image manifest belongs (an index may not hold another index here)`,
      );
    const manifest = parse(fetched.bytes, manifestSchema, what, fetched.mediaType);
    const blobs = [manifest.config, ...manifest.layers];
    const bytes = blobs.reduce((n, b) => n + b.size, 0);
    progress(
      `pulling ${refText}${descriptor.platform ? ` (${descriptor.platform.os}/${descriptor.platform.architecture})` : ""}: ${blobs.length} blobs, ${bytes} bytes`,
    );
    for (const blob of blobs) await client.fetchBlob(ref, blob, store);
    await store.putBlob(fetched.bytes, fetched.digest);
  }
  await store.putBlob(top.bytes, Digest.parse(topDescriptor.digest));
  if (ref.tag !== undefined || ref.digest === undefined)
    await store.tag(
      ref.digest === undefined ? refText : `${ref.repository}:${ref.tag!}`,
      topDescriptor,
    );
  return topDescriptor;
}
