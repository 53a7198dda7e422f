/**
 * The fake's state (resource groups, images, gallery image definitions and versions, operations)
 * and its handlers of Microsoft.Compute/images; galleries.ts has the galleries' handlers.
 */
import { randomUUID } from "node:crypto";
import type { FakeDefinition, FakeVersion } from "./galleries";

/** Compute's API versions the fake knows for images and operations (others are refused). */
export const COMPUTE_API_VERSIONS = [
  "2022-03-01",
  "2022-08-01",
  "2022-11-01",
  "2023-03-01",
  "2023-07-01",
  "2023-09-01",
  "2024-03-01",
  "2024-07-01",
  "2024-11-01",
] as const;

/** Regions images may be made in. */
export const LOCATIONS = ["eastus", "westus2", "westeurope", "northeurope", "uksouth"] as const;

/** Image names: 1–80 of letters, digits, `_`, `-`, `.`; a letter or digit first, a letter, digit or `_` last. */
export const IMAGE_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,78}[A-Za-z0-9_])?$/;

/** A blob URI Compute reads: `https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB`. */
export const BLOB_URI =
  /^https:\/\/[a-z0-9]{3,24}\.blob\.core\.windows\.net\/[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}\/[^?#]+$/;

const OS_TYPES = ["Linux", "Windows"];
const OS_STATES = ["Generalized", "Specialized"];
const GENERATIONS = ["V1", "V2"];
const STORAGE_TYPES = [
  "Standard_LRS",
  "Premium_LRS",
  "StandardSSD_LRS",
  "UltraSSD_LRS",
  "Premium_ZRS",
  "StandardSSD_ZRS",
  "PremiumV2_LRS",
];

/** An error a handler throws; rendered as ARM's `{"error":{"code","message","target"?,"details":[]}}`. */
export class ArmError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly target?: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }

  body(): Record<string, unknown> {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.target !== undefined && { target: this.target }),
        details: [],
      },
    };
  }
}

export interface Reply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
}

export const errorReply = (error: ArmError): Reply => ({
  status: error.status,
  headers: { "content-type": "application/json; charset=utf-8", ...error.headers },
  body: error.body(),
});

/** An image as the fake keeps it. */
export interface FakeImage extends FakeTracked {
  readonly name: string;
  readonly resourceGroup: string;
  readonly location: string;
  tags: Record<string, string>;
  readonly properties: {
    readonly storageProfile: { readonly osDisk: Record<string, unknown> };
    readonly hyperVGeneration: string;
  };
  provisioningState: "Creating" | "Succeeded" | "Failed" | "Deleting";
  /** The operation under way or last finished. */
  operation: string;
}

/** A resource with a long-running operation: a managed image or a gallery image version. */
export interface FakeTracked {
  provisioningState: "Creating" | "Succeeded" | "Failed" | "Deleting";
  /** The operation under way or last finished. */
  operation: string;
}

/** The collections operations act on. */
export type FakeCollection = "images" | "versions";

/** A long-running operation: InProgress until `doneAt`, then Succeeded or Failed. */
export interface FakeOperation {
  readonly id: string;
  readonly kind: "create" | "delete";
  readonly location: string;
  readonly collection: FakeCollection;
  /** The resource's key in its collection. */
  readonly key: string;
  /** The resource as ARM answers it, for a Location poll once it is done. */
  readonly render: () => Record<string, unknown>;
  readonly startedAt: number;
  readonly doneAt: number;
  /** Set when the operation ends Failed. */
  readonly error?: { readonly code: string; readonly message: string; readonly status: number };
  /** Applied once when it ends. */
  settled: boolean;
}

/** One request the fake answered. */
export interface FakeCall {
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly operation: string;
  readonly apiVersion: string | undefined;
  readonly status: number;
  readonly code?: string;
  readonly fault?: string;
}

/** Settings tests may change while the fake runs. */
export interface ArmFakeSettings {
  /** From a PUT or DELETE to the operation's end. */
  operationDelayMs: number;
  /** Sent as Retry-After with 201/202 and in-progress polls, when set. */
  retryAfterSeconds: number | undefined;
}

