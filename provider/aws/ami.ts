/**
 * What `oskit.aws.Ami` does, as plain async functions (the dynamic provider calls these): check
 * the inputs, tell a replacement from an update, publish an artifact as an AMI (publish.ts), and
 * remove every copy with its snapshot. Clients are made inside the functions from the SDK's
 * default credential chain: nothing in the inputs or outputs is a credential.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { ACCOUNT_ID, retag, setLaunchPermissions, type LaunchPermissions } from "./attributes";
import { ec2Architecture, type Ec2Architecture } from "./blocks";
import { sdkClients, type AwsClients, type AwsEndpoints } from "./clients";
import { diskArchitecture, diskInfo } from "./disk";
import { describeError } from "./ebs-upload";
import { publish, PublishInterrupted, unpublish, type RegionImage } from "./publish";
import { amiName, BOOT_MODES, bootModeOf, deleteSnapshot, type BootMode } from "./register";
import type { Artifact } from "../build/image-build";

/** The value Pulumi gives for an input it does not know yet (a preview). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Who owns the AMI: tagged on everything, so two stacks never adopt or delete each other's. */
export interface AmiOwner {
  /** The Pulumi project. */
  readonly project: string;
  /** The stack. */
  readonly stack: string;
  /** The resource's name. */
  readonly resource: string;
}

/** What an Ami is given (its inputs in state, defaults resolved by the resource class). */
export interface AmiInputs {
  /** The ImageBuild artifact: an `aws` or `raw-efi` disk. */
  readonly artifact: Artifact;
  readonly region: string;
  /** The AMI's name; the artifact's short digest is appended, so a new image never clashes with the one it replaces. */
  readonly name: string;
  /** amd64 or arm64. @default read from the disk's EFI binary */
  readonly architecture?: string;
  /** @default from the format: uefi for aws and raw-efi */
  readonly bootMode?: BootMode;
  /** TpmSupport v2.0 (UEFI only). @default false */
  readonly tpm?: boolean;
  readonly encrypted?: boolean;
  readonly kmsKeyArn?: string;
  /** More regions to copy the AMI to. */
  readonly copyRegions: readonly string[];
  /** EC2 and EBS endpoint overrides (tests, partitions). */
  readonly endpoints?: AwsEndpoints;
  readonly tags: Readonly<Record<string, string>>;
  /** Who else may launch the AMI and its copies. @default its owner alone */
  readonly launchPermissions?: LaunchPermissions;
  readonly owner: AmiOwner;
  /** `direct` (EBS direct APIs) or `import` (S3 and ImportSnapshot). @default "direct" */
  readonly method?: "direct" | "import";
  /** The import path's S3 bucket, in `region`. */
  readonly bucket?: string;
  /** The import path's VM Import service role. @default "vmimport" */
  readonly roleName?: string;
  /** Blocks in flight. @default 32 */
  readonly parallel?: number;
}

/** What an Ami records. */
export interface AmiOutputs extends AmiInputs {
  /** The AMI in `region` (absent in a partial create). */
  readonly imageId?: string;
  /** Its root snapshot. */
  readonly snapshotId?: string;
  /** Each region's AMI id, the copies included. */
  readonly imageIds: Readonly<Record<string, string>>;
  /** Each region's AMI and snapshot. */
  readonly images: Readonly<Record<string, RegionImage>>;
  /** The name registered. */
  readonly amiName: string;
  readonly resolvedArchitecture: Ec2Architecture;
  readonly resolvedBootMode: BootMode;
}

export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}

