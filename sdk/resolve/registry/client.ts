/**
 * The OCI distribution API: manifests by tag or digest (OCI and Docker v2 media types), blobs
 * streamed into the store with their digest checked and interrupted downloads resumed, and pushes
 * (existing blobs skipped, blobs mounted from another repository, monolithic or chunked uploads).
 */
import { ResolveError } from "../../errors";
import { Digest } from "../../manifest/digest";
import type { ImageRef } from "../../manifest/reference";
import { MediaType, type Descriptor } from "../oci";
import type { ContentStore } from "../store/store";
import { credentialsFor } from "./credentials";
import { registryBase, registryHost, repositoryPath, type RegistryOptions } from "./hosts";
import { readBounded, RegistrySession } from "./session";

/** What a registry accepts from us for a manifest. */
export const MANIFEST_ACCEPT = [
  MediaType.OciIndex,
  MediaType.OciManifest,
  MediaType.DockerManifestList,
  MediaType.DockerManifest,
].join(", ");

/** A manifest or index as the registry sent it. */
export interface FetchedManifest {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly bytes: Buffer;
}

/** The largest manifest or index read, as containerd limits them: refused without reading it all. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** The `mediaType` a manifest's JSON declares, or "" when it is not JSON or declares none. */
function declaredMediaType(bytes: Buffer): string {
  try {
    const value = JSON.parse(bytes.toString("utf8")) as unknown;
    const type = (value as { mediaType?: unknown } | null)?.mediaType;
    return typeof type === "string" ? type : "";
  } catch {
    return "";
  }
}

/** Bytes per PATCH of a chunked upload. */
export const UPLOAD_CHUNK = 8 * 1024 * 1024;

export class RegistryClient {
  private static readonly sessions = new Map<string, RegistrySession>();

  private constructor(
    readonly host: string,
    private readonly session: RegistrySession,
    private readonly options: RegistryOptions,
  ) {}

  /** The client for a reference's registry (one session, and its tokens, per registry). */
  static for(ref: ImageRef, options: RegistryOptions = {}): RegistryClient {
    const host = registryHost(ref);
    const base = registryBase(host, options);
    const env = options.env ?? process.env;
    const key = JSON.stringify([
      base.href,
      options.timeoutMs,
      options.attempts,
      options.backoffMs,
      env.DOCKER_CONFIG,
      env.HOME,
    ]);
    let session = RegistryClient.sessions.get(key);
    if (session === undefined) {
      session = new RegistrySession(
        base,
        credentialsFor(options.mirrors?.[host] === undefined ? host : base.host, env),
        options,
      );
      RegistryClient.sessions.set(key, session);
    }
    return new RegistryClient(host, session, options);
  }

  /** Forgets sessions and tokens (tests, and credentials that changed). */
  static reset(): void {
    RegistryClient.sessions.clear();
  }

  private scope(repo: string, push = false): string {
    return `repository:${repo}:${push ? "pull,push" : "pull"}`;
  }

  /** A manifest or index by tag or digest; its digest is computed from the bytes (and checked against a digest reference). */
  async getManifest(ref: ImageRef, reference: string): Promise<FetchedManifest> {
    const repo = repositoryPath(ref);
    const what = `${ref.toString()} manifest`;
    const response = await this.session.request(`/v2/${repo}/manifests/${reference}`, {
      scope: this.scope(repo),
      what,
      headers: { Accept: MANIFEST_ACCEPT },
    });
    const bytes = await readBounded(response, MAX_MANIFEST_BYTES, what);
    const digest = Digest.sha256(bytes);
    if (reference.startsWith("sha256:") && digest.toString() !== reference) {
      throw new ResolveError(
        `${what}: the registry sent a manifest whose digest is ${digest.toString()}, not ${reference}`,
      );
    }
    const header = response.headers.get("docker-content-digest");
    if (header !== null && header.startsWith("sha256:") && header !== digest.toString()) {
      throw new ResolveError(
        `${what}: the registry says its digest is ${header}, but its bytes hash to ${digest.toString()}`,
      );
    }
    const mediaType =
      (response.headers.get("content-type") ?? "").split(";")[0]!.trim() ||
      declaredMediaType(bytes);
    return { mediaType, digest, bytes };
  }

