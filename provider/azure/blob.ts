/**
 * The few page-blob calls of an Azure upload, as a small interface (tests hand in their own or
 * wrap the real one), and the real client behind it. `@azure/storage-blob` is loaded by the
 * function that makes a client, never when this module loads, so programs that do not publish to
 * Azure never load it. The storage key or SAS is handed to the SDK and kept nowhere else.
 */
import type { Extent } from "../aws/blocks";
import { ErrorCode, OskitError } from "../../sdk/errors";

/** What Get Blob Properties tells of an existing blob. */
export interface BlobFacts {
  readonly size: number;
  readonly blobType: string | undefined;
  /** The blob's Content-MD5, when set. */
  readonly contentMd5: Buffer | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The calls of a page-blob upload. */
export interface PageBlobApi {
  /** The blob's address (without any SAS). */
  readonly url: string;
  /** Creates the container when it is missing (a SAS may not allow it: then it must exist). */
  ensureContainer(): Promise<void>;
  /** The blob's properties, or undefined when there is no such blob. */
  properties(): Promise<BlobFacts | undefined>;
  /** Creates (or resets) the page blob with `size` bytes of zeros. */
  create(size: number, metadata: Readonly<Record<string, string>>): Promise<void>;
  /** Put Page: `data` at `offset` (both 512-byte aligned), with its MD5 checked by the service. */
  uploadPages(data: Buffer, offset: number, md5: Buffer): Promise<void>;
  /** Get Page Ranges: the ranges written, as byte extents in ascending order. */
  pageRanges(): Promise<Extent[]>;
  /** Sets the blob's Content-MD5 (and its content type). */
  setContentMd5(md5: Buffer, contentType: string): Promise<void>;
}

/** The storage account's blob service and how to sign for it. */
export interface BlobTarget {
  /** The storage account. */
  readonly account: string;
  readonly container: string;
  readonly blob: string;
  /** The blob service's URL. @default https://ACCOUNT.blob.core.windows.net */
  readonly blobEndpoint?: string;
  /** A storage account key. @default the AZURE_STORAGE_KEY environment variable */
  readonly accountKey?: string;
  /** A SAS token (query string, with or without the leading `?`) instead of a key. */
  readonly sas?: string;
}

/** The container's URL (no SAS) for a target. */
export function containerUrl(target: Pick<BlobTarget, "account" | "container" | "blobEndpoint">) {
  const endpoint = target.blobEndpoint ?? `https://${target.account}.blob.core.windows.net`;
  return `${endpoint.replace(/\/+$/, "")}/${encodeURIComponent(target.container)}`;
}

/** The blob's URL (no SAS) for a target. */
export function blobUrl(
  target: Pick<BlobTarget, "account" | "container" | "blob" | "blobEndpoint">,
) {
  return `${containerUrl(target)}/${target.blob.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * The real page-blob client of a target, signed with its key or SAS. The SDK's own retries are
 * off (one try): the upload's retry policy is the one, and tests see it.
 */
export async function pageBlobClient(
  target: BlobTarget,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<PageBlobApi> {
  const key = target.accountKey ?? env.AZURE_STORAGE_KEY;
  const sas = target.sas?.replace(/^\?/, "");
  if ((key === undefined || key === "") && (sas === undefined || sas === ""))
    throw new OskitError(
      ErrorCode.Publish,
      `no credentials for storage account ${target.account}: set AZURE_STORAGE_KEY (or pass the account key) or give a SAS token; Microsoft Entra ID sign-in (DefaultAzureCredential) is not supported yet`,
    );
  const sdk = await import("@azure/storage-blob");
  const url = blobUrl(target);
  const pipeline = sdk.newPipeline(
    sas !== undefined && sas !== ""
      ? new sdk.AnonymousCredential()
      : new sdk.StorageSharedKeyCredential(target.account, key!),
    { retryOptions: { maxTries: 1 } },
  );
  const signed = (u: string) => (sas !== undefined && sas !== "" ? `${u}?${sas}` : u);
  const blob = new sdk.PageBlobClient(signed(url), pipeline);
  const container = new sdk.ContainerClient(signed(containerUrl(target)), pipeline);
  const status = (error: unknown) => (error as { statusCode?: unknown })?.statusCode;
  return {
    url,
    async ensureContainer() {
      try {
        await container.createIfNotExists();
      } catch (error) {
        // A SAS scoped to the container cannot create it; the blob calls say whether it exists.
        if (status(error) !== 403) throw error;
      }
    },
    async properties() {
      try {
        const p = await blob.getProperties();
        return {
          size: p.contentLength ?? 0,
          blobType: p.blobType,
          contentMd5: p.contentMD5 !== undefined ? Buffer.from(p.contentMD5) : undefined,
          metadata: p.metadata ?? {},
        };
      } catch (error) {
        if (status(error) === 404) return undefined;
        throw error;
      }
    },
    async create(size, metadata) {
      await blob.create(size, { metadata: { ...metadata } });
    },
    async uploadPages(data, offset, md5) {
      await blob.uploadPages(data, offset, data.length, { transactionalContentMD5: md5 });
    },
    async pageRanges() {
      // listPageRanges gives the service's start and inclusive end (getPageRanges' `count` is
      // end − start, one byte short).
      const out: Extent[] = [];
      for await (const range of blob.listPageRanges())
        out.push({ offset: range.start, length: range.end - range.start + 1 });
      return out.sort((a, b) => a.offset - b.offset);
    },
    async setContentMd5(md5, contentType) {
      await blob.setHTTPHeaders({ blobContentMD5: md5, blobContentType: contentType });
    },
  };
}
