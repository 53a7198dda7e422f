/**
 * What the GCP fake remembers, in plain objects tests may read: objects (their bytes in files under
 * `dir`), upload sessions with the bytes each received, images, operations, every call, and the
 * faults still to inject.
 */
import { readFileSync } from "node:fs";
import type { Socket } from "node:net";

/** GCS's resumable chunk unit: every chunk but the last is a multiple of it. */
export const CHUNK_UNIT = 256 * 1024;
export const GIB = 1024 ** 3;

export type Service = "storage" | "compute";

export interface FakeObject {
  readonly bucket: string;
  readonly name: string;
  readonly generation: string;
  readonly size: number;
  readonly contentType: string;
  /** Base64, as GCS writes them. */
  readonly crc32c: string;
  readonly md5Hash: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly timeCreated: string;
  /** The file holding the bytes. */
  readonly path: string;
}

export type UploadStatus = "active" | "completed" | "cancelled" | "failed" | "expired";

export interface FakeUpload {
  readonly id: string;
  readonly bucket: string;
  readonly name: string;
  readonly contentType: string;
  readonly metadata: Readonly<Record<string, string>>;
  /** From X-Upload-Content-Length or a Content-Range's total, once known. */
  total: number | undefined;
  /** Bytes persisted (always a multiple of CHUNK_UNIT until the final chunk). */
  persisted: number;
  /** Every body byte that reached the fake for this session, kept or not. */
  bytesReceived: number;
  /** Checksums announced in the initiation's metadata (base64). */
  readonly expectedCrc32c: string | undefined;
  readonly expectedMd5: string | undefined;
  /** `ifGenerationMatch` given at initiation. */
  readonly ifGenerationMatch: string | undefined;
  status: UploadStatus;
  /** The file the received bytes go to. */
  readonly path: string;
  /** The object, once completed. */
  object: FakeObject | undefined;
}

export interface FakeImage {
  readonly id: string;
  readonly name: string;
  readonly description: string | undefined;
  readonly family: string | undefined;
  labels: Record<string, string>;
  labelFingerprint: string;
  readonly architecture: string | undefined;
  readonly guestOsFeatures: readonly { readonly type: string }[];
  readonly storageLocations: readonly string[];
  readonly rawDiskSource: string;
  readonly creationTimestamp: string;
  status: "PENDING" | "READY" | "DELETING";
  /** Set when the tarball passed: the disk's size and the object's. */
  diskSizeGb: number | undefined;
  archiveSizeBytes: number | undefined;
}

export interface OperationError {
  readonly code: string;
  readonly message: string;
}

export interface FakeOperation {
  readonly id: string;
  readonly name: string;
  readonly operationType: "insert" | "delete" | "setLabels";
  readonly targetName: string;
  readonly targetId: string;
  readonly requestId: string | undefined;
  readonly insertTime: number;
  /** PENDING before, RUNNING from it. */
  readonly startsAt: number;
  /** DONE from it, once `outcome` is known. */
  readonly endsAt: number;
  /** What the work found: undefined while it runs (an insert reads its tarball). */
  outcome: { readonly error?: OperationError } | undefined;
  /** Applied when DONE (the image made READY, deleted, or relabelled), once. */
  finish: (() => void) | undefined;
  endTime: number | undefined;
}

export interface FakeCall {
  /** Milliseconds since the fake started. */
  readonly at: number;
  readonly service: Service;
  /** `uploads.start`, `uploads.put`, `uploads.query`, `uploads.cancel`, `objects.get`,
   * `objects.list`, `objects.delete`, `images.insert`, `images.get`, `images.list`,
   * `images.getFromFamily`, `images.delete`, `images.setLabels`, `globalOperations.get`,
   * `globalOperations.wait`, or `unknown`. */
  readonly operation: string;
  readonly method: string;
  readonly path: string;
  readonly status: number;
  /** The error reason answered, if any. */
  readonly reason?: string;
  /** Body bytes received. */
  readonly bytes: number;
  /** The request's Content-Range (uploads). */
  readonly contentRange?: string;
  readonly fault?: Fault["kind"];
}

/**
 * A fault to inject. `throttle` answers 429 `rateLimitExceeded`; `error` answers 503
 * `backendError` (or the status given); `drop` destroys the connection after `afterBytes` of the
 * body (default half of it), keeping an upload's bytes up to the last whole CHUNK_UNIT as GCS does;
 * `delay` answers normally after `ms`; `fail` (images.insert) lets the operation end DONE with
 * this error.
 */
export type Fault =
  | { readonly kind: "throttle"; readonly status?: number }
  | { readonly kind: "error"; readonly status?: number }
  | { readonly kind: "drop"; readonly afterBytes?: number }
  | { readonly kind: "delay"; readonly ms: number }
  | { readonly kind: "fail"; readonly code: string; readonly message: string };

