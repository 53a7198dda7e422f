/**
 * A strict local fake of the GCS JSON API and of Compute Engine images/operations, for tests only:
 * one HTTP server on 127.0.0.1 serves both under their real paths, so a client given the two base
 * URLs works against it unchanged.
 *
 *     const gcp = await startGcpFake({ project: "oskit-test", buckets: ["oskit-images"], operationDelayMs: 200 });
 *     // gcp → { storageEndpoint, computeEndpoint, token, project, buckets, state, faults, close() }
 *     const auth = { authorization: `Bearer ${gcp.token}` };
 *     POST ${gcp.storageEndpoint}/upload/storage/v1/b/oskit-images/o?uploadType=resumable&name=N
 *       → 200, Location: the session URI; PUT chunks to it (Content-Range: bytes S-E/T or S-E/*),
 *       → 308 Range: bytes=0-E, until the last chunk → 200 with the object resource
 *     GET/DELETE ${gcp.storageEndpoint}/storage/v1/b/oskit-images/o/N   (objects.get/delete; alt=media)
 *     POST ${gcp.computeEndpoint}/compute/v1/projects/oskit-test/global/images
 *       { name, rawDisk: { source: "https://storage.googleapis.com/oskit-images/N" }, … } → an Operation
 *     GET/POST …/global/operations/OP[/wait] → PENDING → RUNNING → DONE (with error.errors[] or not)
 *     gcp.state.object("oskit-images", "N").path;            // the bytes, on disk under state.dir
 *     gcp.state.bytesReceivedFor("oskit-images", "N");       // every upload byte that arrived
 *     gcp.faults.add({ operation: "uploads.put", fault: { kind: "drop", afterBytes: 300_000 } });
 *     await gcp.close();                                     // also removes state.dir
 *
 * `storageEndpoint` and `computeEndpoint` are the same origin (`http://127.0.0.1:PORT`). rawDisk
 * sources name the object as GCE wants it — `https://storage.googleapis.com/BUCKET/OBJECT`,
 * `https://storage.cloud.google.com/…` or `gs://BUCKET/OBJECT` — never the fake's address; the
 * fake reads the object from its own store.
 *
 * What it checks, as the real APIs do:
 * - Auth: `Authorization: Bearer TOKEN` with the fake's token on every call but those to a session
 *   URI (GCS treats the session URI as the credential); else 401 with Google's error body
 *   (`required` when missing, `authError` "Invalid Credentials" when wrong) and WWW-Authenticate.
 * - GCS (storage.ts): only uploadType=resumable; the bucket among `buckets` (404 notFound); object
 *   names of 1–1024 bytes without CR/LF; `ifGenerationMatch` (412 conditionNotMet, `0` = must not
 *   exist); X-Upload-Content-Length and Content-Range totals that agree. A chunk must start at the
 *   persisted offset (stricter than GCS, which ignores resent bytes: 400 naming the offset), its
 *   Content-Length must equal its range, and every chunk but the last must be a non-zero multiple
 *   of 256 KiB (400). `bytes *\/T` or `*\/*` with no body queries the offset (308 with
 *   `Range: bytes=0-N`, no Range when nothing is persisted); `bytes *\/T` with T the persisted size
 *   finalizes; a completed session answers 200 with the object. The last chunk's
 *   `x-goog-hash: crc32c=…,md5=…` and the initiation's metadata crc32c/md5Hash are checked against
 *   the data (CRC32C computed here, crc32c.ts): a mismatch answers 400 and fails the session.
 *   A connection lost mid-chunk keeps what arrived up to the last whole 256 KiB. Sessions: DELETE
 *   cancels (499); a cancelled or failed one answers 410, an expired one (`state.expireUpload`) 404.
 * - Compute (compute.ts): the project (404), unknown image fields, the name
 *   `[a-z]([-a-z0-9]{0,61}[a-z0-9])?` (and family), labels (≤ 64; keys `[a-z][a-z0-9_-]{0,62}`,
 *   values `[a-z0-9_-]{0,63}`), architecture X86_64|ARM64, guestOsFeatures types, at most one
 *   storage location, rawDisk.source (the forms above), containerType TAR, sha1Checksum; 409
 *   alreadyExists; a repeated `requestId` (a UUID) returns its first operation. The insert answers
 *   an Operation at once; the image is PENDING; then (image-tar.ts) the object must exist and be a
 *   gzip'd GNU/old-GNU tar (`ustar  \0`) whose first member is the regular or sparse (`S`) file
 *   `disk.raw`, complete, of a whole number of GiB — else the operation ends DONE with
 *   `error.errors[{code: "INVALID_IMAGE_TAR" | "RESOURCE_NOT_FOUND", message}]` and the image is
 *   gone; else the image is READY with diskSizeGb and archiveSizeBytes. Operations are PENDING
 *   for the first half of `operationDelayMs`, RUNNING for the second, then DONE; `wait` holds until
 *   DONE or `waitMaxMs`. images.get/list (filter on name, family, status, labels.KEY with = != :,
 *   joined by AND; maxResults/pageToken)/getFromFamily/delete (an operation; nothing refuses)/
 *   setLabels (labelFingerprint, 412 when stale); 404 notFound as GCE words it.
 *
 * Faults (`gcp.faults.add({ operation?, fault, times? })`, operations as in state.ts FakeCall):
 * `throttle` 429 rateLimitExceeded, `error` 503 backendError, `drop` (connection cut after
 * `afterBytes` of the body), `delay`, and on images.insert `fail` (the operation ends in that error).
 */
