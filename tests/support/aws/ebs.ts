/**
 * The EBS direct APIs (REST-JSON, service `ebs`, API version 2019-11-02): StartSnapshot,
 * PutSnapshotBlock, CompleteSnapshot, ListSnapshotBlocks, GetSnapshotBlock — with the checks the
 * real service makes.
 */
import { createHash } from "node:crypto";
import { BLOCK_SIZE, GIB, type FakeSnapshot, type Tag } from "./state";
import {
  AwsError,
  jsonError,
  requestId,
  type FakeRequest,
  type HandlerContext,
  type Reply,
} from "./wire";

export interface EbsRoute {
  readonly operation:
    | "StartSnapshot"
    | "PutSnapshotBlock"
    | "CompleteSnapshot"
    | "ListSnapshotBlocks"
    | "GetSnapshotBlock";
  readonly snapshotId?: string;
  readonly blockIndex?: string;
}

/** The operation a method and path name, before the body is read; undefined when none. */
export function ebsRoute(method: string, path: string): EbsRoute | undefined {
  const parts = path.split("/").slice(1).map(decodeURIComponent);
  const [first, id, third, index] = parts;
  if (first !== "snapshots") return undefined;
  if (method === "POST" && parts.length === 1) return { operation: "StartSnapshot" };
  if (method === "POST" && parts.length === 3 && id === "completion") {
    return { operation: "CompleteSnapshot", snapshotId: third! };
  }
  if (third !== "blocks") return undefined;
  if (method === "GET" && parts.length === 3) {
    return { operation: "ListSnapshotBlocks", snapshotId: id! };
  }
  if (parts.length === 4 && (method === "PUT" || method === "GET")) {
    return {
      operation: method === "PUT" ? "PutSnapshotBlock" : "GetSnapshotBlock",
      snapshotId: id!,
      blockIndex: index!,
    };
  }
  return undefined;
}

const validation = (message: string, reason = "INVALID_PARAMETER_VALUE") =>
  new AwsError(400, "ValidationException", message, reason);

const json = (status: number, body: object, headers: Record<string, string> = {}): Reply => ({
  status,
  headers: { "content-type": "application/json", "x-amzn-requestid": requestId(), ...headers },
  body: JSON.stringify(body),
});

const sha256Base64 = (data: Buffer): string => createHash("sha256").update(data).digest("base64");

function findSnapshot(ctx: HandlerContext, region: string, id: string | undefined): FakeSnapshot {
  if (!id || !/^snap-[0-9a-f]{8}([0-9a-f]{9})?$/.test(id)) {
    throw validation(`The snapshot ID '${id ?? ""}' is malformed.`, "INVALID_SNAPSHOT_ID");
  }
  const snapshot = ctx.state.snapshots.get(id);
  if (!snapshot || snapshot.region !== region) {
    throw new AwsError(
      404,
      "ResourceNotFoundException",
      `The snapshot '${id}' does not exist.`,
      "SNAPSHOT_NOT_FOUND",
    );
  }
  return ctx.state.refresh(snapshot);
}

function checkTags(value: unknown): Tag[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw validation("Tags must be a list.", "INVALID_TAG");
  if (value.length > 50) throw validation("A snapshot may have at most 50 tags.", "INVALID_TAG");
  return value.map((t: unknown, i) => {
    const tag = t as { Key?: unknown; Value?: unknown };
    const key = tag.Key;
    const val = tag.Value ?? "";
    if (typeof key !== "string" || key.length < 1 || key.length > 127) {
      throw validation(`Tags[${i}].Key must be 1 to 127 characters.`, "INVALID_TAG");
    }
    if (key.toLowerCase().startsWith("aws:")) {
      throw validation(`Tags[${i}].Key: the aws: prefix is reserved for AWS use.`, "INVALID_TAG");
    }
    if (typeof val !== "string" || val.length > 255) {
      throw validation(`Tags[${i}].Value must be at most 255 characters.`, "INVALID_TAG");
    }
    return { Key: key, Value: val };
  });
}