  /** Streams a blob into the store, resuming with Range requests; its digest and size are checked before it is stored. */
  async fetchBlob(ref: ImageRef, descriptor: Descriptor, store: ContentStore): Promise<void> {
    const repo = repositoryPath(ref);
    const digest = Digest.parse(descriptor.digest);
    const what = `${ref.toString()} blob ${descriptor.digest}`;
    const stall = this.options.timeoutMs ?? 60000;
    const stalled = () => new DOMException(`no bytes for ${stall} ms`, "TimeoutError");
    await store.putResumable(
      digest,
      descriptor.size,
      async (offset) => {
        const controller = new AbortController();
        let timer = setTimeout(() => controller.abort(stalled()), stall);
        const response = await this.session.request(`/v2/${repo}/blobs/${descriptor.digest}`, {
          scope: this.scope(repo),
          what,
          headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
          signal: controller.signal,
        });
        const skip = offset > 0 && response.status !== 206 ? offset : 0;
        const body = response.body;
        if (body === null) throw new ResolveError(`${what}: empty response`);
        return (async function* () {
          let skipped = 0;
          try {
            for await (const chunk of body as AsyncIterable<Uint8Array>) {
              clearTimeout(timer);
              timer = setTimeout(() => controller.abort(stalled()), stall);
              if (skipped < skip) {
                const drop = Math.min(skip - skipped, chunk.length);
                skipped += drop;
                if (drop < chunk.length) yield chunk.subarray(drop);
                continue;
              }
              yield chunk;
            }
          } finally {
            clearTimeout(timer);
          }
        })();
      },
      { attempts: this.options.attempts ?? 5, what },
    );
  }

  /** True when the repository has the blob. */
  async hasBlob(ref: ImageRef, digest: string): Promise<boolean> {
    const repo = repositoryPath(ref);
    const response = await this.session.request(`/v2/${repo}/blobs/${digest}`, {
      method: "HEAD",
      scope: this.scope(repo, true),
      what: `${ref.toString()} blob ${digest}`,
      accept: [404],
    });
    return response.status === 200;
  }

  /**
   * Uploads a blob unless the repository has it: mounted from `mountFrom` (another repository of
   * the same registry) when it can be, else in one PUT (small blobs) or in chunks.
   */
  async pushBlob(
    ref: ImageRef,
    digest: string,
    data: Buffer,
    mountFrom?: string,
  ): Promise<"exists" | "mounted" | "uploaded"> {
    const repo = repositoryPath(ref);
    const what = `${ref.toString()} blob ${digest}`;
    const scope = this.scope(repo, true);
    if (await this.hasBlob(ref, digest)) return "exists";
    const mount = mountFrom !== undefined && mountFrom !== repo;
    const query = mount
      ? `?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(mountFrom)}`
      : "";
    const start = await this.session.request(`/v2/${repo}/blobs/uploads/${query}`, {
      method: "POST",
      scope: mount ? `${scope} ${this.scope(mountFrom)}` : scope,
      what,
      headers: { "Content-Length": "0" },
    });
    if (start.status === 201) return "mounted";
    let location = this.uploadLocation(start, what);
    if (data.length <= UPLOAD_CHUNK) {
      location.searchParams.set("digest", digest);
      await this.session.request(location.href, {
        method: "PUT",
        scope,
        what,
        body: data,
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Length": String(data.length),
        },
      });
      return "uploaded";
    }
    for (let offset = 0; offset < data.length; offset += UPLOAD_CHUNK) {
      const chunk = data.subarray(offset, offset + UPLOAD_CHUNK);
      const response = await this.session.request(location.href, {
        method: "PATCH",
        scope,
        what,
        body: chunk,
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Range": `${offset}-${offset + chunk.length - 1}`,
          "Content-Length": String(chunk.length),
        },
      });
      location = this.uploadLocation(response, what);
    }
    location.searchParams.set("digest", digest);
    await this.session.request(location.href, {
      method: "PUT",
      scope,
      what,
      headers: { "Content-Length": "0" },
    });
    return "uploaded";
  }

  private uploadLocation(response: Response, what: string): URL {
    const location = response.headers.get("location");
    if (location === null) throw new ResolveError(`${what}: the registry gave no upload location`);
    return new URL(location, this.session.base);
  }

  /** Puts a manifest or index under a tag or digest. */
  async putManifest(
    ref: ImageRef,
    reference: string,
    mediaType: string,
    bytes: Buffer,
  ): Promise<void> {
    const repo = repositoryPath(ref);
    await this.session.request(`/v2/${repo}/manifests/${reference}`, {
      method: "PUT",
      scope: this.scope(repo, true),
      what: `${ref.toString()} manifest`,
      body: bytes,
      headers: { "Content-Type": mediaType },
    });
  }
}
