/**
 * Retries of AWS calls: throttling, 5xx answers, dropped or reset connections and the
 * eventual-consistency "does not exist yet" answers are tried again with exponential backoff
 * and jitter; anything else fails at once. The SDK's own retries are off (`maxAttempts: 1`), so
 * this is the one policy, and tests see it.
 */

/** What decides and paces retries (tests give a sleep that does not wait). */
export interface RetryPolicy {
  /** Attempts in all. @default 10 */
  readonly attempts?: number;
  /** The first backoff in ms, doubled each time. @default 250 */
  readonly baseMs?: number;
  /** The longest backoff in ms. @default 20000 */
  readonly maxMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const THROTTLING = new Set([
  "Throttling",
  "ThrottlingException",
  "ThrottledException",
  "RequestThrottled",
  "RequestThrottledException",
  "RequestLimitExceeded",
  "TooManyRequestsException",
  "SlowDown",
  "ServiceUnavailable",
  "ServiceUnavailableException",
  "InternalError",
  "InternalFailure",
  "InternalServerError",
  "InternalServerException",
  "Unavailable",
  "TimeoutError",
  "RequestTimeout",
  "RequestTimeoutException",
]);

const NETWORK = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/** The name, HTTP status, error code and message of an SDK or network error. */
export function errorFacts(error: unknown): {
  name: string;
  status: number | undefined;
  code: string | undefined;
  message: string;
} {
  const e = (error ?? {}) as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    message?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    $response?: { statusCode?: unknown };
  };
  const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
  const code =
    typeof e.Code === "string" ? e.Code : typeof e.code === "string" ? e.code : undefined;
  return {
    name: typeof e.name === "string" ? e.name : "",
    status: typeof status === "number" ? status : undefined,
    code,
    message: typeof e.message === "string" ? e.message : String(error),
  };
}

/** Throttling, a server error or a broken connection: worth trying again. */
export function isTransient(error: unknown): boolean {
  const { name, status, code, message } = errorFacts(error);
  if (THROTTLING.has(name) || (code !== undefined && THROTTLING.has(code))) return true;
  if (code !== undefined && NETWORK.has(code)) return true;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  return /socket hang up|ECONNRESET|EPIPE|other side closed|premature close|network|fetch failed/i.test(
    message,
  );
}

/** "The snapshot/image does not exist": a read after a create may not see it for a while. */
export function isNotFoundYet(error: unknown): boolean {
  const { name, code, message } = errorFacts(error);
  return (
    /^(ResourceNotFoundException|InvalidSnapshot\.NotFound|InvalidAMIID\.(NotFound|Unavailable))$/.test(
      code ?? name,
    ) ||
    (/ResourceNotFound/.test(name) && /does not exist|not found/i.test(message))
  );
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `call` until it succeeds, its error is not retryable, or the attempts are spent (the
 * last error is thrown, its message naming `what` and the attempts made).
 */
export async function withRetries<T>(
  what: string,
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy = {},
  retryable: (error: unknown) => boolean = isTransient,
): Promise<T> {
  const attempts = policy.attempts ?? 10;
  const base = policy.baseMs ?? 250;
  const max = policy.maxMs ?? 20_000;
  const sleep = policy.sleep ?? wait;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (error) {
      if (attempt >= attempts || !retryable(error)) {
        if (attempt > 1 && error instanceof Error && !error.message.includes("attempts"))
          error.message = `${what}: ${error.message} (after ${attempt} attempts)`;
        throw error;
      }
      const backoff = Math.min(max, base * 2 ** (attempt - 1));
      await sleep(backoff / 2 + Math.random() * (backoff / 2));
    }
  }
}