function startSnapshot(ctx: HandlerContext, req: FakeRequest): Reply {
  let input: Record<string, unknown>;
  try {
    input = JSON.parse(req.body.toString("utf8") || "{}") as Record<string, unknown>;
  } catch {
    throw new AwsError(400, "SerializationException", "The request body is not valid JSON.");
  }
  const volumeSize = input.VolumeSize;
  if (volumeSize === undefined) throw validation("VolumeSize is required.", "INVALID_VOLUME_SIZE");
  if (
    !Number.isInteger(volumeSize) ||
    (volumeSize as number) < 1 ||
    (volumeSize as number) > 65536
  ) {
    throw validation(
      `VolumeSize ${JSON.stringify(volumeSize)} is out of range: 1 to 65536 GiB.`,
      "INVALID_VOLUME_SIZE",
    );
  }
  if (input.ParentSnapshotId !== undefined) {
    if (input.Encrypted !== undefined) {
      throw validation("ParentSnapshotId and Encrypted cannot be specified in the same request.");
    }
    throw validation("ParentSnapshotId: incremental snapshots are not modelled by this fake.");
  }
  const description = input.Description ?? "";
  if (typeof description !== "string" || description.length > 255) {
    throw validation("Description must be a string of at most 255 characters.");
  }
  const timeout = input.Timeout ?? 60;
  if (!Number.isInteger(timeout) || (timeout as number) < 10 || (timeout as number) > 4320) {
    throw validation(`Timeout ${JSON.stringify(timeout)} is out of range: 10 to 4320 minutes.`);
  }
  const encrypted = input.Encrypted === true;
  const kmsKeyArn = input.KmsKeyArn;
  if (kmsKeyArn !== undefined) {
    if (!encrypted)
      throw validation("KmsKeyArn requires Encrypted to be true.", "INVALID_CUSTOMER_KEY");
    if (
      typeof kmsKeyArn !== "string" ||
      !/^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key|alias)\/.+$/.test(kmsKeyArn)
    ) {
      throw validation(
        `KmsKeyArn ${JSON.stringify(kmsKeyArn)} is not a KMS key ARN.`,
        "INVALID_CUSTOMER_KEY",
      );
    }
  }
  const tags = checkTags(input.Tags);
  const clientToken = input.ClientToken;
  if (clientToken !== undefined && (typeof clientToken !== "string" || clientToken.length > 255)) {
    throw validation("ClientToken must be a string of at most 255 characters.");
  }
  const startParameters = JSON.stringify([
    volumeSize,
    description,
    tags,
    encrypted,
    kmsKeyArn ?? null,
    timeout,
  ]);
  if (clientToken !== undefined) {
    const earlier = [...ctx.state.snapshots.values()].find(
      (s) => s.clientToken === clientToken && s.region === req.region,
    );
    if (earlier) {
      if (earlier.startParameters !== startParameters) {
        throw new AwsError(
          409,
          "ConflictException",
          "The request uses the same client token as a previous, but non-identical request.",
        );
      }
      return json(201, startAnswer(ctx, earlier));
    }
  }
  const now = ctx.state.now();
  const snapshot: FakeSnapshot = {
    id: ctx.state.newId("snap"),
    region: req.region,
    ownerId: ctx.accountId,
    status: "pending",
    statusMessage: "",
    volumeSize: volumeSize as number,
    description,
    tags,
    encrypted,
    kmsKeyArn: kmsKeyArn,
    timeout: timeout as number,
    clientToken: clientToken,
    startParameters,
    startTime: now,
    visibleAt: now + ctx.visibilityDelayMs,
    completesAt: undefined,
    blocks: new Map(),
    checksums: new Map(),
  };
  ctx.state.snapshots.set(snapshot.id, snapshot);
  return { ...json(201, startAnswer(ctx, snapshot)), snapshotId: snapshot.id };
}

function startAnswer(ctx: HandlerContext, s: FakeSnapshot): object {
  ctx.state.refresh(s);
  return {
    Description: s.description,
    SnapshotId: s.id,
    OwnerId: s.ownerId,
    Status: s.status,
    StartTime: s.startTime / 1000,
    VolumeSize: s.volumeSize,
    BlockSize: BLOCK_SIZE,
    Tags: s.tags,
    ...(s.kmsKeyArn ? { KmsKeyArn: s.kmsKeyArn } : {}),
    SseType: s.encrypted ? "sse-kms" : "none",
  };
}

function blockIndexOf(snapshot: FakeSnapshot, raw: string | undefined): number {
  const index = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : NaN;
  const count = (snapshot.volumeSize * GIB) / BLOCK_SIZE;
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw validation(
      `Block index ${raw ?? ""} is out of range for a ${snapshot.volumeSize} GiB volume: 0 to ${count - 1}.`,
      "INVALID_BLOCK",
    );
  }
  return index;
}

