/**
 * The fake's handlers of Shared Image Gallery image definitions (read only: tests make them with
 * `state.addDefinition`) and image versions (PUT, GET, DELETE, as long-running operations).
 */
import {
  ArmError,
  invalid,
  isObject,
  LOCATIONS,
  lroHeaders,
  oneOf,
  parseTags,
  resourceGroupOf,
  sameJson,
  startOperation,
  type ArmFakeState,
  type FakeTracked,
  type ImagesContext,
  type OperationFailure,
  type Reply,
} from "./images";

/** Compute's API versions for galleries (others are refused). */
export const GALLERY_API_VERSIONS = [
  "2022-03-03",
  "2022-08-03",
  "2023-07-03",
  "2024-03-03",
  "2025-03-03",
] as const;

const VERSION_NAME = /^(\d{1,10})\.(\d{1,10})\.(\d{1,10})$/;

/** An image definition as the fake keeps it. */
export interface FakeDefinition {
  readonly gallery: string;
  readonly name: string;
  readonly resourceGroup: string;
  readonly osType: string;
  readonly osState: string;
  /** Absent: V1, as Azure takes a definition made without it. */
  readonly hyperVGeneration?: string;
  readonly architecture?: string;
}

/** An image version as the fake keeps it. */
export interface FakeVersion extends FakeTracked {
  readonly key: string;
  readonly definitionKey: string;
  readonly name: string;
  readonly location: string;
  tags: Record<string, string>;
  readonly sourceId: string;
  targetRegions: { name: string; regionalReplicaCount: number; storageAccountType: string }[];
  excludeFromLatest: boolean;
}

export const galleryKey = (resourceGroup: string, gallery: string) =>
  `${resourceGroup}/${gallery}`.toLowerCase();
export const definitionKey = (resourceGroup: string, gallery: string, definition: string) =>
  `${resourceGroup}/${gallery}/${definition}`.toLowerCase();
export const versionKey = (
  resourceGroup: string,
  gallery: string,
  definition: string,
  version: string,
) => `${resourceGroup}/${gallery}/${definition}/${version}`.toLowerCase();

/** Makes a gallery (in the resource group's location) and an image definition in it. */
export function addDefinition(
  state: ArmFakeState,
  definition: Omit<FakeDefinition, "osType" | "osState"> &
    Partial<Pick<FakeDefinition, "osType" | "osState">>,
): void {
  const group = state.resourceGroups.get(definition.resourceGroup.toLowerCase());
  if (group === undefined) throw new Error(`no resource group ${definition.resourceGroup}`);
  state.galleries.set(galleryKey(definition.resourceGroup, definition.gallery), {
    name: definition.gallery,
    location: group.location,
  });
  state.definitions.set(
    definitionKey(definition.resourceGroup, definition.gallery, definition.name),
    { osType: "Linux", osState: "Generalized", ...definition },
  );
}

export interface GalleryPath {
  readonly resourceGroup: string;
  readonly gallery: string;
  readonly definition: string;
}

const base = (ctx: ImagesContext, p: GalleryPath) =>
  `/subscriptions/${ctx.subscription}/resourceGroups/${p.resourceGroup}/providers/Microsoft.Compute/galleries/${p.gallery}/images/${p.definition}`;

function definitionOf(ctx: ImagesContext, p: GalleryPath): FakeDefinition {
  resourceGroupOf(ctx, p.resourceGroup);
  if (!ctx.state.galleries.has(galleryKey(p.resourceGroup, p.gallery)))
    throw new ArmError(
      404,
      "ResourceNotFound",
      `The Resource 'Microsoft.Compute/galleries/${p.gallery}' under resource group '${p.resourceGroup}' was not found.`,
    );
  const found = ctx.state.definitions.get(definitionKey(p.resourceGroup, p.gallery, p.definition));
  if (found === undefined)
    throw new ArmError(
      404,
      "ResourceNotFound",
      `The Resource 'Microsoft.Compute/galleries/${p.gallery}/images/${p.definition}' under resource group '${p.resourceGroup}' was not found.`,
    );
  return found;
}

export function getDefinition(ctx: ImagesContext, p: GalleryPath): Reply {
  const d = definitionOf(ctx, p);
  const gallery = ctx.state.galleries.get(galleryKey(p.resourceGroup, p.gallery))!;
  return {
    status: 200,
    body: {
      id: base(ctx, p),
      name: d.name,
      type: "Microsoft.Compute/galleries/images",
      location: gallery.location,
      properties: {
        osType: d.osType,
        osState: d.osState,
        ...(d.hyperVGeneration !== undefined && { hyperVGeneration: d.hyperVGeneration }),
        ...(d.architecture !== undefined && { architecture: d.architecture }),
        identifier: { publisher: "oskit", offer: d.gallery, sku: d.name },
        provisioningState: "Succeeded",
      },
    },
  };
}

