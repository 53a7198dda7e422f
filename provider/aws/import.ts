/**
 * The import path (`method: "import"`): the raw disk goes to S3 in a multipart upload (parts in
 * parallel, each with its Content-MD5; memory bounded by the parts in flight times the part
 * size), EC2's ImportSnapshot turns the object into a snapshot with a VM Import service role
 * (`vmimport`), and the task is polled until it completes or fails. The object is removed
 * afterwards, whatever the outcome. Slower than the EBS direct path (the whole disk goes up,
 * zeros included, and EC2 takes minutes to import it), for accounts where the EBS direct APIs are
 * not allowed but S3 and VM Import are.
 */
import { createHash } from "node:crypto";
import { open, stat } from "node:fs/promises";
import { clientToken, volumeSizeGiB } from "./blocks";
import type { Ec2Api, S3Api } from "./clients";
import { waitForSnapshot } from "./ebs-upload";
import { ec2Tags } from "./register";
import { errorFacts, isTransient, withRetries, type RetryPolicy } from "./retry";

const MiB = 1024 * 1024;
/** The smallest part oskit sends (S3 takes 5 MiB; larger parts mean fewer requests). */
export const MIN_PART_SIZE = 8 * MiB;
/** S3's largest part and most parts of one upload. */
const MAX_PART_SIZE = 5 * 1024 * MiB;
const MAX_PARTS = 10_000;
/** The object's user metadata naming the disk's digest: what a later run checks before uploading. */
export const DIGEST_METADATA = "oskit-sha256";
/** The role VM Import assumes to read the bucket, unless told another. */
export const DEFAULT_ROLE = "vmimport";

/** Where an import stands: the upload's parts, then the task's progress. */
export interface ImportProgress {
  readonly phase: "upload" | "import";
  readonly bucket: string;
  readonly key: string;
  readonly bytesSent: number;
  readonly bytesTotal: number;
  readonly partsSent: number;
  readonly partsTotal: number;
  readonly seconds: number;
  readonly bytesPerSecond: number;
  /** Once ImportSnapshot answered. */
  readonly importTaskId?: string;
  /** The task's Status, StatusMessage and Progress (percent) as EC2 reports them. */
  readonly status?: string;
  readonly statusMessage?: string;
  readonly percent?: number;
}

export interface ImportOptions {
  /** The raw disk image. */
  readonly path: string;
  /** Its sha256 (`sha256:…`): the object's key, its metadata, the token and the tags. */
  readonly digest: string;
  /** The disk's size (bytes past the file's end are zeros). @default the file's size */
  readonly diskSize?: number;
  /** The bucket, in the region of the import, that the role can read. */
  readonly bucket: string;
  /** Put before the object's key. @default "oskit/" */
  readonly keyPrefix?: string;
  /** The VM Import service role. @default "vmimport" */
  readonly roleName?: string;
  /** The task's and the snapshot's description. */
  readonly description: string;
  /** Tags of the import task and the snapshot (the digest and the owner among them). */
  readonly tags: Readonly<Record<string, string>>;
  /** Encrypt the snapshot. @default the account's EBS encryption default */
  readonly encrypted?: boolean;
  /** The KMS key to encrypt with (implies encrypted). @default aws/ebs */
  readonly kmsKeyArn?: string;
  /** Bytes per part, at least 8 MiB. @default 8 MiB, more when the disk needs over 10,000 parts */
  readonly partSize?: number;
  /** Parts in flight at once (each holds one part in memory). @default 8 */
  readonly parallel?: number;
  /** How long to wait for the task to complete. @default 3 hours */
  readonly timeoutMs?: number;
  /** Between DescribeImportSnapshotTasks polls. @default 15000 */
  readonly pollMs?: number;
  readonly retry?: RetryPolicy;
  readonly progress?: (progress: ImportProgress) => void;
  /** @default 500 */
  readonly progressEveryMs?: number;
  /** The clock, for throughput. @default performance.now */
  readonly now?: () => number;
}

export interface ImportResult {
  readonly snapshotId: string;
  /** GiB. */
  readonly volumeSize: number;
  readonly importTaskId: string;
  readonly bucket: string;
  readonly key: string;
  /** False when an object of this digest was already in the bucket and nothing was sent. */
  readonly uploaded: boolean;
  readonly bytesSent: number;
  readonly partsSent: number;
  readonly partSize: number;
  readonly seconds: number;
  /** The ImportSnapshot token. */
  readonly clientToken: string;
  /** False when the object could not be deleted afterwards (it is still in the bucket). */
  readonly objectRemoved: boolean;
}

/** An import task that EC2 ended without a snapshot: its Status and StatusMessage, as EC2 said. */
export class ImportTaskError extends Error {
  constructor(
    message: string,
    readonly importTaskId: string,
    readonly status: string,
    readonly statusMessage: string | undefined,
  ) {
    super(message);
    this.name = "ImportTaskError";
  }
}

