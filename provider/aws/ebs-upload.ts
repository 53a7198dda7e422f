/**
 * A raw disk into an EBS snapshot with the EBS direct APIs: StartSnapshot, PutSnapshotBlock for
 * the blocks holding data only (in parallel, each with its SHA-256), CompleteSnapshot with the
 * block count and the LINEAR aggregate checksum, then a wait until EC2 reports the snapshot
 * `completed`. The StartSnapshot token derives from the artifact digest and every parameter, so a
 * re-run of an interrupted upload gets the same snapshot back and writes into it again.
 */
import { stat } from "node:fs/promises";
import {
  blockDigest,
  clientToken,
  linearChecksum,
  nonZeroBlocks,
  volumeSizeGiB,
  type Extent,
  type ScanCounts,
} from "./blocks";
import type { EbsApi, Ec2Api } from "./clients";
import { errorFacts, isNotFoundYet, isTransient, withRetries, type RetryPolicy } from "./retry";

/** Where an upload stands, reported as it goes and once at the end. */
export interface UploadProgress {
  readonly snapshotId: string;
  /** Blocks sent (PutSnapshotBlock answered). */
  readonly blocksWritten: number;
  /** Blocks found all zero, not sent. */
  readonly blocksSkipped: number;
  /** Blocks of the disk at the snapshot's block size. */
  readonly blocksTotal: number;
  /** Block bytes sent and accepted. */
  readonly bytesSent: number;
  readonly seconds: number;
  readonly bytesPerSecond: number;
  /** "upload" while blocks go out, "complete" while EBS seals the snapshot. */
  readonly phase: "upload" | "complete";
}

export interface UploadOptions {
  /** The raw disk image. */
  readonly path: string;
  /** The artifact's sha256 (`sha256:…`): in the token and the tags. */
  readonly digest: string;
  /** The disk's size. @default the file's size */
  readonly diskSize?: number;
  /** The byte ranges holding data, when known (an artifact's `allocation`): other blocks are not read. */
  readonly allocation?: readonly Extent[];
  /** The snapshot's description. */
  readonly description: string;
  /** The snapshot's tags (the digest and the owner among them). */
  readonly tags: Readonly<Record<string, string>>;
  /** Encrypt the snapshot. @default the account's EBS encryption default */
  readonly encrypted?: boolean;
  /** The KMS key to encrypt with (implies encrypted). @default aws/ebs */
  readonly kmsKeyArn?: string;
  /** Minutes EBS keeps a started snapshot pending before it fails it (10–4320). @default 60 */
  readonly timeoutMinutes?: number;
  /** Blocks in flight at once (each holds one block in memory). @default 32 */
  readonly parallel?: number;
  /** Told the snapshot id as soon as StartSnapshot answers (before any block is sent). */
  readonly onStarted?: (snapshotId: string) => void;
  /** Progress reports, at most every `progressEveryMs`. */
  readonly progress?: (progress: UploadProgress) => void;
  /** @default 500 */
  readonly progressEveryMs?: number;
  /** How long to wait for `completed` after CompleteSnapshot. @default 30 minutes */
  readonly completionTimeoutMs?: number;
  /** Between DescribeSnapshots polls. @default 2000 */
  readonly pollMs?: number;
  readonly retry?: RetryPolicy;
  /** The clock, for throughput (tests give their own). @default performance.now */
  readonly now?: () => number;
  /** Counts fresh starts after a snapshot of the same token failed (a part of the token). @default 0 */
  readonly generation?: number;
}

export interface UploadResult {
  readonly snapshotId: string;
  readonly volumeSize: number;
  readonly blockSize: number;
  readonly blocksWritten: number;
  readonly blocksSkipped: number;
  readonly blocksTotal: number;
  /** Block bytes sent and accepted: blocksWritten × blockSize. */
  readonly bytesSent: number;
  /** Block bytes sent again after a failed attempt. */
  readonly bytesResent: number;
  /** The LINEAR aggregate checksum given to CompleteSnapshot. */
  readonly checksum: string;
  readonly seconds: number;
  /** True when StartSnapshot gave back a snapshot this token had already completed. */
  readonly reused: boolean;
  /** The StartSnapshot token. */
  readonly clientToken: string;
}

