/**
 * HTTP to one registry: the token flow its `WWW-Authenticate` challenge asks for (bearer tokens
 * from the realm, per scope; or basic auth), retries with backoff on 429 (honouring Retry-After),
 * 5xx and connection failures, a timeout on every request, and redirects followed by hand so that
 * credentials never go to another origin (blob storage).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { ResolveError } from "../../errors";
import type { Credentials } from "./credentials";
import type { RegistryOptions } from "./hosts";

export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

/** Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`). */
export function parseChallenge(header: string): Challenge | undefined {
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (match === null) return undefined;
  const params: Record<string, string> = {};
  for (const m of match[2]!.matchAll(/(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params[m[1]!.toLowerCase()] = (m[2] ?? m[3] ?? "").replace(/\\(.)/g, "$1");
  }
  return { scheme: match[1]!.toLowerCase(), params };
}

/** Seconds (or an HTTP date) of a Retry-After header, as milliseconds; undefined when absent. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === "") return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const date = Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface RequestOptions {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Uint8Array | string;
  /** The token scope, e.g. `repository:library/alpine:pull` (several separated by spaces). */
  readonly scope: string;
  /** What the request is for, in errors: `alpine:3 manifest`. */
  readonly what: string;
  /** Statuses returned to the caller rather than raised (e.g. 404 for "does not exist"). */
  readonly accept?: readonly number[];
  /** Cancels the request (a blob download watches for stalls itself); otherwise the session's timeout applies. */
  readonly signal?: AbortSignal;
}

/** Redirects followed for one request, as Go's HTTP client (and so docker) allows. */
export const MAX_REDIRECTS = 10;
/** The largest token service answer read. */
const TOKEN_LIMIT = 1024 * 1024;

const RETRYABLE = new Set([408, 429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
]);

/** A Node error code for a failed fetch (a timeout's DOMException has a numeric code, so its name counts first). */
function errorCode(error: unknown): string | undefined {
  const e = error as { code?: unknown; cause?: { code?: unknown }; name?: string };
  if (e.name === "TimeoutError") return "ETIMEDOUT";
  const code = e.cause?.code ?? e.code;
  return typeof code === "string" ? code : undefined;
}

/** The most of an error answer read for its message; the rest is dropped. */
const ERROR_BODY_LIMIT = 64 * 1024;

/** Thrown by readBounded for a body over its limit (a ResolveError the caller rewords). */
export class TooLargeError extends ResolveError {}

/**
 * A response body read whole, but never more than `limit` bytes: a Content-Length over the limit
 * is refused before reading, and a body that goes on past it is cut off at `limit + 1` bytes.
 * With `truncate`, the first `limit` bytes are returned instead of refusing.
 */
export async function readBounded(
  response: Response,
  limit: number,
  what: string,
  options: { readonly truncate?: boolean } = {},
): Promise<Buffer> {
  const refuse = (size: string, done: string) =>
    new TooLargeError(
      `${what} is ${size} bytes, over oskit's limit of ${limit} bytes (${(limit / 1024 / 1024).toFixed(0)} MiB); ${done}`,
    );
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (!options.truncate && Number.isFinite(declared) && declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw refuse(String(declared), "refused without reading it");
  }
  const body = response.body;
  if (body === null) return Buffer.alloc(0);
  const chunks: Buffer[] = [];
  let size = 0;
  // Leaving the loop early (a return or a throw) cancels the rest of the body.
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    chunks.push(Buffer.from(chunk));
    size += chunk.length;
    if (size > limit) {
      if (options.truncate) return Buffer.concat(chunks).subarray(0, limit);
      throw refuse(`more than ${limit}`, "stopped reading there");
    }
  }
  return Buffer.concat(chunks);
}