const defaultPolicy: RetryPolicy = { attempts: 12, baseMs: 500, maxMs: 20_000 };
const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `oskit/<hex of the digest>.raw`: one object per disk, found again by a later run. */
export function objectKey(digest: string, prefix = "oskit/"): string {
  return `${prefix}${digest.replace(/^sha256:/, "")}.raw`;
}

/** The part size: the one asked (at least 8 MiB), grown in whole MiB to fit 10,000 parts. */
export function partSizeFor(diskSize: number, asked = MIN_PART_SIZE): number {
  if (!(Number.isSafeInteger(asked) && asked >= MIN_PART_SIZE && asked <= MAX_PART_SIZE))
    throw new Error(
      `part size ${asked}: expected a whole number of bytes from 8 MiB to 5 GiB (S3's limits)`,
    );
  const needed = Math.ceil(Math.ceil(diskSize / MAX_PARTS) / MiB) * MiB;
  const size = Math.max(asked, needed);
  if (size > MAX_PART_SIZE) throw new Error(`a disk of ${diskSize} bytes is too large for S3`);
  return size;
}

/** The ImportSnapshot request of a disk (its token covers every other field and the digest). */
export function importSnapshotRequest(
  options: Pick<
    ImportOptions,
    "bucket" | "roleName" | "description" | "tags" | "encrypted" | "kmsKeyArn" | "digest"
  >,
  key: string,
  generation = 0,
) {
  const description = options.description.slice(0, 255);
  const request = {
    Description: description,
    DiskContainer: {
      Description: description,
      Format: "RAW",
      UserBucket: { S3Bucket: options.bucket, S3Key: key },
    },
    RoleName: options.roleName ?? DEFAULT_ROLE,
    ...((options.encrypted === true || options.kmsKeyArn !== undefined) && { Encrypted: true }),
    ...(options.kmsKeyArn !== undefined && { KmsKeyId: options.kmsKeyArn }),
    TagSpecifications: [
      { ResourceType: "import-snapshot-task" as const, Tags: ec2Tags(options.tags) },
    ],
  };
  return {
    ...request,
    ClientToken: clientToken("oskit-import", {
      ...request,
      digest: options.digest,
      ...(generation > 0 && { generation }),
    }),
  };
}

const isMissing = (error: unknown) => {
  const { name, status, code } = errorFacts(error);
  return status === 404 || ["NotFound", "NoSuchKey"].includes(code ?? name);
};