/** A snapshot that ended in EBS's `error` state (its id is kept for the clean-up). */
export class SnapshotStateError extends Error {
  constructor(
    message: string,
    readonly snapshotId: string,
  ) {
    super(message);
    this.name = "SnapshotStateError";
  }
}

const retryableBlock = (error: unknown) => isTransient(error) || isNotFoundYet(error);

const defaultPolicy: RetryPolicy = { attempts: 12, baseMs: 500, maxMs: 20_000 };

/** The StartSnapshot request of an upload (its token covers every other field and the digest). */
export function startSnapshotRequest(
  options: Pick<
    UploadOptions,
    "digest" | "description" | "tags" | "encrypted" | "kmsKeyArn" | "timeoutMinutes"
  >,
  diskSize: number,
  generation = 0,
) {
  const request = {
    VolumeSize: volumeSizeGiB(diskSize),
    Description: options.description,
    Tags: Object.entries(options.tags)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([Key, Value]) => ({ Key, Value })),
    Timeout: options.timeoutMinutes ?? 60,
    ...((options.encrypted === true || options.kmsKeyArn !== undefined) && { Encrypted: true }),
    ...(options.kmsKeyArn !== undefined && { KmsKeyArn: options.kmsKeyArn }),
  };
  return {
    ...request,
    ClientToken: clientToken("oskit", {
      ...request,
      digest: options.digest,
      ...(generation > 0 && { generation }),
    }),
  };
}