export interface FaultRule {
  /** Operation name (see FakeCall.operation); every operation when absent. */
  readonly operation?: string;
  readonly fault: Fault;
  /** How many matching requests get the fault. @default 1 */
  readonly times?: number;
}

interface ArmedRule {
  readonly rule: FaultRule;
  remaining: number;
}

/** The faults still to inject, first matching rule first. */
export class Faults {
  private readonly rules: ArmedRule[] = [];

  /** Adds a rule; returns this for chaining. */
  add(rule: FaultRule): this {
    this.rules.push({ rule, remaining: rule.times ?? 1 });
    return this;
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** Rules not yet used up. */
  get pending(): readonly FaultRule[] {
    return this.rules.filter((r) => r.remaining > 0).map((r) => r.rule);
  }

  /** @internal Takes the fault for a request, if a rule matches. */
  take(operation: string): Fault | undefined {
    for (const armed of this.rules) {
      if (armed.remaining <= 0) continue;
      if (armed.rule.operation !== undefined && armed.rule.operation !== operation) continue;
      armed.remaining -= 1;
      return armed.rule.fault;
    }
    return undefined;
  }
}

const key = (bucket: string, name: string) => `${bucket}/${name}`;

/** Everything the fake knows; tests read it. */
export class GcpFakeState {
  /** Objects by `bucket/name`. */
  readonly objects = new Map<string, FakeObject>();
  /** Upload sessions by upload id. */
  readonly uploads = new Map<string, FakeUpload>();
  readonly images = new Map<string, FakeImage>();
  readonly operations = new Map<string, FakeOperation>();
  readonly calls: FakeCall[] = [];
  /** Upload body bytes received, over all sessions (dropped ones included). */
  bytesReceived = 0;
  /** Open connections, so a test can see none is left behind. */
  readonly sockets = new Set<Socket>();
  readonly startedAt = Date.now();
  private counter = 0;

  constructor(
    /** The temporary directory holding uploads and objects. */
    readonly dir: string,
    readonly buckets: Set<string>,
  ) {}

  /** @internal A fresh numeric id, as GCE's (a 19-digit decimal string). */
  newId(): string {
    this.counter += 1;
    return (
      1_000_000_000_000_000_000n +
      BigInt(Date.now()) * 1000n +
      BigInt(this.counter)
    ).toString();
  }

  /** Calls of one operation. */
  callsOf(operation: string): FakeCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  object(bucket: string, name: string): FakeObject {
    const object = this.objects.get(key(bucket, name));
    if (!object) throw new Error(`the GCP fake has no object gs://${bucket}/${name}`);
    return object;
  }

  /** @internal */
  findObject(bucket: string, name: string): FakeObject | undefined {
    return this.objects.get(key(bucket, name));
  }

  /** @internal */
  putObject(object: FakeObject): void {
    this.objects.set(key(object.bucket, object.name), object);
  }

  /** @internal */
  removeObject(bucket: string, name: string): boolean {
    return this.objects.delete(key(bucket, name));
  }

  /** An object's bytes, read from its file (for small objects in assertions). */
  objectBytes(bucket: string, name: string): Buffer {
    return readFileSync(this.object(bucket, name).path);
  }

  /** Every upload body byte received for an object, over all its sessions. */
  bytesReceivedFor(bucket: string, name: string): number {
    let n = 0;
    for (const u of this.uploads.values())
      if (u.bucket === bucket && u.name === name) n += u.bytesReceived;
    return n;
  }

  upload(id: string): FakeUpload {
    const upload = this.uploads.get(id);
    if (!upload) throw new Error(`the GCP fake has no upload session ${id}`);
    return upload;
  }

  /** Makes a session answer as an expired one (404) from now on. */
  expireUpload(id: string): void {
    this.upload(id).status = "expired";
  }

  /** Sessions not completed: what a killed upload leaves behind. */
  leftoverUploads(): FakeUpload[] {
    return [...this.uploads.values()].filter((u) => u.status === "active");
  }

  image(name: string): FakeImage {
    const image = this.images.get(name);
    if (!image) throw new Error(`the GCP fake has no image ${name}`);
    return image;
  }

  operation(name: string): FakeOperation {
    const op = this.operations.get(name);
    if (!op) throw new Error(`the GCP fake has no operation ${name}`);
    return this.refresh(op);
  }

  /** @internal Applies the passage of time: PENDING → RUNNING → DONE. */
  refresh(op: FakeOperation): FakeOperation {
    if (op.endTime === undefined && op.outcome !== undefined && Date.now() >= op.endsAt) {
      op.endTime = Date.now();
      const finish = op.finish;
      op.finish = undefined;
      finish?.();
    }
    return op;
  }

  /** @internal The operation's status now. */
  status(op: FakeOperation): "PENDING" | "RUNNING" | "DONE" {
    this.refresh(op);
    if (op.endTime !== undefined) return "DONE";
    return Date.now() < op.startsAt ? "PENDING" : "RUNNING";
  }
}