/** True when the bucket holds this disk already: the same size and digest metadata. */
async function alreadyThere(
  s3: S3Api,
  options: ImportOptions,
  key: string,
  diskSize: number,
  policy: RetryPolicy,
): Promise<boolean> {
  try {
    const head = await withRetries(
      `HeadObject s3://${options.bucket}/${key}`,
      () => s3.headObject({ Bucket: options.bucket, Key: key }),
      policy,
    );
    return head.ContentLength === diskSize && head.Metadata?.[DIGEST_METADATA] === options.digest;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

/** Reads `length` bytes at `offset` (zeros past the end of the file). */
async function readPart(
  file: Awaited<ReturnType<typeof open>>,
  offset: number,
  length: number,
): Promise<Buffer> {
  const data = Buffer.alloc(length);
  for (let at = 0; at < length;) {
    const { bytesRead } = await file.read(data, at, length - at, offset + at);
    if (bytesRead === 0) break;
    at += bytesRead;
  }
  return data;
}

interface Sent {
  readonly uploaded: boolean;
  readonly bytesSent: number;
  readonly partsSent: number;
  readonly partSize: number;
}

/**
 * Puts the disk in the bucket under its digest's key, in a multipart upload with `parallel` parts
 * in flight, unless an object of the same digest and size is there already. A failed upload is
 * aborted (S3 keeps no parts).
 */
export async function uploadDiskObject(
  options: ImportOptions,
  s3: S3Api,
  report: (sent: { bytesSent: number; partsSent: number; partsTotal: number }) => void = () =>
    undefined,
): Promise<Sent & { key: string }> {
  const policy = { ...defaultPolicy, ...options.retry };
  const diskSize = options.diskSize ?? (await stat(options.path)).size;
  const key = objectKey(options.digest, options.keyPrefix);
  const partSize = partSizeFor(diskSize, options.partSize);
  const partsTotal = Math.max(1, Math.ceil(diskSize / partSize));
  if (await alreadyThere(s3, options, key, diskSize, policy))
    return { key, uploaded: false, bytesSent: 0, partsSent: 0, partSize };

  const bucket = options.bucket;
  const created = await withRetries(
    `CreateMultipartUpload s3://${bucket}/${key}`,
    () =>
      s3.createMultipartUpload({
        Bucket: bucket,
        Key: key,
        ContentType: "application/octet-stream",
        Metadata: { [DIGEST_METADATA]: options.digest },
      }),
    policy,
  );
  const uploadId = created.UploadId;
  if (uploadId === undefined) throw new Error("CreateMultipartUpload answered without an UploadId");
  const etags: string[] = [];
  let bytesSent = 0;
  let partsSent = 0;
  let next = 0;
  let failure: unknown;
  const file = await open(options.path, "r");
  try {
    const worker = async () => {
      while (failure === undefined && next < partsTotal) {
        const index = next++;
        const offset = index * partSize;
        const data = await readPart(file, offset, Math.min(partSize, diskSize - offset));
        const md5 = createHash("md5").update(data).digest("base64");
        const answer = await withRetries(
          `UploadPart ${index + 1} of s3://${bucket}/${key}`,
          () =>
            s3.uploadPart({
              Bucket: bucket,
              Key: key,
              UploadId: uploadId,
              PartNumber: index + 1,
              Body: data,
              ContentLength: data.length,
              ContentMD5: md5,
            }),
          policy,
          isTransient,
        );
        if (answer.ETag === undefined) throw new Error(`UploadPart ${index + 1}: no ETag`);
        etags[index] = answer.ETag;
        bytesSent += data.length;
        partsSent += 1;
        report({ bytesSent, partsSent, partsTotal });
      }
    };
    const parallel = Math.max(1, Math.floor(options.parallel ?? 8));
    await Promise.all(
      Array.from({ length: Math.min(parallel, partsTotal) }, () =>
        worker().catch((error: unknown) => {
          failure ??= error;
        }),
      ),
    );
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- the first worker's error, as it came
    if (failure !== undefined) throw failure;
    await withRetries(
      `CompleteMultipartUpload s3://${bucket}/${key}`,
      () =>
        s3.completeMultipartUpload({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) },
        }),
      policy,
    );
  } catch (error) {
    await s3
      .abortMultipartUpload({ Bucket: bucket, Key: key, UploadId: uploadId })
      .catch(() => undefined);
    throw error;
  } finally {
    await file.close();
  }
  return { key, uploaded: true, bytesSent, partsSent, partSize };
}

/** The task's detail, as DescribeImportSnapshotTasks (or ImportSnapshot) tells it. */
interface TaskDetail {
  readonly Status?: string | undefined;
  readonly StatusMessage?: string | undefined;
  readonly Progress?: string | undefined;
  readonly SnapshotId?: string | undefined;
}

/** `deleting`, `deleted` and `error` end a task without a snapshot. */
const FAILED = new Set(["deleting", "deleted", "error"]);

/**
 * Polls the task until `completed` (its snapshot id returned); a failed task throws an
 * ImportTaskError with EC2's StatusMessage; the timeout cancels the task and throws.
 */
export async function waitForImport(
  ec2: Ec2Api,
  importTaskId: string,
  options: {
    timeoutMs?: number;
    pollMs?: number;
    sleep?: (ms: number) => Promise<void>;
    onStatus?: (detail: TaskDetail) => void;
  } = {},
): Promise<string> {
  const timeout = options.timeoutMs ?? 3 * 3_600_000;
  const poll = options.pollMs ?? 15_000;
  const sleep = options.sleep ?? wait;
  const deadline = Date.now() + timeout;
  let detail: TaskDetail | undefined;
  for (;;) {
    try {
      const answer = await withRetries(
        "DescribeImportSnapshotTasks",
        () => ec2.describeImportSnapshotTasks({ ImportTaskIds: [importTaskId] }),
        { attempts: 5, sleep },
      );
      detail = answer.ImportSnapshotTasks?.find(
        (t) => t.ImportTaskId === importTaskId,
      )?.SnapshotTaskDetail;
    } catch (error) {
      // A task just started may not be visible yet.
      if (!/^InvalidConversionTaskId/.test(errorFacts(error).code ?? errorFacts(error).name))
        throw error;
    }
    if (detail !== undefined) {
      options.onStatus?.(detail);
      const status = detail.Status ?? "unknown";
      if (status === "completed") {
        if (detail.SnapshotId === undefined || detail.SnapshotId === "")
          throw new ImportTaskError(
            `import task ${importTaskId} completed without a snapshot id`,
            importTaskId,
            status,
            detail.StatusMessage,
          );
        return detail.SnapshotId;
      }
      if (FAILED.has(status))
        throw new ImportTaskError(
          `import task ${importTaskId} ended ${status}: ${detail.StatusMessage ?? "EC2 gave no reason"}`,
          importTaskId,
          status,
          detail.StatusMessage,
        );
    }
    if (Date.now() >= deadline) {
      await ec2
        .cancelImportTask({ ImportTaskId: importTaskId, CancelReason: "oskit: timed out" })
        .catch(() => undefined);
      throw new Error(
        `import task ${importTaskId} is still ${detail?.Status ?? "unknown"}${detail?.StatusMessage !== undefined ? ` (${detail.StatusMessage})` : ""} after ${Math.round(timeout / 1000)} s; it was cancelled: raise the timeout and run again`,
      );
    }
    await sleep(poll);
  }
}

