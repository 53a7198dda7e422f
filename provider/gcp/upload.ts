/**
 * A file into a Cloud Storage object with the JSON API's resumable protocol: a session started
 * with the object's metadata (its checksums among them, which GCS verifies when the last byte
 * lands), the file sent in chunks of a multiple of 256 KiB, and after a broken connection,
 * throttling or a server error the session asked how much it holds (`Content-Range: bytes
 * *\/TOTAL`) so only the rest is sent. An object of the same name, size and checksum is kept and
 * nothing is sent.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { crc32c, crc32cBase64 } from "./crc32c";
import {
  apiError,
  DEFAULT_ENDPOINTS,
  GcpApiError,
  isTransient,
  requestJson,
  withRetries,
  type GcpClient,
  type GcpEndpoints,
} from "./http";

/** The granularity of a resumable upload's chunks. */
export const CHUNK_QUANTUM = 256 * 1024;
export const DEFAULT_CHUNK = 8 * 1024 * 1024;

/** What Cloud Storage says of an object (the fields oskit reads). */
export interface StoredObject {
  readonly bucket: string;
  readonly name: string;
  /** Bytes, as a decimal string. */
  readonly size: string;
  readonly crc32c?: string;
  readonly md5Hash?: string;
  readonly generation?: string;
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A file's size and checksums, in the forms the APIs use. */
export interface FileDigests {
  readonly size: number;
  /** `sha256:…` */
  readonly sha256: string;
  /** base64, big-endian, as GCS writes it. */
  readonly crc32c: string;
  /** base64, as GCS writes it. */
  readonly md5: string;
}

/** Reads the file once for its size, sha256, CRC32C and MD5. */
export async function fileDigests(path: string): Promise<FileDigests> {
  const sha = createHash("sha256");
  const md5 = createHash("md5");
  let crc = 0;
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    const b = chunk as Buffer;
    sha.update(b);
    md5.update(b);
    crc = crc32c(b, crc);
    size += b.length;
  }
  return {
    size,
    sha256: `sha256:${sha.digest("hex")}`,
    crc32c: crc32cBase64(crc),
    md5: md5.digest("base64"),
  };
}

export interface UploadProgress {
  readonly object: string;
  /** Bytes the session holds. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  /** Bytes put on the wire in chunk bodies, resent ones included. */
  readonly bytesSent: number;
  readonly bytesPerSecond: number;
}

export interface UploadOptions {
  readonly path: string;
  readonly bucket: string;
  /** The object's name. */
  readonly object: string;
  /** The object's custom metadata (oskit's digest and owner). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** @default application/gzip */
  readonly contentType?: string;
  /** Bytes per request: a multiple of 256 KiB. @default 8 MiB */
  readonly chunkSize?: number;
  /** The file's checksums, when already known. */
  readonly digests?: FileDigests;
  readonly progress?: (progress: UploadProgress) => void;
  /** Interruptions (broken connections, 429, 5xx) survived in a row before giving up. @default 8 */
  readonly attempts?: number;
}

export interface UploadResult {
  readonly object: StoredObject;
  /** True when an identical object was there and nothing was sent. */
  readonly skipped: boolean;
  /** Chunk bytes put on the wire (what the server had is never sent again). */
  readonly bytesSent: number;
  /** Times the session was asked for its offset after an interruption. */
  readonly resumes: number;
  readonly seconds: number;
}

/** The object's JSON API address. */
export const objectUrl = (endpoints: GcpEndpoints, bucket: string, object: string) =>
  `${endpoints.storage ?? DEFAULT_ENDPOINTS.storage}/storage/v1/b/${encodeURIComponent(bucket)}/o/${encodeURIComponent(object)}`;

/** The object, or undefined when there is none. */
export async function getObject(
  client: GcpClient,
  endpoints: GcpEndpoints,
  bucket: string,
  object: string,
): Promise<StoredObject | undefined> {
  return requestJson<StoredObject>(
    client,
    `get gs://${bucket}/${object}`,
    "GET",
    objectUrl(endpoints, bucket, object),
    { notFound: true },
  );
}

/** Deletes the object; true when it was there. */
export async function deleteObject(
  client: GcpClient,
  endpoints: GcpEndpoints,
  bucket: string,
  object: string,
): Promise<boolean> {
  const done = await requestJson(
    client,
    `delete gs://${bucket}/${object}`,
    "DELETE",
    objectUrl(endpoints, bucket, object),
    { notFound: true },
  );
  return done !== undefined;
}

