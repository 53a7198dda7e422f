/**
 * The few page-blob and container calls of an Azure upload, as small interfaces (tests hand in
 * their own or wrap the real ones), and the real clients behind them. `@azure/storage-blob` is
 * loaded by the functions that make a client, never when this module loads, so programs that do
 * not publish to Azure never load it. The storage key, SAS or token credential is handed to the
 * SDK and kept nowhere else.
 */
import type { Extent } from "../aws/blocks";
import { ErrorCode, OskitError } from "../../sdk/errors";
import type { AzureTokenCredential } from "./credentials";

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
  /**
   * A SAS token (query string, with or without the leading `?`) instead of a key.
   * @default the AZURE_STORAGE_SAS_TOKEN environment variable
   */
  readonly sas?: string;
  /** A Microsoft Entra ID credential (Storage scope) when there is neither key nor SAS. */
  readonly credential?: AzureTokenCredential;
}

/** A container and how to sign for it (a target without its blob). */
export type ContainerTarget = Omit<BlobTarget, "blob">;

/** How requests to the blob service are signed: a key, a SAS, or a token. */
export type BlobAuth =
  | { readonly kind: "key"; readonly key: string }
  | { readonly kind: "sas"; readonly sas: string }
  | { readonly kind: "token"; readonly credential: AzureTokenCredential };

const given = (value: string | undefined) =>
  value !== undefined && value.trim() !== "" ? value.trim() : undefined;

/**
 * The target's signing: its key, else its SAS, else AZURE_STORAGE_KEY, else
 * AZURE_STORAGE_SAS_TOKEN, else its credential. A key and a SAS both given is refused.
 */
export function blobAuth(
  target: ContainerTarget,
  env: Readonly<Record<string, string | undefined>> = process.env,
): BlobAuth {
  const key = given(target.accountKey);
  const sas = given(target.sas)?.replace(/^\?/, "");
  if (key !== undefined && sas !== undefined)
    throw new OskitError(
      ErrorCode.Publish,
      `storage account ${target.account}: give an account key or a SAS, not both`,
    );
  if (key !== undefined) return { kind: "key", key };
  if (sas !== undefined) return { kind: "sas", sas };
  const envKey = given(env.AZURE_STORAGE_KEY);
  if (envKey !== undefined) return { kind: "key", key: envKey };
  const envSas = given(env.AZURE_STORAGE_SAS_TOKEN)?.replace(/^\?/, "");
  if (envSas !== undefined) return { kind: "sas", sas: envSas };
  if (target.credential !== undefined) return { kind: "token", credential: target.credential };
  throw new OskitError(
    ErrorCode.Publish,
    `no credentials for storage account ${target.account}: give an account key (AZURE_STORAGE_KEY), a SAS (AZURE_STORAGE_SAS_TOKEN), or a Microsoft Entra ID credential (DefaultAzureCredential, with a Storage Blob Data Contributor role on the account)`,
  );
}

/** What a listing tells of a blob. */
export interface ListedBlob {
  readonly name: string;
  readonly size: number;
  readonly blobType: string | undefined;
  readonly metadata: Readonly<Record<string, string>>;
}

/** The container calls of publishing: listing oskit's blobs and deleting one. */
export interface BlobContainerApi {
  /** The container's address (without any SAS). */
  readonly url: string;
  /** The blobs whose names start with `prefix`, with their metadata. */
  list(prefix: string): Promise<ListedBlob[]>;
  /** Deletes the blob (and its snapshots); false when there was none. */
  remove(name: string): Promise<boolean>;
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

/** The SDK, its pipeline for the target, and how a URL is signed (the SAS appended). */
async function sdkPipeline(
  target: ContainerTarget,
  env: Readonly<Record<string, string | undefined>>,
) {
  const auth = blobAuth(target, env);
  const sdk = await import("@azure/storage-blob");
  const credential =
    auth.kind === "key"
      ? new sdk.StorageSharedKeyCredential(target.account, auth.key)
      : auth.kind === "sas"
        ? new sdk.AnonymousCredential()
        : auth.credential;
  const pipeline = sdk.newPipeline(credential, { retryOptions: { maxTries: 1 } });
  const signed = (u: string) => (auth.kind === "sas" ? `${u}?${auth.sas}` : u);
  return { sdk, pipeline, signed };
}

const status = (error: unknown) => (error as { statusCode?: unknown })?.statusCode;

/**
 * The real page-blob client of a target, signed with its key, SAS or token. The SDK's own retries
 * are off (one try): the upload's retry policy is the one, and tests see it.
 */
export async function pageBlobClient(
  target: BlobTarget,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<PageBlobApi> {
  const { sdk, pipeline, signed } = await sdkPipeline(target, env);
  const url = blobUrl(target);
  const blob = new sdk.PageBlobClient(signed(url), pipeline);
  const container = new sdk.ContainerClient(signed(containerUrl(target)), pipeline);
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

/** The real container client of a target (listing needs the SAS's `l` permission, deleting `d`). */
export async function blobContainerClient(
  target: ContainerTarget,
  env: Readonly<Record<string, string | undefined>> = process.env,
): Promise<BlobContainerApi> {
  const { sdk, pipeline, signed } = await sdkPipeline(target, env);
  const url = containerUrl(target);
  const container = new sdk.ContainerClient(signed(url), pipeline);
  return {
    url,
    async list(prefix) {
      const out: ListedBlob[] = [];
      try {
        for await (const item of container.listBlobsFlat({ prefix, includeMetadata: true }))
          out.push({
            name: item.name,
            size: item.properties.contentLength ?? 0,
            blobType: item.properties.blobType,
            metadata: item.metadata ?? {},
          });
      } catch (error) {
        if (status(error) === 404) return [];
        throw error;
      }
      return out;
    },
    async remove(name) {
      const blob = container.getBlobClient(name);
      try {
        await blob.delete({ deleteSnapshots: "include" });
        return true;
      } catch (error) {
        if (status(error) === 404) return false;
        throw error;
      }
    },
  };
}
