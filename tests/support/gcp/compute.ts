/**
 * Compute Engine images and global operations: images.insert (rawDisk from the fake's own GCS
 * objects, checked as GCE checks them), get, list (with a label/name filter), getFromFamily,
 * delete, setLabels; globalOperations.get and wait.
 */
import { createHash } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { checkImageTarball } from "./image-tar";
import type { FakeImage, FakeOperation, Fault, GcpFakeState, OperationError } from "./state";
import { GoogleError, json, parseJson, type Reply } from "./wire";

export interface ComputeContext {
  readonly state: GcpFakeState;
  readonly project: string;
  /** `http://127.0.0.1:PORT`, for self links. */
  readonly endpoint: string;
  /** From an operation's insert to DONE: PENDING the first half, RUNNING the second. */
  readonly operationDelayMs: number;
  /** The longest a `wait` call holds before answering a not-yet-DONE operation. */
  readonly waitMaxMs: number;
}

export type ComputeRoute =
  | { readonly operation: "images.insert" | "images.list"; readonly project: string }
  | {
      readonly operation: "images.get" | "images.delete" | "images.setLabels";
      readonly project: string;
      readonly image: string;
    }
  | {
      readonly operation: "images.getFromFamily";
      readonly project: string;
      readonly family: string;
    }
  | {
      readonly operation: "globalOperations.get" | "globalOperations.wait";
      readonly project: string;
      readonly name: string;
    };

export function computeRoute(method: string, path: string): ComputeRoute | undefined {
  const m =
    /^\/compute\/v1\/projects\/([^/]+)\/global\/(images|operations)(?:\/([^/]+)(?:\/([^/]+))?)?$/.exec(
      path,
    );
  if (!m) return undefined;
  const project = decodeURIComponent(m[1]!);
  const a = m[3] === undefined ? undefined : decodeURIComponent(m[3]);
  const b = m[4] === undefined ? undefined : decodeURIComponent(m[4]);
  if (m[2] === "operations") {
    if (a === undefined) return undefined;
    if (b === undefined && method === "GET")
      return { operation: "globalOperations.get", project, name: a };
    if (b === "wait" && method === "POST")
      return { operation: "globalOperations.wait", project, name: a };
    return undefined;
  }
  if (a === undefined) {
    if (method === "POST") return { operation: "images.insert", project };
    if (method === "GET") return { operation: "images.list", project };
    return undefined;
  }
  if (a === "family" && b !== undefined && method === "GET")
    return { operation: "images.getFromFamily", project, family: b };
  if (b === undefined && method === "GET") return { operation: "images.get", project, image: a };
  if (b === undefined && method === "DELETE")
    return { operation: "images.delete", project, image: a };
  if (b === "setLabels" && method === "POST")
    return { operation: "images.setLabels", project, image: a };
  return undefined;
}

export const NAME_PATTERN = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Guest OS feature types images.insert accepts. */
export const GUEST_OS_FEATURES = [
  "FEATURE_TYPE_UNSPECIFIED",
  "GVNIC",
  "IDPF",
  "MULTI_IP_SUBNET",
  "SECURE_BOOT",
  "SEV_CAPABLE",
  "SEV_LIVE_MIGRATABLE",
  "SEV_LIVE_MIGRATABLE_V2",
  "SEV_SNP_CAPABLE",
  "SUSPEND_RESUME_COMPATIBLE",
  "TDX_CAPABLE",
  "UEFI_COMPATIBLE",
  "VIRTIO_SCSI_MULTIQUEUE",
  "WINDOWS",
] as const;
const ARCHITECTURES = ["ARCHITECTURE_UNSPECIFIED", "X86_64", "ARM64"];
const IMAGE_FIELDS = new Set([
  "kind",
  "name",
  "description",
  "family",
  "labels",
  "rawDisk",
  "architecture",
  "guestOsFeatures",
  "storageLocations",
  "diskSizeGb",
  "licenses",
  "sourceType",
]);
/** Storage locations: a multi-region or a region. */
const LOCATION = /^(?:us|eu|asia|[a-z]+-[a-z]+\d+)$/;

const invalid = (field: string, value: unknown, why = "") =>
  new GoogleError(
    400,
    "invalid",
    `Invalid value for field '${field}': '${typeof value === "string" ? value : JSON.stringify(value)}'.${why ? ` ${why}` : ""}`,
  );
const required = (field: string) =>
  new GoogleError(400, "required", `Required field '${field}' not specified`);

function requireProject(ctx: ComputeContext, project: string): void {
  if (project !== ctx.project)
    throw new GoogleError(404, "notFound", `The resource 'projects/${project}' was not found`);
}

