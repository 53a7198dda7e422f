/**
 * The server side of AWS Signature Version 4 (header auth, `AWS4-HMAC-SHA256`), written from the
 * published signing process and checked against AWS's own test-suite vectors
 * (tests/unit/support/aws-sigv4.test.ts), never against the client it will judge.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";

export const ALGORITHM = "AWS4-HMAC-SHA256";
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
/** How far a request's date may be from the server's clock, both ways (AWS: 15 minutes). */
export const MAX_SKEW_MS = 15 * 60 * 1000;

/** A request as it arrived: the raw target, every header line as sent, and its payload hash. */
export interface SignableRequest {
  readonly method: string;
  /** The request target as sent on the wire: an already percent-encoded path and query. */
  readonly target: string;
  /** Header names as sent (any case), in order; repeated names appear repeatedly. */
  readonly headers: readonly (readonly [string, string])[];
  /** Hex SHA-256 of the body, or `UNSIGNED-PAYLOAD`. */
  readonly payloadHash: string;
}

export interface CredentialScope {
  readonly accessKeyId: string;
  /** `YYYYMMDD` */
  readonly date: string;
  readonly region: string;
  readonly service: string;
}

export interface ParsedAuthorization {
  readonly scope: CredentialScope;
  readonly signedHeaders: readonly string[];
  readonly signature: string;
}

export const sha256Hex = (data: string | Buffer): string =>
  createHash("sha256").update(data).digest("hex");

const hmac = (key: Buffer | string, data: string): Buffer =>
  createHmac("sha256", key).update(data, "utf8").digest();

/** RFC 3986 percent-encoding of everything but the unreserved characters, as SigV4 asks. */
export function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function decode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, "%20"));
  } catch {
    return value;
  }
}

/** Parses `AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`; undefined when malformed. */
export function parseAuthorization(header: string): ParsedAuthorization | undefined {
  if (!header.startsWith(`${ALGORITHM} `)) return undefined;
  const fields = new Map<string, string>();
  for (const part of header.slice(ALGORITHM.length + 1).split(",")) {
    const eq = part.indexOf("=");
    if (eq < 0) return undefined;
    fields.set(part.slice(0, eq).trim(), part.slice(eq + 1).trim());
  }
  const credential = fields.get("Credential")?.split("/");
  const signedHeaders = fields.get("SignedHeaders");
  const signature = fields.get("Signature");
  if (credential?.length !== 5 || !signedHeaders || !signature) return undefined;
  const [accessKeyId, date, region, service, terminator] = credential as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (terminator !== "aws4_request" || !/^\d{8}$/.test(date)) return undefined;
  if (!/^[0-9a-f]{64}$/.test(signature)) return undefined;
  return {
    scope: { accessKeyId, date, region, service },
    signedHeaders: signedHeaders.split(";"),
    signature,
  };
}

/** The canonical URI of a non-S3 service: dot segments removed, each segment encoded once more. */
export function canonicalUri(path: string): string {
  const out: string[] = [];
  for (const segment of path.split("/").slice(1)) {
    if (segment === ".") continue;
    if (segment === "..") {
      out.pop();
      continue;
    }
    out.push(segment);
  }
  const joined = out.filter((s, i) => s !== "" || i === out.length - 1);
  return `/${joined.map((s) => uriEncode(s)).join("/")}`;
}

/** The canonical query string: every pair decoded, re-encoded, sorted by name then value. */
export function canonicalQuery(query: string): string {
  if (query === "") return "";
  return query
    .split("&")
    .filter((pair) => pair !== "")
    .map((pair) => {
      const eq = pair.indexOf("=");
      const name = eq < 0 ? pair : pair.slice(0, eq);
      const value = eq < 0 ? "" : pair.slice(eq + 1);
      return [uriEncode(decode(name)), uriEncode(decode(value))] as const;
    })
    .sort(([a, av], [b, bv]) => (a < b ? -1 : a > b ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([n, v]) => `${n}=${v}`)
    .join("&");
}

/** `name:value\n` for each signed header: values trimmed, inner runs of spaces collapsed. */
export function canonicalHeaders(
  headers: SignableRequest["headers"],
  signed: readonly string[],
): string {
  return signed
    .map((name) => {
      const values = headers
        .filter(([n]) => n.toLowerCase() === name)
        .map(([, v]) => v.trim().replace(/ +/g, " "));
      return `${name}:${values.join(",")}\n`;
    })
    .join("");
}

export function canonicalRequest(
  request: SignableRequest,
  signedHeaders: readonly string[],
): string {
  const q = request.target.indexOf("?");
  const path = q < 0 ? request.target : request.target.slice(0, q);
  const query = q < 0 ? "" : request.target.slice(q + 1);
  return [
    request.method,
    canonicalUri(path),
    canonicalQuery(query),
    canonicalHeaders(request.headers, signedHeaders),
    signedHeaders.join(";"),
    request.payloadHash,
  ].join("\n");
}

export const scopeString = (s: CredentialScope): string =>
  `${s.date}/${s.region}/${s.service}/aws4_request`;

export function stringToSign(amzDate: string, scope: CredentialScope, creq: string): string {
  return [ALGORITHM, amzDate, scopeString(scope), sha256Hex(creq)].join("\n");
}

export function signingKey(secret: string, scope: CredentialScope): Buffer {
  const kDate = hmac(`AWS4${secret}`, scope.date);
  const kRegion = hmac(kDate, scope.region);
  const kService = hmac(kRegion, scope.service);
  return hmac(kService, "aws4_request");
}

export function signature(secret: string, scope: CredentialScope, sts: string): string {
  return createHmac("sha256", signingKey(secret, scope)).update(sts, "utf8").digest("hex");
}

/** `20150830T123600Z` → epoch milliseconds; undefined when not in that form. */
export function parseAmzDate(value: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number);
  return Date.UTC(y ?? 0, (mo ?? 1) - 1, d, h, mi, s);
}

