/**
 * A fixed VHD from oskit's writer uploaded into a real Azurite as a page blob: byte for byte,
 * only non-zero pages written, Put Page calls of at most 4 MiB, and an interrupted upload resumed
 * without rewriting the ranges it had finished.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Extent } from "../../../provider/aws/blocks";
import { pageBlobClient, type PageBlobApi } from "../../../provider/azure/blob";
import {
  blobNameOf,
  checkVhd,
  MAX_PUT_PAGE,
  pageAligned,
  PAGE,
  uploadVhd,
} from "../../../provider/azure/upload";
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  startAzurite,
  type RunningAzurite,
} from "../../support/azurite";
import { tinyVhd } from "../../support/azure-disk";

/** The VHD's non-zero 512-byte pages, as merged extents. */
function nonZeroExtents(data: Buffer): Extent[] {
  const zero = Buffer.alloc(PAGE);
  const pages: Extent[] = [];
  for (let at = 0; at < data.length; at += PAGE)
    if (!data.subarray(at, at + PAGE).equals(zero)) pages.push({ offset: at, length: PAGE });
  return pageAligned(pages, data.length);
}

/** A page-blob client that counts Put Page calls and can fail after some. */
function counting(api: PageBlobApi, failAfter = Infinity) {
  const stats = { puts: 0, bytes: 0, largest: 0, offsets: new Set<number>() };
  const wrapped: PageBlobApi = {
    ...api,
    url: api.url,
    async uploadPages(data, offset, md5) {
      if (stats.puts >= failAfter) throw new Error("injected: the connection is gone");
      await api.uploadPages(data, offset, md5);
      stats.puts++;
      stats.bytes += data.length;
      stats.largest = Math.max(stats.largest, data.length);
      stats.offsets.add(offset);
    },
  };
  return { api: wrapped, stats };
}

describe("azure upload (Azurite)", function () {
  this.timeout(20_000);
  let azurite: RunningAzurite;
  let dir: string;
  let vhd: Awaited<ReturnType<typeof tinyVhd>>;
  let bytes: Buffer;
  const target = (container: string) => ({
    account: AZURITE_ACCOUNT,
    accountKey: AZURITE_KEY,
    blobEndpoint: azurite.blobEndpoint,
    container,
    blob: blobNameOf(vhd.sha256),
  });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-azure-upload-"));
    [azurite, vhd] = await Promise.all([startAzurite(), tinyVhd(dir)]);
    bytes = readFileSync(vhd.path);
  });
  after(async () => {
    await azurite?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes only the VHD's non-zero pages, in Put Pages of at most 4 MiB, byte for byte", async () => {
    // GIVEN a fixed VHD from oskit's writer
    const expected = nonZeroExtents(bytes);
    const dataBytes = expected.reduce((n, e) => n + e.length, 0);
    const real = await pageBlobClient(target("images"));
    const { api, stats } = counting(real);
    // WHEN it is uploaded
    const result = await uploadVhd(
      { path: vhd.path, digest: vhd.sha256, allocation: vhd.allocation },
      api,
    );
    // THEN bytes written are the non-zero pages, no Put Page carries more than 4 MiB
    console.log(
      `      VHD ${vhd.size} bytes, non-zero pages ${dataBytes} bytes; written ${result.bytesWritten} bytes in ${result.putPages} Put Page calls (largest ${stats.largest}) in ${result.seconds.toFixed(2)} s`,
    );
    assert.equal(result.size, bytes.length);
    assert.equal(result.bytesWritten, dataBytes);
    assert.equal(result.dataBytes, dataBytes);
    assert.equal(stats.bytes, dataBytes);
    assert.equal(result.putPages, stats.puts);
    assert.ok(stats.largest <= MAX_PUT_PAGE, `a Put Page of ${stats.largest} bytes`);
    assert.equal(stats.largest, MAX_PUT_PAGE, "the 6 MiB run is split at 4 MiB");
    // AND Get Page Ranges shows exactly the non-zero ranges
    assert.deepEqual(pageAligned(await real.pageRanges(), bytes.length), expected);
    // AND the blob is the VHD byte for byte, with its Content-MD5 set
    const sdk = await import("@azure/storage-blob");
    const blob = new sdk.BlobClient(
      real.url,
      new sdk.StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    );
    const downloaded = await blob.downloadToBuffer();
    assert.ok(downloaded.equals(bytes), "the downloaded blob differs from the VHD");
    const md5 = createHash("md5").update(bytes).digest();
    assert.equal(result.contentMd5, md5.toString("base64"));
    assert.deepEqual(Buffer.from((await blob.getProperties()).contentMD5 ?? []), md5);
  });

  it("resumes an interrupted upload without rewriting the ranges it finished", async () => {
    // GIVEN an upload that fails after 3 Put Page calls (one at a time, so the cut is exact)
    const real = await pageBlobClient(target("resume"));
    const first = counting(real, 3);
    await assert.rejects(
      uploadVhd(
        { path: vhd.path, digest: vhd.sha256, parallel: 1, retry: { attempts: 1 } },
        first.api,
      ),
      /injected/,
    );
    assert.equal(first.stats.puts, 3);
    // WHEN it runs again
    const second = counting(real);
    const result = await uploadVhd({ path: vhd.path, digest: vhd.sha256 }, second.api);
    // THEN it writes only what the first run had not, and the blob is whole
    const dataBytes = nonZeroExtents(bytes).reduce((n, e) => n + e.length, 0);
    console.log(
      `      resumed: ${result.bytesSkipped} bytes skipped, ${result.bytesWritten} written in ${result.putPages} Put Page calls`,
    );
    assert.equal(result.resumed, true);
    assert.equal(result.bytesSkipped, first.stats.bytes);
    assert.equal(result.bytesWritten, dataBytes - first.stats.bytes);
    for (const offset of first.stats.offsets) assert.ok(!second.stats.offsets.has(offset));
    const sdk = await import("@azure/storage-blob");
    const blob = new sdk.BlobClient(
      real.url,
      new sdk.StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    );
    assert.ok((await blob.downloadToBuffer()).equals(bytes));
    // AND a third run writes nothing
    const third = counting(real);
    const again = await uploadVhd({ path: vhd.path, digest: vhd.sha256 }, third.api);
    assert.equal(third.stats.puts, 0);
    assert.equal(again.bytesSkipped, dataBytes);
  });

  it("refuses a file that is not a fixed VHD, naming the fix", async () => {
    // GIVEN a raw disk and a VHD whose footer says dynamic
    const raw = join(dir, "raw.img");
    writeFileSync(raw, Buffer.alloc(1 << 20, 1));
    const dynamic = join(dir, "dynamic.vhd");
    const footer = Buffer.from(bytes.subarray(bytes.length - PAGE));
    footer.writeUInt32BE(3, 60);
    footer.writeUInt32BE(0, 64);
    let sum = 0;
    for (const b of footer) sum += b;
    footer.writeUInt32BE(~sum >>> 0, 64);
    writeFileSync(dynamic, Buffer.concat([Buffer.alloc(1 << 20), footer]));
    // THEN both are refused before anything is sent
    await assert.rejects(checkVhd(raw), /not a VHD \(no "conectix" footer/);
    await assert.rejects(checkVhd(dynamic), /a dynamic VHD; Azure boots fixed VHDs only/);
    // AND without a key, SAS or credential the client says what to give
    await assert.rejects(
      pageBlobClient({ account: "a", container: "c", blob: "b" }, {}),
      /give an account key \(AZURE_STORAGE_KEY\), a SAS \(AZURE_STORAGE_SAS_TOKEN\), or a Microsoft Entra ID credential/,
    );
  });
});