/** Every object under `prefix` (all pages). */
export async function listObjects(
  client: GcpClient,
  endpoints: GcpEndpoints,
  bucket: string,
  prefix: string,
): Promise<StoredObject[]> {
  const found: StoredObject[] = [];
  let pageToken: string | undefined;
  do {
    const url = new URL(
      `${endpoints.storage ?? DEFAULT_ENDPOINTS.storage}/storage/v1/b/${encodeURIComponent(bucket)}/o`,
    );
    url.searchParams.set("prefix", prefix);
    if (pageToken !== undefined) url.searchParams.set("pageToken", pageToken);
    const page = await requestJson<{ items?: StoredObject[]; nextPageToken?: string }>(
      client,
      `list gs://${bucket}/${prefix}`,
      "GET",
      url.toString(),
    );
    found.push(...(page?.items ?? []));
    pageToken = page?.nextPageToken;
  } while (pageToken !== undefined && pageToken !== "");
  return found;
}

/** True when the object holds exactly the file (size and a checksum equal). */
export const sameContent = (object: StoredObject | undefined, digests: FileDigests) =>
  object !== undefined &&
  Number(object.size) === digests.size &&
  (object.crc32c === digests.crc32c || object.md5Hash === digests.md5);

/** The chunk boundaries from `offset`: `[start, end)` pairs of `chunkSize` bytes, the last shorter. */
export function chunkRanges(offset: number, total: number, chunkSize: number): [number, number][] {
  if (chunkSize <= 0 || chunkSize % CHUNK_QUANTUM !== 0)
    throw new Error(`chunk size ${chunkSize}: expected a positive multiple of 256 KiB`);
  const ranges: [number, number][] = [];
  for (let start = offset; start < total; start += chunkSize)
    ranges.push([start, Math.min(total, start + chunkSize)]);
  return ranges;
}

