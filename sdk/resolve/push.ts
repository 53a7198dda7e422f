/**
 * Pushing an image from the store to a registry: every blob first (those the repository has are
 * skipped), then each platform's manifest by digest, then the index (or manifest) under the tag.
 */
import { ResolveError } from "../errors";
import { Digest } from "../manifest/digest";
import { ImageRef } from "../manifest/reference";
import { indexSchema, INDEX_MEDIA_TYPES, manifestSchema, type Descriptor } from "./oci";
import { RegistryClient } from "./registry/client";
import { registryHost, repositoryPath, type RegistryOptions } from "./registry/hosts";
import type { ContentStore } from "./store/store";

export interface PushResult {
  readonly ref: string;
  readonly digest: string;
  /** Blobs uploaded, mounted from the source's repository on the same registry, and already there. */
  readonly uploaded: number;
  readonly mounted: number;
  readonly skipped: number;
}

/** Pushes `source` (a reference in the store) to `target` (a reference with a tag). */
export async function push(
  store: ContentStore,
  source: string,
  target: string,
  options: {
    readonly registry?: RegistryOptions;
    readonly progress?: (message: string) => void;
  } = {},
): Promise<PushResult> {
  const ref = ImageRef.parse(target);
  if (ref.digest !== undefined)
    throw new ResolveError(
      `${target}: push to a tag, not a digest (the digest follows from the content)`,
    );
  const top = await store.resolve(source);
  if (top === undefined) throw new ResolveError(`${source} is not in the store at ${store.root}`);
  const client = RegistryClient.for(ref, options.registry);
  const sourceRef = ImageRef.parse(source);
  const mountFrom =
    registryHost(sourceRef) === registryHost(ref) ? repositoryPath(sourceRef) : undefined;
  const counts = { uploaded: 0, mounted: 0, exists: 0 };
  const pushBlob = async (descriptor: Descriptor) => {
    const data = await store.readBlob(Digest.parse(descriptor.digest));
    counts[await client.pushBlob(ref, descriptor.digest, data, mountFrom)]++;
  };
  const pushImage = async (descriptor: Descriptor) => {
    const bytes = await store.readBlob(Digest.parse(descriptor.digest));
    const manifest = manifestSchema.parse(JSON.parse(bytes.toString("utf8")));
    options.progress?.(
      `pushing ${target}${descriptor.platform ? ` (${descriptor.platform.os}/${descriptor.platform.architecture})` : ""}: ${manifest.layers.length + 1} blobs`,
    );
    for (const blob of [manifest.config, ...manifest.layers]) await pushBlob(blob);
    return bytes;
  };
  const topBytes = await store.readBlob(Digest.parse(top.digest));
  if (INDEX_MEDIA_TYPES.includes(top.mediaType)) {
    const index = indexSchema.parse(JSON.parse(topBytes.toString("utf8")));
    for (const descriptor of index.manifests) {
      if (!(await store.hasBlob(Digest.parse(descriptor.digest)))) {
        throw new ResolveError(
          `${source}: the store lacks its ${descriptor.platform?.architecture ?? ""} image ${descriptor.digest}; pull or build every platform before pushing`,
        );
      }
      const bytes = await pushImage(descriptor);
      await client.putManifest(ref, descriptor.digest, descriptor.mediaType, bytes);
    }
  } else {
    await pushImage(top);
  }
  await client.putManifest(ref, ref.tag ?? "latest", top.mediaType, topBytes);
  return {
    ref: target,
    digest: top.digest,
    uploaded: counts.uploaded,
    mounted: counts.mounted,
    skipped: counts.exists,
  };
}
