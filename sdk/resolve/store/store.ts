/**
 * The content store: an OCI image layout on disk (`oci-layout`, `index.json`, `blobs/sha256/…`),
 * by default `~/.cache/oskit` (`OSKIT_STORE` moves it). Blobs are written to a temporary file,
 * hashed as they are written, synced and renamed into place, so a reader never sees half a blob
 * and two processes writing the same blob both succeed. Every blob is verified against its digest
 * before it is handed out; a corrupt one is removed and reported. References (`index.json`) are
 * changed under a lock file, so concurrent builds do not lose each other's tags.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { homedir } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { join } from "node:path";
import { ResolveError } from "../../errors";
import { Digest } from "../../manifest/digest";
import { ImageRef } from "../../manifest/reference";
import {
  indexSchema,
  INDEX_MEDIA_TYPES,
  MANIFEST_MEDIA_TYPES,
  manifestSchema,
  MediaType,
  REF_NAME_ANNOTATION,
  type Descriptor,
  type ImageIndex,
} from "../oci";
import { withLock } from "./lock";

/** A blob's identity: its digest and size. */
export interface BlobInfo {
  readonly digest: Digest;
  readonly size: number;
}

/** A reference held by the store and what it points at. */
export interface StoredRef {
  /** The reference with its registry made explicit, e.g. `docker.io/oskit/httpd:1a2b…`. */
  readonly name: string;
  readonly descriptor: Descriptor;
}

export interface GcResult {
  readonly removed: number;
  readonly freedBytes: number;
  readonly kept: number;
}

/** Where the store lives: `OSKIT_STORE`, else `$XDG_CACHE_HOME/oskit`, else `~/.cache/oskit`. */
export function defaultStoreRoot(env: NodeJS.ProcessEnv = process.env): string {
  if (env.OSKIT_STORE) return env.OSKIT_STORE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "oskit");
}

/** The key a reference is stored under: explicit registry, and `latest` when no tag is given. */
export function storeKey(ref: string): string {
  const parsed = ImageRef.parse(ref);
  return `${parsed.fullRepository}:${parsed.tag ?? "latest"}`;
}

const LAYOUT = JSON.stringify({ imageLayoutVersion: "1.0.0" });
/** Blobs being written are `blobs/sha256/.tmp-…`; gc leaves them alone for an hour, whatever it is told. */
const TEMP_PREFIX = ".tmp-";
const TEMP_GRACE_MS = 3600 * 1000;
const EMPTY_INDEX: ImageIndex = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: [] };

export class ContentStore {
  /** Blobs verified by this process, by digest, with the file identity they were verified at. */
  private readonly verified = new Map<string, string>();

  private constructor(
    /** The layout's directory. */
    readonly root: string,
  ) {}

  /** Opens (creating if needed) the store at `root`. */
  static async open(root: string = defaultStoreRoot()): Promise<ContentStore> {
    const store = new ContentStore(root);
    try {
      await mkdir(store.blobDir, { recursive: true });
      const layout = join(root, "oci-layout");
      const existing = await readFile(layout, "utf8").catch(() => undefined);
      if (existing === undefined) await store.writeAtomic(layout, LAYOUT);
    } catch (error) {
      throw new ResolveError(
        `cannot use the store at ${root}: ${(error as Error).message}; set OSKIT_STORE to a writable directory`,
        { cause: error },
      );
    }
    return store;
  }

  private get blobDir(): string {
    return join(this.root, "blobs", "sha256");
  }

  private get indexPath(): string {
    return join(this.root, "index.json");
  }

  /** Path of a blob's file (not verified). */
  private pathOf(digest: Digest): string {
    return join(this.blobDir, digest.hex);
  }

  private tempPath(): string {
    return join(this.blobDir, `${TEMP_PREFIX}${process.pid}-${randomBytes(6).toString("hex")}`);
  }

