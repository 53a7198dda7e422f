/**
 * From a reference to what an image is made of: its manifest for one platform, its config and its
 * layers. Images come from the content store (registries come later, and will fill it).
 */
import { ResolveError } from "../errors";
import { Digest } from "../manifest/digest";
import {
  imageConfigSchema,
  indexSchema,
  INDEX_MEDIA_TYPES,
  manifestSchema,
  MANIFEST_MEDIA_TYPES,
  type Descriptor,
  type ImageConfig,
  type ImageManifest,
} from "./oci";
import { ImageRef } from "../manifest/reference";
import { pull } from "./pull";
import type { RegistryOptions } from "./registry/hosts";
import type { ContentStore } from "./store/store";

/** The store does not have the image (or not the platform asked for): pulling it may help. */
export class NotInStoreError extends ResolveError {}

export interface Platform {
  readonly os: string;
  readonly architecture: string;
}

/** One platform's image, resolved. */
export interface ResolvedImage {
  /** The reference as the definition wrote it. */
  readonly ref: string;
  /** The manifest's digest: the image's identity. */
  readonly digest: string;
  readonly manifest: ImageManifest;
  readonly config: ImageConfig;
  readonly layers: readonly Descriptor[];
}

async function readChecked<T>(
  store: ContentStore,
  digest: string,
  schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } },
  what: string,
  ref: string,
): Promise<T> {
  const parsed = schema.safeParse(await store.readJson(Digest.parse(digest)));
  if (!parsed.success) throw new ResolveError(`${ref}: ${digest} is not a valid ${what}`);
  return parsed.data;
}

/** Resolves a reference in the store for a platform; the error says how to get a missing image. */
export async function resolveImage(
  store: ContentStore,
  ref: string,
  platform: Platform,
): Promise<ResolvedImage> {
  const top = await store.resolve(ref);
  if (top === undefined) {
    throw new NotInStoreError(
      `${ref} is not in the store at ${store.root}; pull it with \`oskit pull ${ref}\`, or for oskit's own packages run \`make pkgs\``,
    );
  }
  let descriptor: Descriptor = top;
  if (INDEX_MEDIA_TYPES.includes(top.mediaType)) {
    const index = await readChecked(store, top.digest, indexSchema, "image index", ref);
    const match = index.manifests.find(
      (m) => m.platform?.os === platform.os && m.platform.architecture === platform.architecture,
    );
    if (match === undefined) {
      const have = index.manifests
        .map((m) => (m.platform ? `${m.platform.os}/${m.platform.architecture}` : "unknown"))
        .join(", ");
      throw new ResolveError(
        `${ref} has no image for ${platform.os}/${platform.architecture} (it has ${have || "none"})`,
      );
    }
    descriptor = match;
    if (!(await store.hasBlob(Digest.parse(match.digest)))) {
      throw new NotInStoreError(
        `${ref}: the store has the index but not its ${platform.os}/${platform.architecture} image`,
      );
    }
  } else if (!MANIFEST_MEDIA_TYPES.includes(top.mediaType)) {
    throw new ResolveError(`${ref}: unsupported media type ${top.mediaType}`);
  }
  const manifest = await readChecked(
    store,
    descriptor.digest,
    manifestSchema,
    "image manifest",
    ref,
  );
  const config = await readChecked(
    store,
    manifest.config.digest,
    imageConfigSchema,
    "image config",
    ref,
  );
  return { ref, digest: descriptor.digest, manifest, config, layers: manifest.layers };
}

/** When to ask a registry: for images the store lacks (default), always (for tags), or never. */
export type PullPolicy = "missing" | "always" | "never";

export interface ResolverOptions {
  readonly pull?: PullPolicy;
  readonly registry?: RegistryOptions;
  readonly progress?: (message: string) => void;
}

/**
 * Resolves from the store first, pulling what it lacks (or, with `always`, refreshing tags). A
 * reference pinned by digest never touches the network once the store has it.
 */
export async function resolveOrPull(
  store: ContentStore,
  ref: string,
  platform: Platform,
  options: ResolverOptions = {},
): Promise<ResolvedImage> {
  const policy = options.pull ?? "missing";
  const pinned = ImageRef.parse(ref).digest !== undefined;
  if (policy !== "always" || pinned) {
    try {
      return await resolveImage(store, ref, platform);
    } catch (error) {
      if (!(error instanceof NotInStoreError) || policy === "never") throw error;
    }
  }
  await pull(ref, store, {
    platforms: [platform],
    registry: options.registry,
    progress: options.progress,
  });
  return resolveImage(store, ref, platform);
}
