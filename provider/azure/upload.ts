/**
 * A fixed VHD into an Azure page blob: the footer is checked first, the blob is created with the
 * file's exact size (named after the artifact digest), and only the 512-byte pages holding data
 * are written, merged into Put Page calls of at most 4 MiB (Azure's limit, enforced here: Azurite
 * takes more), in parallel, each with its MD5. A re-run asks Get Page Ranges and skips the ranges
 * already written, so an interrupted upload resumes without rewriting them. The blob's
 * Content-MD5 is set at the end.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { ErrorCode, OskitError } from "../../sdk/errors";
import type { Extent } from "../aws/blocks";
import { errorFacts, isTransient, type RetryPolicy } from "../aws/retry";
import { withRetries as retry } from "../retry";
import type { PageBlobApi } from "./blob";

/** Azure's page size: offsets and lengths of Put Page are multiples of it. */
export const PAGE = 512;
/** The most one Put Page call may carry (Azure refuses more). */
export const MAX_PUT_PAGE = 4 * 1024 * 1024;
const MiB = 1024 * 1024;
/** The blob metadata key holding the artifact digest (Azure lowercases metadata keys). */
export const DIGEST_KEY = "oskitdigest";

/** What the footer of a fixed VHD says. */
export interface VhdFacts {
  /** The disk's size (the footer's current size): the file less its 512-byte footer. */
  readonly diskSize: number;
  /** The file's size: the page blob's size. */
  readonly fileSize: number;
}

const DISK_TYPES: Readonly<Record<number, string>> = {
  2: "fixed",
  3: "dynamic",
  4: "differencing",
};

/**
 * Checks that `path` is a fixed VHD Azure takes: the "conectix" footer in its last 512 bytes with
 * a valid checksum, disk type fixed, a current size equal to the file less the footer, a whole
 * number of MiB.
 */
export async function checkVhd(path: string): Promise<VhdFacts> {
  const fileSize = (await stat(path)).size;
  const fail = (what: string) => new OskitError(ErrorCode.Publish, `${path}: ${what}`);
  if (fileSize < PAGE || fileSize % PAGE !== 0)
    throw fail(
      `not a VHD (${fileSize} bytes, not a whole number of 512-byte sectors); give an oskit \`vhd\` output or a fixed VHD`,
    );
  const footer = Buffer.alloc(PAGE);
  const handle = await open(path, "r");
  try {
    await handle.read(footer, 0, PAGE, fileSize - PAGE);
  } finally {
    await handle.close();
  }
  if (footer.toString("latin1", 0, 8) !== "conectix")
    throw fail(
      `not a VHD (no "conectix" footer in its last 512 bytes); give an oskit \`vhd\` output or convert the disk with \`qemu-img convert -O vpc -o subformat=fixed,force_size\``,
    );
  let sum = 0;
  for (let i = 0; i < PAGE; i++) if (i < 64 || i >= 68) sum += footer[i]!;
  if (~sum >>> 0 !== footer.readUInt32BE(64))
    throw fail("the VHD footer's checksum does not match: the file is damaged");
  const type = footer.readUInt32BE(60);
  if (type !== 2)
    throw fail(
      `a ${DISK_TYPES[type] ?? `type-${type}`} VHD; Azure boots fixed VHDs only: convert it with \`qemu-img convert -O vpc -o subformat=fixed,force_size\``,
    );
  const diskSize = Number(footer.readBigUInt64BE(48));
  if (diskSize !== fileSize - PAGE)
    throw fail(
      `the VHD footer gives a disk of ${diskSize} bytes but the file holds ${fileSize - PAGE} before it: the file is truncated or not a fixed VHD`,
    );
  if (diskSize % MiB !== 0)
    throw fail(`a disk of ${diskSize} bytes; Azure takes VHDs of a whole number of MiB`);
  return { diskSize, fileSize };
}

/** A run of non-zero pages to write with one Put Page. */
export interface PageRange {
  readonly offset: number;
  readonly data: Buffer;
}

