/**
 * The GCS JSON API: resumable uploads (objects.insert with uploadType=resumable, then PUTs to the
 * session URI), objects.get (metadata or alt=media), objects.list and objects.delete.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, open, rename, rm, truncate } from "node:fs/promises";
import type { IncomingMessage } from "node:http";
import { join } from "node:path";
import { crc32c, crc32cBase64 } from "./crc32c";
import { CHUNK_UNIT, type FakeObject, type FakeUpload, type GcpFakeState } from "./state";
import { GoogleError, json, parseJson, type Reply } from "./wire";

export interface StorageContext {
  readonly state: GcpFakeState;
  /** `http://127.0.0.1:PORT`, for session URIs and links. */
  readonly endpoint: string;
}

/** The storage routes, from the method and the path (percent-decoded segments). */
export type StorageRoute =
  | { readonly operation: "uploads.start"; readonly bucket: string }
  | {
      readonly operation: "uploads.put" | "uploads.query" | "uploads.cancel";
      readonly bucket: string;
      readonly uploadId: string;
    }
  | {
      readonly operation: "objects.get" | "objects.delete";
      readonly bucket: string;
      readonly object: string;
    }
  | { readonly operation: "objects.list"; readonly bucket: string };

/** Classifies a request; undefined when no storage method lives there. */
export function storageRoute(
  method: string,
  path: string,
  query: URLSearchParams,
  headers: IncomingMessage["headers"],
): StorageRoute | undefined {
  let m = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
  if (m) {
    const bucket = decodeURIComponent(m[1]!);
    const uploadId = query.get("upload_id");
    if (uploadId === null)
      return method === "POST" ? { operation: "uploads.start", bucket } : undefined;
    if (method === "DELETE") return { operation: "uploads.cancel", bucket, uploadId };
    if (method !== "PUT" && method !== "POST") return undefined;
    const range = headers["content-range"] ?? "";
    return {
      operation: /^bytes \*\//.test(range) ? "uploads.query" : "uploads.put",
      bucket,
      uploadId,
    };
  }
  m = /^\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(path);
  if (m) {
    const bucket = decodeURIComponent(m[1]!);
    const object = decodeURIComponent(m[2]!);
    if (method === "GET") return { operation: "objects.get", bucket, object };
    if (method === "DELETE") return { operation: "objects.delete", bucket, object };
    return undefined;
  }
  m = /^\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
  if (m && method === "GET")
    return { operation: "objects.list", bucket: decodeURIComponent(m[1]!) };
  return undefined;
}

const enc = encodeURIComponent;

/** A header's value (repeated ones joined by commas). */
const header = (headers: IncomingMessage["headers"], name: string): string | undefined => {
  const value = headers[name];
  return Array.isArray(value) ? value.join(",") : value;
};

export function objectResource(ctx: StorageContext, o: FakeObject): Record<string, unknown> {
  return {
    kind: "storage#object",
    id: `${o.bucket}/${o.name}/${o.generation}`,
    selfLink: `${ctx.endpoint}/storage/v1/b/${enc(o.bucket)}/o/${enc(o.name)}`,
    mediaLink: `${ctx.endpoint}/download/storage/v1/b/${enc(o.bucket)}/o/${enc(o.name)}?generation=${o.generation}&alt=media`,
    name: o.name,
    bucket: o.bucket,
    generation: o.generation,
    metageneration: "1",
    contentType: o.contentType,
    storageClass: "STANDARD",
    size: String(o.size),
    md5Hash: o.md5Hash,
    crc32c: o.crc32c,
    etag: createHash("md5").update(o.generation).digest("base64").slice(0, 14),
    timeCreated: o.timeCreated,
    updated: o.timeCreated,
    ...(Object.keys(o.metadata).length > 0 ? { metadata: o.metadata } : {}),
  };
}

function requireBucket(ctx: StorageContext, bucket: string): void {
  if (!ctx.state.buckets.has(bucket))
    throw new GoogleError(404, "notFound", "The specified bucket does not exist.");
}

