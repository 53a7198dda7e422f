/**
 * Shared Image Gallery versions against the strict local ARM fake: a version made from a managed
 * image and followed to Succeeded, the definition checked before anything is asked (missing, the
 * wrong generation or state), this owner's version of this digest kept, another's refused, bad
 * names refused without a call, a failed operation surfaced, deletion.
 */
import { strict as assert } from "node:assert";
import { armClient, type ArmClient } from "../../../provider/azure/arm";
import {
  deleteGalleryVersion,
  getVersion,
  registerGalleryVersion,
  type GalleryVersionOptions,
} from "../../../provider/azure/gallery";
import { registerImage, TAG } from "../../../provider/azure/register";
import { startArmFake, type ArmFake } from "../../support/azure-arm";

const DIGEST = `sha256:${"cd".repeat(32)}`;
const OTHER = `sha256:${"ef".repeat(32)}`;
const BLOB = "https://oskitimages.blob.core.windows.net/images/hello-cdcdcdcdcdcd.vhd";
const OWNER = "p/dev/hello";

describe("Azure gallery image versions against the ARM fake", function () {
  this.timeout(15_000);
  let fake: ArmFake;
  let client: ArmClient;
  let imageId: string;

  before(async () => {
    fake = await startArmFake({ resourceGroups: ["oskit-rg"], operationDelayMs: 100 });
    fake.addDefinition({
      resourceGroup: "oskit-rg",
      gallery: "oskit_gallery",
      name: "hello",
      hyperVGeneration: "V2",
    });
    fake.addDefinition({ resourceGroup: "oskit-rg", gallery: "oskit_gallery", name: "gen1" });
    fake.addDefinition({
      resourceGroup: "oskit-rg",
      gallery: "oskit_gallery",
      name: "specialized",
      hyperVGeneration: "V2",
      osState: "Specialized",
    });
    client = armClient({
      endpoint: fake.endpoint,
      token: () => Promise.resolve(fake.token),
      retry: { sleep: () => Promise.resolve() },
    });
    const image = await registerImage(client, {
      subscription: fake.subscription,
      resourceGroup: "oskit-rg",
      location: "westeurope",
      name: "hello-cdcdcdcdcdcd-123456",
      blobUri: BLOB,
      digest: DIGEST,
      owner: OWNER,
      hyperVGeneration: "V2",
      pollMs: 10,
    });
    imageId = image.id;
  });
  after(() => fake?.close());
  beforeEach(() => fake.faults.clear());

  const options = (more: Partial<GalleryVersionOptions> = {}): GalleryVersionOptions => ({
    subscription: fake.subscription,
    resourceGroup: "oskit-rg",
    gallery: "oskit_gallery",
    definition: "hello",
    version: "1.0.0",
    location: "westeurope",
    sourceImageId: imageId,
    generation: "V2",
    digest: DIGEST,
    owner: OWNER,
    format: "vhd",
    pollMs: 10,
    ...more,
  });
  const calls = (operation: string) => fake.state.calls.filter((c) => c.operation === operation);

  it("GIVEN a Gen2 definition WHEN a version is registered from the managed image THEN it is followed to Succeeded, replicated to the home region and tagged", async () => {
    const version = await registerGalleryVersion(
      client,
      options({ targetRegions: [{ name: "westeurope" }, { name: "northeurope" }] }),
    );
    assert.equal(version.properties.provisioningState, "Succeeded");
    assert.equal(version.properties.storageProfile?.source?.id, imageId);
    assert.equal(version.tags?.[TAG.digest], DIGEST);
    assert.equal(version.tags?.[TAG.owner], OWNER);
    assert.match(version.id, /\/galleries\/oskit_gallery\/images\/hello\/versions\/1\.0\.0$/);
    assert.ok(calls("operations.get").length >= 1, "the operation was polled");
    const kept = fake.state.versions.get("oskit-rg/oskit_gallery/hello/1.0.0")!;
    assert.deepEqual(
      kept.targetRegions.map((r) => r.name),
      ["westeurope", "northeurope"],
    );
  });

  it("GIVEN this owner's version of this digest WHEN registered again THEN it is kept without a PUT", async () => {
    const puts = calls("versions.put").length;
    const version = await registerGalleryVersion(client, options());
    assert.equal(version.properties.provisioningState, "Succeeded");
    assert.equal(calls("versions.put").length, puts);
  });

  it("GIVEN the version number holds another digest WHEN registered THEN it is refused naming both, and nothing is sent", async () => {
    const puts = calls("versions.put").length;
    await assert.rejects(
      registerGalleryVersion(client, options({ digest: OTHER })),
      (e: Error) =>
        e.message.includes("version 1.0.0 exists and holds another system") &&
        e.message.includes(DIGEST) &&
        e.message.includes("choose a new version number"),
    );
    assert.equal(calls("versions.put").length, puts);
  });

  it("GIVEN definitions that cannot hold the system WHEN registered THEN each is refused before any PUT", async () => {
    const puts = calls("versions.put").length;
    await assert.rejects(
      registerGalleryVersion(client, options({ definition: "gen1", version: "1.0.1" })),
      /gen1 cannot hold this system: its Hyper-V generation is V1 but the disk needs V2 \(UEFI\)/,
    );
    await assert.rejects(
      registerGalleryVersion(client, options({ definition: "specialized", version: "1.0.1" })),
      /osState is Specialized, not Generalized/,
    );
    await assert.rejects(
      registerGalleryVersion(client, options({ definition: "missing", version: "1.0.1" })),
      /oskit_gallery\/missing is not there in resource group oskit-rg: make the gallery and a definition \(Linux, Generalized, hyperVGeneration V2\) first/,
    );
    assert.equal(calls("versions.put").length, puts);
  });

  it("GIVEN bad names WHEN registered THEN every problem is named and ARM is not called", async () => {
    const before = fake.state.calls.length;
    await assert.rejects(
      registerGalleryVersion(
        client,
        options({ gallery: "-bad", definition: "x_", version: "1.0.99999999999" }),
      ),
      (e: Error) =>
        /gallery "-bad"/.test(e.message) &&
        /image definition "x_"/.test(e.message) &&
        /version "1\.0\.99999999999"/.test(e.message),
    );
    assert.equal(fake.state.calls.length, before);
  });

  it("GIVEN the operation fails WHEN registered THEN ARM's code and message are surfaced, and a second run makes it", async () => {
    fake.faults.add({
      operation: "versions.put",
      fault: { kind: "fail", code: "ReplicationJobsNotCompleted", message: "Replication failed." },
    });
    await assert.rejects(
      registerGalleryVersion(client, options({ version: "2.0.0" })),
      /ReplicationJobsNotCompleted: Replication failed\./,
    );
    const version = await registerGalleryVersion(client, options({ version: "2.0.0" }));
    assert.equal(version.properties.provisioningState, "Succeeded");
  });

  it("GIVEN a version WHEN deleted THEN the operation is followed and it is gone; a second delete says it was not there", async () => {
    const target = options({ version: "2.0.0" });
    assert.equal(await deleteGalleryVersion(client, target, { pollMs: 10 }), true);
    assert.equal(await getVersion(client, target), undefined);
    assert.equal(await deleteGalleryVersion(client, target, { pollMs: 10 }), false);
  });
});