export class ArmFakeState {
  readonly startedAt = Date.now();
  readonly calls: FakeCall[] = [];
  /** Resource groups by lowercased name: the name as created and its location. */
  readonly resourceGroups = new Map<string, { name: string; location: string }>();
  /** Images by `rg/name`, lowercased (ARM's names are case-insensitive). */
  readonly images = new Map<string, FakeImage>();
  /** Gallery image definitions by `rg/gallery/definition`, lowercased. */
  readonly definitions = new Map<string, FakeDefinition>();
  /** Gallery image versions by `rg/gallery/definition/version`, lowercased. */
  readonly versions = new Map<string, FakeVersion>();
  /** Galleries' locations by `rg/gallery`, lowercased. */
  readonly galleries = new Map<string, { name: string; location: string }>();
  readonly operations = new Map<string, FakeOperation>();

  constructor(readonly settings: ArmFakeSettings) {}

  addResourceGroup(name: string, location = "westeurope"): void {
    this.resourceGroups.set(name.toLowerCase(), { name, location });
  }

  image(resourceGroup: string, name: string): FakeImage | undefined {
    this.settleAll();
    return this.images.get(key(resourceGroup, name));
  }

  /** Applies the end of every operation whose time has come. */
  settleAll(now = Date.now()): void {
    for (const op of this.operations.values()) {
      if (op.settled || now < op.doneAt) continue;
      op.settled = true;
      const collection: Map<string, FakeTracked> = this[op.collection];
      const resource = collection.get(op.key);
      if (resource === undefined || resource.operation !== op.id) continue;
      if (op.kind === "delete") {
        if (op.error === undefined) collection.delete(op.key);
        else resource.provisioningState = "Failed";
      } else resource.provisioningState = op.error === undefined ? "Succeeded" : "Failed";
    }
  }
}

const key = (resourceGroup: string, name: string) =>
  `${resourceGroup.toLowerCase()}/${name.toLowerCase()}`;

export interface ImagesContext {
  readonly state: ArmFakeState;
  readonly endpoint: string;
  readonly subscription: string;
  readonly apiVersion: string;
}

/** A fault that makes the operation end Failed. */
export interface OperationFailure {
  readonly code?: string;
  readonly message?: string;
  /** The status a Location poll answers with. @default 400 */
  readonly status?: number;
}

const imageId = (ctx: ImagesContext, image: FakeImage) =>
  `/subscriptions/${ctx.subscription}/resourceGroups/${ctx.state.resourceGroups.get(image.resourceGroup.toLowerCase())?.name ?? image.resourceGroup}/providers/Microsoft.Compute/images/${image.name}`;

/** The image as ARM answers it. */
export function imageJson(ctx: ImagesContext, image: FakeImage): Record<string, unknown> {
  return {
    name: image.name,
    id: imageId(ctx, image),
    type: "Microsoft.Compute/images",
    location: image.location,
    tags: { ...image.tags },
    properties: {
      storageProfile: {
        osDisk: { ...image.properties.storageProfile.osDisk, caching: "ReadWrite" },
        dataDisks: [],
        zoneResilient: false,
      },
      provisioningState: image.provisioningState,
      hyperVGeneration: image.properties.hyperVGeneration,
    },
  };
}

export function resourceGroupOf(ctx: ImagesContext, resourceGroup: string): void {
  if (!ctx.state.resourceGroups.has(resourceGroup.toLowerCase()))
    throw new ArmError(
      404,
      "ResourceGroupNotFound",
      `Resource group '${resourceGroup}' could not be found.`,
    );
}

function notFound(resourceGroup: string, name: string): ArmError {
  return new ArmError(
    404,
    "ResourceNotFound",
    `The Resource 'Microsoft.Compute/images/${name}' under resource group '${resourceGroup}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix`,
  );
}

export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

export function invalid(target: string, message: string): ArmError {
  return new ArmError(400, "InvalidParameter", message, target);
}

export function oneOf(value: unknown, allowed: readonly string[], target: string): string {
  // ARM reads enumerations case-insensitively and answers them in their own case.
  const found = allowed.find(
    (a) => typeof value === "string" && a.toLowerCase() === value.toLowerCase(),
  );
  if (found === undefined)
    throw invalid(
      target,
      `The value '${String(value)}' of parameter '${target}' is not allowed. Allowed values are '${allowed.join("', '")}'.`,
    );
  return found;
}