export const formatAmzDate = (ms: number): string =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");

/** Why a request's signature was refused, in AWS's own terms (each service maps it to its codes). */
export type SigV4Failure =
  | "missing" // no Authorization header
  | "incomplete" // malformed header, missing X-Amz-Date, host not signed
  | "unknown-key" // the access key id is not ours
  | "scope" // wrong date, region or service in the credential scope
  | "expired" // X-Amz-Date more than 15 minutes away from the server's clock
  | "mismatch"; // the signature differs

export interface VerifyResult {
  readonly ok: boolean;
  readonly failure?: SigV4Failure;
  readonly message?: string;
  readonly scope?: CredentialScope;
  /** What the server computed, for diagnosis in tests. */
  readonly canonicalRequest?: string;
  readonly stringToSign?: string;
}

export interface VerifyOptions {
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly regions: readonly string[];
  readonly service: string;
  readonly now: number;
}

const fail = (failure: SigV4Failure, message: string, scope?: CredentialScope): VerifyResult => ({
  ok: false,
  failure,
  message,
  ...(scope ? { scope } : {}),
});

/** Checks a request's Authorization header as AWS does, in the order AWS reports the problems. */
export function verify(request: SignableRequest, options: VerifyOptions): VerifyResult {
  const header = (name: string) => request.headers.find(([n]) => n.toLowerCase() === name)?.[1];
  const authorization = header("authorization");
  if (authorization === undefined) return fail("missing", "Missing Authentication Token");
  const parsed = parseAuthorization(authorization);
  if (!parsed) {
    return fail(
      "incomplete",
      `Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters and the ${ALGORITHM} algorithm. Authorization=${authorization}`,
    );
  }
  const { scope } = parsed;
  const amzDate = header("x-amz-date");
  const when = amzDate === undefined ? undefined : parseAmzDate(amzDate.trim());
  if (amzDate === undefined || when === undefined) {
    return fail(
      "incomplete",
      "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
      scope,
    );
  }
  if (!parsed.signedHeaders.includes("host")) {
    return fail("incomplete", "'Host' must be a signed header.", scope);
  }
  const sortedSigned = [...parsed.signedHeaders].sort();
  if (sortedSigned.join(";") !== parsed.signedHeaders.join(";")) {
    return fail("incomplete", "SignedHeaders must be sorted and lowercase.", scope);
  }
  if (scope.accessKeyId !== options.credentials.accessKeyId) {
    return fail("unknown-key", "The security token included in the request is invalid.", scope);
  }
  if (scope.date !== amzDate.trim().slice(0, 8)) {
    return fail(
      "scope",
      `Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '${scope.date}' != '${amzDate.trim().slice(0, 8)}', from '${amzDate.trim()}'.`,
      scope,
    );
  }
  if (!options.regions.includes(scope.region)) {
    return fail(
      "scope",
      `Credential should be scoped to a valid region, not '${scope.region}'.`,
      scope,
    );
  }
  if (scope.service !== options.service) {
    return fail(
      "scope",
      `Credential should be scoped to correct service: '${options.service}'.`,
      scope,
    );
  }
  if (Math.abs(options.now - when) > MAX_SKEW_MS) {
    return fail(
      "expired",
      `Signature expired: ${amzDate.trim()} is now earlier than ${formatAmzDate(options.now - MAX_SKEW_MS)} (${formatAmzDate(options.now)} - 15 min.)`,
      scope,
    );
  }
  const creq = canonicalRequest(request, parsed.signedHeaders);
  const sts = stringToSign(amzDate.trim(), scope, creq);
  const expected = Buffer.from(signature(options.credentials.secretAccessKey, scope, sts), "hex");
  const given = Buffer.from(parsed.signature, "hex");
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    return {
      ...fail(
        "mismatch",
        "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        scope,
      ),
      canonicalRequest: creq,
      stringToSign: sts,
    };
  }
  return { ok: true, scope, canonicalRequest: creq, stringToSign: sts };
}

/**
 * Signs a request the way a client would, for tests that hand-craft requests the SDK would never
 * send (a stale date, a wrong scope). Returns the headers to add.
 */
export function signForTest(
  request: Omit<SignableRequest, "headers"> & { readonly headers: Record<string, string> },
  credentials: VerifyOptions["credentials"],
  region: string,
  service: string,
  amzDate: string,
): Record<string, string> {
  const headers: Record<string, string> = { ...request.headers, "x-amz-date": amzDate };
  const entries = Object.entries(headers).map(([k, v]) => [k, v] as const);
  const signed = [...new Set(entries.map(([k]) => k.toLowerCase()))].sort();
  const scope = {
    accessKeyId: credentials.accessKeyId,
    date: amzDate.slice(0, 8),
    region,
    service,
  };
  const creq = canonicalRequest({ ...request, headers: entries }, signed);
  const sig = signature(credentials.secretAccessKey, scope, stringToSign(amzDate, scope, creq));
  return {
    ...headers,
    authorization: `${ALGORITHM} Credential=${credentials.accessKeyId}/${scopeString(scope)}, SignedHeaders=${signed.join(";")}, Signature=${sig}`,
  };
}
