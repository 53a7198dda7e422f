/**
 * `oskit push azure ARTIFACT`: a fixed VHD (an oskit `vhd` output, or any fixed VHD of a whole
 * number of MiB) checked as Azure will check it, uploaded as a page blob (only the pages holding
 * data, resumed from what is there) and registered as a managed image, with a progress line on
 * stderr and the blob, image name and id on stdout. ARM tokens come from DefaultAzureCredential;
 * the blob side takes `--account-key`/AZURE_STORAGE_KEY, `--sas`/AZURE_STORAGE_SAS_TOKEN, or the
 * same credential.
 */
import { stat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { diskInfo } from "../../../provider/aws/disk";
import {
  azureArmClient,
  defaultAzureCredential,
  subscriptionOf,
  SUBSCRIPTION_ID,
  type AzureTokenCredential,
} from "../../../provider/azure/credentials";
import {
  describeAzureError,
  fileSha256,
  publishAzure,
  PublishInterrupted,
} from "../../../provider/azure/publish";
import {
  diskBootOf,
  HYPERV_GENERATIONS,
  STORAGE_ACCOUNT_TYPES,
  type HyperVGeneration,
  type StorageAccountType,
} from "../../../provider/azure/register";
import { checkVhd, type AzureUploadProgress } from "../../../provider/azure/upload";
import { ErrorCode, OskitError } from "../../errors";
import type { Io } from "../io";

export interface PushAzureOptions {
  readonly account?: string;
  readonly container?: string;
  readonly resourceGroup?: string;
  readonly location?: string;
  readonly subscription?: string;
  readonly name?: string;
  readonly hypervGeneration?: string;
  readonly storageAccountType?: string;
  /** `--no-register`: the upload only. */
  readonly register?: boolean;
  readonly blobEndpoint?: string;
  readonly armEndpoint?: string;
  readonly accountKey?: string;
  readonly sas?: string;
  readonly parallel?: string;
}

const usage = (message: string) => new OskitError(ErrorCode.Usage, message);
const MiB = 1024 * 1024;

/** `uploading https://a.blob.core.windows.net/c/oskit-….vhd: 6.0 MiB written, 0.0 MiB there before, of a 64.0 MiB VHD, 40.0 MiB/s`. */
export function azureProgressLine(p: AzureUploadProgress & { readonly url: string }): string {
  const rate = p.seconds > 0 ? p.bytesWritten / p.seconds : 0;
  return `uploading ${p.url}: ${(p.bytesWritten / MiB).toFixed(1)} MiB written, ${(p.bytesSkipped / MiB).toFixed(1)} MiB there before, of a ${(p.bytesTotal / MiB).toFixed(1)} MiB VHD, ${(rate / MiB).toFixed(1)} MiB/s`;
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
  if (url.username !== "" || url.password !== "" || url.search !== "")
    throw usage(
      `${option}: an endpoint carries no credentials or query; give --account-key or --sas`,
    );
  return value.replace(/\/+$/, "");
}

/** The image's name from a file's: `hello.vhd` → `hello`. */
export const vhdBaseName = (path: string) => basename(path).replace(/\.vhd$/i, "");

/** Storage account names: 3–24 lowercase letters and digits. */
const ACCOUNT = /^[a-z0-9]{3,24}$/;
/** Container names: 3–63 lowercase letters, digits and single dashes, no dash first or last. */
const CONTAINER = /^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62}$/;