import { randomBytes } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  computeRoute,
  deleteImage,
  getFromFamily,
  getImage,
  getOperation,
  insertImage,
  listImages,
  setLabels,
  waitOperation,
  type ComputeContext,
} from "./compute";
import { Faults, GcpFakeState, type Fault, type Service } from "./state";
import {
  cancelUpload,
  deleteObject,
  getObject,
  listObjects,
  putChunk,
  queryUpload,
  startUpload,
  storageRoute,
  type StorageContext,
} from "./storage";
import { errorReply, GoogleError, type Reply } from "./wire";

export { CHUNK_UNIT, GIB, Faults, GcpFakeState } from "./state";
export type {
  Fault,
  FaultRule,
  FakeCall,
  FakeImage,
  FakeObject,
  FakeOperation,
  FakeUpload,
  OperationError,
} from "./state";
export { crc32c, crc32cBase64 } from "./crc32c";
export { checkImageTarball, INVALID_IMAGE_TAR } from "./image-tar";

export interface GcpFakeOptions {
  /** The one project Compute serves. @default "oskit-test" */
  readonly project?: string;
  /** The buckets that exist. @default ["oskit-images"] */
  readonly buckets?: readonly string[];
  /** The bearer token every call must carry. @default a fresh random one */
  readonly token?: string;
  /** From an operation's insert to DONE (PENDING the first half, RUNNING the second). @default 0 */
  readonly operationDelayMs?: number;
  /** The longest globalOperations.wait holds. @default 120000 (GCE's 2 minutes) */
  readonly waitMaxMs?: number;
}

export interface GcpFake {
  /** `http://127.0.0.1:PORT`: the base of `/upload/storage/v1/…` and `/storage/v1/…`. */
  readonly storageEndpoint: string;
  /** `http://127.0.0.1:PORT`: the base of `/compute/v1/…`. */
  readonly computeEndpoint: string;
  readonly token: string;
  readonly project: string;
  readonly buckets: readonly string[];
  readonly state: GcpFakeState;
  readonly faults: Faults;
  /** Stops the server and removes the objects' directory. */
  close(): Promise<void>;
}

