/**
 * `oskit push aws ARTIFACT`: a raw disk (an oskit `aws` or `raw-efi` output, or any raw disk
 * image) into an EBS snapshot with the EBS direct APIs (or, with `--method import`, through S3
 * and ImportSnapshot), registered as an AMI, with a progress
 * line on stderr and the snapshot and AMI ids on stdout. Credentials come from the AWS SDK's
 * default chain (environment, profile, SSO, instance role); none is taken on the command line.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { basename, extname, resolve } from "node:path";
import { ec2Architecture } from "../../../provider/aws/blocks";
import { sdkClients } from "../../../provider/aws/clients";
import { diskArchitecture, diskInfo } from "../../../provider/aws/disk";
import { describeError, type UploadProgress } from "../../../provider/aws/ebs-upload";
import type { ImportProgress } from "../../../provider/aws/import";
import { publish, PublishInterrupted } from "../../../provider/aws/publish";
import { amiName, BOOT_MODES, bootModeOf, type BootMode } from "../../../provider/aws/register";
import { ErrorCode, OskitError } from "../../errors";
import type { Io } from "../io";

export interface PushAwsOptions {
  readonly region?: string;
  readonly name?: string;
  /** `--no-register`: the snapshot only. */
  readonly register?: boolean;
  readonly endpoint?: string;
  readonly ec2Endpoint?: string;
  readonly ebsEndpoint?: string;
  readonly s3Endpoint?: string;
  /** `direct` (EBS direct APIs) or `import` (S3 + ImportSnapshot). */
  readonly method?: string;
  readonly bucket?: string;
  readonly roleName?: string;
  readonly bootMode?: string;
  readonly arch?: string;
  readonly tpm?: boolean;
  readonly encrypted?: boolean;
  readonly kmsKeyArn?: string;
  readonly copyTo?: string[];
  readonly parallel?: string;
}

const usage = (message: string) => new OskitError(ErrorCode.Usage, message);

const MiB = 1024 * 1024;

/** `12/53 blocks written, 1995 skipped, 6.0 MiB, 10.2 MiB/s`. */
export function progressLine(p: UploadProgress): string {
  const done = p.blocksWritten + p.blocksSkipped;
  return `${p.phase === "complete" ? "completing" : "uploading"} ${p.snapshotId}: ${done}/${p.blocksTotal} blocks (${p.blocksWritten} written, ${p.blocksSkipped} skipped), ${(p.bytesSent / MiB).toFixed(1)} MiB, ${(p.bytesPerSecond / MiB).toFixed(1)} MiB/s`;
}

/** `uploading s3://b/k: 3/5 parts, 24.0 MiB, 80.0 MiB/s`, then `importing import-snap-…: active 42%`. */
export function importProgressLine(p: ImportProgress): string {
  if (p.phase === "upload")
    return `uploading s3://${p.bucket}/${p.key}: ${p.partsSent}/${p.partsTotal} parts, ${(p.bytesSent / MiB).toFixed(1)} MiB, ${(p.bytesPerSecond / MiB).toFixed(1)} MiB/s`;
  const percent = p.percent !== undefined ? ` ${p.percent}%` : "";
  const message = p.statusMessage !== undefined ? ` (${p.statusMessage})` : "";
  return `importing ${p.importTaskId ?? ""}: ${p.status ?? "active"}${percent}${message}`;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}

function endpointUrl(value: string | undefined, option: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw usage(`${option} ${value}: expected an http(s) URL`);
  }
  if (!/^https?:$/.test(url.protocol)) throw usage(`${option} ${value}: expected an http(s) URL`);
  if (url.username !== "" || url.password !== "")
    throw usage(
      `${option}: an endpoint carries no credentials; they come from the AWS SDK's chain`,
    );
  return value;
}