function versionJson(ctx: ImagesContext, p: GalleryPath, v: FakeVersion): Record<string, unknown> {
  return {
    id: `${base(ctx, p)}/versions/${v.name}`,
    name: v.name,
    type: "Microsoft.Compute/galleries/images/versions",
    location: v.location,
    tags: { ...v.tags },
    properties: {
      publishingProfile: {
        targetRegions: v.targetRegions.map((r) => ({ ...r })),
        excludeFromLatest: v.excludeFromLatest,
        replicaCount: 1,
      },
      storageProfile: { source: { id: v.sourceId }, osDiskImage: { hostCaching: "ReadWrite" } },
      provisioningState: v.provisioningState,
    },
  };
}

/** The managed image a source id names, parsed: its resource group and name, or undefined. */
function imageOf(ctx: ImagesContext, id: string) {
  const m =
    /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Compute\/images\/([^/]+)$/i.exec(
      id,
    );
  if (m === null || m[1]!.toLowerCase() !== ctx.subscription.toLowerCase()) return undefined;
  return ctx.state.image(m[2]!, m[3]!);
}

/** PUT: 201 and an operation for a new version (or one that failed), 200 for an update of tags or regions. */
export function putVersion(
  ctx: ImagesContext,
  p: GalleryPath,
  name: string,
  body: Buffer,
  failure: OperationFailure | undefined,
): Reply {
  const definition = definitionOf(ctx, p);
  const m = VERSION_NAME.exec(name);
  if (m === null || m.slice(1).some((n) => Number(n) > 2 ** 31 - 1))
    throw new ArmError(
      400,
      "InvalidParameter",
      `The gallery image version name '${name}' is invalid. It must follow the pattern Major(int32).Minor(int32).Patch(int32).`,
      "galleryImageVersionName",
    );
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
    throw new ArmError(400, "InvalidRequestContent", "The request content was invalid.");
  const gallery = ctx.state.galleries.get(galleryKey(p.resourceGroup, p.gallery))!;
  if (typeof json.location !== "string" || json.location === "")
    throw new ArmError(400, "LocationRequired", "The location property is required.");
  const location = json.location.toLowerCase().replace(/\s+/g, "");
  if (location !== gallery.location)
    throw invalid(
      "location",
      `The gallery image version must be in the gallery's location '${gallery.location}', not '${json.location}'.`,
    );
  const tags = parseTags(json.tags);
  const properties = json.properties;
  if (!isObject(properties) || !isObject(properties.storageProfile))
    throw invalid(
      "properties.storageProfile",
      "Required parameter 'storageProfile' is missing (null).",
    );
  const source = properties.storageProfile.source;
  if (!isObject(source) || typeof source.id !== "string")
    throw invalid(
      "properties.storageProfile.source.id",
      "The fake makes versions from managed images only: storageProfile.source.id is required.",
    );
  const image = imageOf(ctx, source.id);
  if (image === undefined || image.provisioningState !== "Succeeded")
    throw new ArmError(
      404,
      "NotFound",
      `The source image '${source.id}' was not found or is not ready.`,
      "properties.storageProfile.source.id",
    );
  const defined = definition.hyperVGeneration ?? "V1";
  if (image.properties.hyperVGeneration !== defined)
    throw invalid(
      "properties.storageProfile.source.id",
      `The source image's Hyper-V generation ${image.properties.hyperVGeneration} does not match the gallery image's ${defined}.`,
    );
  if (String(image.properties.storageProfile.osDisk.osState) !== definition.osState)
    throw invalid(
      "properties.storageProfile.source.id",
      `The source image is ${String(image.properties.storageProfile.osDisk.osState)} but the gallery image is ${definition.osState}.`,
    );
  const profile = isObject(properties.publishingProfile) ? properties.publishingProfile : {};
  const regionsRaw = profile.targetRegions ?? [{ name: location }];
  if (!Array.isArray(regionsRaw) || regionsRaw.length === 0)
    throw invalid(
      "publishingProfile.targetRegions",
      "targetRegions must be a non-empty list of regions.",
    );
  const targetRegions = regionsRaw.map((r: unknown, i: number) => {
    if (!isObject(r) || typeof r.name !== "string")
      throw invalid(`publishingProfile.targetRegions[${i}].name`, "A region's name is required.");
    const region = r.name.toLowerCase().replace(/\s+/g, "");
    if (!(LOCATIONS as readonly string[]).includes(region))
      throw invalid(
        `publishingProfile.targetRegions[${i}].name`,
        `The region '${r.name}' is not available.`,
      );
    const count = r.regionalReplicaCount ?? 1;
    if (typeof count !== "number" || !Number.isInteger(count) || count < 1 || count > 100)
      throw invalid(
        `publishingProfile.targetRegions[${i}].regionalReplicaCount`,
        "regionalReplicaCount must be 1 to 100.",
      );
    return {
      name: region,
      regionalReplicaCount: count,
      storageAccountType:
        r.storageAccountType === undefined
          ? "Standard_LRS"
          : oneOf(
              r.storageAccountType,
              ["Standard_LRS", "Standard_ZRS", "Premium_LRS"],
              `publishingProfile.targetRegions[${i}].storageAccountType`,
            ),
    };
  });
  if (!targetRegions.some((r) => r.name === gallery.location))
    throw invalid(
      "publishingProfile.targetRegions",
      `The target regions must include the gallery image version's region '${gallery.location}'.`,
    );
  const excludeFromLatest = profile.excludeFromLatest === true;

  ctx.state.settleAll();
  const k = versionKey(p.resourceGroup, p.gallery, p.definition, name);
  const existing = ctx.state.versions.get(k);
  if (existing !== undefined && existing.provisioningState !== "Failed") {
    if (existing.sourceId.toLowerCase() !== source.id.toLowerCase())
      throw new ArmError(
        409,
        "PropertyChangeNotAllowed",
        "Changing property 'galleryImageVersion.properties.storageProfile.source.id' is not allowed.",
        "galleryImageVersion.properties.storageProfile.source.id",
      );
    if (existing.provisioningState === "Deleting")
      throw new ArmError(409, "OperationNotAllowed", `Version '${name}' is being deleted.`);
    existing.tags = tags;
    if (!sameJson(existing.targetRegions, targetRegions)) existing.targetRegions = targetRegions;
    existing.excludeFromLatest = excludeFromLatest;
    if (existing.provisioningState === "Creating") {
      const op = ctx.state.operations.get(existing.operation)!;
      return { status: 201, headers: lroHeaders(ctx, op), body: versionJson(ctx, p, existing) };
    }
    return { status: 200, body: versionJson(ctx, p, existing) };
  }
  const op = startOperation(
    ctx,
    "create",
    {
      collection: "versions",
      key: k,
      render: () => versionJson(ctx, p, ctx.state.versions.get(k)!),
    },
    location,
    failure,
  );
  const version: FakeVersion = {
    key: k,
    definitionKey: definitionKey(p.resourceGroup, p.gallery, p.definition),
    name,
    location,
    tags,
    sourceId: source.id,
    targetRegions,
    excludeFromLatest,
    provisioningState: "Creating",
    operation: op.id,
  };
  ctx.state.versions.set(k, version);
  ctx.state.settleAll();
  return { status: 201, headers: lroHeaders(ctx, op), body: versionJson(ctx, p, version) };
}

