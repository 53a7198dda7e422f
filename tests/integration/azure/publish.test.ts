/**
 * The Azure publisher against a real Azurite and the strict ARM fake: a fixed VHD from oskit's
 * writer uploaded and registered, adopted the second time, another owner's image of the name
 * refused, a killed run's blobs swept (and others' kept), the upload alone, a registration that
 * failed after the upload resumed without uploading again, and the whole way undone.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { armClient, type ArmClient } from "../../../provider/azure/arm";
import { pageBlobClient, type BlobTarget, type PageBlobApi } from "../../../provider/azure/blob";
import {
  BLOB_PREFIX,
  blobNameFor,
  METADATA,
  metadataValue,
  publishAzure,
  PublishInterrupted,
  unpublishAzure,
  type AzurePublishOptions,
} from "../../../provider/azure/publish";
import { imageName, registerImage, TAG } from "../../../provider/azure/register";
import { PAGE } from "../../../provider/azure/upload";
import { startArmFake, type ArmFake } from "../../support/azure-arm";
import { tinyVhd } from "../../support/azure-disk";
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  startAzurite,
  type RunningAzurite,
} from "../../support/azurite";

/** Bytes in the file's non-zero 512-byte pages. */
function nonZeroBytes(data: Buffer): number {
  const zero = Buffer.alloc(PAGE);
  let n = 0;
  for (let at = 0; at < data.length; at += PAGE)
    if (!data.subarray(at, at + PAGE).equals(zero)) n += PAGE;
  return n;
}