/** Uploads and registers; prints the snapshot id and the AMI id. */
export async function pushAwsCommand(
  io: Io,
  artifact: string,
  opts: PushAwsOptions,
): Promise<number> {
  const path = resolve(io.cwd, artifact);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isFile())
    throw usage(
      `${artifact}: no such file; give an oskit aws or raw-efi output, or a raw disk image`,
    );
  const region = opts.region ?? io.env.AWS_REGION ?? io.env.AWS_DEFAULT_REGION;
  if (region === undefined || region === "")
    throw usage("no region: give --region (or set AWS_REGION)");
  if (
    opts.endpoint !== undefined &&
    (opts.ec2Endpoint ?? opts.ebsEndpoint ?? opts.s3Endpoint) !== undefined
  )
    throw usage("give --endpoint, or --ec2-endpoint, --ebs-endpoint and --s3-endpoint, not both");
  const ec2 = endpointUrl(opts.ec2Endpoint ?? opts.endpoint, "--ec2-endpoint");
  const ebs = endpointUrl(opts.ebsEndpoint ?? opts.endpoint, "--ebs-endpoint");
  const s3 = endpointUrl(opts.s3Endpoint ?? opts.endpoint, "--s3-endpoint");
  const method = opts.method ?? "direct";
  if (method !== "direct" && method !== "import")
    throw usage(`--method ${method}: expected direct or import`);
  if (method === "import" && (opts.bucket === undefined || opts.bucket === ""))
    throw usage(
      "--method import needs --bucket BUCKET: an S3 bucket in the region that the vmimport role can read",
    );
  if (method === "direct" && (opts.bucket ?? opts.roleName) !== undefined)
    throw usage("--bucket and --role-name are for --method import");
  const parallel = opts.parallel === undefined ? undefined : Number(opts.parallel);
  if (parallel !== undefined && !(Number.isSafeInteger(parallel) && parallel >= 1))
    throw usage(`--parallel ${opts.parallel}: expected a whole number of at least 1`);
  if (opts.bootMode !== undefined && !(BOOT_MODES as readonly string[]).includes(opts.bootMode))
    throw usage(`--boot-mode ${opts.bootMode}: expected one of ${BOOT_MODES.join(", ")}`);

  const disk = await diskInfo(path);
  let architecture;
  try {
    architecture =
      opts.arch !== undefined ? ec2Architecture(opts.arch) : await diskArchitecture(path, disk);
  } catch (error) {
    throw usage(`--arch: ${(error as Error).message}`);
  }
  if (architecture === undefined)
    throw usage(
      `cannot tell the architecture of ${artifact} (no EFI binary on it): give --arch amd64 or arm64`,
    );
  const bootMode = (opts.bootMode as BootMode | undefined) ?? bootModeOf(disk.format);
  if (bootMode === undefined)
    throw usage(`cannot tell how ${artifact} boots: give --boot-mode uefi (or legacy-bios)`);
  const name = opts.name ?? basename(path, extname(path));
  const digest = disk.sha256 ?? (await fileSha256(path));

  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let last = "";
  const show = (line: string) => {
    if (!tty && line === last) return;
    last = line;
    io.stderr.write(tty ? `\r${last}\x1b[K` : `${last}\n`);
  };
  const progress = (p: UploadProgress) => show(progressLine(p));
  try {
    const published = await publish(
      {
        path,
        digest,
        diskSize: disk.diskSize,
        ...(disk.allocation !== undefined && { allocation: disk.allocation }),
        ...(disk.format !== undefined && { format: disk.format }),
        region,
        name: amiName(name),
        architecture,
        bootMode,
        ...(opts.tpm === true && { tpm: true }),
        ...(opts.encrypted === true && { encrypted: true }),
        ...(opts.kmsKeyArn !== undefined && { kmsKeyArn: opts.kmsKeyArn }),
        copyRegions: opts.copyTo ?? [],
        owner: `cli/${amiName(name)}`,
        register: opts.register !== false,
        ...(parallel !== undefined && { parallel }),
        progress,
        ...(method === "import" && {
          method,
          bucket: opts.bucket!,
          ...(opts.roleName !== undefined && { roleName: opts.roleName }),
          importProgress: (p: ImportProgress) => show(importProgressLine(p)),
        }),
        ...(io.env.OSKIT_AWS_POLL_MS !== undefined && { pollMs: Number(io.env.OSKIT_AWS_POLL_MS) }),
      },
      sdkClients({
        ...(ec2 !== undefined && { ec2 }),
        ...(ebs !== undefined && { ebs }),
        ...(s3 !== undefined && { s3 }),
      }),
    );
    if (tty && last !== "") io.stderr.write("\n");
    const u = published.upload;
    const imported = published.imported;
    if (imported !== undefined) {
      io.stderr.write(
        `imported ${imported.importTaskId}: ${imported.uploaded ? `${imported.partsSent} parts, ${(imported.bytesSent / MiB).toFixed(1)} MiB uploaded` : "the disk was in the bucket already"}, ${imported.seconds.toFixed(1)} s\n`,
      );
      if (!imported.objectRemoved)
        io.stderr.write(
          `warning: could not delete s3://${imported.bucket}/${imported.key}; delete it yourself\n`,
        );
    } else if (u !== undefined)
      io.stderr.write(
        `uploaded ${u.blocksWritten} of ${u.blocksTotal} blocks (${u.blocksSkipped} all zero, skipped), ${(u.bytesSent / MiB).toFixed(1)} MiB in ${u.seconds.toFixed(1)} s\n`,
      );
    else
      io.stderr.write(
        `this disk's AMI already exists (${published.imageId ?? ""}): nothing uploaded\n`,
      );
    io.stdout.write(`snapshot ${published.snapshotId}\n`);
    if (published.imageId !== undefined) io.stdout.write(`image ${published.imageId}\n`);
    for (const [r, image] of Object.entries(published.images))
      if (r !== region) io.stdout.write(`image ${image.imageId} ${r}\n`);
    return 0;
  } catch (error) {
    if (tty && last !== "") io.stderr.write("\n");
    const partial =
      error instanceof PublishInterrupted
        ? `; ${error.partial.snapshotId ?? ""} ${error.partial.imageId ?? ""} remain: run the same command again to resume`
        : "";
    throw new OskitError(
      ErrorCode.Publish,
      `push to AWS failed: ${describeError(error instanceof PublishInterrupted ? (error.cause ?? error) : error)}${partial.replace(/ +/g, " ")}`,
      { cause: error },
    );
  }
}