export function getVersion(ctx: ImagesContext, p: GalleryPath, name: string): Reply {
  definitionOf(ctx, p);
  ctx.state.settleAll();
  const v = ctx.state.versions.get(versionKey(p.resourceGroup, p.gallery, p.definition, name));
  if (v === undefined)
    throw new ArmError(
      404,
      "ResourceNotFound",
      `The Resource 'Microsoft.Compute/galleries/${p.gallery}/images/${p.definition}/versions/${name}' under resource group '${p.resourceGroup}' was not found.`,
    );
  return { status: 200, body: versionJson(ctx, p, v) };
}

/** DELETE: 202 and an operation; 204 when there is no such version. */
export function deleteVersion(
  ctx: ImagesContext,
  p: GalleryPath,
  name: string,
  failure: OperationFailure | undefined,
): Reply {
  definitionOf(ctx, p);
  ctx.state.settleAll();
  const k = versionKey(p.resourceGroup, p.gallery, p.definition, name);
  const v = ctx.state.versions.get(k);
  if (v === undefined) return { status: 204 };
  if (v.provisioningState === "Deleting")
    return { status: 202, headers: lroHeaders(ctx, ctx.state.operations.get(v.operation)!) };
  const op = startOperation(
    ctx,
    "delete",
    { collection: "versions", key: k, render: () => ({}) },
    v.location,
    failure,
  );
  v.provisioningState = "Deleting";
  v.operation = op.id;
  ctx.state.settleAll();
  return { status: 202, headers: lroHeaders(ctx, op) };
}