  private async writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
    const temp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
    const handle = await open(temp, "w");
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  }

  /** True when the store holds the blob (its bytes are verified when it is read). */
  async hasBlob(digest: Digest): Promise<boolean> {
    try {
      await stat(this.pathOf(digest));
      return true;
    } catch {
      return false;
    }
  }

  /** The size of a stored blob, or undefined when the store does not have it. */
  async blobSize(digest: Digest): Promise<number | undefined> {
    return (await stat(this.pathOf(digest)).catch(() => undefined))?.size;
  }

  /** Stores bytes; when `expected` is given, refuses bytes with another digest. */
  async putBlob(data: Uint8Array, expected?: Digest): Promise<BlobInfo> {
    return this.putStream([data], expected);
  }

  /** Stores a stream of bytes, hashing as it writes; the blob appears only once complete and verified. */
  async putStream(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    expected?: Digest,
  ): Promise<BlobInfo> {
    const temp = this.tempPath();
    const hash = createHash("sha256");
    let size = 0;
    const handle = await open(temp, "w");
    try {
      for await (const chunk of chunks) {
        hash.update(chunk);
        size += chunk.length;
        await handle.write(chunk);
      }
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    const digest = Digest.parse(`sha256:${hash.digest("hex")}`);
    if (expected !== undefined && !digest.equals(expected)) {
      await rm(temp, { force: true });
      throw new ResolveError(
        `blob digest mismatch: expected ${expected.toString()}, got ${digest.toString()}; nothing was stored`,
      );
    }
    // Renamed over a blob already there too: the new file's mtime keeps gc away from it.
    await rename(temp, this.pathOf(digest));
    return { digest, size };
  }

  /**
   * Stores a blob fetched in pieces: `fetchFrom(offset)` gives the bytes from `offset` on; when a
   * piece fails, the next one starts where the last stopped (a Range request), up to `attempts`
   * times. Nothing enters the store unless the whole blob has the expected digest and size.
   */
  async putResumable(
    expected: Digest,
    size: number | undefined,
    fetchFrom: (offset: number) => Promise<AsyncIterable<Uint8Array>>,
    options: { readonly attempts?: number; readonly what?: string } = {},
  ): Promise<BlobInfo> {
    const attempts = options.attempts ?? 5;
    const what = options.what ?? `blob ${expected.toString()}`;
    if (await this.hasBlob(expected)) {
      await this.blobPath(expected);
      return { digest: expected, size: (await this.blobSize(expected))! };
    }
    const temp = this.tempPath();
    const hash = createHash("sha256");
    let written = 0;
    const handle = await open(temp, "w");
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          for await (const chunk of await fetchFrom(written)) {
            hash.update(chunk);
            written += chunk.length;
            if (size !== undefined && written > size)
              throw new ResolveError(
                `${what} is longer than its ${size} bytes; nothing was stored`,
              );
            await handle.write(chunk);
          }
          if (size !== undefined && written < size)
            throw new Error(`the connection ended after ${written} of ${size} bytes`);
          break;
        } catch (error) {
          if (error instanceof ResolveError) throw error;
          if (attempt >= attempts)
            throw new ResolveError(
              `${what}: ${attempts} tries failed, the last with ${(error as Error).message}; nothing was stored`,
              { cause: error },
            );
          await sleep(250 * attempt);
        }
      }
      await handle.sync();
    } catch (error) {
      await handle.close();
      await rm(temp, { force: true });
      throw error;
    }
    await handle.close();
    const digest = `sha256:${hash.digest("hex")}`;
    if (digest !== expected.toString() || (size !== undefined && written !== size)) {
      await rm(temp, { force: true });
      throw new ResolveError(
        `${what}: the bytes received (${written}) have the digest ${digest}; nothing was stored`,
      );
    }
    await rename(temp, this.pathOf(expected));
    return { digest: expected, size: written };
  }

  /** Stores a JSON document exactly as serialized here. */
  async putJson(value: unknown): Promise<BlobInfo & { readonly bytes: Buffer }> {
    const bytes = Buffer.from(JSON.stringify(value));
    return { ...(await this.putBlob(bytes)), bytes };
  }

  /**
   * The path of a blob whose contents have been checked against its digest (once per process
   * while the file is unchanged). A corrupt blob is removed and reported.
   */
  async blobPath(digest: Digest): Promise<string> {
    const path = this.pathOf(digest);
    let info;
    try {
      info = await stat(path);
    } catch {
      throw new ResolveError(`the store at ${this.root} has no blob ${digest.toString()}`);
    }
    const identity = `${info.ino}:${info.size}:${info.mtimeMs}`;
    if (this.verified.get(digest.hex) === identity) return path;
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    if (hash.digest("hex") !== digest.hex) {
      await rm(path, { force: true });
      this.verified.delete(digest.hex);
      throw new ResolveError(
        `blob ${digest.toString()} in ${this.root} was corrupt (its bytes do not match the digest) and has been removed; build or pull the image again`,
      );
    }
    this.verified.set(digest.hex, identity);
    return path;
  }

  /** A blob's bytes, verified. */
  async readBlob(digest: Digest): Promise<Buffer> {
    const path = this.pathOf(digest);
    const data = await readFile(path).catch(() => {
      throw new ResolveError(`the store at ${this.root} has no blob ${digest.toString()}`);
    });
    if (!Digest.sha256(data).equals(digest)) {
      await rm(path, { force: true });
      this.verified.delete(digest.hex);
      throw new ResolveError(
        `blob ${digest.toString()} in ${this.root} was corrupt (its bytes do not match the digest) and has been removed; build or pull the image again`,
      );
    }
    return data;
  }

  /** A blob parsed as JSON, verified. */
  async readJson(digest: Digest): Promise<unknown> {
    const data = await this.readBlob(digest);
    try {
      return JSON.parse(data.toString("utf8")) as unknown;
    } catch {
      throw new ResolveError(`blob ${digest.toString()} is not JSON`);
    }
  }

  private async readIndex(): Promise<ImageIndex> {
    const text = await readFile(this.indexPath, "utf8").catch(() => undefined);
    if (text === undefined) return EMPTY_INDEX;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw new ResolveError(
        `${this.indexPath} is damaged (${(error as Error).message}); move it away to start a new store, and build or pull the images again`,
        { cause: error },
      );
    }
    const parsed = indexSchema.safeParse(json);
    if (!parsed.success)
      throw new ResolveError(
        `${this.indexPath} is not an OCI image index; move it away to start a new store`,
      );
    return parsed.data;
  }

  private async updateIndex(change: (manifests: Descriptor[]) => Descriptor[]): Promise<void> {
    await withLock(join(this.root, "index.json.lock"), async () => {
      const index = await this.readIndex();
      const manifests = change([...index.manifests]).sort((a, b) =>
        refName(a) < refName(b) ? -1 : refName(a) > refName(b) ? 1 : 0,
      );
      await this.writeAtomic(
        this.indexPath,
        `${JSON.stringify({ ...EMPTY_INDEX, manifests }, null, 2)}\n`,
      );
    });
  }

  /** Points a reference (`name:tag`) at a manifest or index already in the store. */
  async tag(ref: string, descriptor: Descriptor): Promise<string> {
    const key = storeKey(ref);
    if (!(await this.hasBlob(Digest.parse(descriptor.digest)))) {
      throw new ResolveError(`cannot tag ${key}: the store has no blob ${descriptor.digest}`);
    }
    await this.updateIndex((manifests) => [
      ...manifests.filter((d) => refName(d) !== key),
      { ...descriptor, annotations: { ...descriptor.annotations, [REF_NAME_ANNOTATION]: key } },
    ]);
    return key;
  }

  /** Removes references; returns the ones that existed. */
  async untag(refs: readonly string[]): Promise<string[]> {
    const keys = new Set(refs.map(storeKey));
    const removed: string[] = [];
    await this.updateIndex((manifests) =>
      manifests.filter((d) => {
        if (!keys.has(refName(d))) return true;
        removed.push(refName(d));
        return false;
      }),
    );
    return removed;
  }

  /** The references the store holds, sorted. */
  async list(): Promise<StoredRef[]> {
    return (await this.readIndex()).manifests.map((descriptor) => ({
      name: refName(descriptor),
      descriptor,
    }));
  }

  /**
   * What a reference points at: by tag through index.json, by digest (`name@sha256:…`) straight
   * from the blobs. Undefined when the store does not have it.
   */
  async resolve(ref: string): Promise<Descriptor | undefined> {
    const parsed = ImageRef.parse(ref);
    if (parsed.digest !== undefined) {
      const digest = Digest.parse(parsed.digest);
      if (!(await this.hasBlob(digest))) return undefined;
      const data = await this.readBlob(digest);
      const mediaType =
        (JSON.parse(data.toString("utf8")) as { mediaType?: string }).mediaType ??
        MediaType.OciManifest;
      return { mediaType, digest: digest.toString(), size: data.length };
    }
    const key = storeKey(ref);
    return (await this.readIndex()).manifests.find((d) => refName(d) === key);
  }

  /** Every blob a descriptor reaches: itself, an index's manifests, a manifest's config and layers. */
  async reachable(descriptor: Descriptor, into = new Set<string>()): Promise<Set<string>> {
    if (into.has(descriptor.digest)) return into;
    into.add(descriptor.digest);
    const digest = Digest.parse(descriptor.digest);
    if (!(await this.hasBlob(digest))) return into;
    if (INDEX_MEDIA_TYPES.includes(descriptor.mediaType)) {
      const index = indexSchema.safeParse(await this.readJson(digest));
      if (index.success)
        for (const child of index.data.manifests) await this.reachable(child, into);
    } else if (MANIFEST_MEDIA_TYPES.includes(descriptor.mediaType)) {
      const manifest = manifestSchema.safeParse(await this.readJson(digest));
      if (manifest.success) {
        into.add(manifest.data.config.digest);
        for (const layer of manifest.data.layers) into.add(layer.digest);
      }
    }
    return into;
  }

  /**
   * Removes blobs no reference reaches. Blobs younger than `graceSeconds` stay, so a build that
   * has written blobs but not yet tagged them does not lose them. Blobs other processes are still
   * writing stay too: temporary files go only once they are an hour old, other names never.
   */
  async gc(options: { readonly graceSeconds?: number } = {}): Promise<GcResult> {
    const grace = (options.graceSeconds ?? 3600) * 1000;
    return withLock(join(this.root, "index.json.lock"), async () => {
      const keep = new Set<string>();
      for (const { descriptor } of await this.list()) await this.reachable(descriptor, keep);
      let removed = 0;
      let freedBytes = 0;
      for (const name of await readdir(this.blobDir)) {
        const path = join(this.blobDir, name);
        if (keep.has(`sha256:${name}`)) continue;
        const minimumAge = isBlobName(name)
          ? grace
          : name.startsWith(TEMP_PREFIX)
            ? TEMP_GRACE_MS
            : undefined;
        if (minimumAge === undefined) continue;
        const info = await stat(path).catch(() => undefined);
        if (info === undefined || Date.now() - info.mtimeMs < minimumAge) continue;
        await rm(path, { force: true });
        removed++;
        freedBytes += info.size;
      }
      return { removed, freedBytes, kept: keep.size };
    });
  }
}

function isBlobName(name: string): boolean {
  return /^[0-9a-f]{64}$/.test(name);
}

function refName(descriptor: Descriptor): string {
  return descriptor.annotations?.[REF_NAME_ANNOTATION] ?? "";
}