function noSuchObject(bucket: string, name: string): GoogleError {
  return new GoogleError(404, "notFound", `No such object: ${bucket}/${name}`);
}

/** GCS's object name rules: 1–1024 bytes of UTF-8, no CR or LF, not `.` or `..`. */
function checkObjectName(name: string): void {
  const bytes = Buffer.byteLength(name);
  if (bytes < 1 || bytes > 1024 || /[\r\n]/.test(name) || name === "." || name === "..")
    throw new GoogleError(400, "invalid", `The specified object name is not valid: '${name}'.`);
}

/** uploads.start: opens a session; answers 200 with its URI in `Location`. */
export async function startUpload(
  ctx: StorageContext,
  bucket: string,
  query: URLSearchParams,
  headers: IncomingMessage["headers"],
  body: Buffer,
): Promise<Reply> {
  requireBucket(ctx, bucket);
  const type = query.get("uploadType");
  if (type !== "resumable")
    throw new GoogleError(
      400,
      "invalid",
      `Upload type ${type === null ? "(none)" : `'${type}'`} is not modelled by the fake: use uploadType=resumable.`,
    );
  const meta = parseJson(body);
  const queryName = query.get("name");
  const bodyName = typeof meta.name === "string" ? meta.name : undefined;
  if (queryName !== null && bodyName !== undefined && queryName !== bodyName)
    throw new GoogleError(400, "invalid", "The object name in the URL and in the metadata differ.");
  const name = queryName ?? bodyName;
  if (name === undefined) throw new GoogleError(400, "required", "Required");
  checkObjectName(name);
  const lengthHeader = header(headers, "x-upload-content-length");
  let total: number | undefined;
  if (lengthHeader !== undefined) {
    total = Number(lengthHeader);
    if (!/^\d+$/.test(lengthHeader) || !Number.isSafeInteger(total))
      throw new GoogleError(400, "invalid", `Invalid X-Upload-Content-Length: ${lengthHeader}`);
  }
  const ifGenerationMatch = query.get("ifGenerationMatch") ?? undefined;
  if (ifGenerationMatch !== undefined) checkPrecondition(ctx, bucket, name, ifGenerationMatch);
  const metadata =
    typeof meta.metadata === "object" && meta.metadata !== null
      ? Object.fromEntries(Object.entries(meta.metadata).map(([k, v]) => [k, String(v)]))
      : {};
  const id = `ADPycd${createHash("sha256").update(ctx.state.newId()).digest("base64url").slice(0, 40)}`;
  await mkdir(join(ctx.state.dir, "uploads"), { recursive: true });
  const path = join(ctx.state.dir, "uploads", id);
  await (await open(path, "w")).close();
  const upload: FakeUpload = {
    id,
    bucket,
    name,
    contentType:
      header(headers, "x-upload-content-type") ??
      (typeof meta.contentType === "string" ? meta.contentType : "application/octet-stream"),
    metadata,
    total,
    persisted: 0,
    bytesReceived: 0,
    expectedCrc32c: typeof meta.crc32c === "string" ? meta.crc32c : undefined,
    expectedMd5: typeof meta.md5Hash === "string" ? meta.md5Hash : undefined,
    ifGenerationMatch,
    status: "active",
    path,
    object: undefined,
  };
  ctx.state.uploads.set(id, upload);
  const location = `${ctx.endpoint}/upload/storage/v1/b/${enc(bucket)}/o?uploadType=resumable&name=${enc(name)}&upload_id=${id}`;
  return {
    status: 200,
    headers: { location, "x-guploader-uploadid": id, "content-length": "0" },
    body: "",
  };
}

function checkPrecondition(ctx: StorageContext, bucket: string, name: string, want: string): void {
  const existing = ctx.state.findObject(bucket, name);
  const have = existing?.generation ?? "0";
  if (have !== want)
    throw new GoogleError(
      412,
      "conditionNotMet",
      "At least one of the pre-conditions you specified did not hold.",
      { location: "If-Match", locationType: "header" },
    );
}

