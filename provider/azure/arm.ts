/**
 * Azure Resource Manager over REST with fetch: a bearer token from an injected token source (the
 * caller's credential; sent, never stored or logged), ARM's error bodies
 * (`{ error: { code, message, details } }`) turned into errors that keep ARM's code and message,
 * retries of throttling (honouring `Retry-After`), server errors and broken connections, and
 * long-running operations followed through `Azure-AsyncOperation` or `Location` with a timeout.
 */
import { isNetworkError, withRetries as retry, type RetryPolicy } from "../retry";

/** Azure's public cloud ARM root. */
export const DEFAULT_ARM_ENDPOINT = "https://management.azure.com";

/** Gives an ARM access token (audience `https://management.azure.com/`) for each request. */
export type ArmTokenSource = () => Promise<string>;

/** ARM's defaults: 8 attempts, backoff from 500 ms, waits (Retry-After included) up to 60 s. */
export type ArmRetryPolicy = RetryPolicy;

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** How oskit reaches ARM. */
export interface ArmClient {
  /** ARM's root, without a trailing slash. */
  readonly endpoint: string;
  readonly token: ArmTokenSource;
  readonly fetch: typeof fetch;
  readonly retry: ArmRetryPolicy;
}

/** The client from options: the public cloud's endpoint and the global fetch unless given. */
export function armClient(options: {
  /** @default https://management.azure.com */
  readonly endpoint?: string;
  readonly token: ArmTokenSource;
  readonly fetch?: typeof fetch;
  readonly retry?: ArmRetryPolicy;
}): ArmClient {
  return {
    endpoint: (options.endpoint ?? DEFAULT_ARM_ENDPOINT).replace(/\/+$/, ""),
    token: options.token,
    fetch: options.fetch ?? ((input, init) => fetch(input, init)),
    retry: options.retry ?? {},
  };
}

/** ARM's error detail. */
export interface ArmErrorDetail {
  readonly code?: string;
  readonly message?: string;
  readonly target?: string;
  readonly details?: readonly ArmErrorDetail[];
}

/** An answer of ARM that is not a success: the HTTP status, ARM's code and message. */
export class ArmApiError extends Error {
  constructor(
    message: string,
    /** The HTTP status (0 for a long-running operation that ended Failed or Canceled). */
    readonly status: number,
    /** ARM's code, e.g. ResourceGroupNotFound, InvalidParameter, or the operation's error code. */
    readonly code: string | undefined,
    /** Seconds the server asked to wait (Retry-After), when it did. */
    readonly retryAfterSeconds?: number,
    readonly details: readonly ArmErrorDetail[] = [],
  ) {
    super(message);
    this.name = "ArmApiError";
  }
}

/** `Retry-After` as seconds (a number of seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(value: string | null): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - Date.now()) / 1000));
}

/** ARM's message with its details' messages, e.g. `InvalidParameter: … (target: imageName)`. */
function describe(error: ArmErrorDetail): string {
  const own = `${error.code ?? "Error"}: ${error.message ?? "no message"}${error.target !== undefined ? ` (target: ${error.target})` : ""}`;
  const inner = (error.details ?? []).map(describe);
  return inner.length > 0 ? `${own} [${inner.join("; ")}]` : own;
}

/** ARM's error body as an error. */
export async function armError(what: string, response: Response): Promise<ArmApiError> {
  const text = await response.text().catch(() => "");
  let error: ArmErrorDetail | undefined;
  try {
    error = (JSON.parse(text) as { error?: ArmErrorDetail }).error;
  } catch {
    // not JSON: the text is the message
  }
  const message =
    error !== undefined
      ? describe(error)
      : text.trim().slice(0, 500) || response.statusText || "no message";
  return new ArmApiError(
    `${what}: HTTP ${response.status} ${message}`,
    response.status,
    error?.code,
    retryAfterSeconds(response.headers.get("retry-after")),
    error?.details ?? [],
  );
}

/** Throttling (429), a timeout (408), a server error (5xx) or a broken connection. */
export function isTransient(error: unknown): boolean {
  if (error instanceof ArmApiError)
    return error.status === 429 || error.status === 408 || error.status >= 500;
  return isNetworkError(error);
}

/** Runs `call` until it succeeds, fails for good, or the attempts are spent; Retry-After honoured. */
export function withRetries<T>(
  what: string,
  call: (attempt: number) => Promise<T>,
  policy: ArmRetryPolicy = {},
): Promise<T> {
  return retry(what, call, policy, {
    retryable: isTransient,
    defaults: { attempts: 8, baseMs: 500, maxMs: 60_000 },
    askedWaitMs: (error) =>
      error instanceof ArmApiError && error.retryAfterSeconds !== undefined
        ? error.retryAfterSeconds * 1000
        : undefined,
  });
}