const imagePath = (ctx: ComputeContext, name: string) =>
  `projects/${ctx.project}/global/images/${name}`;
const link = (ctx: ComputeContext, rel: string) => `${ctx.endpoint}/compute/v1/${rel}`;

function imageNotFound(ctx: ComputeContext, name: string): GoogleError {
  return new GoogleError(404, "notFound", `The resource '${imagePath(ctx, name)}' was not found`);
}

/** Checks labels as GCE does: at most 64, keys and values of lowercase letters, digits, `_`, `-`. */
export function checkLabels(labels: unknown, field = "resource.labels"): Record<string, string> {
  if (labels === undefined) return {};
  if (typeof labels !== "object" || labels === null || Array.isArray(labels))
    throw invalid(field, labels);
  const entries = Object.entries(labels);
  if (entries.length > 64) throw invalid(field, "", "A resource can have at most 64 labels.");
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k))
      throw invalid(
        field,
        "",
        `Label key '${k}' violates format constraints. The key must start with a lowercase character, can only contain lowercase letters, numeric characters, underscores and dashes. The key can be at most 63 characters long.`,
      );
    if (typeof v !== "string" || !LABEL_VALUE.test(v))
      throw invalid(
        field,
        "",
        `Label value '${String(v)}' violates format constraints. The value can only contain lowercase letters, numeric characters, underscores and dashes. The value can be at most 63 characters long.`,
      );
  }
  return Object.fromEntries(entries);
}

const fingerprint = (labels: Record<string, string>) =>
  createHash("sha256")
    .update(JSON.stringify(Object.entries(labels).sort()))
    .digest("base64")
    .slice(0, 12);

/** The bucket and object a rawDisk.source names (the https forms GCE takes, or gs://). */
export function parseSource(source: string): { bucket: string; object: string } | undefined {
  const m =
    /^https:\/\/(?:storage\.googleapis\.com|storage\.cloud\.google\.com)\/([^/]+)\/(.+)$/.exec(
      source,
    ) ?? /^gs:\/\/([^/]+)\/(.+)$/.exec(source);
  if (!m) return undefined;
  try {
    return { bucket: m[1]!, object: decodeURIComponent(m[2]!) };
  } catch {
    return undefined;
  }
}

export function imageResource(ctx: ComputeContext, image: FakeImage): Record<string, unknown> {
  return {
    kind: "compute#image",
    id: image.id,
    creationTimestamp: image.creationTimestamp,
    name: image.name,
    ...(image.description !== undefined ? { description: image.description } : {}),
    sourceType: "RAW",
    rawDisk: { source: image.rawDiskSource, containerType: "TAR" },
    status: image.status,
    ...(image.archiveSizeBytes !== undefined
      ? { archiveSizeBytes: String(image.archiveSizeBytes) }
      : {}),
    ...(image.diskSizeGb !== undefined ? { diskSizeGb: String(image.diskSizeGb) } : {}),
    ...(image.family !== undefined ? { family: image.family } : {}),
    ...(Object.keys(image.labels).length > 0 ? { labels: image.labels } : {}),
    labelFingerprint: image.labelFingerprint,
    ...(image.guestOsFeatures.length > 0 ? { guestOsFeatures: image.guestOsFeatures } : {}),
    ...(image.storageLocations.length > 0 ? { storageLocations: image.storageLocations } : {}),
    ...(image.architecture !== undefined ? { architecture: image.architecture } : {}),
    selfLink: link(ctx, imagePath(ctx, image.name)),
  };
}

const iso = (ms: number) => new Date(ms).toISOString();

export function operationResource(ctx: ComputeContext, op: FakeOperation): Record<string, unknown> {
  const status = ctx.state.status(op);
  const error = status === "DONE" ? op.outcome?.error : undefined;
  return {
    kind: "compute#operation",
    id: op.id,
    name: op.name,
    operationType: op.operationType,
    targetLink: link(ctx, imagePath(ctx, op.targetName)),
    targetId: op.targetId,
    status,
    user: "oskit-test@fake.iam.gserviceaccount.com",
    progress: status === "DONE" ? 100 : status === "RUNNING" ? 50 : 0,
    insertTime: iso(op.insertTime),
    ...(status !== "PENDING" ? { startTime: iso(op.startsAt) } : {}),
    ...(op.endTime !== undefined ? { endTime: iso(op.endTime) } : {}),
    ...(error
      ? {
          error: { errors: [{ code: error.code, message: error.message }] },
          httpErrorStatusCode: 400,
          httpErrorMessage: "BAD REQUEST",
        }
      : {}),
    selfLink: link(ctx, `projects/${ctx.project}/global/operations/${op.name}`),
  };
}