/** Tags checked as ARM checks them. */
export function parseTags(raw: unknown): Record<string, string> {
  const tags: Record<string, string> = {};
  if (raw === undefined) return tags;
  if (!isObject(raw))
    throw new ArmError(400, "InvalidRequestContent", "tags: expected an object of strings.");
  const entries = Object.entries(raw);
  if (entries.length > 50)
    throw new ArmError(
      400,
      "InvalidTagCount",
      `The resource has ${entries.length} tags; at most 50 are allowed.`,
    );
  for (const [name, value] of entries) {
    if (name.length === 0 || name.length > 512)
      throw new ArmError(
        400,
        "InvalidTagNameLength",
        `The tag name '${name}' has ${name.length} characters; 1 to 512 are allowed.`,
      );
    if (/[<>%&\\?/]/.test(name))
      throw new ArmError(
        400,
        "InvalidTagNameCharacters",
        `The tag name '${name}' has characters that are not allowed: '<,>,%,&,\\,?,/'.`,
      );
    if (typeof value !== "string" || value.length > 256)
      throw new ArmError(
        400,
        "InvalidTagValueLength",
        `The value of tag '${name}' must be a string of at most 256 characters.`,
      );
    tags[name] = value;
  }
  return tags;
}

/** The body checked as Compute checks it; the image's location, tags and properties. */
function parseBody(body: Buffer): {
  location: string;
  tags: Record<string, string>;
  osDisk: Record<string, unknown>;
  hyperVGeneration: string;
} {
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch (error) {
    throw new ArmError(
      400,
      "InvalidRequestContent",
      `The request content was invalid and could not be deserialized: '${(error as Error).message}'.`,
    );
  }
  if (!isObject(json))
    throw new ArmError(
      400,
      "InvalidRequestContent",
      "The request content was invalid: not an object.",
    );
  if (typeof json.location !== "string" || json.location === "")
    throw new ArmError(
      400,
      "LocationRequired",
      "The location property is required for this definition.",
    );
  const location = json.location.toLowerCase().replace(/\s+/g, "");
  if (!(LOCATIONS as readonly string[]).includes(location))
    throw new ArmError(
      400,
      "LocationNotAvailableForResourceType",
      `The provided location '${json.location}' is not available for resource type 'Microsoft.Compute/images'. List of available regions for the resource type is '${LOCATIONS.join(",")}'.`,
    );
  const tags = parseTags(json.tags);
  const properties = json.properties;
  if (!isObject(properties) || !isObject(properties.storageProfile))
    throw invalid(
      "properties.storageProfile",
      "Required parameter 'storageProfile' is missing (null).",
    );
  if (properties.sourceVirtualMachine !== undefined)
    throw invalid("properties.sourceVirtualMachine", "The fake makes images from blobs only.");
  const disk = properties.storageProfile.osDisk;
  if (!isObject(disk)) throw invalid("osDisk", "Required parameter 'osDisk' is missing (null).");
  const osType = oneOf(disk.osType, OS_TYPES, "osDisk.osType");
  const osState = oneOf(disk.osState, OS_STATES, "osDisk.osState");
  if (disk.managedDisk !== undefined || disk.snapshot !== undefined)
    throw invalid("osDisk", "The fake makes images from blobs only (blobUri).");
  if (typeof disk.blobUri !== "string" || disk.blobUri === "")
    throw invalid("osDisk.blobUri", "Required parameter 'blobUri' is missing (null).");
  if (!BLOB_URI.test(disk.blobUri))
    throw invalid(
      "osDisk.blobUri",
      `The blob URI '${disk.blobUri}' is not one Compute reads: expected https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB (the fake's wording).`,
    );
  const osDisk: Record<string, unknown> = {
    osType,
    osState,
    blobUri: disk.blobUri,
    storageAccountType:
      disk.storageAccountType === undefined
        ? "Standard_LRS"
        : oneOf(disk.storageAccountType, STORAGE_TYPES, "osDisk.storageAccountType"),
  };
  if (disk.diskSizeGB !== undefined) {
    if (
      typeof disk.diskSizeGB !== "number" ||
      !Number.isInteger(disk.diskSizeGB) ||
      disk.diskSizeGB < 1 ||
      disk.diskSizeGB > 4095
    )
      throw invalid(
        "osDisk.diskSizeGB",
        `The value '${JSON.stringify(disk.diskSizeGB)}' of diskSizeGB is invalid: 1 to 4095.`,
      );
    osDisk.diskSizeGB = disk.diskSizeGB;
  }
  const hyperVGeneration =
    properties.hyperVGeneration === undefined
      ? "V1"
      : oneOf(properties.hyperVGeneration, GENERATIONS, "properties.hyperVGeneration");
  return { location, tags, osDisk, hyperVGeneration };
}

