import { gzipSync } from "node:zlib";
import { MediaType, type Descriptor } from "../../sdk/resolve/oci";
import type { ContentStore } from "../../sdk/resolve/store/store";

export interface TestImage {
  readonly ref: string;
  /** Layer tar archives (gzip'd when stored unless `plain`). */
  readonly layers: readonly Buffer[];
  readonly plain?: boolean;
  readonly label?: Record<string, unknown>;
  readonly entrypoint?: readonly string[];
  readonly env?: readonly string[];
  readonly workdir?: string;
  readonly architecture?: string;
}

/** Puts one platform's config, layers and manifest into a store; returns the manifest's descriptor. */
async function storeManifest(store: ContentStore, image: TestImage): Promise<Descriptor> {
  const layers: Descriptor[] = [];
  for (const tar of image.layers) {
    const bytes = image.plain === true ? tar : gzipSync(tar);
    const blob = await store.putBlob(bytes);
    layers.push({
      mediaType: image.plain === true ? MediaType.OciLayerTar : MediaType.OciLayerGzip,
      digest: blob.digest.toString(),
      size: blob.size,
    });
  }
  const config = await store.putJson({
    architecture: image.architecture ?? "amd64",
    os: "linux",
    config: {
      ...(image.entrypoint && { Entrypoint: image.entrypoint }),
      ...(image.env && { Env: image.env }),
      ...(image.workdir && { WorkingDir: image.workdir }),
      ...(image.label && { Labels: { "org.mobyproject.config": JSON.stringify(image.label) } }),
    },
    rootfs: { type: "layers", diff_ids: layers.map(() => `sha256:${"0".repeat(64)}`) },
  });
  const manifest = await store.putJson({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config.digest.toString(), size: config.size },
    layers,
  });
  return {
    mediaType: MediaType.OciManifest,
    digest: manifest.digest.toString(),
    size: manifest.size,
    platform: { architecture: image.architecture ?? "amd64", os: "linux" },
  };
}

/** Puts an image made of the given layer bytes into a store and tags it; returns the index descriptor. */
export async function storeImage(store: ContentStore, image: TestImage): Promise<Descriptor> {
  return storeMultiArch(store, image.ref, [image]);
}

/** Puts an index of several platforms' images under `ref` (each image's own ref is not used). */
export async function storeMultiArch(
  store: ContentStore,
  ref: string,
  images: readonly TestImage[],
): Promise<Descriptor> {
  const manifests: Descriptor[] = [];
  for (const image of images) manifests.push(await storeManifest(store, image));
  const index = await store.putJson({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests,
  });
  const descriptor = {
    mediaType: MediaType.OciIndex,
    digest: index.digest.toString(),
    size: index.size,
  };
  await store.tag(ref, descriptor);
  return descriptor;
}