function newOperation(
  ctx: ComputeContext,
  type: FakeOperation["operationType"],
  image: FakeImage,
  requestId: string | undefined,
): FakeOperation {
  const now = Date.now();
  const id = ctx.state.newId();
  const op: FakeOperation = {
    id,
    name: `operation-${now}-${createHash("sha256").update(id).digest("hex").slice(0, 13)}-${id.slice(-8)}`,
    operationType: type,
    targetName: image.name,
    targetId: image.id,
    requestId,
    insertTime: now,
    startsAt: now + Math.floor(ctx.operationDelayMs / 2),
    endsAt: now + ctx.operationDelayMs,
    outcome: undefined,
    finish: undefined,
    endTime: undefined,
  };
  ctx.state.operations.set(op.name, op);
  return op;
}

/** A repeated requestId answers the operation it started (GCE's idempotency). */
function byRequestId(
  ctx: ComputeContext,
  query: URLSearchParams,
): { readonly op?: FakeOperation; readonly requestId?: string } {
  const requestId = query.get("requestId");
  if (requestId === null) return {};
  if (!UUID.test(requestId) || /^[0-]+$/.test(requestId))
    throw invalid("requestId", requestId, "Must be a valid UUID, not all zeros.");
  for (const op of ctx.state.operations.values()) if (op.requestId === requestId) return { op };
  return { requestId };
}

export function insertImage(
  ctx: ComputeContext,
  project: string,
  query: URLSearchParams,
  body: Buffer,
  fault: Fault | undefined,
): Reply {
  requireProject(ctx, project);
  const { op: previous, requestId } = byRequestId(ctx, query);
  if (previous) return json(200, operationResource(ctx, previous));
  const r = parseJson(body);
  for (const key of Object.keys(r))
    if (!IMAGE_FIELDS.has(key))
      throw new GoogleError(
        400,
        "invalid",
        `Invalid JSON payload received. Unknown name "${key}" at 'image': Cannot find field.`,
      );
  if (r.name === undefined) throw required("resource.name");
  if (typeof r.name !== "string" || !NAME_PATTERN.test(r.name))
    throw invalid(
      "resource.name",
      r.name,
      "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?|[1-9][0-9]{0,19})'",
    );
  const name = r.name;
  if (r.family !== undefined && (typeof r.family !== "string" || !NAME_PATTERN.test(r.family)))
    throw invalid(
      "resource.family",
      r.family,
      "Must be a match of regex '(?:[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?)'",
    );
  if (
    r.description !== undefined &&
    (typeof r.description !== "string" || r.description.length > 2048)
  )
    throw invalid("resource.description", r.description, "At most 2048 characters.");
  const labels = checkLabels(r.labels);
  if (r.architecture !== undefined && !ARCHITECTURES.includes(r.architecture as string))
    throw invalid(
      "resource.architecture",
      r.architecture,
      `Expected one of ${ARCHITECTURES.join(", ")}.`,
    );
  const features: { type: string }[] = [];
  if (r.guestOsFeatures !== undefined) {
    if (!Array.isArray(r.guestOsFeatures))
      throw invalid("resource.guestOsFeatures", r.guestOsFeatures);
    r.guestOsFeatures.forEach((f: unknown, i) => {
      const type = (f as { type?: unknown } | null)?.type;
      if (typeof type !== "string" || !(GUEST_OS_FEATURES as readonly string[]).includes(type))
        throw invalid(`resource.guestOsFeatures[${i}].type`, type ?? "");
      features.push({ type });
    });
  }
  const locations: string[] = [];
  if (r.storageLocations !== undefined) {
    if (!Array.isArray(r.storageLocations) || r.storageLocations.length > 1)
      throw invalid("resource.storageLocations", r.storageLocations, "At most one location.");
    r.storageLocations.forEach((l: unknown, i) => {
      if (typeof l !== "string" || !LOCATION.test(l))
        throw invalid(`resource.storageLocations[${i}]`, l);
      locations.push(l);
    });
  }
  const rawDisk = r.rawDisk as
    { source?: unknown; containerType?: unknown; sha1Checksum?: unknown } | undefined;
  if (rawDisk === undefined || typeof rawDisk !== "object" || rawDisk === null)
    throw required("resource.rawDisk");
  if (rawDisk.source === undefined) throw required("resource.rawDisk.source");
  const source = typeof rawDisk.source === "string" ? parseSource(rawDisk.source) : undefined;
  if (source === undefined)
    throw invalid(
      "resource.rawDisk.source",
      rawDisk.source,
      "Expected https://storage.googleapis.com/BUCKET/OBJECT or gs://BUCKET/OBJECT.",
    );
  if (rawDisk.containerType !== undefined && rawDisk.containerType !== "TAR")
    throw invalid("resource.rawDisk.containerType", rawDisk.containerType, "Expected TAR.");
  const sha1 = rawDisk.sha1Checksum;
  if (sha1 !== undefined && (typeof sha1 !== "string" || !/^[0-9a-f]{40}$/.test(sha1)))
    throw invalid("resource.rawDisk.sha1Checksum", sha1);
  if (ctx.state.images.has(name))
    throw new GoogleError(
      409,
      "alreadyExists",
      `The resource '${imagePath(ctx, name)}' already exists`,
    );

  const image: FakeImage = {
    id: ctx.state.newId(),
    name,
    description: r.description,
    family: r.family,
    labels,
    labelFingerprint: fingerprint(labels),
    architecture: r.architecture as string | undefined,
    guestOsFeatures: features,
    storageLocations: locations,
    rawDiskSource: rawDisk.source as string,
    creationTimestamp: new Date().toISOString(),
    status: "PENDING",
    diskSizeGb: undefined,
    archiveSizeBytes: undefined,
  };
  ctx.state.images.set(name, image);
  const op = newOperation(ctx, "insert", image, requestId);
  const failWith = (error: OperationError) => {
    op.outcome = { error };
    op.finish = () => {
      if (ctx.state.images.get(name) === image) ctx.state.images.delete(name);
    };
  };
  const object = ctx.state.findObject(source.bucket, source.object);
  if (fault?.kind === "fail") {
    failWith({ code: fault.code, message: fault.message });
  } else if (!ctx.state.buckets.has(source.bucket) || object === undefined) {
    failWith({
      code: "RESOURCE_NOT_FOUND",
      message: `The resource '${rawDisk.source as string}' was not found`,
    });
  } else {
    void checkImageTarball(object.path).then(
      (result) => {
        if ("error" in result) return failWith(result.error);
        if (sha1 !== undefined && sha1 !== result.facts.sha1)
          return failWith({
            code: "INVALID_IMAGE_TAR",
            message: `The SHA-1 checksum of the image file is ${result.facts.sha1}, not ${sha1}.`,
          });
        op.outcome = {};
        op.finish = () => {
          image.status = "READY";
          image.diskSizeGb = result.facts.diskSize / 1024 ** 3;
          image.archiveSizeBytes = object.size;
        };
      },
      (error: unknown) =>
        failWith({
          code: "INVALID_IMAGE_TAR",
          message: `The image file cannot be read: ${String(error)}`,
        }),
    );
  }
  return json(200, operationResource(ctx, op));
}

