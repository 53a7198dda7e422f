/**
 * The EC2 side of an AMI: RegisterImage of a completed snapshot (the architecture, boot mode and
 * IMDSv2 of the system, a gp3 root volume), CopyImage to more regions, finding the images and
 * snapshots an owner tagged, and removing them. Names are made valid for EC2 here.
 */
import type { Ec2Api } from "./clients";
import type { Ec2Architecture } from "./blocks";
import { clientToken } from "./blocks";
import { errorFacts, isNotFoundYet, isTransient, withRetries, type RetryPolicy } from "./retry";

/** The tags oskit puts on every snapshot and image it makes. */
export const TAG = {
  /** The artifact's sha256: what the snapshot holds. */
  digest: "oskit:artifact-sha256",
  /** project/stack/resource (or `cli/NAME`): who may adopt or delete it. */
  owner: "oskit:owner",
  /** The oskit format the disk was written as, when known. */
  format: "oskit:format",
} as const;

/** EC2's boot modes. */
export const BOOT_MODES = ["uefi", "legacy-bios", "uefi-preferred"] as const;
export type BootMode = (typeof BOOT_MODES)[number];

/**
 * The boot mode of an oskit format: `raw-efi` and `aws` (a GPT disk whose ESP holds the UKI)
 * boot with UEFI, `raw-bios` with a BIOS, `raw-hybrid` with either; other files (any raw disk)
 * have none that oskit can tell, and need it said.
 */
export function bootModeOf(format: string | undefined): BootMode | undefined {
  switch (format) {
    case "raw-efi":
    case "aws":
      return "uefi";
    case "raw-bios":
      return "legacy-bios";
    case "raw-hybrid":
      return "uefi-preferred";
    default:
      return undefined;
  }
}

const AMI_NAME_MIN = 3;
const AMI_NAME_MAX = 128;

/**
 * A valid AMI name from any text: letters, digits and `()[] ./-'@_` kept, anything else (a `:`
 * among them) replaced by `-`, at most 128 characters, at least 3.
 */