function session(ctx: StorageContext, bucket: string, uploadId: string): FakeUpload {
  const upload = ctx.state.uploads.get(uploadId);
  if (!upload || upload.bucket !== bucket || upload.status === "expired")
    throw new GoogleError(404, "notFound", "No such upload session, or it has expired.");
  if (upload.status === "cancelled" || upload.status === "failed")
    throw new GoogleError(410, "gone", `The upload session was ${upload.status}: start a new one.`);
  return upload;
}

const resumeIncomplete = (upload: FakeUpload): Reply => ({
  status: 308,
  headers: {
    "content-length": "0",
    "x-guploader-uploadid": upload.id,
    ...(upload.persisted > 0 ? { range: `bytes=0-${upload.persisted - 1}` } : {}),
  },
  body: "",
});

/** Content-Range of a chunk (`bytes S-E/T`, T or `*`) or of a query (`bytes *\/T`, `bytes *\/*`). */
interface ContentRange {
  readonly first: number | undefined;
  readonly last: number | undefined;
  readonly total: number | undefined;
}

function parseContentRange(value: string | undefined): ContentRange | undefined {
  if (value === undefined) return undefined;
  const m = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(value.trim());
  if (!m) throw new GoogleError(400, "invalid", `Failed to parse Content-Range header: ${value}`);
  const num = (s: string | undefined) => (s === undefined || s === "*" ? undefined : Number(s));
  const range = { first: num(m[1]), last: num(m[2]), total: num(m[3]) };
  if (range.first !== undefined && range.last! < range.first)
    throw new GoogleError(400, "invalid", `Failed to parse Content-Range header: ${value}`);
  return range;
}

function checkTotal(upload: FakeUpload, total: number | undefined): void {
  if (total === undefined) return;
  if (upload.total !== undefined && upload.total !== total)
    throw new GoogleError(
      400,
      "invalid",
      `The total size ${total} differs from the one declared before (${upload.total}).`,
    );
  if (total < upload.persisted)
    throw new GoogleError(
      400,
      "invalid",
      `The total size ${total} is less than the ${upload.persisted} bytes already persisted.`,
    );
}

/** uploads.query: `Content-Range: bytes *\/T` or `*\/*` with an empty body. */
export async function queryUpload(
  ctx: StorageContext,
  bucket: string,
  uploadId: string,
  headers: IncomingMessage["headers"],
  body: Buffer,
): Promise<Reply> {
  const upload = session(ctx, bucket, uploadId);
  if (upload.status === "completed") return json(200, objectResource(ctx, upload.object!));
  if (body.length !== 0)
    throw new GoogleError(400, "invalid", "A Content-Range of bytes */… takes no body.");
  const range = parseContentRange(headers["content-range"])!;
  checkTotal(upload, range.total);
  // `bytes */T` with T the bytes persisted finalizes the object (an empty last chunk).
  if (range.total !== undefined && range.total === upload.persisted) {
    upload.total = range.total;
    return finalize(ctx, upload, headers);
  }
  return resumeIncomplete(upload);
}

/** uploads.cancel: DELETE on the session URI; GCS answers 499. */
export async function cancelUpload(
  ctx: StorageContext,
  bucket: string,
  uploadId: string,
): Promise<Reply> {
  const upload = session(ctx, bucket, uploadId);
  if (upload.status === "completed")
    throw new GoogleError(400, "invalid", "The upload session has already completed.");
  upload.status = "cancelled";
  await rm(upload.path, { force: true });
  return { status: 499, headers: { "content-length": "0" }, body: "" };
}

/**
 * uploads.put: one chunk, streamed to the session's file. A connection lost mid-body (or a `drop`
 * fault after `dropAfter` bytes) keeps what arrived up to the last whole CHUNK_UNIT and answers
 * nothing (undefined).
 */