/** A URL the registry sent (a redirect, a token realm), refused unless it is HTTP(S). */
function httpUrl(text: string, base: URL | undefined, what: string): URL {
  let url: URL;
  try {
    url = new URL(text, base);
  } catch {
    throw new ResolveError(`${what}: ${JSON.stringify(text.slice(0, 200))} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new ResolveError(
      `${what}: ${url.protocol} URLs are not followed (${url.href.slice(0, 200)})`,
    );
  return url;
}

/** A failed fetch in words: its Node error code, else its message and its cause's (`fetch failed (bad port)`). */
function describeFailure(error: unknown): string {
  const code = errorCode(error);
  if (code !== undefined) return code;
  const cause = (error as { cause?: unknown }).cause;
  const detail = cause instanceof Error ? ` (${cause.message})` : "";
  return `${(error as Error).message}${detail}`;
}

/** The registry's own error messages from a response body, if it sent any. */
async function registryErrors(response: Response): Promise<string> {
  try {
    const text = (
      await readBounded(response, ERROR_BODY_LIMIT, "error answer", { truncate: true })
    ).toString("utf8");
    const parsed = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    return (
      (parsed.errors ?? []).map((e) => [e.code, e.message].filter(Boolean).join(": ")).join("; ") ||
      text.slice(0, 200)
    );
  } catch {
    return "";
  }
}

export class RegistrySession {
  private readonly tokens = new Map<string, string>();
  private basic: string | undefined;

  constructor(
    /** The registry's API base, e.g. https://registry-1.docker.io */
    readonly base: URL,
    private readonly credentials: Credentials | undefined,
    private readonly options: RegistryOptions = {},
  ) {}

  private get timeout(): number {
    return this.options.timeoutMs ?? 60000;
  }

  /** A request to a path of the registry (`/v2/…`) or an absolute URL; follows redirects, authenticates, retries. */
  async request(path: string, options: RequestOptions): Promise<Response> {
    const attempts = this.options.attempts ?? 5;
    let authenticated = false;
    for (let attempt = 1; ; attempt++) {
      let response: Response;
      const url = new URL(path, this.base);
      try {
        response = await this.follow(url, options);
      } catch (error) {
        if (error instanceof ResolveError) throw error;
        const code = errorCode(error);
        if (code !== undefined && RETRYABLE_CODES.has(code) && attempt < attempts) {
          await this.backoff(attempt);
          continue;
        }
        throw new ResolveError(
          `${options.what}: ${options.method ?? "GET"} ${url.href} failed: ${describeFailure(error)}`,
          { cause: error },
        );
      }
      if (response.status === 401 && !authenticated) {
        authenticated = true;
        await this.authenticate(response, options);
        continue;
      }
      if (RETRYABLE.has(response.status) && attempt < attempts) {
        const wait = retryAfterMs(response.headers.get("retry-after"));
        await response.body?.cancel().catch(() => undefined);
        await this.backoff(attempt, wait);
        continue;
      }
      if (response.ok || (options.accept ?? []).includes(response.status)) return response;
      const detail = await registryErrors(response);
      const hint =
        response.status === 401 || response.status === 403
          ? ` — log in with \`docker login ${this.base.host}\` (oskit reads Docker's credentials)`
          : "";
      throw new ResolveError(
        `${options.what}: ${options.method ?? "GET"} ${url.href} answered ${response.status} ${response.statusText}${detail ? ` (${detail})` : ""}${hint}`,
      );
    }
  }

  private async backoff(attempt: number, retryAfter?: number): Promise<void> {
    const base = this.options.backoffMs ?? 500;
    const wait =
      retryAfter ?? Math.min(30000, base * 2 ** (attempt - 1)) * (0.5 + Math.random() / 2);
    await sleep(Math.min(wait, 60000));
  }

  /** One request, following redirects by hand; credentials go only to the registry's own origin. */
  private async follow(first: URL, options: RequestOptions): Promise<Response> {
    let url = first;
    const seen: string[] = [];
    for (let hop = 0; hop <= MAX_REDIRECTS; hop++) {
      seen.push(url.href);
      const headers: Record<string, string> = { ...options.headers };
      if (url.origin === this.base.origin) {
        const auth = this.authorization(options.scope);
        if (auth !== undefined) headers.Authorization = auth;
      }
      const response = await fetch(url, {
        method: options.method ?? "GET",
        headers,
        body: options.body,
        redirect: "manual",
        signal: options.signal ?? AbortSignal.timeout(this.timeout),
      });
      const location = response.headers.get("location");
      if (
        response.status >= 300 &&
        response.status < 400 &&
        location !== null &&
        !(options.method === "POST" || options.method === "PATCH" || options.method === "PUT")
      ) {
        await response.body?.cancel().catch(() => undefined);
        url = httpUrl(location, url, `${options.what}: the redirect from ${url.href}`);
        continue;
      }
      return response;
    }
    const loop = seen.indexOf(url.href) >= 0 ? ` (a loop back to ${url.href})` : "";
    throw new ResolveError(
      `${options.what}: more than ${MAX_REDIRECTS} redirects from ${first.href}${loop}; the registry is misconfigured`,
    );
  }

  private authorization(scope: string): string | undefined {
    const token = this.tokens.get(scope);
    if (token !== undefined) return `Bearer ${token}`;
    return this.basic;
  }

  private async authenticate(response: Response, options: RequestOptions): Promise<void> {
    await response.body?.cancel().catch(() => undefined);
    const challenge = parseChallenge(response.headers.get("www-authenticate") ?? "");
    if (challenge === undefined)
      throw new ResolveError(
        `${options.what}: ${this.base.host} asks for authentication without saying how (no WWW-Authenticate)`,
      );
    if (challenge.scheme === "basic") {
      const c = this.credentials;
      if (c?.username === undefined)
        throw new ResolveError(
          `${options.what}: ${this.base.host} needs a user name and password — log in with \`docker login ${this.base.host}\``,
        );
      this.basic = `Basic ${Buffer.from(`${c.username}:${c.password ?? ""}`).toString("base64")}`;
      return;
    }
    if (challenge.scheme !== "bearer" || challenge.params.realm === undefined) {
      throw new ResolveError(
        `${options.what}: unsupported authentication "${challenge.scheme}" from ${this.base.host}`,
      );
    }
    this.tokens.set(options.scope, await this.fetchToken(challenge, options));
  }

  private async fetchToken(challenge: Challenge, options: RequestOptions): Promise<string> {
    const realm = httpUrl(
      challenge.params.realm!,
      undefined,
      `${options.what}: the token realm of ${this.base.host}`,
    );
    const c = this.credentials;
    let response: Response;
    try {
      response = await this.tokenRequest(realm, challenge, options);
    } catch (error) {
      throw new ResolveError(
        `${options.what}: the token service ${realm.origin}${realm.pathname} failed: ${describeFailure(error)}`,
        { cause: error },
      );
    }
    if (!response.ok) {
      await response.body?.cancel().catch(() => undefined);
      throw new ResolveError(
        `${options.what}: the token service ${realm.origin}${realm.pathname} answered ${response.status}${c === undefined ? " (no credentials for this registry: docker login?)" : ""}`,
      );
    }
    const where = `${options.what}: the token service ${realm.origin}${realm.pathname}`;
    let body: unknown;
    try {
      body = JSON.parse(
        (await readBounded(response, TOKEN_LIMIT, `${where}'s answer`)).toString("utf8"),
      );
    } catch (error) {
      if (error instanceof ResolveError) throw error;
      throw new ResolveError(`${where} answered something that is not JSON`);
    }
    const answer = (typeof body === "object" && body !== null ? body : {}) as Record<
      string,
      unknown
    >;
    const token = answer.token ?? answer.access_token;
    if (typeof token !== "string" || token === "" || !/^[\x21-\x7e]+$/.test(token))
      throw new ResolveError(
        `${where} sent no usable token (expected {"token": "…"} with a printable token)`,
      );
    return token;
  }

  private async tokenRequest(
    realm: URL,
    challenge: Challenge,
    options: RequestOptions,
  ): Promise<Response> {
    const service = challenge.params.service;
    const c = this.credentials;
    let response: Response;
    if (c?.identityToken !== undefined) {
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: c.identityToken,
        scope: options.scope,
        client_id: "oskit",
      });
      if (service !== undefined) form.set("service", service);
      response = await fetch(realm, {
        method: "POST",
        body: form,
        signal: AbortSignal.timeout(this.timeout),
      });
    } else {
      if (service !== undefined) realm.searchParams.set("service", service);
      for (const scope of options.scope.split(" ")) realm.searchParams.append("scope", scope);
      const headers: Record<string, string> = {};
      if (c?.username !== undefined)
        headers.Authorization = `Basic ${Buffer.from(`${c.username}:${c.password ?? ""}`).toString("base64")}`;
      response = await fetch(realm, { headers, signal: AbortSignal.timeout(this.timeout) });
    }
    return response;
  }
}