/** Sorted, merged, page-aligned extents within `[0, size)`. */
export function pageAligned(extents: readonly Extent[], size: number): Extent[] {
  const sorted = extents
    .filter((e) => e.length > 0)
    .map((e) => {
      const start = Math.max(0, Math.floor(e.offset / PAGE) * PAGE);
      const end = Math.min(size, Math.ceil((e.offset + e.length) / PAGE) * PAGE);
      return { offset: start, length: end - start };
    })
    .filter((e) => e.length > 0)
    .sort((a, b) => a.offset - b.offset);
  const out: Extent[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last !== undefined && e.offset <= last.offset + last.length)
      out[out.length - 1] = {
        offset: last.offset,
        length: Math.max(last.offset + last.length, e.offset + e.length) - last.offset,
      };
    else out.push(e);
  }
  return out;
}

const ZERO_PAGE = Buffer.alloc(PAGE);

/**
 * The file's runs of non-zero 512-byte pages, each at most `maxBytes`, in offset order. With
 * `regions`, only those byte ranges are read (the rest is known to be zero); the pages they hold
 * are still checked, so a stale allocation never writes a zero page.
 */
export async function* nonZeroRanges(
  path: string,
  options: {
    readonly fileSize: number;
    readonly regions?: readonly Extent[];
    readonly maxBytes?: number;
  },
): AsyncGenerator<PageRange> {
  const max = options.maxBytes ?? MAX_PUT_PAGE;
  if (max < PAGE || max % PAGE !== 0)
    throw new RangeError(`maxBytes ${max}: expected a positive multiple of ${PAGE}`);
  const regions = pageAligned(
    options.regions ?? [{ offset: 0, length: options.fileSize }],
    options.fileSize,
  );
  const handle = await open(path, "r");
  const chunk = Buffer.alloc(max);
  let run: Buffer | undefined;
  let runOffset = 0;
  let runLength = 0;
  const flush = (): PageRange | undefined => {
    if (run === undefined || runLength === 0) return undefined;
    const range = { offset: runOffset, data: run.subarray(0, runLength) };
    run = undefined;
    runLength = 0;
    return range;
  };
  try {
    for (const region of regions) {
      for (let at = region.offset; at < region.offset + region.length;) {
        const want = Math.min(max, region.offset + region.length - at);
        let got = 0;
        while (got < want) {
          const { bytesRead } = await handle.read(chunk, got, want - got, at + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        chunk.fill(0, got, want);
        for (let page = 0; page < want; page += PAGE) {
          const bytes = chunk.subarray(page, page + PAGE);
          if (bytes.equals(ZERO_PAGE)) {
            const done = flush();
            if (done !== undefined) yield done;
            continue;
          }
          if (run === undefined) {
            run = Buffer.allocUnsafe(max);
            runOffset = at + page;
          }
          bytes.copy(run, runLength);
          runLength += PAGE;
          if (runLength === max) yield flush()!;
        }
        at += want;
      }
      const done = flush(); // the gap after a region is zero
      if (done !== undefined) yield done;
    }
  } finally {
    await handle.close();
  }
}

/** True when `[offset, offset + length)` lies inside one of the sorted, merged `written` extents. */
function covered(written: readonly Extent[], offset: number, length: number): boolean {
  let lo = 0;
  let hi = written.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const e = written[mid]!;
    if (e.offset + e.length <= offset) lo = mid + 1;
    else if (e.offset > offset) hi = mid - 1;
    else return offset + length <= e.offset + e.length;
  }
  return false;
}

/** The blob name of an artifact: its sha256, hex, with `.vhd`. */
export function blobNameOf(digest: string): string {
  const match = /^sha256:([0-9a-f]{64})$/.exec(digest);
  if (match === null)
    throw new OskitError(
      ErrorCode.Publish,
      `artifact digest ${JSON.stringify(digest)}: expected sha256: and 64 lowercase hex digits`,
    );
  return `oskit-${match[1]}.vhd`;
}

/** Throttling (503 ServerBusy, 429), a server error or a broken connection: worth trying again. */
export function isTransientAzure(error: unknown): boolean {
  const status = (error as { statusCode?: unknown } | undefined)?.statusCode;
  const { code } = errorFacts(error);
  return (
    isTransient(error) ||
    (typeof status === "number" && (status >= 500 || status === 429 || status === 408)) ||
    code === "ServerBusy" ||
    code === "OperationTimedOut"
  );
}

const defaultPolicy = { attempts: 8, baseMs: 500, maxMs: 20_000 };

/** Retry-After of a throttled answer (503 ServerBusy, 429), in ms, when the service named one. */
export function retryAfterMs(error: unknown): number | undefined {
  const headers = (error as { response?: { headers?: { get?: (name: string) => unknown } } })
    ?.response?.headers;
  const value = typeof headers?.get === "function" ? headers.get("retry-after") : undefined;
  if (typeof value !== "string" || value.trim() === "") return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/** Runs a blob call until it succeeds or fails for good; Retry-After honoured (up to maxMs). */
function withRetries<T>(
  what: string,
  call: (attempt: number) => Promise<T>,
  policy: RetryPolicy,
  retryable: (error: unknown) => boolean,
): Promise<T> {
  return retry(what, call, policy, {
    retryable,
    defaults: defaultPolicy,
    askedWaitMs: retryAfterMs,
  });
}

/** Where an upload stands. */
export interface AzureUploadProgress {
  /** Put Page bytes accepted so far. */
  readonly bytesWritten: number;
  /** Non-zero bytes found already written by an earlier run. */
  readonly bytesSkipped: number;
  /** The blob's size. */
  readonly bytesTotal: number;
  readonly seconds: number;
}

export interface AzureUploadOptions {
  /** The fixed VHD. */
  readonly path: string;
  /** The artifact's sha256 (`sha256:…`): the blob's name and its `oskitdigest` metadata. */
  readonly digest: string;
  /** The byte ranges of the disk holding data (an oskit output's `allocation`): the rest is not read. */
  readonly allocation?: readonly Extent[];
  /** More metadata for a new blob (keys lowercase letters and digits, values printable ASCII). */
  readonly metadata?: Readonly<Record<string, string>>;
  /** Put Page calls in flight at once (each holds up to 4 MiB). @default 8 */
  readonly parallel?: number;
  /** The most one Put Page carries, at most 4 MiB. @default 4 MiB */
  readonly maxPutBytes?: number;
  readonly retry?: RetryPolicy;
  /** Progress reports, at most every `progressEveryMs`. */
  readonly progress?: (progress: AzureUploadProgress) => void;
  /** @default 500 */
  readonly progressEveryMs?: number;
  /** The clock. @default performance.now */
  readonly now?: () => number;
}

export interface AzureUploadResult {
  readonly url: string;
  /** The blob's size: the VHD file's size. */
  readonly size: number;
  /** Bytes in the file's non-zero 512-byte pages. */
  readonly dataBytes: number;
  /** Put Page calls answered. */
  readonly putPages: number;
  /** Bytes written by Put Page in this run (retried attempts not counted twice). */
  readonly bytesWritten: number;
  /** Bytes of ranges an earlier run had written, skipped. */
  readonly bytesSkipped: number;
  /** Bytes sent again after a failed attempt. */
  readonly bytesResent: number;
  /** True when the blob was there from an earlier run. */
  readonly resumed: boolean;
  /** The file's MD5, base64: the blob's Content-MD5. */
  readonly contentMd5: string;
  readonly seconds: number;
}

async function fileMd5(path: string): Promise<Buffer> {
  const hash = createHash("md5");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hash.update(chunk as Buffer);
  return hash.digest();
}

/**
 * Uploads a fixed VHD into the page blob `api` addresses. A failure leaves the blob with the
 * ranges written so far: run again with the same options to finish it.
 */
export async function uploadVhd(
  options: AzureUploadOptions,
  api: PageBlobApi,
): Promise<AzureUploadResult> {
  const now = options.now ?? (() => performance.now());
  const started = now();
  const policy = { ...defaultPolicy, ...options.retry };
  const maxPut = options.maxPutBytes ?? MAX_PUT_PAGE;
  if (!(maxPut >= PAGE && maxPut <= MAX_PUT_PAGE && maxPut % PAGE === 0))
    throw new RangeError(`maxPutBytes ${maxPut}: expected a multiple of 512 up to 4 MiB`);
  const { fileSize, diskSize } = await checkVhd(options.path);
  blobNameOf(options.digest);
  const md5 = fileMd5(options.path);
  md5.catch(() => undefined);

  await withRetries("Create Container", () => api.ensureContainer(), policy, isTransientAzure);
  const existing = await withRetries(
    `Get Blob Properties ${api.url}`,
    () => api.properties(),
    policy,
    isTransientAzure,
  );
  let written: Extent[] = [];
  if (existing === undefined) {
    await withRetries(
      `Put Blob ${api.url}`,
      () => api.create(fileSize, { ...options.metadata, [DIGEST_KEY]: options.digest }),
      policy,
      isTransientAzure,
    );
  } else {
    const theirs = existing.metadata[DIGEST_KEY];
    if (existing.blobType !== "PageBlob" || existing.size !== fileSize || theirs !== options.digest)
      throw new OskitError(
        ErrorCode.Publish,
        `blob ${api.url} exists and is not an upload of ${options.digest} (a ${existing.blobType ?? "blob"} of ${existing.size} bytes, ${DIGEST_KEY} ${theirs ?? "unset"}): delete it or upload into another container`,
      );
    written = pageAligned(
      await withRetries(
        `Get Page Ranges ${api.url}`,
        () => api.pageRanges(),
        policy,
        isTransientAzure,
      ),
      fileSize,
    );
  }

  const regions =
    options.allocation !== undefined
      ? [...options.allocation, { offset: diskSize, length: PAGE }]
      : undefined;
  const ranges = nonZeroRanges(options.path, {
    fileSize,
    maxBytes: maxPut,
    ...(regions !== undefined && { regions }),
  });
  let dataBytes = 0;
  let putPages = 0;
  let bytesWritten = 0;
  let bytesSkipped = 0;
  let bytesResent = 0;
  let lastReport = -Infinity;
  const every = options.progressEveryMs ?? 500;
  const report = (force = false) => {
    const t = now();
    if (options.progress === undefined || (!force && t - lastReport < every)) return;
    lastReport = t;
    options.progress({
      bytesWritten,
      bytesSkipped,
      bytesTotal: fileSize,
      seconds: (t - started) / 1000,
    });
  };
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined) {
      const next = await ranges.next();
      if (next.done === true) return;
      const { offset, data } = next.value;
      dataBytes += data.length;
      if (covered(written, offset, data.length)) {
        bytesSkipped += data.length;
        continue;
      }
      if (data.length > MAX_PUT_PAGE || data.length % PAGE !== 0 || offset % PAGE !== 0)
        throw new Error(`internal: a Put Page of ${data.length} bytes at ${offset}`);
      const digest = createHash("md5").update(data).digest();
      await withRetries(
        `Put Page ${api.url} bytes ${offset}-${offset + data.length - 1}`,
        async (attempt) => {
          if (attempt > 1) bytesResent += data.length;
          await api.uploadPages(data, offset, digest);
        },
        policy,
        isTransientAzure,
      );
      putPages++;
      bytesWritten += data.length;
      report();
    }
  };
  const parallel = Math.max(1, Math.floor(options.parallel ?? 8));
  await Promise.all(
    Array.from({ length: parallel }, () =>
      worker().catch((error: unknown) => {
        failure ??= error;
      }),
    ),
  );
  await ranges.return(undefined);
  // eslint-disable-next-line @typescript-eslint/only-throw-error -- the first worker's error, as it came
  if (failure !== undefined) throw failure;

  const contentMd5 = await md5;
  await withRetries(
    `Set Blob Properties ${api.url}`,
    () => api.setContentMd5(contentMd5, "application/octet-stream"),
    policy,
    isTransientAzure,
  );
  report(true);
  return {
    url: api.url,
    size: fileSize,
    dataBytes,
    putPages,
    bytesWritten,
    bytesSkipped,
    bytesResent,
    resumed: existing !== undefined,
    contentMd5: contentMd5.toString("base64"),
    seconds: (now() - started) / 1000,
  };
}
