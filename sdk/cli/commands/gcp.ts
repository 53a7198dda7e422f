/**
 * `oskit push gcp ARTIFACT`: a GCE tarball (an oskit `gce` output, or any gzip'd old-GNU tar
 * holding disk.raw) checked as GCE will check it, uploaded to Cloud Storage with the resumable
 * protocol and registered as a GCE image, with a progress line on stderr and the image's name and
 * self link on stdout. The token comes from GOOGLE_OAUTH_ACCESS_TOKEN, else Application Default
 * Credentials; none is taken on the command line.
 */
import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { defaultTokenSource, gcpClient } from "../../../provider/gcp/http";
import { publishGce, PublishInterrupted } from "../../../provider/gcp/publish";
import { gceName, NAME } from "../../../provider/gcp/register";
import { GCE_ARCHITECTURES, type GceArchitecture } from "../../../provider/gcp/tarball";
import { fileDigests, type UploadProgress } from "../../../provider/gcp/upload";
import { ErrorCode, OskitError } from "../../errors";
import type { Io } from "../io";

export interface PushGcpOptions {
  readonly project?: string;
  readonly bucket?: string;
  readonly family?: string;
  readonly name?: string;
  /** `--no-register`: the upload only. */
  readonly register?: boolean;
  readonly storageEndpoint?: string;
  readonly computeEndpoint?: string;
  readonly arch?: string;
  readonly storageLocation?: string[];
}

const usage = (message: string) => new OskitError(ErrorCode.Usage, message);
const MiB = 1024 * 1024;

/** `uploading gs://b/o: 24.0/64.0 MiB (37 %), 80.0 MiB/s`. */
export function gcpProgressLine(p: UploadProgress): string {
  const percent = p.bytesTotal === 0 ? 100 : Math.floor((p.bytesDone / p.bytesTotal) * 100);
  return `uploading ${p.object}: ${(p.bytesDone / MiB).toFixed(1)}/${(p.bytesTotal / MiB).toFixed(1)} MiB (${percent} %), ${(p.bytesPerSecond / MiB).toFixed(1)} MiB/s`;
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
    throw usage(`${option}: an endpoint carries no credentials`);
  return value.replace(/\/+$/, "");
}

/** The image's name from a file's: `hello.img.tar.gz` → `hello`. */
export const baseName = (path: string) =>
  basename(path)
    .replace(/(\.img)?\.(tar\.gz|tgz)$/, "")
    .replace(/\.img$/, "");

/** Uploads and registers; prints the image's name and self link (or the object with --no-register). */
export async function pushGcpCommand(
  io: Io,
  artifact: string,
  opts: PushGcpOptions,
): Promise<number> {
  const path = resolve(io.cwd, artifact);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isFile())
    throw usage(
      `${artifact}: no such file; give an oskit gce output (NAME.img.tar.gz) or a GCE tarball`,
    );
  const project = opts.project ?? io.env.GOOGLE_CLOUD_PROJECT ?? io.env.CLOUDSDK_CORE_PROJECT;
  if (project === undefined || project === "")
    throw usage("no project: give --project (or set GOOGLE_CLOUD_PROJECT)");
  if (opts.bucket === undefined || opts.bucket === "")
    throw usage("no bucket: give --bucket, a Cloud Storage bucket to upload the tarball to");
  if (opts.family !== undefined && !NAME.test(opts.family))
    throw usage(`--family ${opts.family}: expected lowercase letters, digits and dashes, ≤ 63`);
  if (
    opts.arch !== undefined &&
    !(GCE_ARCHITECTURES as readonly string[]).includes(
      opts.arch.toUpperCase().replace("AMD64", "X86_64"),
    )
  )
    throw usage(`--arch ${opts.arch}: expected X86_64 (amd64) or ARM64`);
  const architecture = opts.arch?.toUpperCase().replace("AMD64", "X86_64") as
    GceArchitecture | undefined;
  const storage = endpointUrl(opts.storageEndpoint, "--storage-endpoint");
  const compute = endpointUrl(opts.computeEndpoint, "--compute-endpoint");
  const name = gceName(opts.name ?? baseName(path), 43);

  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let last = "";
  const show = (line: string) => {
    if (!tty && line === last) return;
    last = line;
    io.stderr.write(tty ? `\r${last}\x1b[K` : `${last}\n`);
  };
  let lastShown = 0;
  const progress = (p: UploadProgress) => {
    const now = Date.now();
    if (tty || p.bytesDone === p.bytesTotal || p.bytesDone === 0 || now - lastShown > 2000) {
      lastShown = now;
      show(gcpProgressLine(p));
    }
  };
  try {
    const digests = await fileDigests(path);
    const client = gcpClient({ token: defaultTokenSource(io.env) });
    const published = await publishGce(
      client,
      { ...(storage !== undefined && { storage }), ...(compute !== undefined && { compute }) },
      {
        path,
        digest: digests.sha256,
        project,
        bucket: opts.bucket,
        name,
        owner: `cli/${name}`,
        register: opts.register !== false,
        progress,
        ...(opts.family !== undefined && { family: opts.family }),
        ...(architecture !== undefined && { architecture }),
        ...(opts.storageLocation !== undefined && { storageLocations: opts.storageLocation }),
        ...(io.env.OSKIT_GCP_POLL_MS !== undefined && { pollMs: Number(io.env.OSKIT_GCP_POLL_MS) }),
      },
    );
    if (tty && last !== "") io.stderr.write("\n");
    const u = published.upload;
    if (published.adopted)
      io.stderr.write(
        `this tarball's image already exists (${published.imageName ?? ""}): nothing uploaded\n`,
      );
    else if (u?.skipped === true)
      io.stderr.write(
        `gs://${published.bucket}/${published.object} already holds this tarball: nothing uploaded\n`,
      );
    else if (u !== undefined)
      io.stderr.write(
        `uploaded ${(u.bytesSent / MiB).toFixed(1)} MiB in ${u.seconds.toFixed(1)} s${u.resumes > 0 ? ` (resumed ${u.resumes} times)` : ""}\n`,
      );
    io.stdout.write(`object gs://${published.bucket}/${published.object}\n`);
    if (published.imageName !== undefined) io.stdout.write(`image ${published.imageName}\n`);
    if (published.image?.selfLink !== undefined)
      io.stdout.write(`selfLink ${published.image.selfLink}\n`);
    return 0;
  } catch (error) {
    if (tty && last !== "") io.stderr.write("\n");
    if ((error as Error).name === "TarballError") throw usage((error as Error).message);
    const resume =
      error instanceof PublishInterrupted
        ? "; the tarball stays uploaded: run the same command again to register it without uploading"
        : "";
    throw new OskitError(
      ErrorCode.Publish,
      `push to GCP failed: ${(error as Error).message}${resume}`,
      {
        cause: error,
      },
    );
  }
}