function faultError(fault: Fault): GoogleError | undefined {
  if (fault.kind === "throttle")
    return new GoogleError(
      fault.status ?? 429,
      "rateLimitExceeded",
      "The rate of change requests to the resource exceeds the rate limit. Please retry later.",
      { domain: "usageLimits" },
    );
  if (fault.kind === "error")
    return new GoogleError(
      fault.status ?? 503,
      "backendError",
      "We encountered an internal error. Please try again.",
    );
  return undefined;
}

/** Reads the body, or only `limit` bytes of it and then destroys the connection (undefined). */
async function readBody(req: IncomingMessage, limit?: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    if (limit !== undefined && length + buffer.length >= limit) {
      req.socket.destroy();
      return undefined;
    }
    chunks.push(buffer);
    length += buffer.length;
  }
  if (limit !== undefined) {
    req.socket.destroy();
    return undefined;
  }
  return Buffer.concat(chunks);
}

function checkAuth(req: IncomingMessage, token: string): GoogleError | undefined {
  const header = req.headers.authorization;
  const challenge = { "www-authenticate": 'Bearer realm="https://accounts.google.com/"' };
  if (header === undefined)
    return new GoogleError(
      401,
      "required",
      "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
      { location: "Authorization", locationType: "header" },
      challenge,
    );
  const m = /^Bearer (\S+)$/.exec(header);
  if (!m || m[1] !== token)
    return new GoogleError(
      401,
      "authError",
      "Invalid Credentials",
      { location: "Authorization", locationType: "header" },
      challenge,
    );
  return undefined;
}