/** The next offset a 308's `Range: bytes=0-N` names (none: nothing is held). */
export function heldBytes(range: string | null): number {
  if (range === null || range === "") return 0;
  const m = /^bytes=0-(\d+)$/.exec(range.trim());
  if (m === null) throw new Error(`the upload session answered an unreadable Range: ${range}`);
  return Number(m[1]) + 1;
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Uploads the file (or finds it there already). */
export async function uploadObject(
  client: GcpClient,
  endpoints: GcpEndpoints,
  options: UploadOptions,
): Promise<UploadResult> {
  const started = Date.now();
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
  chunkRanges(0, 1, chunkSize);
  const digests = options.digests ?? (await fileDigests(options.path));
  const { bucket, object } = options;
  const where = `gs://${bucket}/${object}`;
  const existing = await getObject(client, endpoints, bucket, object);
  if (sameContent(existing, digests))
    return { object: existing!, skipped: true, bytesSent: 0, resumes: 0, seconds: 0 };

  const total = digests.size;
  const contentType = options.contentType ?? "application/gzip";
  const sleep = client.retry.sleep ?? wait;
  const attempts = options.attempts ?? client.retry.attempts ?? 8;
  let bytesSent = 0;
  let resumes = 0;

  const startSession = async (): Promise<string> => {
    const url = new URL(
      `${endpoints.storage ?? DEFAULT_ENDPOINTS.storage}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o`,
    );
    url.searchParams.set("uploadType", "resumable");
    url.searchParams.set("name", object);
    return withRetries(
      `start the upload of ${where}`,
      async () => {
        const response = await client.fetch(url, {
          method: "POST",
          headers: {
            authorization: `Bearer ${await client.token()}`,
            "content-type": "application/json; charset=UTF-8",
            "x-upload-content-type": contentType,
            "x-upload-content-length": String(total),
          },
          body: JSON.stringify({
            name: object,
            contentType,
            crc32c: digests.crc32c,
            md5Hash: digests.md5,
            metadata: options.metadata ?? {},
          }),
          signal: AbortSignal.timeout(60_000),
        });
        if (!response.ok) throw await apiError(`start the upload of ${where}`, response);
        await response.body?.cancel();
        const location = response.headers.get("location");
        if (location === null)
          throw new Error(`start the upload of ${where}: the answer names no session (Location)`);
        return location;
      },
      client.retry,
    );
  };

  /** An answer of the session: the offset it holds (308), or the finished object. */
  const answer = async (
    response: Response,
    what: string,
  ): Promise<{ offset: number } | { done: StoredObject }> => {
    if (response.status === 308) {
      await response.body?.cancel();
      return { offset: heldBytes(response.headers.get("range")) };
    }
    if (response.status === 200 || response.status === 201)
      return { done: (await response.json()) as StoredObject };
    throw await apiError(what, response);
  };

  const report = (done: number) =>
    options.progress?.({
      object: where,
      bytesDone: done,
      bytesTotal: total,
      bytesSent,
      bytesPerSecond: bytesSent / Math.max(0.001, (Date.now() - started) / 1000),
    });

  let session = await startSession();
  let offset = 0;
  let failures = 0;
  let restarted = false;
  let realigned = false;
  const file = await open(options.path, "r");
  let result: StoredObject | undefined;
  try {
    report(0);
    while (result === undefined) {
      try {
        if (failures > 0) {
          // Ask the session what it holds; send only the rest.
          resumes++;
          const response = await client.fetch(session, {
            method: "PUT",
            headers: {
              authorization: `Bearer ${await client.token()}`,
              "content-range": `bytes */${total}`,
            },
            signal: AbortSignal.timeout(60_000),
          });
          const state = await answer(response, `ask the upload of ${where} for its offset`);
          if ("done" in state) {
            result = state.done;
            break;
          }
          offset = state.offset;
        }
        const end = Math.min(total, offset + chunkSize);
        const body = Buffer.alloc(end - offset);
        await file.read(body, 0, body.length, offset);
        const last = end === total;
        bytesSent += body.length;
        const response = await client.fetch(session, {
          method: "PUT",
          headers: {
            authorization: `Bearer ${await client.token()}`,
            "content-range": `bytes ${offset}-${end - 1}/${total}`,
            ...(last && { "x-goog-hash": `crc32c=${digests.crc32c},md5=${digests.md5}` }),
          },
          body,
          signal: AbortSignal.timeout(300_000),
        });
        const state = await answer(response, `upload ${where} (bytes ${offset}-${end - 1})`);
        if ("done" in state) result = state.done;
        else {
          if (state.offset < offset || state.offset > end)
            throw new Error(
              `upload ${where}: the session holds ${state.offset} bytes after bytes ${offset}-${end - 1} were sent`,
            );
          offset = state.offset;
          failures = 0;
          realigned = false;
          report(offset);
        }
      } catch (error) {
        const expired =
          error instanceof GcpApiError && (error.status === 404 || error.status === 410);
        if (expired && !restarted) {
          // The session is gone (expired or cancelled): one fresh start.
          restarted = true;
          session = await startSession();
          offset = 0;
          failures = 0;
          continue;
        }
        // A chunk refused (400) after a cut connection may start where the session no longer
        // is: resent by the HTTP stack, or sent after an offset query answered before the
        // server had kept what the cut connection brought. Ask the session once more before
        // believing the refusal.
        const realign = error instanceof GcpApiError && error.status === 400 && !realigned;
        if (realign) {
          realigned = true;
          failures = Math.max(failures, 1);
          continue;
        }
        if (!isTransient(error) || ++failures >= attempts) {
          if (failures > 1 && error instanceof Error)
            error.message = `${error.message} (after ${failures} attempts)`;
          throw error;
        }
        const backoff = Math.min(30_000, (client.retry.baseMs ?? 500) * 2 ** (failures - 1));
        await sleep(backoff / 2 + Math.random() * (backoff / 2));
      }
    }
  } finally {
    await file.close();
  }
  report(total);
  if (
    Number(result.size) !== total ||
    (result.crc32c !== undefined && result.crc32c !== digests.crc32c) ||
    (result.md5Hash !== undefined && result.md5Hash !== digests.md5)
  )
    throw new Error(
      `upload ${where}: the object's size or checksum (${result.size} bytes, crc32c ${result.crc32c ?? "-"}) is not the file's (${total} bytes, crc32c ${digests.crc32c}); upload again`,
    );
  return {
    object: result,
    skipped: false,
    bytesSent,
    resumes,
    seconds: (Date.now() - started) / 1000,
  };
}