/** The clients, handed in (tests give their own). */
export interface AmiDeps {
  readonly clients?: (endpoints: AwsEndpoints) => AwsClients;
  /** Waits between polls, in ms. */
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

const isUnknown = (value: unknown) => value === UNKNOWN;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d+$/;
/** Formats whose artifact is one raw disk EC2 can boot. */
export const AMI_FORMATS = ["aws", "raw-efi", "raw-bios", "raw-hybrid"] as const;

/** The owner tag's value. */
export const ownerTag = (owner: AmiOwner) => `${owner.project}/${owner.stack}/${owner.resource}`;

/**
 * The registered name: the name, the artifact's short digest and a short hash of the owner (AMI
 * names are unique in an account's region, and two stacks may publish the same artifact).
 */
export function registeredName(inputs: Pick<AmiInputs, "name" | "artifact" | "owner">): string {
  const short = inputs.artifact.sha256.replace(/^sha256:/, "").slice(0, 12);
  const owner = createHash("sha256").update(ownerTag(inputs.owner)).digest("hex").slice(0, 6);
  return amiName(`${inputs.name.slice(0, 100)}-${short}-${owner}`);
}

/** Validates the inputs (unknown values of a preview pass). */
export function checkAmi(raw: AmiInputs): { inputs: AmiInputs; failures: CheckFailure[] } {
  const news = raw as unknown as Readonly<Record<string, unknown>>;
  const failures: CheckFailure[] = [];
  const fail = (property: string, reason: string) => failures.push({ property, reason });
  const artifact = news.artifact;
  if (artifact === undefined || artifact === null)
    fail("artifact", 'expected an ImageBuild artifact, e.g. build.artifacts["aws"]');
  else if (!isUnknown(artifact)) {
    const { format, path, sha256 } = artifact as Record<string, unknown>;
    if (!isUnknown(format) && !(AMI_FORMATS as readonly unknown[]).includes(format))
      fail(
        "artifact.format",
        `EC2 boots a raw disk; build one of ${AMI_FORMATS.join(", ")} (got ${JSON.stringify(format)})`,
      );
    if (!isUnknown(path) && (typeof path !== "string" || !path.startsWith("/")))
      fail("artifact.path", "expected the artifact's absolute path");
    if (!isUnknown(sha256) && (typeof sha256 !== "string" || !/^sha256:[0-9a-f]{64}$/.test(sha256)))
      fail("artifact.sha256", 'expected "sha256:" and 64 hex digits');
  }
  const region = news.region;
  if (!isUnknown(region) && (typeof region !== "string" || !REGION.test(region)))
    fail("region", `${JSON.stringify(region)}: expected a region such as eu-west-1`);
  if (!isUnknown(news.name) && (typeof news.name !== "string" || news.name.trim() === ""))
    fail("name", "expected a name");
  const arch = news.architecture;
  if (arch !== undefined && !isUnknown(arch))
    try {
      ec2Architecture(typeof arch === "string" ? arch : JSON.stringify(arch));
    } catch (error) {
      fail("architecture", (error as Error).message);
    }
  const boot = news.bootMode;
  if (boot !== undefined && !isUnknown(boot) && !(BOOT_MODES as readonly unknown[]).includes(boot))
    fail("bootMode", `expected one of ${BOOT_MODES.join(", ")}`);
  if (news.tpm === true && boot === "legacy-bios")
    fail("tpm", "a TPM needs UEFI; drop tpm or use bootMode uefi");
  for (const key of ["tpm", "encrypted"] as const)
    if (news[key] !== undefined && !isUnknown(news[key]) && typeof news[key] !== "boolean")
      fail(key, "expected true or false");
  if (news.kmsKeyArn !== undefined && !isUnknown(news.kmsKeyArn))
    if (typeof news.kmsKeyArn !== "string" || !news.kmsKeyArn.startsWith("arn:"))
      fail("kmsKeyArn", "expected a KMS key ARN (arn:aws:kms:REGION:ACCOUNT:key/ID)");
  const copies = news.copyRegions;
  if (!isUnknown(copies)) {
    if (!Array.isArray(copies)) fail("copyRegions", "expected a list of regions");
    else
      copies.forEach((r, i) => {
        if (isUnknown(r)) return;
        if (typeof r !== "string" || !REGION.test(r))
          fail(`copyRegions[${i}]`, `${JSON.stringify(r)}: expected a region such as us-east-1`);
        else if (copies.indexOf(r) !== i) fail(`copyRegions[${i}]`, `${r} is listed twice`);
        else if (r === region) fail(`copyRegions[${i}]`, `${r} is the AMI's own region`);
      });
  }
  const endpoints = news.endpoints;
  if (endpoints !== undefined && !isUnknown(endpoints)) {
    if (endpoints === null || typeof endpoints !== "object")
      fail("endpoints", "expected { ec2?: URL, ebs?: URL, s3?: URL }");
    else
      for (const [key, url] of Object.entries(endpoints as Record<string, unknown>)) {
        if (isUnknown(url)) continue;
        let parsed: URL | undefined;
        try {
          parsed = new URL(String(url));
        } catch {
          parsed = undefined;
        }
        if (!["ec2", "ebs", "s3"].includes(key))
          fail(`endpoints.${key}`, "expected ec2, ebs or s3");
        else if (parsed === undefined || !/^https?:$/.test(parsed.protocol))
          fail(`endpoints.${key}`, "expected an http(s) URL");
        else if (parsed.username !== "" || parsed.password !== "")
          fail(
            `endpoints.${key}`,
            "an endpoint carries no credentials: they come from the AWS SDK's default chain",
          );
      }
  }
  const tags = news.tags;
  if (!isUnknown(tags)) {
    if (tags === null || typeof tags !== "object" || Array.isArray(tags))
      fail("tags", "expected an object of tag names and values");
    else
      for (const [key, value] of Object.entries(tags as Record<string, unknown>)) {
        if (/^(aws|oskit):/i.test(key)) fail(`tags.${key}`, "aws: and oskit: tags are reserved");
        else if (key.length > 128) fail(`tags.${key}`, "a tag key has at most 128 characters");
        if (!isUnknown(value) && (typeof value !== "string" || value.length > 256))
          fail(`tags.${key}`, "expected a string of at most 256 characters");
      }
  }
  const shared = news.launchPermissions;
  if (shared !== undefined && !isUnknown(shared)) {
    const { accounts, public: open } = (shared ?? {}) as Record<string, unknown>;
    if (shared === null || typeof shared !== "object" || Array.isArray(shared))
      fail("launchPermissions", "expected { accounts?: [account ids], public?: boolean }");
    else {
      if (accounts !== undefined && !isUnknown(accounts)) {
        if (!Array.isArray(accounts)) fail("launchPermissions.accounts", "expected account ids");
        else
          accounts.forEach((a, i) => {
            if (isUnknown(a)) return;
            if (typeof a !== "string" || !ACCOUNT_ID.test(a))
              fail(
                `launchPermissions.accounts[${i}]`,
                `${JSON.stringify(a)}: expected an AWS account id of 12 digits`,
              );
            else if (accounts.indexOf(a) !== i)
              fail(`launchPermissions.accounts[${i}]`, `${a} is listed twice`);
          });
      }
      if (open !== undefined && !isUnknown(open) && typeof open !== "boolean")
        fail("launchPermissions.public", "expected true or false");
      const sharing = open === true || (Array.isArray(accounts) && accounts.length > 0);
      if (sharing && news.encrypted === true && news.kmsKeyArn === undefined)
        fail(
          "launchPermissions",
          "an AMI encrypted with the default aws/ebs key cannot be launched by other accounts: give kmsKeyArn (a customer key shared with them)",
        );
    }
  }
  const method = news.method;
  if (method !== undefined && !isUnknown(method) && method !== "direct" && method !== "import")
    fail("method", `${JSON.stringify(method)}: expected "direct" or "import"`);
  for (const key of ["bucket", "roleName"] as const)
    if (
      news[key] !== undefined &&
      !isUnknown(news[key]) &&
      (typeof news[key] !== "string" || news[key] === "")
    )
      fail(key, "expected a non-empty string");
  if (method === "import" && (news.bucket === undefined || news.bucket === null))
    fail(
      "bucket",
      'method "import" needs an S3 bucket in the region that the vmimport role can read',
    );
  const parallel = news.parallel;
  if (parallel !== undefined && !(Number.isSafeInteger(parallel) && (parallel as number) >= 1))
    fail("parallel", "expected a whole number of at least 1");
  return { inputs: raw, failures };
}

const REPLACING = [
  "region",
  "name",
  "architecture",
  "bootMode",
  "tpm",
  "encrypted",
  "kmsKeyArn",
  "copyRegions",
  "owner",
] as const;

/** Inputs that change the AMIs in place. */
const RETOUCHING = ["tags", "launchPermissions"] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * A new artifact (its sha256) or any registration input replaces the AMI. With the same artifact
 * the old AMI goes first (the new one would otherwise adopt it, being of the same digest and
 * owner); a new artifact's AMI is made before the old one is removed. Tags and launch permissions
 * are updates made in place; endpoints and parallelism are updates that touch nothing; a partial
 * create is an update that resumes it.
 */
export function diffAmi(
  olds: AmiOutputs,
  news: AmiInputs,
): { changes: boolean; replaces: string[]; changed: string[]; deleteBeforeReplace: boolean } {
  const replaces: string[] = [];
  const artifact = news.artifact as unknown;
  const digest = (artifact as Artifact | undefined)?.sha256;
  const newDigest = isUnknown(artifact) || isUnknown(digest) || olds.artifact?.sha256 !== digest;
  if (newDigest) replaces.push("artifact");
  replaces.push(...REPLACING.filter((key) => !same(olds[key], news[key])));
  const changed = [
    ...replaces,
    ...([...RETOUCHING, "endpoints", "parallel", "method", "bucket", "roleName"] as const).filter(
      (key) => !same(olds[key], news[key]),
    ),
  ];
  if (olds.imageId === undefined) changed.push("imageId");
  return {
    changes: changed.length > 0,
    replaces,
    changed,
    deleteBeforeReplace: replaces.length > 0 && !newDigest,
  };
}

/**
 * A create that made a snapshot or an image but could not finish: Pulumi records it (the dynamic
 * provider's initialization failure), so `pulumi up` resumes it with update and `pulumi destroy`
 * removes it.
 */
export class PartialCreateError extends Error {
  readonly id: string;
  readonly properties: AmiOutputs;
  readonly reasons: string[];
  constructor(message: string, id: string, properties: AmiOutputs) {
    super(message);
    this.name = "PartialCreateError";
    this.id = id;
    this.properties = properties;
    this.reasons = [message];
  }
}

const clientsOf = (inputs: AmiInputs, deps: AmiDeps) =>
  (deps.clients ?? sdkClients)(inputs.endpoints ?? {});

/** The architecture and boot mode: asked for, or told by the artifact. */
async function resolved(
  inputs: AmiInputs,
): Promise<{ architecture: Ec2Architecture; bootMode: BootMode }> {
  const info = await diskInfo(inputs.artifact.path, inputs.artifact.sha256);
  const architecture =
    inputs.architecture !== undefined
      ? ec2Architecture(inputs.architecture)
      : await diskArchitecture(inputs.artifact.path, info);
  if (architecture === undefined)
    throw new Error(
      `cannot tell the architecture of ${inputs.artifact.path} (no EFI binary on it): set architecture to amd64 or arm64`,
    );
  const bootMode = inputs.bootMode ?? bootModeOf(inputs.artifact.format);
  if (bootMode === undefined)
    throw new Error(`cannot tell how ${inputs.artifact.path} boots: set bootMode`);
  return { architecture, bootMode };
}

/**
 * Refuses a file whose bytes are not the artifact's any more (rebuilt or changed since ImageBuild
 * recorded it): uploading it would publish other bytes under the recorded digest.
 */
export async function verifyArtifact(artifact: Pick<Artifact, "path" | "sha256">): Promise<void> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(artifact.path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  const found = `sha256:${hash.digest("hex")}`;
  if (found !== artifact.sha256)
    throw new Error(
      `${artifact.path} has changed since it was built: its sha256 is ${found}, the artifact's ${artifact.sha256}; build it again (pulumi up rebuilds an ImageBuild whose file changed) before publishing`,
    );
}

/** Makes every region's AMI launchable by exactly who the inputs name. */
async function shareImages(
  inputs: AmiInputs,
  images: Readonly<Record<string, RegionImage>>,
  deps: AmiDeps,
): Promise<void> {
  const clients = clientsOf(inputs, deps);
  for (const [region, image] of Object.entries(images))
    if (image.imageId !== "")
      await setLaunchPermissions(
        await clients.ec2(region),
        image.imageId,
        inputs.launchPermissions ?? {},
        retryOf(deps),
      );
}

const retryOf = (deps: AmiDeps) => (deps.sleep !== undefined ? { sleep: deps.sleep } : undefined);

/** Publishes the artifact; the id is the AMI's. */
export async function createAmi(
  inputs: AmiInputs,
  deps: AmiDeps = {},
): Promise<{ id: string; outs: AmiOutputs }> {
  await verifyArtifact(inputs.artifact);
  const { architecture, bootMode } = await resolved(inputs);
  const name = registeredName(inputs);
  const info = await diskInfo(inputs.artifact.path, inputs.artifact.sha256);
  const base = {
    ...inputs,
    amiName: name,
    resolvedArchitecture: architecture,
    resolvedBootMode: bootMode,
  };
  try {
    const published = await publish(
      {
        path: inputs.artifact.path,
        digest: inputs.artifact.sha256,
        diskSize: info.diskSize,
        ...(info.allocation !== undefined && { allocation: info.allocation }),
        format: inputs.artifact.format,
        region: inputs.region,
        name,
        architecture,
        bootMode,
        ...(inputs.tpm !== undefined && { tpm: inputs.tpm }),
        ...(inputs.encrypted !== undefined && { encrypted: inputs.encrypted }),
        ...(inputs.kmsKeyArn !== undefined && { kmsKeyArn: inputs.kmsKeyArn }),
        copyRegions: inputs.copyRegions,
        owner: ownerTag(inputs.owner),
        tags: inputs.tags,
        ...(inputs.parallel !== undefined && { parallel: inputs.parallel }),
        ...(inputs.method !== undefined && { method: inputs.method }),
        ...(inputs.bucket !== undefined && { bucket: inputs.bucket }),
        ...(inputs.roleName !== undefined && { roleName: inputs.roleName }),
        ...(deps.pollMs !== undefined && { pollMs: deps.pollMs }),
        ...(deps.sleep !== undefined && { retry: { sleep: deps.sleep } }),
      },
      clientsOf(inputs, deps),
    );
    const imageId = published.imageId!;
    const outs = {
      ...base,
      imageId,
      snapshotId: published.snapshotId,
      images: published.images,
      imageIds: Object.fromEntries(
        Object.entries(published.images).map(([r, i]) => [r, i.imageId]),
      ),
    };
    // An adopted image may be shared otherwise; set it either way. Recorded without its imageId,
    // a failure here is resumed by the next update, which adopts the image and sets them again.
    await shareImages(inputs, published.images, deps).catch((error: unknown) => {
      const { imageId: _unfinished, ...made } = outs;
      throw new PartialCreateError(
        `the AMI was made but its launch permissions were not set (${describeError(error)}); run pulumi up to set them, or pulumi destroy to remove it`,
        imageId,
        made,
      );
    });
    return { id: imageId, outs };
  } catch (error) {
    if (error instanceof PartialCreateError) throw error;
    if (!(error instanceof PublishInterrupted)) throw error;
    const { partial } = error;
    throw new PartialCreateError(
      `the AMI was not finished (${describeError(error.cause ?? error)}); run pulumi up to resume it, or pulumi destroy to remove what was made`,
      partial.imageId ?? partial.snapshotId!,
      {
        ...base,
        ...(partial.imageId !== undefined && { imageId: partial.imageId }),
        ...(partial.snapshotId !== undefined && { snapshotId: partial.snapshotId }),
        images: partial.images,
        imageIds: Object.fromEntries(
          Object.entries(partial.images).map(([r, i]) => [r, i.imageId]),
        ),
      },
    );
  }
}

/** True when every region's image is recorded. */
const complete = (olds: AmiOutputs) =>
  olds.imageId !== undefined &&
  [olds.region, ...olds.copyRegions].every((r) => (olds.images?.[r]?.snapshotId ?? "") !== "");

/**
 * Changes a finished AMI in place: the user's tags on every region's AMI and snapshot, who may
 * launch them (nothing else changes without a replacement); resumes a partial create:
 * the upload writes into the snapshot StartSnapshot gives back for the same token, or adopts the
 * image, and whatever the earlier run left and is not used is removed.
 */
export async function updateAmi(
  olds: AmiOutputs,
  news: AmiInputs,
  deps: AmiDeps = {},
): Promise<AmiOutputs> {
  if (complete(olds)) {
    const { imageId, snapshotId, images, imageIds, amiName: name } = olds;
    if (!same(olds.tags, news.tags)) {
      const clients = clientsOf(news, deps);
      for (const [region, image] of Object.entries(images))
        await retag(
          await clients.ec2(region),
          [image.imageId, image.snapshotId],
          olds.tags,
          news.tags,
          retryOf(deps),
        );
    }
    if (!same(olds.launchPermissions, news.launchPermissions))
      await shareImages(news, images, deps);
    return {
      ...news,
      imageId,
      snapshotId,
      images,
      imageIds,
      amiName: name,
      resolvedArchitecture: olds.resolvedArchitecture,
      resolvedBootMode: olds.resolvedBootMode,
    };
  }
  const { outs } = await createAmi(news, deps);
  if (olds.snapshotId !== undefined && olds.snapshotId !== outs.snapshotId)
    await deleteSnapshot(await clientsOf(news, deps).ec2(olds.region), olds.snapshotId);
  return outs;
}

/** Deregisters every region's AMI and deletes their snapshots (and a partial create's snapshot). */
export async function deleteAmi(olds: AmiOutputs, deps: AmiDeps = {}): Promise<void> {
  await unpublish(
    {
      region: olds.region,
      ...(olds.snapshotId !== undefined && { snapshotId: olds.snapshotId }),
      ...(olds.imageId !== undefined && { imageId: olds.imageId }),
      images: olds.images ?? {},
    },
    clientsOf(olds, deps),
    deps.sleep !== undefined ? { sleep: deps.sleep } : undefined,
  );
}
