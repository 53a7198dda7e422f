/**
 * Where a reference's registry is: Docker Hub's API host for `docker.io`, a mirror when one is
 * configured, plain HTTP only for loopback and registries the user named as insecure.
 */
import { ResolveError } from "../../errors";
import type { ImageRef } from "../../manifest/reference";

export interface RegistryOptions {
  /** Registries (host[:port]) that may be reached over plain HTTP, besides localhost/127.0.0.1. */
  readonly insecure?: readonly string[];
  /** Registry host → base URL of a mirror, e.g. `{ "docker.io": "http://127.0.0.1:5000" }`. */
  readonly mirrors?: Readonly<Record<string, string>>;
  /** Per-request timeout (and, for blobs, the longest wait for the next bytes). @default 60000 */
  readonly timeoutMs?: number;
  /** Tries per request for retryable failures (429, 5xx, resets). @default 5 */
  readonly attempts?: number;
  /** Base of the exponential backoff between tries. @default 500 */
  readonly backoffMs?: number;
  readonly env?: NodeJS.ProcessEnv;
}

/** The registry a reference names (`docker.io` when none). */
export function registryHost(ref: ImageRef): string {
  return ref.domain === undefined ||
    ref.domain === "index.docker.io" ||
    ref.domain === "registry-1.docker.io"
    ? "docker.io"
    : ref.domain;
}

/** The repository path on the registry (`library/alpine` for Docker Hub's `alpine`). */
export function repositoryPath(ref: ImageRef): string {
  return registryHost(ref) === "docker.io" && !ref.path.includes("/")
    ? `library/${ref.path}`
    : ref.path;
}

function isLoopback(host: string): boolean {
  const name = host.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
  return name === "localhost" || name === "::1" || /^127\./.test(name);
}

/** Options from the environment: `OSKIT_INSECURE_REGISTRIES` (comma-separated) and `OSKIT_MIRRORS` (`host=url,…`). */
export function registryOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): {
  insecure: string[];
  mirrors: Record<string, string>;
} {
  const insecure = (env.OSKIT_INSECURE_REGISTRIES ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const mirrors: Record<string, string> = {};
  for (const entry of (env.OSKIT_MIRRORS ?? "")
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const eq = entry.indexOf("=");
    if (eq <= 0) throw new ResolveError(`OSKIT_MIRRORS: "${entry}" is not host=url`);
    mirrors[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { insecure, mirrors };
}

/** The base URL of a registry's API (without `/v2/`). */
export function registryBase(host: string, options: RegistryOptions = {}): URL {
  const mirror = options.mirrors?.[host];
  if (mirror !== undefined) {
    const url = new URL(mirror);
    if (
      url.protocol === "http:" &&
      !isLoopback(url.host) &&
      !(options.insecure ?? []).includes(url.host)
    ) {
      throw new ResolveError(
        `the mirror ${mirror} is plain HTTP; name ${url.host} in --insecure-registry (OSKIT_INSECURE_REGISTRIES) to allow it`,
      );
    }
    return url;
  }
  const api = host === "docker.io" ? "registry-1.docker.io" : host;
  const plain = isLoopback(host) || (options.insecure ?? []).includes(host);
  return new URL(`${plain ? "http" : "https"}://${api}`);
}
