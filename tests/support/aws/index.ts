/**
 * A strict local fake of the AWS EC2 and EBS endpoints, for tests only: one HTTP server on
 * 127.0.0.1 speaks both wire protocols, so the real AWS SDK v3 clients work against it unchanged.
 *
 *     const aws = await startAwsFake({ region: "eu-west-1", completionDelayMs: 200 });
 *     const config = { endpoint: aws.endpoint, region: aws.region, credentials: aws.credentials };
 *     const ebs = new EBSClient(config);  // EBS direct APIs: REST-JSON under /snapshots
 *     const ec2 = new EC2Client(config);  // EC2 Query API: form POSTs to /
 *     …
 *     aws.state.disk(snapshotId, artifact.length).equals(artifact); // byte for byte
 *     aws.faults.add({ operation: "PutSnapshotBlock", fault: { kind: "drop" } });
 *     await aws.close();
 *
 * Routing: paths under `/snapshots` are EBS, `/` is EC2; the request's SigV4 credential scope must
 * name that service (`ebs` or `ec2`) and one of the fake's regions, or it is refused as AWS refuses
 * it. Every request must be signed with the fake's credentials (`aws.credentials`); the fake's
 * clock (`state.clockOffsetMs`) decides what is stale, and its Date header lets the SDK correct
 * its skew as it does against AWS.
 *
 * State (`aws.state`, see state.ts): snapshots with their blocks and checksums, images, every call
 * (`calls`, `callsOf(op)`), `bytesReceived`, `leftovers()`. Faults (`aws.faults.add(rule)`):
 * throttling, server errors, a connection dropped mid-body, a slow answer.
 *
 * What it checks, as the real APIs do:
 * - SigV4 (sigv4.ts): refusals answer EBS `MissingAuthenticationTokenException`,
 *   `IncompleteSignatureException`, `UnrecognizedClientException`, `InvalidSignatureException`
 *   (bad signature, scope or a date more than 15 minutes off), all 403; EC2 `AuthFailure` 401,
 *   `IncompleteSignature` 400, `SignatureDoesNotMatch` 403, `RequestExpired` 400.
 * - EBS: block index inside the volume, x-amz-Data-Length and the body exactly 524288 bytes, the
 *   block's base64 SHA-256, a ClientToken retried with the same parameters (same snapshot) or others
 *   (`ConflictException`). CompleteSnapshot is asynchronous as on AWS: a ChangedBlocksCount other
 *   than the blocks written, or a LINEAR checksum other than the SHA-256 of the raw 32-byte block
 *   digests concatenated in ascending block index order (AWS's coldsnap computes it so), turns the
 *   snapshot to `error` with a StateMessage. A pending snapshot past its Timeout turns to `error`.
 * - EC2: snapshots appear after `visibilityDelayMs` ("does not exist" before); RegisterImage needs
 *   Name (3–128 of letters, digits and ( ) [ ] space . / - ' @ _, unique per region), RootDeviceName
 *   and a mapping with a completed snapshot for it, BootMode legacy-bios|uefi|uefi-preferred,
 *   ImdsSupport v2.0, TpmSupport v2.0 only with uefi; no Architecture registers i386 and no
 *   VirtualizationType paravirtual, as EC2 does (recorded as `architectureDefaulted` and
 *   `virtualizationDefaulted`); DeleteSnapshot refuses a snapshot a registered image uses
 *   (`InvalidSnapshot.InUse`); CopyImage ClientTokens are at most 64 characters and idempotent.
 * - Import: ImportSnapshot needs a UserBucket (Url is not modelled), Format RAW, VMDK or VHD, a
 *   RoleName among `importRoles` (default `vmimport`; EC2's default when absent), Encrypted with a
 *   KmsKeyId, a ClientToken of at most 64 characters (the same task for the same parameters,
 *   `IdempotentParameterMismatch` for others). The task reads its object from `s3Endpoint` over
 *   HTTP (an s3rver) and stays `active` at least `importDelayMs`; then it is `completed` with a
 *   completed snapshot of the object's bytes (its blocks, to compare byte for byte), or `deleted`
 *   with a StatusMessage when the object cannot be read, the format is not RAW (only RAW is
 *   modelled) or a message was queued in `state.importFailures`. CancelImportTask ends it
 *   `deleting`, then `deleted`.
 * - Launch permissions (ModifyImageAttribute, DescribeImageAttribute `launchPermission`): user ids
 *   of exactly 12 digits and the group `all`, else `InvalidAMIAttributeItemValue`; only the
 *   launchPermission attribute.
 * Not modelled: incremental snapshots (ParentSnapshotId).
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { ebsRoute, handleEbs, type EbsRoute } from "./ebs";
import { ec2Params, handleEc2 } from "./ec2";
import { sha256Hex, UNSIGNED_PAYLOAD, verify, type SigV4Failure } from "./sigv4";
import { FakeState, Faults, type Fault, type Service } from "./state";
import {
  AwsError,
  jsonError,
  xmlError,
  type FakeRequest,
  type HandlerContext,
  type Reply,
} from "./wire";

export { BLOCK_SIZE, FakeState, Faults } from "./state";
export type {
  Fault,
  FaultRule,
  FakeCall,
  FakeImage,
  FakeImportTask,
  FakeSnapshot,
  Tag,
} from "./state";
export { linearChecksum } from "./ebs";

export interface AwsFakeOptions {
  /** The region clients are configured with. @default "eu-west-1" */
  readonly region?: string;
  /** More regions the fake serves (CopyImage destinations and sources). @default [] */
  readonly otherRegions?: readonly string[];
  /** The credentials requests must be signed with. @default a fresh random pair */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string };
  /** The account id that owns everything. @default "123456789012" */
  readonly accountId?: string;
  /** Time from an accepted CompleteSnapshot to `completed`. @default 0 */
  readonly completionDelayMs?: number;
  /** Time from StartSnapshot until EC2 (DescribeSnapshots, RegisterImage…) sees the snapshot. @default 0 */
  readonly visibilityDelayMs?: number;
  /** Time from RegisterImage/CopyImage to `available`. @default 0 */
  readonly imageAvailableDelayMs?: number;
  /** The fake's clock relative to the real one (also `state.clockOffsetMs`). @default 0 */
  readonly clockOffsetMs?: number;
  /** Where import tasks read their objects: an S3 endpoint addressed path-style (an s3rver). */
  readonly s3Endpoint?: string;
  /** The least time from ImportSnapshot to the task's end (`active` until then). @default 0 */
  readonly importDelayMs?: number;
  /** The roles VM Import may assume. @default ["vmimport"] */
  readonly importRoles?: readonly string[];
}

