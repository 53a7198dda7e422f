/**
 * The HTTP of the GCP publisher: JSON requests to Cloud Storage and Compute Engine with fetch, a
 * bearer token from a token source, Google's error bodies turned into errors that keep the API's
 * own code and message, and retries with backoff of throttling, server errors and broken
 * connections. Credentials are an OAuth access token from `GOOGLE_OAUTH_ACCESS_TOKEN` (the
 * variable the Pulumi GCP provider reads) or Application Default Credentials through
 * google-auth-library, loaded only when needed; a token is sent, never stored or logged.
 */
import { isNetworkError, withRetries as retry, type RetryPolicy } from "../retry";

/** Where the clients connect (tests, private endpoints). */
export interface GcpEndpoints {
  /** Cloud Storage's JSON API root. @default https://storage.googleapis.com */
  readonly storage?: string;
  /** Compute Engine's API root. @default https://compute.googleapis.com */
  readonly compute?: string;
}

export const DEFAULT_ENDPOINTS = {
  storage: "https://storage.googleapis.com",
  compute: "https://compute.googleapis.com",
} as const;

/** Gives an OAuth 2.0 access token for each request (cached by whoever implements it). */
export type TokenSource = () => Promise<string>;

const SCOPE = "https://www.googleapis.com/auth/cloud-platform";

/**
 * `GOOGLE_OAUTH_ACCESS_TOKEN` when set, else Application Default Credentials
 * (`GOOGLE_APPLICATION_CREDENTIALS`, gcloud's application-default login, the metadata server).
 */
export function defaultTokenSource(env: NodeJS.ProcessEnv = process.env): TokenSource {
  const token = env.GOOGLE_OAUTH_ACCESS_TOKEN;
  if (token !== undefined && token !== "") return () => Promise.resolve(token);
  let auth: Promise<{ getAccessToken(): Promise<string | null | undefined> }> | undefined;
  return async () => {
    auth ??= import("google-auth-library").then((lib) => new lib.GoogleAuth({ scopes: [SCOPE] }));
    let found: string | null | undefined;
    try {
      found = await (await auth).getAccessToken();
    } catch (error) {
      throw new Error(
        `no Google credentials: set GOOGLE_OAUTH_ACCESS_TOKEN (e.g. $(gcloud auth print-access-token)) or set up Application Default Credentials (gcloud auth application-default login, or GOOGLE_APPLICATION_CREDENTIALS); ${(error as Error).message}`,
        { cause: error },
      );
    }
    if (found === undefined || found === null || found === "")
      throw new Error("Application Default Credentials gave no access token");
    return found;
  };
}

/** An answer of a Google API that is not a success, with its HTTP status and Google's code. */
export class GcpApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status. */
    readonly status: number,
    /** Google's status or reason, e.g. NOT_FOUND, rateLimitExceeded, or an operation's error code. */
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "GcpApiError";
  }
}

/** Google's error body (`{ error: { code, message, status, errors: [{ reason, message }] } }`) as an error. */
export async function apiError(what: string, response: Response): Promise<GcpApiError> {
  const text = await response.text().catch(() => "");
  let message = text.trim().slice(0, 500);
  let code: string | undefined;
  try {
    const body = JSON.parse(text) as {
      error?: { message?: string; status?: string; errors?: { reason?: string }[] };
    };
    if (body.error?.message !== undefined) message = body.error.message;
    code = body.error?.status ?? body.error?.errors?.[0]?.reason;
  } catch {
    // not JSON: the text is the message
  }
  return new GcpApiError(
    `${what}: HTTP ${response.status}${code !== undefined ? ` ${code}` : ""}: ${message || response.statusText}`,
    response.status,
    code,
  );
}

/** GCP's defaults: 8 attempts, backoff from 500 ms up to 30 s. */
export type { RetryPolicy };

/** Throttling (429), a server error (5xx), a timeout (408) or a broken connection. */
export function isTransient(error: unknown): boolean {
  if (error instanceof GcpApiError)
    return error.status === 429 || error.status === 408 || error.status >= 500;
  return isNetworkError(error);
}

/** Runs `call` until it succeeds, fails for good, or the attempts are spent. */
export function withRetries<T>(
  what: string,
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy = {},
): Promise<T> {
  return retry(what, call, policy, {
    retryable: isTransient,
    defaults: { attempts: 8, baseMs: 500, maxMs: 30_000 },
  });
}

/** A JSON client of one API root, with the token source and retry policy. */
export interface GcpClient {
  readonly token: TokenSource;
  readonly fetch: typeof fetch;
  readonly retry: RetryPolicy;
}

/** The client oskit makes: the default token source and the global fetch. */
export function gcpClient(options: Partial<GcpClient> = {}): GcpClient {
  return {
    token: options.token ?? defaultTokenSource(),
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    retry: options.retry ?? {},
  };
}

/**
 * One JSON request, retried when transient; `undefined` for a 404 when `notFound` allows it.
 * The body is sent as JSON; the answer parsed as JSON (an empty body as `{}`).
 */
export async function requestJson<T>(
  client: GcpClient,
  what: string,
  method: string,
  url: string,
  options: { body?: unknown; notFound?: boolean } = {},
): Promise<T | undefined> {
  return withRetries(
    what,
    async () => {
      const response = await client.fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${await client.token()}`,
          ...(options.body !== undefined && { "content-type": "application/json" }),
        },
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(120_000),
      });
      if (response.status === 404 && options.notFound === true) {
        await response.body?.cancel();
        return undefined;
      }
      if (!response.ok) throw await apiError(what, response);
      const text = await response.text();
      return (text === "" ? {} : JSON.parse(text)) as T;
    },
    client.retry,
  );
}