describe("the Azure publisher (Azurite and the ARM fake)", function () {
  this.timeout(30_000);
  let azurite: RunningAzurite;
  let arm: ArmFake;
  let client: ArmClient;
  let dir: string;
  let vhd: Awaited<ReturnType<typeof tinyVhd>>;
  let bytes: Buffer;
  let putPages: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-azure-publish-"));
    [azurite, arm, vhd] = await Promise.all([
      startAzurite(),
      startArmFake({ resourceGroups: ["oskit"], operationDelayMs: 50 }),
      tinyVhd(dir),
    ]);
    bytes = readFileSync(vhd.path);
    client = armClient({
      endpoint: arm.endpoint,
      token: () => Promise.resolve(arm.token),
      retry: { sleep: () => Promise.resolve() },
    });
  });
  after(async () => {
    await Promise.all([azurite?.stop(), arm?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    arm.faults.clear();
    putPages = 0;
  });

  const storage = (container: string) => ({
    account: AZURITE_ACCOUNT,
    container,
    blobEndpoint: azurite.blobEndpoint,
    accountKey: AZURITE_KEY,
  });
  const options = (
    container: string,
    owner: string,
    more: Partial<AzurePublishOptions> = {},
  ): AzurePublishOptions => ({
    path: vhd.path,
    digest: vhd.sha256,
    format: "vhd",
    allocation: vhd.allocation,
    owner,
    name: "tiny",
    storage: storage(container),
    subscription: arm.subscription,
    resourceGroup: "oskit",
    location: "westeurope",
    pollMs: 10,
    ...more,
  });
  /** Real page-blob clients that count Put Page calls. */
  const counted = {
    arm: undefined as ArmClient | undefined,
    pageBlob: async (target: BlobTarget): Promise<PageBlobApi> => {
      const real = await pageBlobClient(target);
      return {
        ...real,
        url: real.url,
        uploadPages: async (data, offset, md5) => {
          await real.uploadPages(data, offset, md5);
          putPages++;
        },
      };
    },
  };
  const clients = () => ({ ...counted, arm: client });
  const listBlobs = async (container: string) => {
    const sdk = await import("@azure/storage-blob");
    const c = new sdk.ContainerClient(
      `${azurite.blobEndpoint}/${container}`,
      new sdk.StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    );
    const out: { name: string; metadata: Record<string, string> }[] = [];
    for await (const b of c.listBlobsFlat({ includeMetadata: true }))
      out.push({ name: b.name, metadata: b.metadata ?? {} });
    return out;
  };

  it("GIVEN oskit's vhd WHEN published THEN its non-zero pages make a blob named after digest and owner, and a Gen2 image names it", async () => {
    const owner = "proj/dev/tiny";
    const started = performance.now();
    const published = await publishAzure(options("first", owner), clients());
    const ms = performance.now() - started;
    const data = nonZeroBytes(bytes);
    console.log(
      `      VHD ${bytes.length} bytes; Put Page ${published.upload?.bytesWritten} bytes (the non-zero pages: ${data}) in ${published.upload?.putPages} calls; published in ${ms.toFixed(0)} ms`,
    );
    assert.equal(published.adopted, false);
    assert.equal(published.blob, blobNameFor(vhd.sha256, owner));
    assert.match(published.blob, /^oskit-[0-9a-f]{64}-[0-9a-f]{6}\.vhd$/);
    assert.equal(published.upload?.bytesWritten, data);
    assert.equal(published.imageName, imageName("tiny", vhd.sha256, owner));
    assert.equal(published.hyperVGeneration, "V2");
    // THEN the image names the blob at the account's public address (ARM cannot reach Azurite)
    const image = arm.state.image("oskit", published.imageName);
    assert.equal(image?.provisioningState, "Succeeded");
    assert.equal(
      image?.properties.storageProfile.osDisk.blobUri,
      `https://${AZURITE_ACCOUNT}.blob.core.windows.net/first/${published.blob}`,
    );
    assert.equal(published.blobUri, image?.properties.storageProfile.osDisk.blobUri);
    assert.equal(published.imageId, published.image?.id);
    assert.equal(image?.tags[TAG.digest], vhd.sha256);
    assert.equal(image?.tags[TAG.owner], owner);
    // AND the blob carries the digest and the owner, and is the VHD byte for byte
    const [blob] = await listBlobs("first");
    assert.equal(blob?.metadata[METADATA.digest], vhd.sha256);
    assert.equal(blob?.metadata[METADATA.owner], metadataValue(owner));
    const sdk = await import("@azure/storage-blob");
    const downloaded = await new sdk.BlobClient(
      published.blobUrl,
      new sdk.StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).downloadToBuffer();
    assert.ok(downloaded.equals(bytes), "the blob differs from the VHD");

    // WHEN published again THEN the image is adopted: no blob call, no PUT
    putPages = 0;
    const puts = arm.state.calls.filter((c) => c.operation === "images.put").length;
    const again = await publishAzure(options("first", owner), clients());
    assert.equal(again.adopted, true);
    assert.equal(again.imageId, published.imageId);
    assert.equal(putPages, 0);
    assert.equal(arm.state.calls.filter((c) => c.operation === "images.put").length, puts);
  });

  it("GIVEN an image of that name made by someone else WHEN published THEN it is refused before any upload", async () => {
    const owner = "proj/dev/squatted";
    const name = imageName("tiny", vhd.sha256, owner);
    await registerImage(client, {
      subscription: arm.subscription,
      resourceGroup: "oskit",
      location: "westeurope",
      name,
      blobUri: "https://someone.blob.core.windows.net/theirs/disk.vhd",
      digest: vhd.sha256,
      owner: "someone/else",
      hyperVGeneration: "V2",
      pollMs: 10,
    });
    await assert.rejects(
      publishAzure(options("squatted", owner), clients()),
      new RegExp(`image ${name} exists in resource group oskit and is not ${owner}'s image`),
    );
    assert.equal(putPages, 0);
    assert.deepEqual(await listBlobs("squatted").catch(() => []), []);
  });

  it("GIVEN a resource group that does not exist WHEN published THEN ARM's error stops it before any upload", async () => {
    await assert.rejects(
      publishAzure(options("no-group", "proj/dev/nogroup", { resourceGroup: "nope" }), clients()),
      /get image tiny-[0-9a-f]{12}-[0-9a-f]{6}: HTTP 404 ResourceGroupNotFound/,
    );
    assert.equal(putPages, 0);
    assert.deepEqual(await listBlobs("no-group").catch(() => []), []);
  });

  it("GIVEN blobs a killed run left WHEN published THEN this owner's leftovers go and the rest stay", async () => {
    const owner = "proj/dev/sweep";
    const old = `sha256:${"1".repeat(64)}`;
    const imaged = `sha256:${"2".repeat(64)}`;
    const leftover = blobNameFor(old, owner);
    const theirs = blobNameFor(old, "proj/dev/other");
    const backing = blobNameFor(imaged, owner);
    for (const [blob, digest, who] of [
      [leftover, old, owner],
      [theirs, old, "proj/dev/other"],
      [backing, imaged, owner],
    ] as const) {
      const api = await pageBlobClient({ ...storage("sweep"), blob });
      await api.ensureContainer();
      await api.create(1 << 20, {
        [METADATA.digest]: digest,
        [METADATA.owner]: metadataValue(who),
      });
    }
    // AND this owner's image of the third blob's digest exists
    await registerImage(client, {
      subscription: arm.subscription,
      resourceGroup: "oskit",
      location: "westeurope",
      name: imageName("tiny", imaged, owner),
      blobUri: `https://${AZURITE_ACCOUNT}.blob.core.windows.net/sweep/${backing}`,
      digest: imaged,
      owner,
      hyperVGeneration: "V2",
      pollMs: 10,
    });
    const published = await publishAzure(options("sweep", owner), clients());
    assert.deepEqual(published.swept, [leftover]);
    const names = (await listBlobs("sweep")).map((b) => b.name).sort();
    assert.deepEqual(names, [backing, published.blob, theirs].sort());
    assert.ok(names.every((n) => n.startsWith(BLOB_PREFIX)));
  });

  it("GIVEN register false WHEN published THEN only the blob is made, with no ARM at all", async () => {
    const images = arm.state.images.size;
    const published = await publishAzure(
      {
        path: vhd.path,
        digest: vhd.sha256,
        owner: "cli/tiny",
        name: "tiny",
        storage: storage("upload-only"),
        register: false,
      },
      { pageBlob: counted.pageBlob },
    );
    assert.equal(published.imageName, undefined);
    assert.equal(published.hyperVGeneration, undefined);
    assert.equal(published.upload?.bytesWritten, nonZeroBytes(bytes));
    assert.equal(arm.state.images.size, images);
    assert.deepEqual(
      (await listBlobs("upload-only")).map((b) => b.name),
      [published.blob],
    );
  });

  it("GIVEN a registration that fails after the upload WHEN run again THEN it registers without uploading", async () => {
    const owner = "proj/dev/interrupted";
    arm.faults.add({
      operation: "images.put",
      fault: {
        kind: "fail",
        code: "InternalOperationError",
        message: "the disk could not be read",
      },
    });
    let uploaded: string | undefined;
    const error = await publishAzure(
      { ...options("interrupted", owner), onUploaded: (b) => (uploaded = b) },
      clients(),
    ).then(
      () => assert.fail("the publish should fail"),
      (e: unknown) => e,
    );
    assert.ok(error instanceof PublishInterrupted, String(error));
    assert.equal(error.blob, blobNameFor(vhd.sha256, owner));
    assert.equal(uploaded, error.blob);
    assert.match(error.message, /was uploaded but image .* was not made: .*InternalOperationError/);
    const firstPuts = putPages;
    assert.ok(firstPuts > 0);
    // WHEN run again THEN nothing is written again and the image is made
    putPages = 0;
    const published = await publishAzure(options("interrupted", owner), clients());
    assert.equal(putPages, 0);
    assert.equal(published.upload?.bytesWritten, 0);
    assert.equal(published.upload?.bytesSkipped, nonZeroBytes(bytes));
    assert.equal(arm.state.image("oskit", published.imageName!)?.provisioningState, "Succeeded");
  });

  it("GIVEN a published image WHEN unpublished THEN the image then the blob go, and again finds both gone", async () => {
    const owner = "proj/dev/deleted";
    const published = await publishAzure(options("deleted", owner), clients());
    const what = {
      subscription: arm.subscription,
      resourceGroup: "oskit",
      imageName: published.imageName!,
      storage: storage("deleted"),
      blob: published.blob,
      owner,
      pollMs: 10,
    };
    assert.deepEqual(await unpublishAzure({ ...what, owner: "someone/else" }, { arm: client }), {
      image: "not-own",
      blob: "not-own",
    });
    assert.deepEqual(await unpublishAzure(what, { arm: client }), {
      image: "deleted",
      blob: "deleted",
    });
    assert.equal(arm.state.image("oskit", published.imageName!), undefined);
    assert.deepEqual(await listBlobs("deleted"), []);
    assert.deepEqual(await unpublishAzure(what, { arm: client }), {
      image: "absent",
      blob: "absent",
    });
    assert.deepEqual(await unpublishAzure({ ...what, resourceGroup: "gone" }, { arm: client }), {
      image: "absent",
      blob: "absent",
    });
  });

  it("GIVEN a raw disk, a VHD of unknown boot, or a digest the file no longer has WHEN published THEN nothing is sent", async () => {
    const raw = join(dir, "raw.img");
    writeFileSync(raw, Buffer.alloc(1 << 20, 1));
    await assert.rejects(
      publishAzure(options("bad", "cli/bad", { path: raw }), clients()),
      /raw\.img: not a VHD \(no "conectix" footer/,
    );
    await assert.rejects(
      publishAzure(options("bad", "cli/bad", { format: undefined }), clients()),
      /hyperVGeneration: cannot tell how .* boots \(not an oskit output\); give V2 \(UEFI\) or V1 \(BIOS\)/,
    );
    await assert.rejects(
      publishAzure(options("bad", "cli/bad", { digest: `sha256:${"f".repeat(64)}` }), clients()),
      /has changed since it was built/,
    );
    assert.equal(putPages, 0);
  });
});