export interface AwsFake {
  /** `http://127.0.0.1:PORT`, for both clients' `endpoint`. */
  readonly endpoint: string;
  readonly region: string;
  readonly regions: readonly string[];
  readonly accountId: string;
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly state: FakeState;
  readonly faults: Faults;
  close(): Promise<void>;
}

/** Each SigV4 refusal in each protocol's own terms: status, code. */
const AUTH_ERRORS: {
  readonly [S in Service]: { readonly [F in SigV4Failure]: readonly [number, string] };
} = {
  ec2: {
    missing: [401, "AuthFailure"],
    incomplete: [400, "IncompleteSignature"],
    "unknown-key": [401, "AuthFailure"],
    scope: [403, "SignatureDoesNotMatch"],
    expired: [400, "RequestExpired"],
    mismatch: [403, "SignatureDoesNotMatch"],
  },
  ebs: {
    missing: [403, "MissingAuthenticationTokenException"],
    incomplete: [403, "IncompleteSignatureException"],
    "unknown-key": [403, "UnrecognizedClientException"],
    scope: [403, "InvalidSignatureException"],
    expired: [403, "InvalidSignatureException"],
    mismatch: [403, "InvalidSignatureException"],
  },
};

function faultError(service: Service, fault: Fault): AwsError | undefined {
  if (fault.kind === "throttle") {
    return service === "ebs"
      ? new AwsError(fault.status ?? 400, fault.code ?? "ThrottlingException", "Rate exceeded")
      : new AwsError(
          fault.status ?? 503,
          fault.code ?? "RequestLimitExceeded",
          "Request limit exceeded.",
        );
  }
  if (fault.kind === "error") {
    return service === "ebs"
      ? new AwsError(
          fault.status ?? 500,
          fault.code ?? "InternalServerException",
          "An internal error has occurred.",
        )
      : new AwsError(
          fault.status ?? 500,
          fault.code ?? "InternalError",
          "An internal error has occurred.",
        );
  }
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

export async function startAwsFake(options: AwsFakeOptions = {}): Promise<AwsFake> {
  const region = options.region ?? "eu-west-1";
  const regions = [region, ...(options.otherRegions ?? [])];
  const credentials = options.credentials ?? {
    accessKeyId: `AKIA${randomBytes(8).toString("hex").toUpperCase()}`,
    secretAccessKey: randomBytes(30).toString("base64"),
  };
  const accountId = options.accountId ?? "123456789012";
  const state = new FakeState();
  state.clockOffsetMs = options.clockOffsetMs ?? 0;
  const faults = new Faults();
  const ctx: HandlerContext = {
    state,
    accountId,
    regions,
    completionDelayMs: options.completionDelayMs ?? 0,
    visibilityDelayMs: options.visibilityDelayMs ?? 0,
    imageAvailableDelayMs: options.imageAvailableDelayMs ?? 0,
    s3Endpoint: options.s3Endpoint,
    importDelayMs: options.importDelayMs ?? 0,
    importRoles: options.importRoles ?? ["vmimport"],
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const target = req.url ?? "/";
    const q = target.indexOf("?");
    const path = q < 0 ? target : target.slice(0, q);
    const query = new URLSearchParams(q < 0 ? "" : target.slice(q + 1));
    const method = req.method ?? "GET";
    const service: Service = path === "/" ? "ec2" : "ebs";
    const route: EbsRoute | undefined = service === "ebs" ? ebsRoute(method, path) : undefined;
    const blockIndex = route?.blockIndex !== undefined ? Number(route.blockIndex) : undefined;
    const record = (
      operation: string,
      reply: Reply | undefined,
      bytes: number,
      fault?: Fault,
      params?: Record<string, string>,
    ) =>
      state.calls.push({
        at: Date.now() - state.startedAt,
        service,
        operation,
        status: reply?.status ?? 0,
        ...(reply?.errorCode ? { errorCode: reply.errorCode } : {}),
        ...((reply?.snapshotId ?? route?.snapshotId)
          ? { snapshotId: reply?.snapshotId ?? route?.snapshotId }
          : {}),
        ...(blockIndex !== undefined && Number.isInteger(blockIndex) ? { blockIndex } : {}),
        bytes,
        ...(fault ? { fault: fault.kind } : {}),
        ...(params ? { params } : {}),
      });

    // EBS operations are known from the path, so a dropped connection can cut their body short.
    let fault = route ? faults.take("ebs", route.operation, blockIndex) : undefined;
    if (fault?.kind === "drop") {
      const length = Number(req.headers["content-length"] ?? 0);
      await readBody(req, fault.afterBytes ?? Math.max(1, Math.floor(length / 2)));
      record(route!.operation, undefined, 0, fault);
      return;
    }
    const body = (await readBody(req))!;
    const fakeReq: FakeRequest = {
      method,
      path,
      query,
      headers: Object.fromEntries(
        Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(",") : v]),
      ),
      body,
      region,
    };
    const params = service === "ec2" ? ec2Params(fakeReq) : undefined;
    const operation = route?.operation ?? params?.get("Action") ?? "unknown";
    const recorded: Record<string, string> | undefined = params
      ? Object.fromEntries(params)
      : operation === "StartSnapshot"
        ? { body: body.toString("utf8") }
        : Object.fromEntries(
            Object.entries(fakeReq.headers).filter(
              (e): e is [string, string] => e[0].startsWith("x-amz-") && e[1] !== undefined,
            ),
          );
    if (service === "ec2") {
      fault = faults.take("ec2", operation);
      if (fault?.kind === "drop") {
        req.socket.destroy();
        record(operation, undefined, body.length, fault, recorded);
        return;
      }
    }
    const render = service === "ebs" ? jsonError : xmlError;

    const headerPairs: [string, string][] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
      headerPairs.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
    }
    const declared = req.headers["x-amz-content-sha256"];
    const payloadHash =
      service === "ebs" && declared === UNSIGNED_PAYLOAD ? UNSIGNED_PAYLOAD : sha256Hex(body);
    const auth = verify(
      { method, target, headers: headerPairs, payloadHash },
      { credentials, regions, service, now: state.now() },
    );
    let reply: Reply;
    if (!auth.ok) {
      const [status, code] = AUTH_ERRORS[service][auth.failure!];
      const message =
        service === "ec2" && auth.failure === "expired" ? "Request has expired." : auth.message!;
      reply = render(
        new AwsError(
          status,
          code,
          service === "ec2" && code === "AuthFailure"
            ? "AWS was not able to validate the provided access credentials"
            : message,
        ),
      );
      fault = undefined;
    } else if (fault && faultError(service, fault)) {
      reply = render(faultError(service, fault)!);
    } else {
      if (fault?.kind === "delay") await sleep(fault.ms);
      const scoped = { ...fakeReq, region: auth.scope!.region };
      if (service === "ebs") {
        reply = route
          ? handleEbs(ctx, scoped, route)
          : jsonError(
              new AwsError(404, "UnknownOperationException", `No operation at ${method} ${path}`),
            );
      } else {
        reply = handleEc2(ctx, scoped, params!);
      }
    }
    record(operation, reply, body.length, fault, recorded);
    res.statusCode = reply.status;
    for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value);
    res.setHeader("date", new Date(state.now()).toUTCString());
    res.end(reply.body);
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
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region,
    regions,
    accountId,
    credentials,
    state,
    faults,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of state.sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
