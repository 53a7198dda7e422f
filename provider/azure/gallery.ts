/**
 * A Shared Image Gallery image version from a managed image: the gallery and its image definition
 * exist already (made once, by the user or their stack), and the definition must be able to hold
 * an oskit system (Linux, Generalized, the disk's Hyper-V generation) — checked before the version
 * is asked for, since Azure's own refusal comes only at the end of a long operation. The version
 * is tagged with the artifact's digest and owner like the managed image, created with PUT and
 * followed to its end, deleted likewise.
 */
import { armRequest, followLro, type ArmClient, type LroOptions } from "./arm";
import { ownerTag, TAG, type HyperVGeneration, type StorageAccountType } from "./register";

/** The Compute API version oskit speaks for galleries. */
export const GALLERY_API_VERSION = "2024-03-03";

/** Gallery names (Compute's pattern `^[^_\W][\w-._]{0,79}(?<!-)$`): a letter or digit first, no `-` last. */
export const GALLERY_NAME = /^[A-Za-z0-9][-\w.]{0,79}(?<!-)$/;

/** Image definition names: letters, digits, `-`, `_`, `.`, 1–80, a letter or digit first and last. */
export const DEFINITION_NAME = /^[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,78}[A-Za-z0-9])?$/;

/** Versions are MAJOR.MINOR.PATCH, each a 32-bit integer. */
export const VERSION_NAME = /^(\d{1,10})\.(\d{1,10})\.(\d{1,10})$/;

/** Where the version goes in a gallery. */
export interface GalleryTarget {
  readonly subscription: string;
  readonly resourceGroup: string;
  readonly gallery: string;
  /** The image definition (`galleries/G/images/D`). */
  readonly definition: string;
  /** `MAJOR.MINOR.PATCH`. */
  readonly version: string;
}

/** A region the version is replicated to. */
export interface TargetRegion {
  /** The region, e.g. northeurope. */
  readonly name: string;
  /** Replicas in the region (more serve more VMs made at once). @default 1 */
  readonly regionalReplicaCount?: number;
  /** How the replicas are stored. @default Standard_LRS */
  readonly storageAccountType?: StorageAccountType | "Standard_ZRS";
}

export interface GalleryVersionOptions extends GalleryTarget, LroOptions {
  /** The version's home region (the gallery's). */
  readonly location: string;
  /** The managed image it is made from (its ARM id). */
  readonly sourceImageId: string;
  readonly generation: HyperVGeneration;
  readonly digest: string;
  readonly owner: string;
  readonly format?: string;
  /** @default the home region alone */
  readonly targetRegions?: readonly TargetRegion[];
  /** Keep VMs that ask for `latest` on the version before. @default false */
  readonly excludeFromLatest?: boolean;
  readonly tags?: Readonly<Record<string, string>>;
  /** @default GALLERY_API_VERSION */
  readonly apiVersion?: string;
}

/** What ARM says of an image definition (the fields oskit reads). */
export interface GalleryImageDefinition {
  readonly id: string;
  readonly properties: {
    readonly osType?: string;
    readonly osState?: string;
    readonly hyperVGeneration?: HyperVGeneration;
    readonly architecture?: string;
  };
}

/** What ARM says of a gallery image version (the fields oskit reads). */
export interface GalleryImageVersion {
  readonly id: string;
  readonly name: string;
  readonly location: string;
  readonly tags?: Readonly<Record<string, string>>;
  readonly properties: {
    readonly provisioningState?: string;
    readonly storageProfile?: { readonly source?: { readonly id?: string } };
  };
}

const segment = encodeURIComponent;

/** The image definition's path under ARM's root. */
export const definitionPath = (t: Omit<GalleryTarget, "version">) =>
  `/subscriptions/${segment(t.subscription)}/resourceGroups/${segment(t.resourceGroup)}/providers/Microsoft.Compute/galleries/${segment(t.gallery)}/images/${segment(t.definition)}`;

/** The version's path under ARM's root. */
export const versionPath = (t: GalleryTarget) =>
  `${definitionPath(t)}/versions/${segment(t.version)}`;

/** What is wrong with a target's names, one line each. */
export function galleryTargetProblems(t: Partial<GalleryTarget>): string[] {
  const problems: string[] = [];
  if (t.gallery === undefined || !GALLERY_NAME.test(t.gallery))
    problems.push(
      `gallery ${JSON.stringify(t.gallery)}: expected 1–80 letters, digits, _ - . starting with a letter or digit, not ending with -`,
    );
  if (t.definition === undefined || !DEFINITION_NAME.test(t.definition))
    problems.push(
      `image definition ${JSON.stringify(t.definition)}: expected 1–80 letters, digits, - _ . starting and ending with a letter or digit`,
    );
  const m = VERSION_NAME.exec(t.version ?? "");
  if (m === null || m.slice(1).some((n) => Number(n) > 2 ** 31 - 1))
    problems.push(
      `version ${JSON.stringify(t.version)}: expected MAJOR.MINOR.PATCH of whole numbers below 2^31, e.g. 1.0.0`,
    );
  return problems;
}

/** The PUT body. */
export function versionBody(options: GalleryVersionOptions): Record<string, unknown> {
  return {
    location: options.location,
    tags: {
      ...options.tags,
      [TAG.digest]: options.digest,
      [TAG.owner]: ownerTag(options.owner),
      ...(options.format !== undefined && { [TAG.format]: options.format }),
    },
    properties: {
      publishingProfile: {
        targetRegions: (options.targetRegions ?? [{ name: options.location }]).map((r) => ({
          name: r.name,
          regionalReplicaCount: r.regionalReplicaCount ?? 1,
          ...(r.storageAccountType !== undefined && { storageAccountType: r.storageAccountType }),
        })),
        excludeFromLatest: options.excludeFromLatest ?? false,
      },
      storageProfile: { source: { id: options.sourceImageId } },
    },
  };
}

