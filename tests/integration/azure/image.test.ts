/**
 * `oskit.azure.Image`'s functions against a real Azurite and the strict ARM fake: create uploads
 * and registers (and makes the gallery version), a gallery failure is a partial create that
 * update resumes without uploading, delete removes version, image and blob; a second stack's
 * image of the same artifact is its own; the blob is signed with AZURE_STORAGE_KEY from the
 * environment, as where Pulumi runs.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { armClient, type ArmClient } from "../../../provider/azure/arm";
import { pageBlobClient, type BlobTarget, type PageBlobApi } from "../../../provider/azure/blob";
import {
  createImage,
  deleteImageResource,
  diffImage,
  PartialCreateError,
  updateImage,
  type ImageDeps,
  type ImageInputs,
  type ImageOutputs,
} from "../../../provider/azure/image";
import { TAG } from "../../../provider/azure/register";
import type { Artifact } from "../../../provider/build/image-build";
import { startArmFake, type ArmFake } from "../../support/azure-arm";
import { tinyVhd } from "../../support/azure-disk";
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  startAzurite,
  type RunningAzurite,
} from "../../support/azurite";

describe("oskit.azure.Image's provider functions (Azurite and the ARM fake)", function () {
  this.timeout(30_000);
  let azurite: RunningAzurite;
  let arm: ArmFake;
  let client: ArmClient;
  let dir: string;
  let artifact: Artifact;
  let putPages: number;
  const savedKey = process.env.AZURE_STORAGE_KEY;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-azure-image-"));
    let vhd: Awaited<ReturnType<typeof tinyVhd>>;
    [azurite, arm, vhd] = await Promise.all([
      startAzurite(),
      startArmFake({ resourceGroups: ["oskit"], operationDelayMs: 50 }),
      tinyVhd(dir),
    ]);
    artifact = {
      format: "vhd",
      path: vhd.path,
      sha256: vhd.sha256,
      size: vhd.size,
      files: [],
    };
    arm.addDefinition({
      resourceGroup: "oskit",
      gallery: "systems",
      name: "web",
      hyperVGeneration: "V2",
    });
    client = armClient({
      endpoint: arm.endpoint,
      token: () => Promise.resolve(arm.token),
      retry: { sleep: () => Promise.resolve() },
    });
    process.env.AZURE_STORAGE_KEY = AZURITE_KEY;
  });
  after(async () => {
    if (savedKey === undefined) delete process.env.AZURE_STORAGE_KEY;
    else process.env.AZURE_STORAGE_KEY = savedKey;
    await Promise.all([azurite?.stop(), arm?.close()]);
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    arm.faults.clear();
    putPages = 0;
  });

  const deps = (): ImageDeps => ({
    arm: client,
    pollMs: 10,
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
  });
  const inputs = (stack: string, more: Partial<ImageInputs> = {}): ImageInputs => ({
    artifact,
    subscriptionId: arm.subscription,
    resourceGroupName: "oskit",
    location: "westeurope",
    storageAccount: AZURITE_ACCOUNT,
    container: "images",
    name: "web",
    tags: { team: "os" },
    endpoints: { arm: arm.endpoint, blob: azurite.blobEndpoint },
    owner: { project: "p", stack, resource: "web" },
    ...more,
  });
  const blobExists = async (name: string) =>
    (
      await (
        await pageBlobClient({
          account: AZURITE_ACCOUNT,
          container: "images",
          blob: name,
          blobEndpoint: azurite.blobEndpoint,
          accountKey: AZURITE_KEY,
        })
      ).properties()
    )?.size;

  it("GIVEN a vhd artifact WHEN created, diffed and deleted THEN the image is Gen2 and tagged, nothing changes, and image and blob are gone", async () => {
    const { id, outs } = await createImage(inputs("dev"), deps());
    assert.equal(outs.imageId, id);
    assert.match(id, /\/resourceGroups\/oskit\/providers\/Microsoft\.Compute\/images\/web-/);
    assert.equal(outs.resolvedHyperVGeneration, "V2");
    assert.ok(putPages > 0, "the blob was uploaded");
    const image = arm.state.image("oskit", outs.imageName!)!;
    assert.equal(image.provisioningState, "Succeeded");
    assert.deepEqual(image.tags, {
      team: "os",
      [TAG.digest]: artifact.sha256,
      [TAG.owner]: "p/dev/web",
      [TAG.format]: "vhd",
    });
    assert.equal(await blobExists(outs.blobName), artifact.size);
    assert.equal(diffImage(outs, inputs("dev")).changes, false);
    const moved = diffImage(outs, inputs("dev", { container: "other" }));
    assert.deepEqual(moved.replaces, ["container"]);
    assert.equal(moved.deleteBeforeReplace, true);

    const other = await createImage(inputs("prod"), deps());
    assert.notEqual(other.outs.imageName, outs.imageName, "another stack has its own image");
    assert.notEqual(other.outs.blobName, outs.blobName, "and its own blob");

    await deleteImageResource(outs, deps());
    assert.equal(arm.state.image("oskit", outs.imageName!), undefined);
    assert.equal(await blobExists(outs.blobName), undefined);
    assert.ok(arm.state.image("oskit", other.outs.imageName!), "the other stack's image stays");
    await deleteImageResource(other.outs, deps());
    await deleteImageResource(other.outs, deps());
  });

  it("GIVEN a gallery version whose operation fails WHEN created THEN the partial create is recorded; update makes the version without uploading; delete removes version, image and blob", async () => {
    const gallery = { gallery: "systems", definition: "web", version: "1.0.0" };
    arm.faults.add({
      operation: "versions.put",
      fault: { kind: "fail", code: "GalleryImageVersionQuotaExceeded", message: "No quota." },
    });
    const news = inputs("gallery", { gallery });
    let partial: ImageOutputs | undefined;
    await assert.rejects(createImage(news, deps()), (error: unknown) => {
      assert.ok(error instanceof PartialCreateError);
      assert.match(error.message, /GalleryImageVersionQuotaExceeded: No quota\./);
      assert.match(error.message, /run pulumi up to make the version/);
      partial = error.properties;
      return true;
    });
    assert.ok(partial!.imageId !== undefined && partial!.galleryImageVersionId === undefined);
    assert.deepEqual(diffImage(partial!, news).changed, ["imageId"]);

    putPages = 0;
    const outs = await updateImage(partial!, news, deps());
    assert.equal(putPages, 0, "the image was adopted, the blob not sent again");
    assert.match(
      outs.galleryImageVersionId!,
      /\/galleries\/systems\/images\/web\/versions\/1\.0\.0$/,
    );
    const version = arm.state.versions.get("oskit/systems/web/1.0.0")!;
    assert.equal(version.provisioningState, "Succeeded");
    assert.equal(version.sourceId, outs.imageId);
    assert.equal(diffImage(outs, news).changes, false);
    assert.deepEqual(
      diffImage(outs, { ...news, gallery: { ...gallery, version: "1.0.1" } }).replaces,
      ["gallery"],
    );

    await deleteImageResource(outs, deps());
    assert.equal(arm.state.versions.has("oskit/systems/web/1.0.0"), false);
    assert.equal(arm.state.image("oskit", outs.imageName!), undefined);
    assert.equal(await blobExists(outs.blobName), undefined);
  });

  it("GIVEN the image's registration fails after the upload WHEN created THEN the blob is recorded; delete removes it though no image was made", async () => {
    arm.faults.add({
      operation: "images.put",
      fault: { kind: "fail", code: "InvalidParameter", message: "Bad blob." },
    });
    const news = inputs("broken");
    let partial: ImageOutputs | undefined;
    await assert.rejects(createImage(news, deps()), (error: unknown) => {
      assert.ok(error instanceof PartialCreateError);
      assert.match(error.message, /was uploaded but image .* was not made: .*Bad blob/);
      partial = error.properties;
      return true;
    });
    assert.equal(partial!.imageId, undefined);
    assert.equal(await blobExists(partial!.blobName), artifact.size);
    await deleteImageResource(partial!, deps());
    assert.equal(await blobExists(partial!.blobName), undefined);
  });
});
