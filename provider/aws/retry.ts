/**
 * Retries of AWS calls: throttling, 5xx answers, dropped or reset connections and the
 * eventual-consistency "does not exist yet" answers are tried again with exponential backoff
 * and jitter; anything else fails at once. The SDK's own retries are off (`maxAttempts: 1`), so
 * this is the one policy, and tests see it.
 */

import { isNetworkError, withRetries as retry, type RetryPolicy } from "../retry";

/** AWS's defaults: 10 attempts, backoff from 250 ms up to 20 s. */
export type { RetryPolicy };

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
  const { name, status, code } = errorFacts(error);
  if (THROTTLING.has(name) || (code !== undefined && THROTTLING.has(code))) return true;
  if (status !== undefined && (status >= 500 || status === 429)) return true;
  return isNetworkError(error);
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

/**
 * Runs `call` until it succeeds, its error is not retryable, or the attempts are spent (the
 * last error is thrown, its message naming `what` and the attempts made).
 */
export function withRetries<T>(
  what: string,
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy = {},
  retryable: (error: unknown) => boolean = isTransient,
): Promise<T> {
  return retry(what, call, policy, {
    retryable,
    defaults: { attempts: 10, baseMs: 250, maxMs: 20_000 },
  });
}
