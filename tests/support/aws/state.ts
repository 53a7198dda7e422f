/**
 * What the AWS fake remembers, in plain objects tests may read: snapshots with their blocks, images,
 * every call made, and the faults still to inject.
 */
import type { Socket } from "node:net";

export const BLOCK_SIZE = 524288;
export const GIB = 1024 ** 3;

export type Service = "ebs" | "ec2";
export type SnapshotStatus = "pending" | "completed" | "error";

export interface Tag {
  readonly Key: string;
  readonly Value: string;
}

export interface FakeSnapshot {
  readonly id: string;
  readonly region: string;
  readonly ownerId: string;
  status: SnapshotStatus;
  /** Why the snapshot is in `error`, as DescribeSnapshots reports it. */
  statusMessage: string;
  /** GiB. */
  readonly volumeSize: number;
  readonly description: string;
  tags: Tag[];
  readonly encrypted: boolean;
  readonly kmsKeyArn: string | undefined;
  /** Minutes after which a pending snapshot is cancelled. */
  readonly timeout: number;
  readonly clientToken: string | undefined;
  /** The StartSnapshot parameters, serialized, to tell a retry from a conflicting request. */
  readonly startParameters: string;
  readonly startTime: number;
  /** When DescribeSnapshots starts to see it (eventual consistency). */
  readonly visibleAt: number;
  /** When a completed CompleteSnapshot turns `pending` into `completed`. */
  completesAt: number | undefined;
  /** The blocks written, by index, each exactly BLOCK_SIZE bytes. */
  readonly blocks: Map<number, Buffer>;
  /** Base64 SHA-256 of each block, by index. */
  readonly checksums: Map<number, string>;
  /** Set by CopyImage: the snapshot this one copies. */
  readonly copiedFrom?: string;
}

export interface FakeBlockDevice {
  readonly DeviceName: string;
  readonly Ebs?: {
    readonly SnapshotId?: string;
    readonly VolumeSize?: number;
    readonly VolumeType?: string;
    readonly DeleteOnTermination?: boolean;
    readonly Encrypted?: boolean;
    readonly Iops?: number;
    readonly Throughput?: number;
  };
  readonly VirtualName?: string;
  readonly NoDevice?: string;
}

export interface FakeImage {
  readonly id: string;
  readonly region: string;
  readonly ownerId: string;
  readonly name: string;
  readonly description: string | undefined;
  readonly architecture: string;
  /** The request named no Architecture and EC2 filled in its default, i386. */
  readonly architectureDefaulted: boolean;
  readonly rootDeviceName: string;
  readonly blockDeviceMappings: readonly FakeBlockDevice[];
  readonly virtualizationType: string;
  /** The request named no VirtualizationType and EC2 filled in its default, paravirtual. */
  readonly virtualizationDefaulted: boolean;
  readonly enaSupport: boolean | undefined;
  readonly sriovNetSupport: string | undefined;
  readonly bootMode: string | undefined;
  readonly imdsSupport: string | undefined;
  readonly tpmSupport: string | undefined;
  tags: Tag[];
  state: "pending" | "available" | "deregistered";
  readonly creationDate: number;
  readonly availableAt: number;
  /** CopyImage: the source image and region, and the client token used. */
  readonly sourceImageId?: string;
  readonly sourceRegion?: string;
  readonly clientToken?: string;
  /** Who besides the owner may launch it (ModifyImageAttribute): account ids, and `all` for public. */
  launchPermission?: { userIds: string[]; groups: string[] };
}

/** EC2's import task states (DescribeImportSnapshotTasks): `deleting`/`deleted` end it without a snapshot. */
export type ImportTaskStatus = "active" | "completed" | "deleting" | "deleted";

