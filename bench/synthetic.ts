/**
 * Synthetic systems for the scale benchmark: a root filesystem of N MiB made of layers of 256 MiB
 * (files from 1 KiB to 2 MiB of compressible text, about 1,000 per layer), and a stand-in kernel,
 * written into a scratch store. The same seed gives the same layers, so each size reuses the
 * smaller sizes' layers.
 */
import { Readable } from "node:stream";
import { createGzip } from "node:zlib";
import { TarType } from "../sdk/formats/tar/header";
import { TarWriter } from "../sdk/formats/tar/writer";
import { MediaType, type Descriptor } from "../sdk/resolve/oci";
import type { ContentStore } from "../sdk/resolve/store/store";

export const LAYER_MIB = 256;
const MiB = 1024 * 1024;
const FILE_SIZES = [1024, 4096, 4096, 16384, 65536, 262144, MiB, 2 * MiB];

/** A deterministic PRNG (xorshift32). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** 8 MiB of text made of 512 made-up words: it compresses about as well as a root filesystem. */
function textPool(): Buffer {
  const next = random(42);
  const letters = "abcdefghijklmnopqrstuvwxyz";
  const words = Array.from({ length: 512 }, () =>
    Array.from({ length: 3 + (next() % 6) }, () => letters[next() % 26]).join(""),
  );
  const pool = Buffer.alloc(8 * MiB);
  let at = 0;
  while (at < pool.length) {
    const word = `${words[next() % words.length]!}${next() % 12 === 0 ? "\n" : " "}`;
    at += pool.write(word, at);
  }
  return pool;
}

/** One layer: about 256 MiB of files under /data/LAYER/. */
async function storeLayer(store: ContentStore, pool: Buffer, layer: number): Promise<Descriptor> {
  const gzip = createGzip({ level: 1 });
  const stored = store.putStream(gzip);
  const tar = new TarWriter((chunk) =>
    gzip.write(chunk) ? undefined : new Promise<void>((r) => gzip.once("drain", () => r())),
  );
  const next = random(1000 + layer);
  let written = 0;
  for (let i = 0; written < LAYER_MIB * MiB; i++) {
    const size = Math.min(FILE_SIZES[i % FILE_SIZES.length]!, LAYER_MIB * MiB - written);
    const offset = next() % (pool.length - size);
    const path = `data/${layer}/${Math.floor(i / 100)}/f${i}`;
    const data = pool.subarray(offset, offset + size);
    await tar.add({ path, type: TarType.File, mode: 0o644, size, mtime: 0 }, data);
    written += size;
  }
  await tar.finish();
  gzip.end();
  const blob = await stored;
  return { mediaType: MediaType.OciLayerGzip, digest: blob.digest.toString(), size: blob.size };
}

/** Tags an image of the given layers as `ref`. */
async function storeImage(store: ContentStore, ref: string, layers: readonly Descriptor[]) {
  const config = await store.putJson({
    architecture: "amd64",
    os: "linux",
    config: {},
    rootfs: { type: "layers", diff_ids: [] },
  });
  const manifest = await store.putJson({
    schemaVersion: 2,
    mediaType: MediaType.OciManifest,
    config: { mediaType: MediaType.OciConfig, digest: config.digest.toString(), size: config.size },
    layers,
  });
  await store.tag(ref, {
    mediaType: MediaType.OciManifest,
    digest: manifest.digest.toString(),
    size: manifest.size,
    platform: { architecture: "amd64", os: "linux" },
  });
}

/** A tar of single files, as one layer. */
async function storeFiles(store: ContentStore, files: Record<string, Buffer>): Promise<Descriptor> {
  const chunks: Buffer[] = [];
  const tar = new TarWriter((chunk) => void chunks.push(chunk));
  for (const [path, data] of Object.entries(files))
    await tar.add({ path, type: TarType.File, mode: 0o644, size: data.length }, data);
  await tar.finish();
  const blob = await store.putStream(Readable.from(chunks).pipe(createGzip()));
  return { mediaType: MediaType.OciLayerGzip, digest: blob.digest.toString(), size: blob.size };
}

/**
 * Stores `oskit.bench/root:N` for each size (a multiple of 256 MiB) and `oskit.bench/kernel:1`;
 * returns the LinuxKit YAML of the system for a size.
 */
export async function storeSyntheticSystems(
  store: ContentStore,
  sizesMib: readonly number[],
  progress: (line: string) => void,
): Promise<(sizeMib: number) => string> {
  const pool = textPool();
  const layers: Descriptor[] = [];
  const most = Math.max(...sizesMib) / LAYER_MIB;
  for (let i = 0; i < most; i++) {
    progress(`synthetic layer ${i + 1}/${most}`);
    layers.push(await storeLayer(store, pool, i));
  }
  for (const size of sizesMib)
    await storeImage(store, `oskit.bench/root:${size}`, layers.slice(0, size / LAYER_MIB));
  await storeImage(store, "oskit.bench/kernel:1", [
    await storeFiles(store, { kernel: pool.subarray(0, MiB) }),
  ]);
  return (size) =>
    [
      "kernel:",
      "  image: oskit.bench/kernel:1",
      "  cmdline: console=ttyS0",
      "  tar: none",
      "init:",
      `  - oskit.bench/root:${size}`,
      "",
    ].join("\n");
}