/**
 * Uploads the disk to S3 (or finds it there), imports it as a snapshot, tags the snapshot like
 * the task, waits until it is `completed`, and removes the object, also when a step fails.
 */
export async function importSnapshot(
  options: ImportOptions,
  s3: S3Api,
  ec2: Ec2Api,
): Promise<ImportResult> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const policy = { ...defaultPolicy, ...options.retry };
  const diskSize = options.diskSize ?? (await stat(options.path)).size;
  const key = objectKey(options.digest, options.keyPrefix);
  const bucket = options.bucket;
  const every = options.progressEveryMs ?? 500;
  let last = -Infinity;
  let sent = { bytesSent: 0, partsSent: 0, partsTotal: 0 };
  let importTaskId: string | undefined;
  const report = (phase: ImportProgress["phase"], detail?: TaskDetail, force = false) => {
    const t = now();
    if (options.progress === undefined || (!force && t - last < every)) return;
    last = t;
    const seconds = (t - started) / 1000;
    const percent = Number(detail?.Progress);
    options.progress({
      phase,
      bucket,
      key,
      bytesSent: sent.bytesSent,
      bytesTotal: diskSize,
      partsSent: sent.partsSent,
      partsTotal: sent.partsTotal,
      seconds,
      bytesPerSecond: seconds > 0 ? sent.bytesSent / seconds : 0,
      ...(importTaskId !== undefined && { importTaskId }),
      ...(detail?.Status !== undefined && { status: detail.Status }),
      ...(detail?.StatusMessage !== undefined && { statusMessage: detail.StatusMessage }),
      ...(Number.isFinite(percent) && detail?.Progress !== undefined && { percent }),
    });
  };
  const removeObject = () =>
    withRetries(
      `DeleteObject s3://${bucket}/${key}`,
      () => s3.deleteObject({ Bucket: bucket, Key: key }),
      policy,
    );

  let upload: Sent;
  let snapshotId: string;
  let token = "";
  try {
    upload = await uploadDiskObject({ ...options, diskSize }, s3, (s) => {
      sent = s;
      report("upload");
    });
    report("upload", undefined, true);
    // A token whose task failed earlier gives that task back: start anew with the next one.
    for (let generation = 0; importTaskId === undefined; generation++) {
      const request = importSnapshotRequest(options, key, generation);
      token = request.ClientToken;
      const answer = await withRetries("ImportSnapshot", () => ec2.importSnapshot(request), policy);
      if (answer.ImportTaskId === undefined)
        throw new Error("ImportSnapshot answered without an ImportTaskId");
      const status = answer.SnapshotTaskDetail?.Status ?? "active";
      if (FAILED.has(status) && generation < 3) continue;
      importTaskId = answer.ImportTaskId;
    }
    const taskId = importTaskId;
    snapshotId = await waitForImport(ec2, taskId, {
      ...(options.timeoutMs !== undefined && { timeoutMs: options.timeoutMs }),
      ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
      ...(policy.sleep !== undefined && { sleep: policy.sleep }),
      onStatus: (detail) => report("import", detail),
    });
    await withRetries(
      `CreateTags ${snapshotId}`,
      () => ec2.createTags({ Resources: [snapshotId], Tags: ec2Tags(options.tags) }),
      policy,
    );
    await waitForSnapshot(ec2, snapshotId, {
      ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
      ...(policy.sleep !== undefined && { sleep: policy.sleep }),
    });
  } catch (error) {
    await removeObject().catch(() => undefined);
    throw error;
  }
  const described = await withRetries(
    "DescribeSnapshots",
    () => ec2.describeSnapshots({ SnapshotIds: [snapshotId] }),
    policy,
  ).catch(() => undefined);
  const objectRemoved = await removeObject().then(
    () => true,
    () => false,
  );
  return {
    snapshotId,
    volumeSize:
      described?.Snapshots?.find((s) => s.SnapshotId === snapshotId)?.VolumeSize ??
      volumeSizeGiB(diskSize),
    importTaskId,
    bucket,
    key,
    uploaded: upload.uploaded,
    bytesSent: upload.bytesSent,
    partsSent: upload.partsSent,
    partSize: upload.partSize,
    seconds: (now() - started) / 1000,
    clientToken: token,
    objectRemoved,
  };
}