export async function startGcpFake(options: GcpFakeOptions = {}): Promise<GcpFake> {
  const project = options.project ?? "oskit-test";
  const buckets = [...(options.buckets ?? ["oskit-images"])];
  const token = options.token ?? `ya29.fake-${randomBytes(18).toString("base64url")}`;
  const dir = await mkdtemp(join(tmpdir(), "oskit-gcp-fake-"));
  const state = new GcpFakeState(dir, new Set(buckets));
  const faults = new Faults();
  let endpoint = "";
  const storage = (): StorageContext => ({ state, endpoint });
  const compute = (): ComputeContext => ({
    state,
    project,
    endpoint,
    operationDelayMs: options.operationDelayMs ?? 0,
    waitMaxMs: options.waitMaxMs ?? 120_000,
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? "/";
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : target.slice(q + 1));
    const method = req.method ?? "GET";
    const sRoute = storageRoute(method, path, query, req.headers);
    const cRoute = sRoute ? undefined : computeRoute(method, path);
    const service: Service = sRoute || path.includes("/storage/") ? "storage" : "compute";
    const operation = sRoute?.operation ?? cRoute?.operation ?? "unknown";
    let bytes = 0;
    const record = (status: number, reason?: string, fault?: Fault) =>
      state.calls.push({
        at: Date.now() - state.startedAt,
        service,
        operation,
        method,
        path,
        status,
        ...(reason !== undefined ? { reason } : {}),
        bytes,
        ...(req.headers["content-range"] !== undefined
          ? { contentRange: req.headers["content-range"] }
          : {}),
        ...(fault ? { fault: fault.kind } : {}),
      });
    const send = (reply: Reply, fault?: Fault) => {
      record(reply.status, reply.reason, fault);
      res.statusCode = reply.status;
      for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
      res.end(reply.body ?? "");
    };

    const fault = faults.take(operation);
    const sessionCall =
      operation === "uploads.put" ||
      operation === "uploads.query" ||
      operation === "uploads.cancel";
    const authError = sessionCall ? undefined : checkAuth(req, token);
    if (authError) {
      req.resume();
      return send(errorReply(authError));
    }
    const faultReply = fault ? faultError(fault) : undefined;
    if (faultReply) {
      req.resume();
      return send(errorReply(faultReply), fault);
    }
    if (fault?.kind === "delay") await sleep(fault.ms);
    const dropAfter =
      fault?.kind === "drop"
        ? (fault.afterBytes ??
          Math.max(1, Math.floor(Number(req.headers["content-length"] ?? 0) / 2)))
        : undefined;

    try {
      if (sRoute?.operation === "uploads.put") {
        const upload = state.uploads.get(sRoute.uploadId);
        const start = upload?.bytesReceived ?? 0;
        const reply = await putChunk(storage(), sRoute.bucket, sRoute.uploadId, req, dropAfter);
        bytes = (upload?.bytesReceived ?? 0) - start;
        if (reply === undefined) return void record(0, undefined, fault);
        return send(reply, fault);
      }
      if (dropAfter !== undefined) {
        await readBody(req, dropAfter);
        return void record(0, undefined, fault);
      }
      const body = (await readBody(req))!;
      bytes = body.length;
      let reply: Reply;
      if (sRoute) {
        const ctx = storage();
        switch (sRoute.operation) {
          case "uploads.start":
            reply = await startUpload(ctx, sRoute.bucket, query, req.headers, body);
            break;
          case "uploads.query":
            reply = await queryUpload(ctx, sRoute.bucket, sRoute.uploadId, req.headers, body);
            break;
          case "uploads.cancel":
            reply = await cancelUpload(ctx, sRoute.bucket, sRoute.uploadId);
            break;
          case "objects.delete":
            reply = await deleteObject(ctx, sRoute.bucket, sRoute.object);
            break;
          case "objects.list":
            reply = listObjects(ctx, sRoute.bucket, query);
            break;
          case "objects.get": {
            const got = getObject(ctx, sRoute.bucket, sRoute.object, query);
            if ("media" in got) {
              record(200, undefined, fault);
              res.writeHead(200, {
                "content-type": got.media.contentType,
                "content-length": String(got.media.size),
                "x-goog-hash": `crc32c=${got.media.crc32c},md5=${got.media.md5Hash}`,
                "x-goog-generation": got.media.generation,
              });
              createReadStream(got.media.path).pipe(res);
              return;
            }
            reply = got;
            break;
          }
        }
      } else if (cRoute) {
        const ctx = compute();
        switch (cRoute.operation) {
          case "images.insert":
            reply = insertImage(ctx, cRoute.project, query, body, fault);
            break;
          case "images.list":
            reply = listImages(ctx, cRoute.project, query);
            break;
          case "images.get":
            reply = getImage(ctx, cRoute.project, cRoute.image);
            break;
          case "images.delete":
            reply = deleteImage(ctx, cRoute.project, cRoute.image, query);
            break;
          case "images.setLabels":
            reply = setLabels(ctx, cRoute.project, cRoute.image, body);
            break;
          case "images.getFromFamily":
            reply = getFromFamily(ctx, cRoute.project, cRoute.family);
            break;
          case "globalOperations.get":
            reply = getOperation(ctx, cRoute.project, cRoute.name);
            break;
          case "globalOperations.wait":
            reply = await waitOperation(ctx, cRoute.project, cRoute.name);
            break;
        }
      } else {
        reply = errorReply(
          new GoogleError(404, "notFound", `Not Found: no method at ${method} ${path}`),
        );
      }
      send(reply, fault);
    } catch (error) {
      if (!(error instanceof GoogleError)) throw error;
      req.resume();
      send(errorReply(error), fault);
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end(String(error));
      }
    });
  });
  server.on("connection", (socket) => {
    state.sockets.add(socket);
    socket.on("close", () => state.sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  endpoint = `http://127.0.0.1:${port}`;
  return {
    storageEndpoint: endpoint,
    computeEndpoint: endpoint,
    token,
    project,
    buckets,
    state,
    faults,
    close: async () => {
      await new Promise<void>((resolve) => {
        for (const socket of state.sockets) socket.destroy();
        server.close(() => resolve());
      });
      await rm(dir, { recursive: true, force: true });
    },
  };
}