/** Polls DescribeSnapshots until the snapshot is `completed`; `error` or the timeout throw. */
export async function waitForSnapshot(
  ec2: Ec2Api,
  snapshotId: string,
  options: { timeoutMs?: number; pollMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<void> {
  const timeout = options.timeoutMs ?? 30 * 60_000;
  const poll = options.pollMs ?? 2000;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const deadline = Date.now() + timeout;
  let state = "unknown";
  for (;;) {
    try {
      const answer = await withRetries(
        "DescribeSnapshots",
        () => ec2.describeSnapshots({ SnapshotIds: [snapshotId] }),
        { attempts: 5, sleep },
      );
      const snapshot = answer.Snapshots?.find((s) => s.SnapshotId === snapshotId);
      state = snapshot?.State ?? "unknown";
      if (state === "completed") return;
      if (state === "error")
        throw new SnapshotStateError(
          `snapshot ${snapshotId} failed: ${snapshot?.StateMessage ?? "EBS reports state error"}`,
          snapshotId,
        );
    } catch (error) {
      if (!isNotFoundYet(error)) throw error;
    }
    if (Date.now() >= deadline)
      throw new Error(
        `snapshot ${snapshotId} is still ${state} after ${Math.round(timeout / 1000)} s; wait and run again (the upload resumes), or raise the timeout`,
      );
    await sleep(poll);
  }
}

/**
 * Uploads a raw disk into a new snapshot and waits until it is completed. A failure after
 * StartSnapshot leaves the snapshot pending (it was told to `onStarted`): run again with the same
 * options to write into it, or delete it.
 */
export async function uploadSnapshot(
  options: UploadOptions,
  ebs: EbsApi,
  ec2: Ec2Api,
): Promise<UploadResult> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const policy = { ...defaultPolicy, ...options.retry };
  const diskSize = options.diskSize ?? (await stat(options.path)).size;
  const request = startSnapshotRequest(options, diskSize, options.generation);
  const answer = await withRetries(
    "StartSnapshot",
    () => ebs.startSnapshot(request),
    policy,
    isTransient,
  );
  const snapshotId = answer.SnapshotId;
  const blockSize = answer.BlockSize;
  if (snapshotId === undefined || blockSize === undefined || !(blockSize > 0))
    throw new Error("StartSnapshot answered without a snapshot id or block size");
  options.onStarted?.(snapshotId);
  const blocksTotal = Math.ceil(diskSize / blockSize);
  const result = (written: number, bytes: number, resent: number, checksum: string) => ({
    snapshotId,
    volumeSize: request.VolumeSize,
    blockSize,
    blocksWritten: written,
    blocksSkipped: blocksTotal - written,
    blocksTotal,
    bytesSent: bytes,
    bytesResent: resent,
    checksum,
    seconds: (now() - started) / 1000,
    clientToken: request.ClientToken,
  });
  if (answer.Status === "completed") {
    await waitForSnapshot(ec2, snapshotId, { pollMs: options.pollMs, sleep: policy.sleep });
    return { ...result(0, 0, 0, ""), reused: true };
  }
  if (answer.Status === "error")
    throw new SnapshotStateError(
      `StartSnapshot gave back snapshot ${snapshotId}, which failed earlier; delete it and run again`,
      snapshotId,
    );

  const counts: ScanCounts = { total: blocksTotal, zero: 0, data: 0 };
  const blocks = nonZeroBlocks(options.path, {
    blockSize,
    diskSize,
    ...(options.allocation !== undefined && { allocation: options.allocation }),
    counts,
  });
  const digests = new Map<number, Buffer>();
  let bytesSent = 0;
  let bytesResent = 0;
  let lastReport = -Infinity;
  const every = options.progressEveryMs ?? 500;
  const report = (phase: UploadProgress["phase"], force = false) => {
    const t = now();
    if (options.progress === undefined || (!force && t - lastReport < every)) return;
    lastReport = t;
    const seconds = (t - started) / 1000;
    options.progress({
      snapshotId,
      blocksWritten: digests.size,
      blocksSkipped: counts.zero,
      blocksTotal,
      bytesSent,
      seconds,
      bytesPerSecond: seconds > 0 ? bytesSent / seconds : 0,
      phase,
    });
  };
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined) {
      const next = await blocks.next();
      if (next.done === true) return;
      const { index, data } = next.value;
      const digest = blockDigest(data);
      await withRetries(
        `PutSnapshotBlock ${snapshotId} block ${index}`,
        async (attempt) => {
          if (attempt > 1) bytesResent += data.length;
          await ebs.putSnapshotBlock({
            SnapshotId: snapshotId,
            BlockIndex: index,
            BlockData: data,
            DataLength: data.length,
            Checksum: digest.toString("base64"),
            ChecksumAlgorithm: "SHA256",
          });
        },
        policy,
        retryableBlock,
      );
      digests.set(index, digest);
      bytesSent += data.length;
      report("upload");
    }
  };
  const parallel = Math.max(1, Math.floor(options.parallel ?? 32));
  await Promise.all(
    Array.from({ length: parallel }, () =>
      worker().catch((error: unknown) => {
        failure ??= error;
      }),
    ),
  );
  await blocks.return(undefined);
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the first worker's error, as it came
  if (failure !== undefined) throw failure;

  const checksum = linearChecksum(digests);
  report("complete", true);
  await withRetries(
    `CompleteSnapshot ${snapshotId}`,
    () =>
      ebs.completeSnapshot({
        SnapshotId: snapshotId,
        ChangedBlocksCount: digests.size,
        Checksum: checksum,
        ChecksumAlgorithm: "SHA256",
        ChecksumAggregationMethod: "LINEAR",
      }),
    policy,
    retryableBlock,
  );
  await waitForSnapshot(ec2, snapshotId, {
    timeoutMs: options.completionTimeoutMs,
    pollMs: options.pollMs,
    sleep: policy.sleep,
  });
  return { ...result(digests.size, bytesSent, bytesResent, checksum), reused: false };
}

/** An error's one-line description, for messages (its code and HTTP status when it has them). */
export function describeError(error: unknown): string {
  const { name, status, message } = errorFacts(error);
  const prefix = name !== "" && name !== "Error" && !message.startsWith(name) ? `${name}: ` : "";
  return `${prefix}${message}${status !== undefined ? ` (HTTP ${status})` : ""}`;
}
