/**
 * Retries of cloud calls, shared by every publisher: a call is tried again, with exponential
 * backoff and jitter (or the wait the server asked for), while its error is one the cloud's rules
 * call transient; anything else fails at once. Each cloud gives its rules and defaults.
 */

/** What decides and paces retries (tests give a sleep that does not wait). */
export interface RetryPolicy {
  /** Attempts in all. */
  readonly attempts?: number;
  /** The first backoff in ms, doubled each time. */
  readonly baseMs?: number;
  /** The longest wait in ms. */
  readonly maxMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** A cloud's rules: which errors are worth another try, its defaults, a wait the server names. */
export interface RetryRules {
  readonly retryable: (error: unknown) => boolean;
  readonly defaults: { readonly attempts: number; readonly baseMs: number; readonly maxMs: number };
  /** The wait in ms the error's answer asked for (Retry-After), if any. */
  readonly askedWaitMs?: (error: unknown) => number | undefined;
}

const NETWORK_CODES =
  /^(ECONNRESET|ECONNREFUSED|ECONNABORTED|EPIPE|ETIMEDOUT|EAI_AGAIN|UND_ERR_\w+|ERR_STREAM_PREMATURE_CLOSE)$/;
const NETWORK_MESSAGES =
  /fetch failed|socket hang up|other side closed|premature close|terminated|ECONNRESET|EPIPE|network/i;

/** A connection that broke, was refused or timed out (Node's errors and fetch's). */
export function isNetworkError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown; cause?: { code?: unknown } } | undefined;
  const code = typeof e?.cause?.code === "string" ? e.cause.code : e?.code;
  if (typeof code === "string" && NETWORK_CODES.test(code)) return true;
  return typeof e?.message === "string" && NETWORK_MESSAGES.test(e.message);
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs `call` until it succeeds, its error is not retryable, or the attempts are spent (the last
 * error is thrown, its message naming `what` and the attempts made).
 */
export async function withRetries<T>(
  what: string,
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  rules: RetryRules,
): Promise<T> {
  const attempts = policy.attempts ?? rules.defaults.attempts;
  const base = policy.baseMs ?? rules.defaults.baseMs;
  const max = policy.maxMs ?? rules.defaults.maxMs;
  const sleep = policy.sleep ?? wait;
  for (let attempt = 1; ; attempt++) {
    try {
      return await call(attempt);
    } catch (error) {
      if (attempt >= attempts || !rules.retryable(error)) {
        if (attempt > 1 && error instanceof Error && !error.message.includes("attempts"))
          error.message = `${what}: ${error.message} (after ${attempt} attempts)`;
        throw error;
      }
      const asked = rules.askedWaitMs?.(error);
      const backoff = Math.min(max, base * 2 ** (attempt - 1));
      await sleep(
        asked !== undefined ? Math.min(max, asked) : backoff / 2 + Math.random() * (backoff / 2),
      );
    }
  }
}