/** One answer of ARM: the status, headers and parsed body (`{}` when empty). */
export interface ArmResponse<T> {
  readonly status: number;
  readonly headers: Headers;
  readonly body: T;
}

/** `path` (starting with `/`, or a whole URL of the endpoint's origin) with the api-version. */
function armUrl(client: ArmClient, path: string, apiVersion?: string): string {
  const url = new URL(/^https?:\/\//.test(path) ? path : `${client.endpoint}${path}`);
  if (url.origin !== new URL(client.endpoint).origin)
    throw new Error(
      `refusing to send the ARM token to ${url.origin}: ARM's answer pointed outside ${client.endpoint}`,
    );
  if (apiVersion !== undefined) url.searchParams.set("api-version", apiVersion);
  return url.toString();
}

/**
 * One request, retried when transient. 404 answers `undefined` when `notFound` allows it; any
 * other status of 400 and up throws ARM's error.
 */
export async function armRequest<T>(
  client: ArmClient,
  what: string,
  method: string,
  path: string,
  options: { apiVersion?: string; body?: unknown; notFound?: boolean } = {},
): Promise<ArmResponse<T> | undefined> {
  const url = armUrl(client, path, options.apiVersion);
  return withRetries(
    what,
    async () => {
      const response = await client.fetch(url, {
        method,
        headers: {
          authorization: `Bearer ${await client.token()}`,
          accept: "application/json",
          ...(options.body !== undefined && { "content-type": "application/json" }),
        },
        ...(options.body !== undefined && { body: JSON.stringify(options.body) }),
        signal: AbortSignal.timeout(120_000),
      });
      if (response.status === 404 && options.notFound === true) {
        await response.body?.cancel();
        return undefined;
      }
      if (response.status >= 400) throw await armError(what, response);
      const text = await response.text();
      return {
        status: response.status,
        headers: response.headers,
        body: (text === "" ? {} : JSON.parse(text)) as T,
      };
    },
    client.retry,
  );
}

/** How long-running operations are waited for. */
export interface LroOptions {
  /** How long the operation may take. @default 30 minutes */
  readonly timeoutMs?: number;
  /** Between polls when the server names no Retry-After. @default 5000 */
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** ARM's terminal states; anything else is in progress. */
const TERMINAL = new Set(["succeeded", "failed", "canceled"]);

/** A status resource (`Azure-AsyncOperation`): `{ status, error? }`. */
interface OperationStatus {
  readonly status?: string;
  readonly error?: ArmErrorDetail;
}

/**
 * Follows a long-running operation from its first answer: through `Azure-AsyncOperation` when
 * given (GET until Succeeded, Failed or Canceled), else `Location` (GET until it stops answering
 * 202), sleeping `Retry-After` seconds between polls when the server names them. A Failed or
 * Canceled operation throws ARM's error from the status resource; the timeout throws too.
 */
export async function followLro(
  client: ArmClient,
  what: string,
  first: ArmResponse<unknown>,
  options: LroOptions = {},
): Promise<void> {
  if (first.status !== 201 && first.status !== 202) return;
  const asyncUrl = first.headers.get("azure-asyncoperation");
  const location = first.headers.get("location");
  if (asyncUrl === null && location === null) return;
  const timeoutMs = options.timeoutMs ?? 30 * 60_000;
  const deadline = Date.now() + timeoutMs;
  const sleep = options.sleep ?? wait;
  const pause = async (headers: Headers) => {
    if (Date.now() > deadline)
      throw new ArmApiError(
        `${what}: still in progress after ${Math.round(timeoutMs / 1000)} s; look at it in the portal or with az, then run again`,
        0,
        "OperationTimedOut",
      );
    const asked = retryAfterSeconds(headers.get("retry-after"));
    await sleep(asked !== undefined ? asked * 1000 : (options.pollMs ?? 5000));
  };
  let headers = first.headers;
  if (asyncUrl !== null) {
    for (;;) {
      await pause(headers);
      const polled = (await armRequest<OperationStatus>(
        client,
        `${what} (status)`,
        "GET",
        asyncUrl,
      ))!;
      headers = polled.headers;
      const status = polled.body.status ?? "";
      if (!TERMINAL.has(status.toLowerCase())) continue;
      if (status.toLowerCase() === "succeeded") return;
      const error = polled.body.error ?? { code: status, message: `the operation ended ${status}` };
      throw new ArmApiError(
        `${what}: the operation ended ${status}: ${describe(error)}`,
        0,
        error.code ?? status,
        undefined,
        error.details ?? [],
      );
    }
  }
  for (;;) {
    await pause(headers);
    // Location answers 202 while in progress, 200/204 when done, and the error once failed.
    const polled = (await armRequest<unknown>(client, `${what} (location)`, "GET", location!))!;
    if (polled.status !== 202) return;
    headers = polled.headers;
  }
}