function findImage(ctx: ComputeContext, project: string, name: string): FakeImage {
  requireProject(ctx, project);
  const image = ctx.state.images.get(name);
  if (!image) throw imageNotFound(ctx, name);
  return image;
}

export function getImage(ctx: ComputeContext, project: string, name: string): Reply {
  // Reading the operations first lets a finished one make its image READY or remove it.
  for (const op of ctx.state.operations.values()) ctx.state.refresh(op);
  return json(200, imageResource(ctx, findImage(ctx, project, name)));
}

export function deleteImage(
  ctx: ComputeContext,
  project: string,
  name: string,
  query: URLSearchParams,
): Reply {
  const { op: previous, requestId } = byRequestId(ctx, query);
  if (previous) return json(200, operationResource(ctx, previous));
  const image = findImage(ctx, project, name);
  image.status = "DELETING";
  const op = newOperation(ctx, "delete", image, requestId);
  op.outcome = {};
  op.finish = () => {
    if (ctx.state.images.get(name) === image) ctx.state.images.delete(name);
  };
  return json(200, operationResource(ctx, op));
}

export function setLabels(ctx: ComputeContext, project: string, name: string, body: Buffer): Reply {
  const image = findImage(ctx, project, name);
  const r = parseJson(body);
  const labels = checkLabels(r.labels ?? {}, "labels");
  if (r.labelFingerprint === undefined) throw required("labelFingerprint");
  if (r.labelFingerprint !== image.labelFingerprint)
    throw new GoogleError(
      412,
      "conditionNotMet",
      "Labels fingerprint either invalid or resource labels have changed",
      { location: "If-Match", locationType: "header" },
    );
  const op = newOperation(ctx, "setLabels", image, undefined);
  op.outcome = {};
  op.finish = () => {
    image.labels = labels;
    image.labelFingerprint = fingerprint(labels);
  };
  return json(200, operationResource(ctx, op));
}