export async function putChunk(
  ctx: StorageContext,
  bucket: string,
  uploadId: string,
  req: IncomingMessage,
  dropAfter: number | undefined,
): Promise<Reply | undefined> {
  const upload = session(ctx, bucket, uploadId);
  const declared = Number(req.headers["content-length"] ?? NaN);
  const range = parseContentRange(req.headers["content-range"]) ?? {
    // No Content-Range: the body is the whole object.
    first: 0,
    last: Number.isFinite(declared) && declared > 0 ? declared - 1 : undefined,
    total: Number.isFinite(declared) ? declared : undefined,
  };
  if (upload.status === "completed") {
    req.resume();
    return json(200, objectResource(ctx, upload.object!));
  }
  if (!Number.isInteger(declared))
    throw new GoogleError(411, "lengthRequired", "Length Required: send a Content-Length.");
  const first = range.first ?? 0;
  const length = range.last === undefined ? 0 : range.last - first + 1;
  if (first !== upload.persisted)
    throw new GoogleError(
      400,
      "invalid",
      `The chunk starts at byte ${first}, but the session has persisted ${upload.persisted} bytes: query the offset (Content-Range: bytes */*) and resume from it.`,
    );
  if (declared !== length)
    throw new GoogleError(
      400,
      "invalid",
      `Content-Length ${declared} does not match the Content-Range ${req.headers["content-range"] ?? "(none)"}.`,
    );
  checkTotal(upload, range.total);
  if (range.total !== undefined && range.last !== undefined && range.last >= range.total)
    throw new GoogleError(
      400,
      "invalid",
      `The Content-Range ${req.headers["content-range"]} ends past the total size.`,
    );
  const final = range.total !== undefined && first + length === range.total;
  if (!final && (length === 0 || length % CHUNK_UNIT !== 0))
    throw new GoogleError(
      400,
      "invalid",
      `Invalid request. The number of bytes uploaded is required to be a multiple of ${CHUNK_UNIT}, except for the final request. The received request contained ${length} bytes, which does not meet this requirement.`,
    );

  const file = await open(upload.path, "r+");
  let received = 0;
  let lost = false;
  try {
    for await (const chunk of req) {
      let data = chunk as Buffer;
      if (dropAfter !== undefined && received + data.length >= dropAfter) {
        data = data.subarray(0, dropAfter - received);
        lost = true;
      }
      await file.write(data, 0, data.length, first + received);
      received += data.length;
      upload.bytesReceived += data.length;
      ctx.state.bytesReceived += data.length;
      if (lost) {
        req.socket.destroy();
        break;
      }
    }
  } catch {
    lost = true;
  } finally {
    await file.close();
  }
  if (lost || received < length) {
    // What GCS keeps of an interrupted chunk: whole units of 256 KiB.
    upload.persisted = first + Math.floor(received / CHUNK_UNIT) * CHUNK_UNIT;
    await truncate(upload.path, upload.persisted);
    req.socket.destroy();
    return undefined;
  }
  if (received !== length)
    throw new GoogleError(400, "invalid", `Received ${received} bytes, expected ${length}.`);
  upload.persisted = first + length;
  if (range.total !== undefined) upload.total = range.total;
  if (!final) return resumeIncomplete(upload);
  return finalize(ctx, upload, req.headers);
}

/** Checksums of a file, streamed. */
async function digests(path: string): Promise<{ crc32c: string; md5: string }> {
  let crc = 0;
  const md5 = createHash("md5");
  for await (const chunk of createReadStream(path)) {
    crc = crc32c(chunk as Buffer, crc);
    md5.update(chunk as Buffer);
  }
  return { crc32c: crc32cBase64(crc), md5: md5.digest("base64") };
}

/** Parses `x-goog-hash: crc32c=…,md5=…` (either, both, comma separated or repeated). */
function goog(headers: IncomingMessage["headers"]): { crc32c?: string; md5?: string } {
  const out: { crc32c?: string; md5?: string } = {};
  const raw = headers["x-goog-hash"];
  if (raw === undefined) return out;
  for (const part of (Array.isArray(raw) ? raw.join(",") : raw).split(",")) {
    const at = part.indexOf("=");
    const name = part.slice(0, at).trim().toLowerCase();
    const value = part.slice(at + 1).trim();
    if (name === "crc32c") out.crc32c = value;
    else if (name === "md5") out.md5 = value;
    else throw new GoogleError(400, "invalid", `Unknown x-goog-hash algorithm: ${name}`);
  }
  return out;
}