/** An ImportSnapshot task: it reads its S3 object over HTTP, then makes a completed snapshot of it. */
export interface FakeImportTask {
  readonly id: string;
  readonly region: string;
  readonly ownerId: string;
  readonly description: string | undefined;
  /** RAW, VMDK or VHD, as given (only RAW is modelled: the others end `deleted`). */
  readonly format: string;
  readonly bucket: string;
  readonly key: string;
  readonly roleName: string;
  readonly encrypted: boolean;
  readonly kmsKeyId: string | undefined;
  readonly clientToken: string | undefined;
  /** The request's parameters but the token, serialized, to tell a retry from a conflicting request. */
  readonly parameters: string;
  readonly tags: Tag[];
  status: ImportTaskStatus;
  statusMessage: string | undefined;
  /** Percent, while active. */
  progress: number;
  snapshotId: string | undefined;
  readonly createdAt: number;
  /** The earliest time the task may end (the fake's `importDelayMs` after ImportSnapshot). */
  readonly endsAt: number;
  /** The object once read (its size and non-zero blocks), or why the task fails. */
  outcome:
    | { readonly kind: "read"; readonly size: number; readonly blocks: Map<number, Buffer> }
    | { readonly kind: "failed"; readonly message: string }
    | undefined;
}

export interface FakeCall {
  /** Milliseconds since the fake started. */
  readonly at: number;
  readonly service: Service;
  /** The operation name (`PutSnapshotBlock`, `RegisterImage`, …) or `unknown`. */
  readonly operation: string;
  readonly status: number;
  /** The error code answered, if any. */
  readonly errorCode?: string;
  readonly snapshotId?: string;
  readonly blockIndex?: number;
  /** Body bytes received. */
  readonly bytes: number;
  /** The fault injected, if any. */
  readonly fault?: Fault["kind"];
  /** The request's form parameters (EC2) or JSON body (EBS StartSnapshot), for assertions. */
  readonly params?: Readonly<Record<string, string>>;
}

/**
 * A fault to inject. `throttle` answers the service's throttling error (EBS:
 * `ThrottlingException` 400, or `RequestThrottledException`; EC2: `RequestLimitExceeded` 503);
 * `error` answers a server error (EBS `InternalServerException`, EC2 `InternalError`, 500 unless
 * told); `drop` destroys the connection after reading `afterBytes` of the body (default: half);
 * `delay` answers normally after `ms`.
 */
export type Fault =
  | { readonly kind: "throttle"; readonly status?: number; readonly code?: string }
  | { readonly kind: "error"; readonly status?: number; readonly code?: string }
  | { readonly kind: "drop"; readonly afterBytes?: number }
  | { readonly kind: "delay"; readonly ms: number };

export interface FaultRule {
  readonly service?: Service;
  /** Operation name; all operations of the service when absent. */
  readonly operation?: string;
  /** Only PutSnapshotBlock calls for this block index. */
  readonly blockIndex?: number;
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
  take(service: Service, operation: string, blockIndex?: number): Fault | undefined {
    for (const armed of this.rules) {
      const { rule } = armed;
      if (armed.remaining <= 0) continue;
      if (rule.service !== undefined && rule.service !== service) continue;
      if (rule.operation !== undefined && rule.operation !== operation) continue;
      if (rule.blockIndex !== undefined && rule.blockIndex !== blockIndex) continue;
      armed.remaining -= 1;
      return rule.fault;
    }
    return undefined;
  }
}

/** Everything the fake knows; tests read it and may change the clock. */
export class FakeState {
  readonly snapshots = new Map<string, FakeSnapshot>();
  readonly images = new Map<string, FakeImage>();
  readonly importTasks = new Map<string, FakeImportTask>();
  /**
   * StatusMessages the next import tasks end `deleted` with, one each (e.g.
   * `ClientError: Disk validation failed [Unsupported specified file format]`).
   */
  readonly importFailures: string[] = [];
  readonly calls: FakeCall[] = [];
  /** Block bytes accepted by PutSnapshotBlock (rejected and dropped ones not counted). */
  bytesReceived = 0;
  /** Added to the real clock: the fake's notion of now, and the Date header it answers with. */
  clockOffsetMs = 0;
  /** Open connections, so a test can see none is left behind. */
  readonly sockets = new Set<Socket>();
  private counter = 0;
  readonly startedAt = Date.now();

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** @internal A fresh id with AWS's shape: `snap-` or `ami-` and 17 hex digits. */
  newId(prefix: "snap" | "ami" | "import-snap"): string {
    this.counter += 1;
    return `${prefix}-${(0x0a000000000000000n + BigInt(this.counter)).toString(16).padStart(17, "0")}`;
  }