type Term = { field: string; op: "=" | "!=" | ":"; value: string };

/** The filter subset modelled: `FIELD = VALUE`, `!=`, `:` (has), terms joined by AND or spaces, each optionally parenthesized; FIELD is name, family, status or labels.KEY. */
function parseFilter(filter: string): Term[] {
  const terms: Term[] = [];
  const re =
    /\s*\(?\s*([a-zA-Z][\w.-]*)\s*(!=|=|:)\s*(?:"([^"]*)"|([^\s()]+))\s*\)?\s*(?:AND\s+|$)/y;
  let at = 0;
  while (at < filter.length) {
    re.lastIndex = at;
    const m = re.exec(filter);
    if (!m || m.index !== at || re.lastIndex === at)
      throw invalid("filter", filter, "Invalid list filter expression.");
    const field = m[1]!;
    if (!/^(?:name|family|status|labels\.[a-z][a-z0-9_-]*)$/.test(field))
      throw invalid("filter", filter, `The fake does not model filtering on '${field}'.`);
    terms.push({ field, op: m[2] as Term["op"], value: m[3] ?? m[4]! });
    at = re.lastIndex;
  }
  return terms;
}

function fieldOf(image: FakeImage, field: string): string | undefined {
  if (field.startsWith("labels.")) return image.labels[field.slice(7)];
  if (field === "name") return image.name;
  if (field === "family") return image.family;
  if (field === "status") return image.status;
  return undefined;
}

export function listImages(ctx: ComputeContext, project: string, query: URLSearchParams): Reply {
  requireProject(ctx, project);
  for (const op of ctx.state.operations.values()) ctx.state.refresh(op);
  const filter = query.get("filter");
  const terms = filter === null || filter.trim() === "" ? [] : parseFilter(filter.trim());
  const max = Number(query.get("maxResults") ?? 500);
  if (!Number.isInteger(max) || max < 0 || max > 500)
    throw invalid("maxResults", query.get("maxResults"), "Must be between 0 and 500.");
  const start = Number(query.get("pageToken") ?? 0);
  const matching = [...ctx.state.images.values()]
    .filter((image) =>
      terms.every((t) => {
        const v = fieldOf(image, t.field);
        if (t.op === ":") return v !== undefined && (t.value === "*" || v === t.value);
        return t.op === "=" ? v === t.value : v !== t.value;
      }),
    )
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const page = matching.slice(start, start + (max === 0 ? 500 : max));
  const next = start + page.length < matching.length ? String(start + page.length) : undefined;
  return json(200, {
    kind: "compute#imageList",
    id: `projects/${ctx.project}/global/images`,
    ...(page.length > 0 ? { items: page.map((i) => imageResource(ctx, i)) } : {}),
    ...(next !== undefined ? { nextPageToken: next } : {}),
    selfLink: link(ctx, `projects/${ctx.project}/global/images`),
  });
}

export function getFromFamily(ctx: ComputeContext, project: string, family: string): Reply {
  requireProject(ctx, project);
  for (const op of ctx.state.operations.values()) ctx.state.refresh(op);
  const newest = [...ctx.state.images.values()]
    .filter((i) => i.family === family && i.status === "READY")
    .sort((a, b) => (a.creationTimestamp < b.creationTimestamp ? 1 : -1))[0];
  if (!newest)
    throw new GoogleError(
      404,
      "notFound",
      `The resource 'projects/${ctx.project}/global/images/family/${family}' was not found`,
    );
  return json(200, imageResource(ctx, newest));
}

function findOperation(ctx: ComputeContext, project: string, name: string): FakeOperation {
  requireProject(ctx, project);
  const op = ctx.state.operations.get(name);
  if (!op)
    throw new GoogleError(
      404,
      "notFound",
      `The resource 'projects/${ctx.project}/global/operations/${name}' was not found`,
    );
  return op;
}

export function getOperation(ctx: ComputeContext, project: string, name: string): Reply {
  return json(200, operationResource(ctx, findOperation(ctx, project, name)));
}

/** Holds until the operation is DONE or `waitMaxMs` passed, as GCE's wait (at most 2 minutes). */
export async function waitOperation(
  ctx: ComputeContext,
  project: string,
  name: string,
): Promise<Reply> {
  const op = findOperation(ctx, project, name);
  const deadline = Date.now() + ctx.waitMaxMs;
  while (ctx.state.status(op) !== "DONE" && Date.now() < deadline) await sleep(10);
  return json(200, operationResource(ctx, op));
}
