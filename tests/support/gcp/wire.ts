/** Google's JSON error bodies and the fake's replies, independent of node:http. */

/** One entry of `error.errors[]`. */
export interface GoogleErrorItem {
  readonly domain: string;
  readonly reason: string;
  readonly message: string;
  readonly location?: string;
  readonly locationType?: string;
}

const STATUS_NAMES: Readonly<Record<number, string>> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ALREADY_EXISTS",
  410: "NOT_FOUND",
  412: "FAILED_PRECONDITION",
  429: "RESOURCE_EXHAUSTED",
  499: "CANCELLED",
  500: "INTERNAL",
  503: "UNAVAILABLE",
};

/** An error a handler throws; rendered as `{"error":{"code","message","errors":[…],"status"}}`. */
export class GoogleError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
    readonly extra: Partial<Pick<GoogleErrorItem, "location" | "locationType" | "domain">> = {},
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  body(): string {
    return JSON.stringify({
      error: {
        code: this.status,
        message: this.message,
        errors: [
          {
            message: this.message,
            domain: this.extra.domain ?? "global",
            reason: this.reason,
            ...(this.extra.location !== undefined ? { location: this.extra.location } : {}),
            ...(this.extra.locationType !== undefined
              ? { locationType: this.extra.locationType }
              : {}),
          },
        ],
        ...(STATUS_NAMES[this.status] !== undefined ? { status: STATUS_NAMES[this.status] } : {}),
      },
    });
  }
}

export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: Buffer | string;
  /** The error reason, when the reply is an error. */
  readonly reason?: string;
}

export const json = (
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
): Reply => ({
  status,
  headers: { "content-type": "application/json; charset=UTF-8", ...headers },
  body: JSON.stringify(value),
});

export const errorReply = (error: GoogleError): Reply => ({
  status: error.status,
  headers: { "content-type": "application/json; charset=UTF-8", ...error.headers },
  body: error.body(),
  reason: error.reason,
});

/** Parses a JSON request body, or answers 400 `parseError` as Google does. */
export function parseJson(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {};
  try {
    const value: unknown = JSON.parse(body.toString("utf8"));
    if (typeof value === "object" && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>;
  } catch {
    // answered below
  }
  throw new GoogleError(400, "parseError", "Parse Error");
}