  /** Calls of one operation. */
  callsOf(operation: string): FakeCall[] {
    return this.calls.filter((c) => c.operation === operation);
  }

  /** Snapshots still `pending` or in `error`: what a killed upload leaves behind. */
  leftovers(): FakeSnapshot[] {
    return [...this.snapshots.values()].filter((s) => this.refresh(s).status !== "completed");
  }

  /** Block indexes written to a snapshot, ascending. */
  blockIndexes(snapshotId: string): number[] {
    return [...this.snapshot(snapshotId).blocks.keys()].sort((a, b) => a - b);
  }

  /**
   * The first `length` bytes of the volume the snapshot holds (zeros where no block was written),
   * to compare with the artifact byte for byte.
   */
  disk(snapshotId: string, length: number): Buffer {
    const snapshot = this.snapshot(snapshotId);
    const out = Buffer.alloc(length);
    for (const [index, block] of snapshot.blocks) {
      const offset = index * BLOCK_SIZE;
      if (offset < length) block.copy(out, offset, 0, Math.min(BLOCK_SIZE, length - offset));
    }
    return out;
  }

  snapshot(id: string): FakeSnapshot {
    const snapshot = this.snapshots.get(id);
    if (!snapshot) throw new Error(`the AWS fake has no snapshot ${id}`);
    return this.refresh(snapshot);
  }

  image(id: string): FakeImage {
    const image = this.images.get(id);
    if (!image) throw new Error(`the AWS fake has no image ${id}`);
    return this.refreshImage(image);
  }

  /** @internal Applies the passage of time: completion delays and snapshot timeouts. */
  refresh(snapshot: FakeSnapshot): FakeSnapshot {
    const now = this.now();
    if (snapshot.status === "pending") {
      if (snapshot.completesAt !== undefined && now >= snapshot.completesAt) {
        snapshot.status = "completed";
      } else if (
        snapshot.completesAt === undefined &&
        now >= snapshot.startTime + snapshot.timeout * 60_000
      ) {
        snapshot.status = "error";
        snapshot.statusMessage = `the snapshot was not completed within its timeout of ${snapshot.timeout} minutes`;
      }
    }
    return snapshot;
  }

  importTask(id: string): FakeImportTask {
    const task = this.importTasks.get(id);
    if (!task) throw new Error(`the AWS fake has no import task ${id}`);
    return this.refreshImport(task);
  }

  /**
   * @internal Applies the passage of time to an import task: once its object was read and its
   * delay passed, it fails (`deleted`, with the reason) or makes a completed snapshot of the bytes.
   */
  refreshImport(task: FakeImportTask): FakeImportTask {
    if (task.status === "deleting") {
      task.status = "deleted";
      return task;
    }
    if (task.status !== "active" || task.outcome === undefined) return task;
    const now = this.now();
    if (now < task.endsAt) {
      task.progress = Math.min(
        99,
        Math.floor(((now - task.createdAt) / (task.endsAt - task.createdAt)) * 100),
      );
      return task;
    }
    if (task.outcome.kind === "failed") {
      task.status = "deleted";
      task.statusMessage = task.outcome.message;
      return task;
    }
    const snapshot: FakeSnapshot = {
      id: this.newId("snap"),
      region: task.region,
      ownerId: task.ownerId,
      status: "completed",
      statusMessage: "",
      volumeSize: Math.max(1, Math.ceil(task.outcome.size / GIB)),
      description: `Created by AWS-VMImport service for ${task.id}`,
      tags: [],
      encrypted: task.encrypted,
      kmsKeyArn: task.kmsKeyId,
      timeout: 60,
      clientToken: undefined,
      startParameters: "",
      startTime: now,
      visibleAt: now,
      completesAt: now,
      blocks: task.outcome.blocks,
      checksums: new Map(),
    };
    this.snapshots.set(snapshot.id, snapshot);
    task.snapshotId = snapshot.id;
    task.status = "completed";
    task.statusMessage = undefined;
    task.progress = 100;
    return task;
  }

  /** @internal */
  refreshImage(image: FakeImage): FakeImage {
    if (image.state === "pending" && this.now() >= image.availableAt) image.state = "available";
    return image;
  }
}