function putSnapshotBlock(ctx: HandlerContext, req: FakeRequest, route: EbsRoute): Reply {
  const snapshot = findSnapshot(ctx, req.region, route.snapshotId);
  if (snapshot.status !== "pending" || snapshot.completesAt !== undefined) {
    throw validation(
      `The snapshot '${snapshot.id}' is ${snapshot.completesAt !== undefined ? "being completed" : snapshot.status}; blocks can only be written to a pending snapshot.`,
      "INVALID_SNAPSHOT_ID",
    );
  }
  const index = blockIndexOf(snapshot, route.blockIndex);
  const dataLength = req.headers["x-amz-data-length"];
  if (dataLength === undefined) throw validation("The x-amz-Data-Length header is required.");
  if (Number(dataLength) !== BLOCK_SIZE) {
    throw validation(
      `Data length ${dataLength} is not the block size, ${BLOCK_SIZE}.`,
      "INVALID_BLOCK",
    );
  }
  if (req.body.length !== BLOCK_SIZE) {
    throw validation(
      `The block data holds ${req.body.length} bytes, not the ${dataLength} of x-amz-Data-Length.`,
      "INVALID_BLOCK",
    );
  }
  const algorithm = req.headers["x-amz-checksum-algorithm"];
  const checksum = req.headers["x-amz-checksum"];
  if (checksum === undefined || algorithm === undefined) {
    throw validation("The x-amz-Checksum and x-amz-Checksum-Algorithm headers are required.");
  }
  if (algorithm !== "SHA256") throw validation(`Checksum algorithm '${algorithm}' is not SHA256.`);
  const actual = sha256Base64(req.body);
  if (checksum !== actual) {
    throw validation(
      `The checksum '${checksum}' does not match the block data (SHA-256 '${actual}').`,
      "INVALID_BLOCK",
    );
  }
  const progress = req.headers["x-amz-progress"];
  if (progress !== undefined && !(/^\d+$/.test(progress) && Number(progress) <= 100)) {
    throw validation(`Progress ${progress} is out of range: 0 to 100.`);
  }
  snapshot.blocks.set(index, Buffer.from(req.body));
  snapshot.checksums.set(index, actual);
  ctx.state.bytesReceived += req.body.length;
  return {
    status: 201,
    headers: {
      "content-type": "application/json",
      "x-amzn-requestid": requestId(),
      "x-amz-checksum": actual,
      "x-amz-checksum-algorithm": "SHA256",
    },
    body: "{}",
    snapshotId: snapshot.id,
    blockIndex: index,
  };
}

/** The LINEAR aggregate: SHA-256 over the raw per-block digests in ascending block index order. */
export function linearChecksum(checksums: ReadonlyMap<number, string>): string {
  const hash = createHash("sha256");
  for (const index of [...checksums.keys()].sort((a, b) => a - b)) {
    hash.update(Buffer.from(checksums.get(index)!, "base64"));
  }
  return hash.digest("base64");
}

function completeSnapshot(ctx: HandlerContext, req: FakeRequest, route: EbsRoute): Reply {
  const snapshot = findSnapshot(ctx, req.region, route.snapshotId);
  const count = req.headers["x-amz-changedblockscount"];
  if (count === undefined || !/^\d+$/.test(count)) {
    throw validation("The x-amz-ChangedBlocksCount header is required: a count of at least 0.");
  }
  const checksum = req.headers["x-amz-checksum"];
  const algorithm = req.headers["x-amz-checksum-algorithm"];
  const method = req.headers["x-amz-checksum-aggregation-method"];
  if (checksum !== undefined) {
    if (algorithm !== "SHA256") {
      throw validation(`Checksum algorithm '${algorithm ?? ""}' is not SHA256.`);
    }
    if (method !== "LINEAR") {
      throw validation(`Checksum aggregation method '${method ?? ""}' is not LINEAR.`);
    }
  }
  if (snapshot.status === "error") {
    throw validation(`The snapshot '${snapshot.id}' is in the error state.`, "INVALID_SNAPSHOT_ID");
  }
  if (snapshot.status === "completed" || snapshot.completesAt !== undefined) {
    return { ...json(202, { Status: snapshot.status }), snapshotId: snapshot.id };
  }
  // Completion is asynchronous on AWS: a count or checksum that does not match turns the snapshot
  // to `error`, which the caller sees when it polls.
  const written = snapshot.blocks.size;
  const expected = linearChecksum(snapshot.checksums);
  if (Number(count) !== written) {
    snapshot.status = "error";
    snapshot.statusMessage = `ChangedBlocksCount ${count} does not match the ${written} blocks written`;
  } else if (checksum !== undefined && checksum !== expected) {
    snapshot.status = "error";
    snapshot.statusMessage = `the aggregated checksum '${checksum}' does not match the blocks written ('${expected}')`;
  } else {
    snapshot.completesAt = ctx.state.now() + ctx.completionDelayMs;
    ctx.state.refresh(snapshot);
  }
  const status = snapshot.status === "error" ? "pending" : snapshot.status;
  return { ...json(202, { Status: status }), snapshotId: snapshot.id };
}