/** Azure-AsyncOperation and Location of an operation, and Retry-After when set. */
export function lroHeaders(ctx: ImagesContext, op: FakeOperation): Record<string, string> {
  const base = `${ctx.endpoint}/subscriptions/${ctx.subscription}/providers/Microsoft.Compute/locations/${op.location}/operations/${op.id}`;
  return {
    "azure-asyncoperation": `${base}?p=${op.id.slice(0, 8)}&api-version=${ctx.apiVersion}`,
    location: `${base}?p=${op.id.slice(0, 8)}&monitor=true&api-version=${ctx.apiVersion}`,
    ...(ctx.state.settings.retryAfterSeconds !== undefined && {
      "retry-after": String(ctx.state.settings.retryAfterSeconds),
    }),
  };
}

export function startOperation(
  ctx: ImagesContext,
  kind: FakeOperation["kind"],
  target: Pick<FakeOperation, "collection" | "key" | "render">,
  location: string,
  failure: OperationFailure | undefined,
): FakeOperation {
  const now = Date.now();
  const op: FakeOperation = {
    id: randomUUID(),
    kind,
    location,
    ...target,
    startedAt: now,
    doneAt: now + ctx.state.settings.operationDelayMs,
    ...(failure !== undefined && {
      error: {
        code: failure.code ?? "InternalOperationError",
        message: failure.message ?? "The operation failed.",
        status: failure.status ?? 400,
      },
    }),
    settled: false,
  };
  ctx.state.operations.set(op.id, op);
  return op;
}

export const sameJson = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

/** An image as an operation's target. */
const imageTarget = (ctx: ImagesContext, k: string) => ({
  collection: "images" as const,
  key: k,
  render: () => imageJson(ctx, ctx.state.images.get(k)!),
});

/** PUT: 201 and an operation for a new image (or one that failed), 200 for a tags-only update. */
export function putImage(
  ctx: ImagesContext,
  resourceGroup: string,
  name: string,
  body: Buffer,
  failure: OperationFailure | undefined,
): Reply {
  resourceGroupOf(ctx, resourceGroup);
  if (!IMAGE_NAME.test(name))
    throw new ArmError(
      400,
      "InvalidResourceName",
      `Resource name ${name} is invalid. The name can be up to 80 characters long. It must begin with a word character, and it must end with a word character or with '_'. The name may contain word characters or '.', '-', '_'.`,
    );
  const parsed = parseBody(body);
  ctx.state.settleAll();
  const k = key(resourceGroup, name);
  const existing = ctx.state.images.get(k);
  const properties = {
    storageProfile: { osDisk: parsed.osDisk },
    hyperVGeneration: parsed.hyperVGeneration,
  };
  if (existing !== undefined && existing.location !== parsed.location)
    throw new ArmError(
      400,
      "InvalidResourceLocation",
      `The resource '${existing.name}' already exists in location '${existing.location}' in resource group '${resourceGroup}'. A resource with the same name cannot be created in location '${parsed.location}'. Please select a new resource name.`,
    );
  if (existing !== undefined && existing.provisioningState !== "Failed") {
    for (const [field, before, after] of [
      ["osDisk", existing.properties.storageProfile.osDisk, parsed.osDisk],
      ["hyperVGeneration", existing.properties.hyperVGeneration, parsed.hyperVGeneration],
    ] as const)
      if (!sameJson(before, after))
        throw new ArmError(
          409,
          "PropertyChangeNotAllowed",
          `Changing property '${field}' is not allowed.`,
          field,
        );
    if (existing.provisioningState === "Deleting")
      throw new ArmError(409, "OperationNotAllowed", `Image '${existing.name}' is being deleted.`);
    existing.tags = parsed.tags;
    if (existing.provisioningState === "Creating") {
      // A repeated PUT while the first runs: the same operation.
      const op = ctx.state.operations.get(existing.operation)!;
      return { status: 201, headers: lroHeaders(ctx, op), body: imageJson(ctx, existing) };
    }
    return { status: 200, body: imageJson(ctx, existing) };
  }
  const op = startOperation(ctx, "create", imageTarget(ctx, k), parsed.location, failure);
  const image: FakeImage = {
    name: existing?.name ?? name,
    resourceGroup,
    location: parsed.location,
    tags: parsed.tags,
    properties,
    provisioningState: "Creating",
    operation: op.id,
  };
  ctx.state.images.set(k, image);
  ctx.state.settleAll();
  return { status: 201, headers: lroHeaders(ctx, op), body: imageJson(ctx, image) };
}