/** Uploads and registers; prints the blob, the image's name and its id (the blob only with --no-register). */
export async function pushAzureCommand(
  io: Io,
  artifact: string,
  opts: PushAzureOptions,
): Promise<number> {
  const path = resolve(io.cwd, artifact);
  const info = await stat(path).catch(() => undefined);
  if (info === undefined || !info.isFile())
    throw usage(`${artifact}: no such file; give an oskit vhd output (NAME.vhd) or a fixed VHD`);
  const register = opts.register !== false;
  const problems: string[] = [];
  if (opts.account === undefined || !ACCOUNT.test(opts.account))
    problems.push(
      opts.account === undefined
        ? "no storage account: give --account, the storage account to upload the VHD to"
        : `--account ${opts.account}: expected 3–24 lowercase letters and digits`,
    );
  if (opts.container === undefined || !CONTAINER.test(opts.container))
    problems.push(
      opts.container === undefined
        ? "no container: give --container, a blob container in that account (made when missing)"
        : `--container ${opts.container}: expected 3–63 lowercase letters, digits and single dashes`,
    );
  const subscription = subscriptionOf(opts.subscription, io.env);
  if (register) {
    if (subscription === undefined)
      problems.push("no subscription: give --subscription (or set AZURE_SUBSCRIPTION_ID)");
    else if (!SUBSCRIPTION_ID.test(subscription))
      problems.push(`subscription ${subscription}: expected a GUID`);
    if (opts.resourceGroup === undefined || opts.resourceGroup === "")
      problems.push("no resource group: give --resource-group, where the image is made");
    if (opts.location === undefined || opts.location === "")
      problems.push("no location: give --location, the image's region (e.g. westeurope)");
  }
  const generation = opts.hypervGeneration?.toUpperCase();
  if (generation !== undefined && !(HYPERV_GENERATIONS as readonly string[]).includes(generation))
    problems.push(`--hyperv-generation ${opts.hypervGeneration}: expected V1 (BIOS) or V2 (UEFI)`);
  if (
    opts.storageAccountType !== undefined &&
    !(STORAGE_ACCOUNT_TYPES as readonly string[]).includes(opts.storageAccountType)
  )
    problems.push(
      `--storage-account-type ${opts.storageAccountType}: expected one of ${STORAGE_ACCOUNT_TYPES.join(", ")}`,
    );
  const parallel = opts.parallel === undefined ? undefined : Number(opts.parallel);
  if (parallel !== undefined && !(Number.isSafeInteger(parallel) && parallel >= 1))
    problems.push(`--parallel ${opts.parallel}: expected a whole number of at least 1`);
  if (opts.accountKey !== undefined && opts.sas !== undefined)
    problems.push("give --account-key or --sas, not both");
  if (problems.length > 0) throw usage(problems.join("\n       "));
  const blobEndpoint = endpointUrl(opts.blobEndpoint, "--blob-endpoint");
  const armEndpoint = endpointUrl(opts.armEndpoint, "--arm-endpoint");

  try {
    await checkVhd(path);
  } catch (error) {
    throw usage((error as Error).message);
  }
  const disk = await diskInfo(path);
  if (
    register &&
    generation === undefined &&
    (disk.format === undefined || diskBootOf(disk.format) === undefined)
  )
    throw usage(
      `cannot tell how ${artifact} boots (${disk.format !== undefined ? `an oskit ${disk.format} output` : "not an oskit output, or rebuilt since"}): give --hyperv-generation V2 (UEFI) or V1 (BIOS)`,
    );
  const name = opts.name ?? vhdBaseName(path);

  const tty = (io.stderr as { isTTY?: boolean }).isTTY === true;
  let last = "";
  const show = (line: string) => {
    if (!tty && line === last) return;
    last = line;
    io.stderr.write(tty ? `\r${last}\x1b[K` : `${last}\n`);
  };
  let lastShown = 0;
  const progress = (p: AzureUploadProgress & { readonly url: string }) => {
    const now = Date.now();
    if (tty || p.bytesWritten === 0 || now - lastShown > 2000) {
      lastShown = now;
      show(azureProgressLine(p));
    }
  };
  const secrets = [
    opts.accountKey,
    opts.sas,
    io.env.AZURE_STORAGE_KEY,
    io.env.AZURE_STORAGE_SAS_TOKEN,
  ];
  try {
    let credential: AzureTokenCredential | undefined;
    const lazyCredential = async () => (credential ??= await defaultAzureCredential());
    const needsToken =
      opts.accountKey === undefined &&
      opts.sas === undefined &&
      (io.env.AZURE_STORAGE_KEY ?? io.env.AZURE_STORAGE_SAS_TOKEN ?? "") === "";
    const storage = {
      account: opts.account!,
      container: opts.container!,
      ...(blobEndpoint !== undefined && { blobEndpoint }),
      ...(opts.accountKey !== undefined && { accountKey: opts.accountKey }),
      ...(opts.sas !== undefined && { sas: opts.sas }),
      ...(needsToken && { credential: await lazyCredential() }),
    };
    const arm =
      register || (subscription !== undefined && opts.resourceGroup !== undefined)
        ? await azureArmClient({
            ...(armEndpoint !== undefined && { endpoint: armEndpoint }),
            credential: await lazyCredential(),
          })
        : undefined;
    const published = await publishAzure(
      {
        path,
        digest: disk.sha256 ?? (await fileSha256(path)),
        ...(disk.format !== undefined && { format: disk.format }),
        ...(disk.allocation !== undefined && { allocation: disk.allocation }),
        owner: `cli/${name}`,
        name,
        storage,
        ...(subscription !== undefined && { subscription }),
        ...(opts.resourceGroup !== undefined && { resourceGroup: opts.resourceGroup }),
        ...(opts.location !== undefined && { location: opts.location }),
        ...(generation !== undefined && { hyperVGeneration: generation as HyperVGeneration }),
        ...(opts.storageAccountType !== undefined && {
          storageAccountType: opts.storageAccountType as StorageAccountType,
        }),
        ...(parallel !== undefined && { parallel }),
        register,
        progress,
        ...(io.env.OSKIT_AZURE_POLL_MS !== undefined && {
          pollMs: Number(io.env.OSKIT_AZURE_POLL_MS),
        }),
      },
      { ...(arm !== undefined && { arm }) },
    );
    if (tty && last !== "") io.stderr.write("\n");
    const u = published.upload;
    if (published.adopted)
      io.stderr.write(
        `this VHD's image already exists (${published.imageName ?? ""}): nothing uploaded\n`,
      );
    else if (u !== undefined)
      io.stderr.write(
        `uploaded ${(u.bytesWritten / MiB).toFixed(1)} MiB of a ${(u.size / MiB).toFixed(1)} MiB VHD in ${u.putPages} Put Page calls, ${u.seconds.toFixed(1)} s${u.bytesSkipped > 0 ? ` (${(u.bytesSkipped / MiB).toFixed(1)} MiB were there from an earlier run)` : ""}\n`,
      );
    for (const swept of published.swept)
      io.stderr.write(`deleted ${swept}, left by an earlier run\n`);
    io.stdout.write(`blob ${published.blobUrl}\n`);
    if (published.imageName !== undefined) io.stdout.write(`name ${published.imageName}\n`);
    if (published.imageId !== undefined) io.stdout.write(`image ${published.imageId}\n`);
    return 0;
  } catch (error) {
    if (tty && last !== "") io.stderr.write("\n");
    const resume =
      error instanceof PublishInterrupted
        ? "; the VHD stays uploaded: run the same command again to register it without uploading"
        : "";
    throw new OskitError(
      ErrorCode.Publish,
      `push to Azure failed: ${describeAzureError(error, secrets)}${resume}`,
      { cause: error },
    );
  }
}
