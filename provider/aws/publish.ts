/**
 * A disk image to an AMI, the whole way, for `oskit.aws.Ami` and `oskit push aws`: adopt an
 * image this owner already made of this digest; else sweep what a killed run of this owner left
 * (snapshots pending or in error), upload the snapshot (resuming a pending one of the same
 * token), register it, copy it to more regions, all tagged with the digest and the owner. A
 * failure after StartSnapshot throws a PublishInterrupted carrying what exists, so the caller can
 * record it and resume or clean up.
 */
import type { Ec2Architecture, Extent } from "./blocks";
import type { AwsClients } from "./clients";
import {
  SnapshotStateError,
  uploadSnapshot,
  type UploadProgress,
  type UploadResult,
} from "./ebs-upload";
import {
  copyImage,
  deleteImage,
  deleteSnapshot,
  findImages,
  findSnapshots,
  registerImage,
  TAG,
  waitForImage,
  type BootMode,
} from "./register";
import type { RetryPolicy } from "./retry";
import { importSnapshot, type ImportProgress, type ImportResult } from "./import";

export interface PublishOptions {
  /** The raw disk. */
  readonly path: string;
  /** Its sha256 (`sha256:…`). */
  readonly digest: string;
  readonly diskSize?: number;
  readonly allocation?: readonly Extent[];
  /** The oskit format of the disk, when it is one (tagged). */
  readonly format?: string;
  readonly region: string;
  /** The AMI's name (made valid) and the snapshot's description. */
  readonly name: string;
  readonly architecture: Ec2Architecture;
  readonly bootMode: BootMode;
  readonly tpm?: boolean;
  readonly encrypted?: boolean;
  readonly kmsKeyArn?: string;
  /** More regions to copy the AMI to. */
  readonly copyRegions?: readonly string[];
  /** The owner tag's value: project/stack/resource, or cli/NAME. */
  readonly owner: string;
  /** More tags for the snapshots and images. */
  readonly tags?: Readonly<Record<string, string>>;
  /**
   * How the disk becomes a snapshot: `direct` writes its non-zero blocks with the EBS direct APIs;
   * `import` uploads it whole to `bucket` and runs EC2's ImportSnapshot. @default "direct"
   */
  readonly method?: "direct" | "import";
  /** The S3 bucket of the import path (in `region`, readable by the role). */
  readonly bucket?: string;
  /** The VM Import service role of the import path. @default "vmimport" */
  readonly roleName?: string;
  /** Progress of the import path (the upload's parts, then the task). */
  readonly importProgress?: (progress: ImportProgress) => void;
  /** How long the import task may take. @default 3 hours */
  readonly importTimeoutMs?: number;
  /** Register an AMI (false: the snapshot only). @default true */
  readonly register?: boolean;
  /** Adopt an image of this owner and digest instead of uploading again. @default true */
  readonly adopt?: boolean;
  readonly parallel?: number;
  readonly progress?: (progress: UploadProgress) => void;
  /** Told every snapshot and image as it comes to exist. */
  readonly onCreated?: (partial: PublishedPartial) => void;
  readonly retry?: RetryPolicy;
  /** Waits (DescribeSnapshots/DescribeImages polls) in ms. */
  readonly pollMs?: number;
}

/** An image in a region, and its root snapshot. */
export interface RegionImage {
  readonly imageId: string;
  readonly snapshotId: string;
}

export interface Published {
  readonly region: string;
  readonly snapshotId: string;
  /** Absent with `register: false`. */
  readonly imageId?: string;
  /** Every region's image: the region's own and the copies. */
  readonly images: Readonly<Record<string, RegionImage>>;
  /** True when an image of this owner and digest was found and nothing was uploaded. */
  readonly adopted: boolean;
  /** The upload's figures (absent when adopted or imported). */
  readonly upload?: UploadResult;
  /** The import path's figures (method "import"). */
  readonly imported?: ImportResult;
  /** Snapshots of an earlier, killed run that were deleted. */
  readonly swept: readonly string[];
}

/** What exists so far. */
export interface PublishedPartial {
  readonly region: string;
  readonly snapshotId?: string;
  readonly imageId?: string;
  readonly images: Readonly<Record<string, RegionImage>>;
}

/** A publish that failed after creating something: what exists is in `partial`. */
export class PublishInterrupted extends Error {
  constructor(
    message: string,
    readonly partial: PublishedPartial,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "PublishInterrupted";
  }
}

/** The tags of everything a publish makes. */
export function publishTags(
  options: Pick<PublishOptions, "digest" | "owner" | "format" | "tags">,
): Record<string, string> {
  return {
    ...options.tags,
    [TAG.digest]: options.digest,
    [TAG.owner]: options.owner,
    ...(options.format !== undefined && { [TAG.format]: options.format }),
  };
}

