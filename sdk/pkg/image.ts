/**
 * Writes a built tree into the store as an OCI image: one gzip'd layer (deterministic tar and
 * gzip), a config, a manifest per architecture and an index over them. JSON is written with a
 * fixed key order, so equal trees give equal digests.
 */
import { createHash } from "node:crypto";
import { once } from "node:events";
import { createDeterministicGzip } from "../formats/gzip";
import { TarWriter } from "../formats/tar/writer";
import { MediaType, type Descriptor } from "../resolve/oci";
import type { ContentStore } from "../resolve/store/store";
import type { FileTree } from "../assemble/tree";

/** What the image config says besides its layer: LinuxKit's runtime reads Entrypoint, Cmd, Env and WorkingDir. */
export interface ImageSettings {
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: readonly string[];
  readonly workdir?: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface LayerInfo {
  readonly descriptor: Descriptor;
  /** sha256 of the uncompressed tar (the config's diff_id). */
  readonly diffId: string;
}

/** Writes the tree as one gzip'd tar layer into the store. */
export async function writeLayer(
  store: ContentStore,
  tree: FileTree,
  mtime: number,
): Promise<LayerInfo> {
  const gzip = createDeterministicGzip({ level: 9 });
  const diff = createHash("sha256");
  const stored = store.putStream(gzip);
  const writer = new TarWriter(async (chunk) => {
    diff.update(chunk);
    if (!gzip.write(chunk)) await once(gzip, "drain");
  });
  try {
    await tree.writeTar(writer, mtime);
    await writer.finish();
    gzip.end();
  } catch (error) {
    gzip.destroy(error as Error);
    await stored.catch(() => undefined);
    throw error;
  }
  const blob = await stored;
  return {
    descriptor: {
      mediaType: MediaType.OciLayerGzip,
      digest: blob.digest.toString(),
      size: blob.size,
    },
    diffId: `sha256:${diff.digest("hex")}`,
  };
}

/** Writes the config and manifest of a one-layer image; returns the manifest's descriptor with its platform. */
export async function writeImage(
  store: ContentStore,
  layer: LayerInfo,
  settings: ImageSettings,
  platform: { readonly architecture: string; readonly os: "linux" },
  created: string,
): Promise<Descriptor> {
  const container: Record<string, unknown> = {};
  if (settings.env !== undefined) container.Env = settings.env;
  if (settings.entrypoint !== undefined) container.Entrypoint = settings.entrypoint;
  if (settings.cmd !== undefined) container.Cmd = settings.cmd;
  if (settings.workdir !== undefined) container.WorkingDir = settings.workdir;
  container.Labels = Object.fromEntries(
    Object.keys(settings.labels)
      .sort()
      .map((k) => [k, settings.labels[k]!]),
  );
  const config = await store.putJson({
    architecture: platform.architecture,
    os: platform.os,
    created,
    config: container,
    rootfs: { type: "layers", diff_ids: [layer.diffId] },
  });
  const manifest = await store.putJson({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config.digest.toString(), size: config.size },
    layers: [layer.descriptor],
  });
  return {
    mediaType: MediaType.OciManifest,
    digest: manifest.digest.toString(),
    size: manifest.size,
    platform: { ...platform },
  };
}

/** Writes an image index over per-architecture manifests. */
export async function writeIndex(
  store: ContentStore,
  manifests: readonly Descriptor[],
): Promise<Descriptor> {
  const index = await store.putJson({
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: manifests.map((m) => ({
      mediaType: m.mediaType,
      digest: m.digest,
      size: m.size,
      platform: m.platform,
    })),
  });
  return { mediaType: MediaType.OciIndex, digest: index.digest.toString(), size: index.size };
}