async function finalize(
  ctx: StorageContext,
  upload: FakeUpload,
  headers: IncomingMessage["headers"],
): Promise<Reply> {
  const actual = await digests(upload.path);
  const given = goog(headers);
  const fail = async (message: string) => {
    upload.status = "failed";
    await rm(upload.path, { force: true });
    return new GoogleError(400, "invalid", message);
  };
  for (const want of [given.crc32c, upload.expectedCrc32c])
    if (want !== undefined && want !== actual.crc32c)
      throw await fail(
        `Provided CRC32C "${want}" doesn't match calculated CRC32C "${actual.crc32c}".`,
      );
  for (const want of [given.md5, upload.expectedMd5])
    if (want !== undefined && want !== actual.md5)
      throw await fail(
        `Provided MD5 hash "${want}" doesn't match calculated MD5 hash "${actual.md5}".`,
      );
  if (upload.ifGenerationMatch !== undefined) {
    try {
      checkPrecondition(ctx, upload.bucket, upload.name, upload.ifGenerationMatch);
    } catch (error) {
      upload.status = "failed";
      await rm(upload.path, { force: true });
      throw error;
    }
  }
  const generation = String(Date.now() * 1000 + (ctx.state.calls.length % 1000));
  const dir = join(ctx.state.dir, "objects", enc(upload.bucket));
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${enc(upload.name)}#${generation}`);
  await rename(upload.path, path);
  const previous = ctx.state.findObject(upload.bucket, upload.name);
  if (previous) await rm(previous.path, { force: true });
  const object: FakeObject = {
    bucket: upload.bucket,
    name: upload.name,
    generation,
    size: upload.persisted,
    contentType: upload.contentType,
    crc32c: actual.crc32c,
    md5Hash: actual.md5,
    metadata: upload.metadata,
    timeCreated: new Date().toISOString(),
    path,
  };
  ctx.state.putObject(object);
  upload.status = "completed";
  upload.object = object;
  return json(200, objectResource(ctx, object), {
    "x-goog-hash": `crc32c=${actual.crc32c},md5=${actual.md5}`,
    "x-goog-generation": generation,
  });
}

/** objects.get: metadata, or the bytes with alt=media (answered as a stream by the server). */
export function getObject(
  ctx: StorageContext,
  bucket: string,
  name: string,
  query: URLSearchParams,
): Reply | { readonly media: FakeObject } {
  requireBucket(ctx, bucket);
  const object = ctx.state.findObject(bucket, name);
  if (!object) throw noSuchObject(bucket, name);
  if (query.get("alt") === "media") return { media: object };
  return json(200, objectResource(ctx, object));
}

export async function deleteObject(
  ctx: StorageContext,
  bucket: string,
  name: string,
): Promise<Reply> {
  requireBucket(ctx, bucket);
  const object = ctx.state.findObject(bucket, name);
  if (!object) throw noSuchObject(bucket, name);
  ctx.state.removeObject(bucket, name);
  await rm(object.path, { force: true });
  return { status: 204, headers: { "content-length": "0" }, body: "" };
}

/** objects.list with `prefix`; no `items` when nothing matches, as GCS answers. */
export function listObjects(ctx: StorageContext, bucket: string, query: URLSearchParams): Reply {
  requireBucket(ctx, bucket);
  const prefix = query.get("prefix") ?? "";
  const items = [...ctx.state.objects.values()]
    .filter((o) => o.bucket === bucket && o.name.startsWith(prefix))
    .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((o) => objectResource(ctx, o));
  return json(200, { kind: "storage#objects", ...(items.length > 0 ? { items } : {}) });
}