/** Copies the image to every region that lacks this owner's copy of the digest; waits for each. */
async function copyToRegions(
  options: PublishOptions,
  clients: AwsClients,
  source: RegionImage,
  images: Record<string, RegionImage>,
  note: () => void,
): Promise<void> {
  const tags = publishTags(options);
  for (const region of options.copyRegions ?? []) {
    if (region === options.region || images[region] !== undefined) continue;
    const ec2 = await clients.ec2(region);
    const existing = (
      await findImages(
        ec2,
        { [TAG.digest]: options.digest, [TAG.owner]: options.owner },
        options.retry,
      )
    )[0];
    const imageId =
      existing?.imageId ??
      (await copyImage(
        ec2,
        region,
        {
          sourceImageId: source.imageId,
          sourceRegion: options.region,
          name: options.name,
          tags,
          ...(options.encrypted !== undefined && { encrypted: options.encrypted }),
          ...(options.kmsKeyArn !== undefined && { kmsKeyArn: options.kmsKeyArn }),
        },
        options.retry,
      ));
    images[region] = { imageId, snapshotId: "" };
    note();
    const image = await waitForImage(ec2, imageId, waits(options));
    images[region] = { imageId, snapshotId: image.snapshotIds[0] ?? "" };
    note();
  }
}

const waits = (options: PublishOptions) => ({
  ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
  ...(options.retry?.sleep !== undefined && { sleep: options.retry.sleep }),
});

/** Deletes this owner's snapshots left pending or in error, but for `keep`; returns their ids. */
export async function sweepSnapshots(
  clients: AwsClients,
  region: string,
  owner: string,
  keep: ReadonlySet<string> = new Set(),
  policy?: RetryPolicy,
): Promise<string[]> {
  const ec2 = await clients.ec2(region);
  const left = await findSnapshots(ec2, { [TAG.owner]: owner }, ["pending", "error"], policy);
  const swept: string[] = [];
  for (const snapshot of left) {
    if (keep.has(snapshot.snapshotId)) continue;
    await deleteSnapshot(ec2, snapshot.snapshotId, policy);
    swept.push(snapshot.snapshotId);
  }
  return swept;
}

/** Publishes the disk as an AMI (see the module's comment). */
export async function publish(options: PublishOptions, clients: AwsClients): Promise<Published> {
  const ec2 = await clients.ec2(options.region);
  const ownerTags = { [TAG.digest]: options.digest, [TAG.owner]: options.owner };
  const register = options.register ?? true;
  const images: Record<string, RegionImage> = {};
  let snapshotId: string | undefined;
  let imageId: string | undefined;
  const note = () =>
    options.onCreated?.({
      region: options.region,
      ...(snapshotId !== undefined && { snapshotId }),
      ...(imageId !== undefined && { imageId }),
      images: { ...images },
    });
  const interrupted = (error: unknown): never => {
    if (snapshotId === undefined && imageId === undefined) throw error;
    throw new PublishInterrupted(
      error instanceof Error ? error.message : String(error),
      {
        region: options.region,
        ...(snapshotId !== undefined && { snapshotId }),
        ...(imageId !== undefined && { imageId }),
        images: { ...images },
      },
      { cause: error },
    );
  };

  if (register && options.adopt !== false) {
    const found = (await findImages(ec2, ownerTags, options.retry)).find(
      (i) => i.snapshotIds.length > 0,
    );
    if (found !== undefined) {
      imageId = found.imageId;
      snapshotId = found.snapshotIds[0]!;
      try {
        const image =
          found.state === "available" ? found : await waitForImage(ec2, imageId, waits(options));
        images[options.region] = { imageId, snapshotId: image.snapshotIds[0] ?? snapshotId };
        await copyToRegions(options, clients, images[options.region]!, images, note);
      } catch (error) {
        interrupted(error);
      }
      return { region: options.region, snapshotId, imageId, images, adopted: true, swept: [] };
    }
  }

  // Snapshots this owner left pending with this digest may be the one StartSnapshot gives back.
  const resumable = await findSnapshots(ec2, ownerTags, ["pending"], options.retry);
  const swept = await sweepSnapshots(
    clients,
    options.region,
    options.owner,
    new Set(resumable.map((s) => s.snapshotId)),
    options.retry,
  );
  const ebs = await clients.ebs(options.region);
  let upload: UploadResult | undefined;
  let imported: ImportResult | undefined;
  if (options.method === "import")
    try {
      imported = await importPath(options, clients, ec2);
    } catch (error) {
      return interrupted(error);
    }
  for (let generation = 0; upload === undefined && imported === undefined; generation++) {
    try {
      upload = await uploadSnapshot(
        {
          path: options.path,
          digest: options.digest,
          ...(options.diskSize !== undefined && { diskSize: options.diskSize }),
          ...(options.allocation !== undefined && { allocation: options.allocation }),
          description: `oskit ${options.name} ${options.digest}`.slice(0, 255),
          tags: publishTags(options),
          ...(options.encrypted !== undefined && { encrypted: options.encrypted }),
          ...(options.kmsKeyArn !== undefined && { kmsKeyArn: options.kmsKeyArn }),
          ...(options.parallel !== undefined && { parallel: options.parallel }),
          ...(options.progress !== undefined && { progress: options.progress }),
          ...(options.retry !== undefined && { retry: options.retry }),
          ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
          generation,
          onStarted: (id) => {
            snapshotId = id;
            note();
          },
        },
        ebs,
        ec2,
      );
    } catch (error) {
      // A token whose snapshot failed (it timed out pending, or EBS failed it): delete, start anew.
      if (error instanceof SnapshotStateError && generation < 3) {
        await deleteSnapshot(ec2, error.snapshotId, options.retry).catch(() => undefined);
        snapshotId = undefined;
        continue;
      }
      return interrupted(error);
    }
  }
  const made = imported ?? upload!;
  snapshotId = made.snapshotId;
  // Pending snapshots kept for a resume that StartSnapshot did not give back are leftovers too.
  for (const s of resumable)
    if (s.snapshotId !== snapshotId)
      await deleteSnapshot(ec2, s.snapshotId, options.retry).then(() => swept.push(s.snapshotId));
  const figures = {
    ...(upload !== undefined && { upload }),
    ...(imported !== undefined && { imported }),
  };
  if (!register)
    return { region: options.region, snapshotId, images, adopted: false, ...figures, swept };

  try {
    imageId = await registerImage(
      ec2,
      {
        name: options.name,
        snapshotId,
        volumeSize: made.volumeSize,
        architecture: options.architecture,
        bootMode: options.bootMode,
        ...(options.tpm !== undefined && { tpm: options.tpm }),
        tags: publishTags(options),
      },
      options.retry,
    );
    note();
    await waitForImage(ec2, imageId, waits(options));
    images[options.region] = { imageId, snapshotId };
    await copyToRegions(options, clients, images[options.region]!, images, note);
  } catch (error) {
    interrupted(error);
  }
  return { region: options.region, snapshotId, imageId, images, adopted: false, ...figures, swept };
}