const blockToken = (id: string, index: number): string =>
  Buffer.from(`${id}/${index}`).toString("base64");

function readable(ctx: HandlerContext, req: FakeRequest, id: string | undefined): FakeSnapshot {
  const snapshot = findSnapshot(ctx, req.region, id);
  if (snapshot.status !== "completed") {
    throw validation(
      `The snapshot '${snapshot.id}' is ${snapshot.status}, not completed.`,
      "INVALID_SNAPSHOT_ID",
    );
  }
  return snapshot;
}

function listSnapshotBlocks(ctx: HandlerContext, req: FakeRequest, route: EbsRoute): Reply {
  const snapshot = readable(ctx, req, route.snapshotId);
  const max = Number(req.query.get("maxResults") ?? 10000);
  if (!Number.isInteger(max) || max < 100 || max > 10000) {
    throw validation(`maxResults ${max} is out of range: 100 to 10000.`);
  }
  const pageToken = req.query.get("pageToken");
  const from = pageToken
    ? Number(Buffer.from(pageToken, "base64").toString("utf8"))
    : Number(req.query.get("startingBlockIndex") ?? 0);
  if (!Number.isInteger(from) || from < 0)
    throw validation("Invalid page token.", "INVALID_PAGE_TOKEN");
  const indexes = ctx.state.blockIndexes(snapshot.id).filter((i) => i >= from);
  const page = indexes.slice(0, max);
  const next = indexes[max];
  return json(200, {
    Blocks: page.map((i) => ({ BlockIndex: i, BlockToken: blockToken(snapshot.id, i) })),
    ExpiryTime: (ctx.state.now() + 3_600_000) / 1000,
    VolumeSize: snapshot.volumeSize,
    BlockSize: BLOCK_SIZE,
    ...(next !== undefined ? { NextToken: Buffer.from(String(next)).toString("base64") } : {}),
  });
}

function getSnapshotBlock(ctx: HandlerContext, req: FakeRequest, route: EbsRoute): Reply {
  const snapshot = readable(ctx, req, route.snapshotId);
  const index = blockIndexOf(snapshot, route.blockIndex);
  const block = snapshot.blocks.get(index);
  if (!block || req.query.get("blockToken") !== blockToken(snapshot.id, index)) {
    throw validation(`The block token for block ${index} is not valid.`, "INVALID_BLOCK_TOKEN");
  }
  return {
    status: 200,
    headers: {
      "content-type": "application/octet-stream",
      "x-amzn-requestid": requestId(),
      "x-amz-data-length": String(block.length),
      "x-amz-checksum": snapshot.checksums.get(index)!,
      "x-amz-checksum-algorithm": "SHA256",
    },
    body: block,
    snapshotId: snapshot.id,
    blockIndex: index,
  };
}

/** Answers one EBS request; errors come back as REST-JSON error replies. */
export function handleEbs(ctx: HandlerContext, req: FakeRequest, route: EbsRoute): Reply {
  try {
    switch (route.operation) {
      case "StartSnapshot":
        return startSnapshot(ctx, req);
      case "PutSnapshotBlock":
        return putSnapshotBlock(ctx, req, route);
      case "CompleteSnapshot":
        return completeSnapshot(ctx, req, route);
      case "ListSnapshotBlocks":
        return listSnapshotBlocks(ctx, req, route);
      case "GetSnapshotBlock":
        return getSnapshotBlock(ctx, req, route);
      default: {
        const never: never = route.operation;
        throw new Error(`unhandled EBS operation ${String(never)}`);
      }
    }
  } catch (error) {
    if (error instanceof AwsError) {
      return { ...jsonError(error), ...(route.snapshotId ? { snapshotId: route.snapshotId } : {}) };
    }
    throw error;
  }
}