/** True when the version is this owner's of this digest (its tags). */
export const isOwnVersion = (version: GalleryImageVersion, digest: string, owner: string) =>
  version.tags?.[TAG.digest] === digest && version.tags?.[TAG.owner] === ownerTag(owner);

/** The image definition, or undefined when there is none. */
export async function getDefinition(
  client: ArmClient,
  target: Omit<GalleryTarget, "version">,
  apiVersion = GALLERY_API_VERSION,
): Promise<GalleryImageDefinition | undefined> {
  const got = await armRequest<GalleryImageDefinition>(
    client,
    `get image definition ${target.gallery}/${target.definition}`,
    "GET",
    definitionPath(target),
    { apiVersion, notFound: true },
  );
  return got?.body;
}

/** The version, or undefined when there is none. */
export async function getVersion(
  client: ArmClient,
  target: GalleryTarget,
  apiVersion = GALLERY_API_VERSION,
): Promise<GalleryImageVersion | undefined> {
  const got = await armRequest<GalleryImageVersion>(
    client,
    `get gallery image version ${target.gallery}/${target.definition}/${target.version}`,
    "GET",
    versionPath(target),
    { apiVersion, notFound: true },
  );
  return got?.body;
}

/** Why a definition cannot hold this system, or undefined when it can. */
export function definitionProblem(
  definition: GalleryImageDefinition,
  generation: HyperVGeneration,
): string | undefined {
  const p = definition.properties;
  const problems: string[] = [];
  if (p.osType?.toLowerCase() !== "linux") problems.push(`osType is ${p.osType}, not Linux`);
  if (p.osState?.toLowerCase() !== "generalized")
    problems.push(`osState is ${p.osState}, not Generalized (oskit systems are generalized)`);
  // A definition made without hyperVGeneration is V1, as Azure takes it.
  const defined = p.hyperVGeneration ?? "V1";
  if (defined !== generation)
    problems.push(
      `its Hyper-V generation is ${defined} but the disk needs ${generation} (${generation === "V2" ? "UEFI" : "BIOS"}): make a definition with hyperVGeneration ${generation}`,
    );
  if (p.architecture !== undefined && p.architecture.toLowerCase() !== "x64")
    problems.push(`its architecture is ${p.architecture}, not x64`);
  return problems.length === 0 ? undefined : problems.join("; ");
}

/**
 * Creates the version from the managed image and follows the operation to its end (replication
 * included: Azure ends the operation when every target region holds its replicas). An existing
 * version of this owner and digest is kept; one of another digest or owner is refused, since a
 * version's source never changes.
 */
export async function registerGalleryVersion(
  client: ArmClient,
  options: GalleryVersionOptions,
): Promise<GalleryImageVersion> {
  const problems = galleryTargetProblems(options);
  if (problems.length > 0) throw new Error(`gallery image version:\n  ${problems.join("\n  ")}`);
  const apiVersion = options.apiVersion ?? GALLERY_API_VERSION;
  const where = `${options.gallery}/${options.definition}`;
  const definition = await getDefinition(client, options, apiVersion);
  if (definition === undefined)
    throw new Error(
      `gallery image definition ${where} is not there in resource group ${options.resourceGroup}: make the gallery and a definition (Linux, Generalized, hyperVGeneration ${options.generation}) first`,
    );
  const problem = definitionProblem(definition, options.generation);
  if (problem !== undefined)
    throw new Error(`gallery image definition ${where} cannot hold this system: ${problem}`);

  const what = `create gallery image version ${where}/${options.version}`;
  const existing = await getVersion(client, options, apiVersion);
  if (existing !== undefined && existing.properties.provisioningState !== "Failed") {
    if (!isOwnVersion(existing, options.digest, options.owner))
      throw new Error(
        `${what}: version ${options.version} exists and holds another system (its tags name digest ${existing.tags?.[TAG.digest] ?? "none"}, owner ${existing.tags?.[TAG.owner] ?? "none"}); versions never change: choose a new version number`,
      );
    if (existing.properties.provisioningState === "Succeeded") return existing;
  }
  const first = (await armRequest<GalleryImageVersion>(client, what, "PUT", versionPath(options), {
    apiVersion,
    body: versionBody(options),
  }))!;
  await followLro(client, what, first, { timeoutMs: 90 * 60_000, ...options });
  const version = await getVersion(client, options, apiVersion);
  if (version === undefined)
    throw new Error(`${what}: the version is not there after its operation succeeded`);
  const state = version.properties.provisioningState;
  if (state !== undefined && state !== "Succeeded")
    throw new Error(`${what}: the operation succeeded but the version is ${state}`);
  return version;
}

/** Deletes the version and follows the operation; false when it was not there. */
export async function deleteGalleryVersion(
  client: ArmClient,
  target: GalleryTarget,
  options: LroOptions & { readonly apiVersion?: string } = {},
): Promise<boolean> {
  const what = `delete gallery image version ${target.gallery}/${target.definition}/${target.version}`;
  const first = await armRequest<unknown>(client, what, "DELETE", versionPath(target), {
    apiVersion: options.apiVersion ?? GALLERY_API_VERSION,
    notFound: true,
  });
  if (first === undefined || first.status === 204) return false;
  await followLro(client, what, first, options);
  return true;
}