/** The import path: S3 and ImportSnapshot (import.ts), with the same description and tags. */
async function importPath(
  options: PublishOptions,
  clients: AwsClients,
  ec2: Awaited<ReturnType<AwsClients["ec2"]>>,
): Promise<ImportResult> {
  if (options.bucket === undefined || options.bucket === "")
    throw new Error('method "import" needs a bucket: an S3 bucket in the region the role can read');
  return importSnapshot(
    {
      path: options.path,
      digest: options.digest,
      ...(options.diskSize !== undefined && { diskSize: options.diskSize }),
      bucket: options.bucket,
      ...(options.roleName !== undefined && { roleName: options.roleName }),
      description: `oskit ${options.name} ${options.digest}`.slice(0, 255),
      tags: publishTags(options),
      ...(options.encrypted !== undefined && { encrypted: options.encrypted }),
      ...(options.kmsKeyArn !== undefined && { kmsKeyArn: options.kmsKeyArn }),
      ...(options.parallel !== undefined && { parallel: options.parallel }),
      ...(options.importTimeoutMs !== undefined && { timeoutMs: options.importTimeoutMs }),
      ...(options.pollMs !== undefined && { pollMs: options.pollMs }),
      ...(options.retry !== undefined && { retry: options.retry }),
      ...(options.importProgress !== undefined && { progress: options.importProgress }),
    },
    await clients.s3(options.region),
    ec2,
  );
}

/** Removes every image of a publish (each region's copy) and their snapshots. */
export async function unpublish(
  published: Pick<PublishedPartial, "region" | "snapshotId" | "images"> & { imageId?: string },
  clients: AwsClients,
  policy?: RetryPolicy,
): Promise<void> {
  const byRegion = new Map(Object.entries(published.images));
  if (published.imageId !== undefined && !byRegion.has(published.region))
    byRegion.set(published.region, {
      imageId: published.imageId,
      snapshotId: published.snapshotId ?? "",
    });
  for (const [region, image] of byRegion) {
    const ec2 = await clients.ec2(region);
    if (image.imageId !== "")
      await deleteImage(
        ec2,
        image.imageId,
        image.snapshotId !== "" ? [image.snapshotId] : [],
        policy,
      );
    else if (image.snapshotId !== "") await deleteSnapshot(ec2, image.snapshotId, policy);
  }
  const own = byRegion.get(published.region);
  if (published.snapshotId !== undefined && own?.snapshotId !== published.snapshotId)
    await deleteSnapshot(await clients.ec2(published.region), published.snapshotId, policy);
}