export function getImage(ctx: ImagesContext, resourceGroup: string, name: string): Reply {
  resourceGroupOf(ctx, resourceGroup);
  const image = ctx.state.image(resourceGroup, name);
  if (image === undefined) throw notFound(resourceGroup, name);
  return { status: 200, body: imageJson(ctx, image) };
}

export function listImages(ctx: ImagesContext, resourceGroup: string): Reply {
  resourceGroupOf(ctx, resourceGroup);
  ctx.state.settleAll();
  const value = [...ctx.state.images.values()]
    .filter((i) => i.resourceGroup.toLowerCase() === resourceGroup.toLowerCase())
    .map((i) => imageJson(ctx, i));
  return { status: 200, body: { value } };
}

/** DELETE: 202 and an operation; 204 when there is no such image. */
export function deleteImage(
  ctx: ImagesContext,
  resourceGroup: string,
  name: string,
  failure: OperationFailure | undefined,
): Reply {
  resourceGroupOf(ctx, resourceGroup);
  const image = ctx.state.image(resourceGroup, name);
  if (image === undefined) return { status: 204 };
  if (image.provisioningState === "Deleting")
    return { status: 202, headers: lroHeaders(ctx, ctx.state.operations.get(image.operation)!) };
  const op = startOperation(
    ctx,
    "delete",
    imageTarget(ctx, key(resourceGroup, name)),
    image.location,
    failure,
  );
  image.provisioningState = "Deleting";
  image.operation = op.id;
  ctx.state.settleAll();
  return { status: 202, headers: lroHeaders(ctx, op) };
}

/**
 * An operation's status: through Azure-AsyncOperation `{ name, status, startTime, endTime?, error? }`;
 * through Location (`monitor=true`) 202 while in progress, then the image (200) or 204 for a
 * delete, or the error with its status when the operation failed.
 */
export function getOperation(ctx: ImagesContext, id: string, monitor: boolean): Reply {
  ctx.state.settleAll();
  const op = ctx.state.operations.get(id);
  if (op === undefined) throw new ArmError(404, "NotFound", `The operation '${id}' was not found.`);
  const done = op.settled;
  const status = !done ? "InProgress" : op.error === undefined ? "Succeeded" : "Failed";
  const retry: Record<string, string> =
    !done && ctx.state.settings.retryAfterSeconds !== undefined
      ? { "retry-after": String(ctx.state.settings.retryAfterSeconds) }
      : {};
  if (monitor) {
    if (!done) return { status: 202, headers: { ...lroHeaders(ctx, op), ...retry } };
    if (op.error !== undefined)
      throw new ArmError(op.error.status, op.error.code, op.error.message);
    if (op.kind === "delete" || !ctx.state[op.collection].has(op.key)) return { status: 204 };
    return { status: 200, body: op.render() };
  }
  return {
    status: 200,
    headers: retry,
    body: {
      name: op.id,
      status,
      startTime: new Date(op.startedAt).toISOString(),
      ...(done && { endTime: new Date(op.doneAt).toISOString() }),
      ...(done &&
        op.error !== undefined && {
          error: { code: op.error.code, message: op.error.message, details: [] },
        }),
    },
  };
}