export function amiName(text: string): string {
  let name = text.replace(/[^A-Za-z0-9()[\] ./\-'@_]/g, "-").trim();
  if (name.length < AMI_NAME_MIN) name = `oskit-${name}`.replace(/-$/, "") || "oskit";
  if (name.length < AMI_NAME_MIN) name = "oskit";
  return name.slice(0, AMI_NAME_MAX).trimEnd();
}

/** Tags as EC2 takes them, in key order. */
export function ec2Tags(tags: Readonly<Record<string, string>>): { Key: string; Value: string }[] {
  return Object.entries(tags)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([Key, Value]) => ({ Key, Value }));
}

export interface RegisterOptions {
  readonly name: string;
  readonly description?: string;
  readonly snapshotId: string;
  /** The root volume's size in GiB (the snapshot's). */
  readonly volumeSize: number;
  readonly architecture: Ec2Architecture;
  readonly bootMode: BootMode;
  /** Give the instances a TPM 2.0 (UEFI only). @default false */
  readonly tpm?: boolean;
  readonly tags: Readonly<Record<string, string>>;
}

/** The RegisterImage request: hvm, ENA, IMDSv2 only, gp3 root deleted with the instance. */
export function registerRequest(options: RegisterOptions) {
  if (options.tpm === true && options.bootMode === "legacy-bios")
    throw new Error("a TPM needs UEFI: TpmSupport v2.0 is refused with boot mode legacy-bios");
  return {
    Name: amiName(options.name),
    Description: (options.description ?? `oskit ${options.name}`).slice(0, 255),
    Architecture: options.architecture,
    VirtualizationType: "hvm",
    EnaSupport: true,
    BootMode: options.bootMode,
    ImdsSupport: "v2.0" as const,
    ...(options.tpm === true && { TpmSupport: "v2.0" as const }),
    RootDeviceName: "/dev/xvda",
    BlockDeviceMappings: [
      {
        DeviceName: "/dev/xvda",
        Ebs: {
          SnapshotId: options.snapshotId,
          VolumeSize: options.volumeSize,
          VolumeType: "gp3" as const,
          DeleteOnTermination: true,
        },
      },
    ],
    TagSpecifications: [{ ResourceType: "image" as const, Tags: ec2Tags(options.tags) }],
  };
}

/** An image an owner tagged, with its root snapshot. */
export interface FoundImage {
  readonly imageId: string;
  readonly state: string;
  readonly name: string;
  readonly snapshotIds: readonly string[];
  readonly tags: Readonly<Record<string, string>>;
}

function imageOf(image: {
  ImageId?: string | undefined;
  State?: string | undefined;
  Name?: string | undefined;
  BlockDeviceMappings?: { Ebs?: { SnapshotId?: string | undefined } | undefined }[] | undefined;
  Tags?: { Key?: string | undefined; Value?: string | undefined }[] | undefined;
}): FoundImage {
  return {
    imageId: image.ImageId ?? "",
    state: image.State ?? "unknown",
    name: image.Name ?? "",
    snapshotIds: (image.BlockDeviceMappings ?? []).flatMap((m) =>
      m.Ebs?.SnapshotId !== undefined ? [m.Ebs.SnapshotId] : [],
    ),
    tags: Object.fromEntries((image.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
  };
}

/** This account's images carrying every one of `tags` (and not deregistered or failed). */
export async function findImages(
  ec2: Ec2Api,
  tags: Readonly<Record<string, string>>,
  policy?: RetryPolicy,
): Promise<FoundImage[]> {
  const answer = await withRetries(
    "DescribeImages",
    () =>
      ec2.describeImages({
        Owners: ["self"],
        Filters: Object.entries(tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
      }),
    policy,
  );
  return (answer.Images ?? [])
    .map(imageOf)
    .filter((i) => i.imageId !== "" && !["deregistered", "failed", "error"].includes(i.state));
}

/** One image by id, or undefined when EC2 does not know it (any more). */
export async function describeImage(
  ec2: Ec2Api,
  imageId: string,
  policy?: RetryPolicy,
): Promise<FoundImage | undefined> {
  try {
    const answer = await withRetries(
      "DescribeImages",
      () => ec2.describeImages({ ImageIds: [imageId] }),
      policy,
    );
    const image = answer.Images?.find((i) => i.ImageId === imageId);
    return image === undefined ? undefined : imageOf(image);
  } catch (error) {
    if (isNotFoundYet(error)) return undefined;
    throw error;
  }
}

/** Polls until the image is `available`; `failed` or the timeout throw. */
export async function waitForImage(
  ec2: Ec2Api,
  imageId: string,
  options: { timeoutMs?: number; pollMs?: number; sleep?: (ms: number) => Promise<void> } = {},
): Promise<FoundImage> {
  const timeout = options.timeoutMs ?? 45 * 60_000;
  const poll = options.pollMs ?? 5000;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const deadline = Date.now() + timeout;
  for (;;) {
    const image = await describeImage(ec2, imageId, { sleep });
    if (image?.state === "available") return image;
    if (image !== undefined && ["failed", "error", "invalid", "deregistered"].includes(image.state))
      throw new Error(`image ${imageId} is ${image.state}`);
    if (Date.now() >= deadline)
      throw new Error(
        `image ${imageId} is still ${image?.state ?? "unknown"} after ${Math.round(timeout / 1000)} s`,
      );
    await sleep(poll);
  }
}

/**
 * Registers the snapshot as an AMI and returns its id. RegisterImage takes no token, so a retry
 * after an answer that was lost finds the image by its name, and adopts it only when it is ours
 * (the same owner and digest tags, the same snapshot).
 */
export async function registerImage(
  ec2: Ec2Api,
  options: RegisterOptions,
  policy?: RetryPolicy,
): Promise<string> {
  const request = registerRequest(options);
  const ours = async (): Promise<string | undefined> => {
    const found = await ec2
      .describeImages({ Owners: ["self"], Filters: [{ Name: "name", Values: [request.Name] }] })
      .catch(() => undefined);
    const image = found?.Images?.map(imageOf).find((i) => i.name === request.Name);
    if (image === undefined) return undefined;
    const mine =
      image.snapshotIds.includes(options.snapshotId) &&
      image.tags[TAG.owner] === options.tags[TAG.owner];
    if (!mine)
      throw new Error(
        `an AMI named "${request.Name}" already exists in this region (${image.imageId}) and is not this resource's: give this image another name`,
      );
    return image.imageId;
  };
  const answer = await withRetries(
    "RegisterImage",
    async (attempt) => {
      if (attempt > 1) {
        const existing = await ours();
        if (existing !== undefined) return { ImageId: existing };
      }
      try {
        return await ec2.registerImage(request);
      } catch (error) {
        const { code, name } = errorFacts(error);
        if ((code ?? name) === "InvalidAMIName.Duplicate") {
          const existing = await ours();
          if (existing !== undefined) return { ImageId: existing };
        }
        throw error;
      }
    },
    policy,
    // A snapshot EC2 does not see yet is the eventual consistency of a fresh one.
    (error) => isTransient(error) || isNotFoundYet(error),
  );
  if (answer.ImageId === undefined) throw new Error("RegisterImage answered without an image id");
  return answer.ImageId;
}

export interface CopyOptions {
  readonly sourceImageId: string;
  readonly sourceRegion: string;
  readonly name: string;
  readonly description?: string;
  readonly tags: Readonly<Record<string, string>>;
  readonly encrypted?: boolean;
  readonly kmsKeyArn?: string;
}

/** CopyImage into the region of `ec2`, tagged like the source (image and snapshot); its new id. */
export async function copyImage(
  ec2: Ec2Api,
  region: string,
  options: CopyOptions,
  policy?: RetryPolicy,
): Promise<string> {
  const request = {
    Name: amiName(options.name),
    Description: (options.description ?? `oskit ${options.name}`).slice(0, 255),
    SourceImageId: options.sourceImageId,
    SourceRegion: options.sourceRegion,
    ...((options.encrypted === true || options.kmsKeyArn !== undefined) && { Encrypted: true }),
    ...(options.kmsKeyArn !== undefined && { KmsKeyId: options.kmsKeyArn }),
    TagSpecifications: [
      { ResourceType: "image" as const, Tags: ec2Tags(options.tags) },
      { ResourceType: "snapshot" as const, Tags: ec2Tags(options.tags) },
    ],
  };
  const token = clientToken("oskit-copy", { ...request, region });
  const answer = await withRetries(
    `CopyImage to ${region}`,
    () => ec2.copyImage({ ...request, ClientToken: token }),
    policy,
  );
  if (answer.ImageId === undefined) throw new Error("CopyImage answered without an image id");
  return answer.ImageId;
}

/** Deletes a snapshot; one already gone is fine. An image's snapshot stays "in use" a moment after DeregisterImage. */
export async function deleteSnapshot(
  ec2: Ec2Api,
  snapshotId: string,
  policy?: RetryPolicy,
): Promise<void> {
  try {
    await withRetries(
      `DeleteSnapshot ${snapshotId}`,
      () => ec2.deleteSnapshot({ SnapshotId: snapshotId }),
      policy,
      (error) => isTransient(error) || (errorFacts(error).code ?? "") === "InvalidSnapshot.InUse",
    );
  } catch (error) {
    const { code, name } = errorFacts(error);
    if ((code ?? name) === "InvalidSnapshot.NotFound") return;
    throw error;
  }
}

/** Deregisters an image and deletes its snapshots (and `snapshotIds`, when EC2 no longer knows the image). */
export async function deleteImage(
  ec2: Ec2Api,
  imageId: string,
  snapshotIds: readonly string[] = [],
  policy?: RetryPolicy,
): Promise<void> {
  const image = await describeImage(ec2, imageId, policy);
  const snapshots = new Set([...(image?.snapshotIds ?? []), ...snapshotIds]);
  if (image !== undefined && image.state !== "deregistered")
    try {
      await withRetries(
        `DeregisterImage ${imageId}`,
        () => ec2.deregisterImage({ ImageId: imageId }),
        policy,
      );
    } catch (error) {
      if (!isNotFoundYet(error)) throw error;
    }
  for (const snapshot of snapshots) await deleteSnapshot(ec2, snapshot, policy);
}

/** A snapshot an owner tagged. */
export interface FoundSnapshot {
  readonly snapshotId: string;
  readonly state: string;
  readonly tags: Readonly<Record<string, string>>;
}

/** This account's snapshots carrying every one of `tags`, in the given states. */
export async function findSnapshots(
  ec2: Ec2Api,
  tags: Readonly<Record<string, string>>,
  states: readonly string[],
  policy?: RetryPolicy,
): Promise<FoundSnapshot[]> {
  const answer = await withRetries(
    "DescribeSnapshots",
    () =>
      ec2.describeSnapshots({
        OwnerIds: ["self"],
        Filters: [
          ...Object.entries(tags).map(([k, v]) => ({ Name: `tag:${k}`, Values: [v] })),
          { Name: "status", Values: [...states] },
        ],
      }),
    policy,
  );
  return (answer.Snapshots ?? [])
    .filter((s) => s.SnapshotId !== undefined && states.includes(s.State ?? ""))
    .map((s) => ({
      snapshotId: s.SnapshotId!,
      state: s.State ?? "unknown",
      tags: Object.fromEntries((s.Tags ?? []).map((t) => [t.Key ?? "", t.Value ?? ""])),
    }));
}
