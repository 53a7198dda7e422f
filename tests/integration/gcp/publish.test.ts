/**
 * The GCP publisher against the strict local fake: a full upload and registration of a small gce
 * artifact written by oskit, an upload cut half way resumed without resending what the server
 * had, 429/5xx retried, GCE's operation error surfaced, adoption, sweeping and deletion, and the
 * `oskit.gcp.Image` functions (partial create resumed by update).
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Artifact } from "../../../provider/build/image-build";
import { gcpClient, type GcpClient, type GcpEndpoints } from "../../../provider/gcp/http";
import {
  createImage,
  deleteImageResource,
  diffImage,
  updateImage,
  type ImageInputs,
} from "../../../provider/gcp/image";
import { objectName, publishGce, PublishInterrupted } from "../../../provider/gcp/publish";
import { ownerLabel } from "../../../provider/gcp/register";
import { uploadObject, type UploadProgress } from "../../../provider/gcp/upload";
import { startGcpFake, type GcpFake } from "../../support/gcp";
import { tinyGceTarball } from "../../support/gce-disk";

const CHUNK = 256 * 1024;

describe("the GCP publisher against the fake", function () {
  this.timeout(60_000);
  let fake: GcpFake;
  let dir: string;
  let artifact: Artifact;
  let client: GcpClient;
  let endpoints: GcpEndpoints;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-gcp-"));
    artifact = await tinyGceTarball(dir);
    fake = await startGcpFake({ project: "oskit-test", buckets: ["oskit-images"] });
    client = gcpClient({
      token: () => Promise.resolve(fake.token),
      retry: { sleep: () => Promise.resolve() },
    });
    endpoints = { storage: fake.storageEndpoint, compute: fake.computeEndpoint };
  });
  after(async () => {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => fake.faults.clear());

  const options = (owner: string) => ({
    path: artifact.path,
    digest: artifact.sha256,
    format: "gce",
    project: "oskit-test",
    bucket: "oskit-images",
    name: "tiny",
    owner,
    family: "tiny",
    chunkSize: CHUNK,
    pollMs: 1,
    sleep: () => Promise.resolve(),
  });

  it("GIVEN oskit's gce tarball WHEN published THEN it is uploaded in chunks with its checksums and registered with the features, labels and architecture, passing GCE's checks", async () => {
    assert.ok(artifact.size > 2 * CHUNK, `the artifact (${artifact.size} bytes) spans chunks`);
    const seen: UploadProgress[] = [];
    const published = await publishGce(client, endpoints, {
      ...options("p/dev/full"),
      progress: (p) => seen.push(p),
    });
    assert.equal(published.adopted, false);
    assert.equal(published.upload?.bytesSent, artifact.size);
    assert.equal(published.upload?.resumes, 0);
    assert.equal(published.architecture, "X86_64");
    const object = fake.state.object("oskit-images", published.object);
    assert.equal(object.size, artifact.size);
    assert.equal(object.metadata["oskit-digest"], artifact.sha256);
    assert.equal(object.metadata["oskit-owner"], "p/dev/full");
    assert.ok(seen.length > 2 && seen.at(-1)!.bytesDone === artifact.size);
    const image = fake.state.image(published.imageName!);
    assert.equal(image.status, "READY");
    assert.equal(image.diskSizeGb, 1);
    assert.equal(image.architecture, "X86_64");
    assert.equal(image.family, "tiny");
    assert.deepEqual(
      image.guestOsFeatures.map((f) => f.type),
      ["UEFI_COMPATIBLE", "VIRTIO_SCSI_MULTIQUEUE", "GVNIC"],
    );
    assert.equal(image.labels["oskit-owner"], ownerLabel("p/dev/full"));
    assert.match(image.description ?? "", new RegExp(artifact.sha256));
    assert.match(published.image?.selfLink ?? "", new RegExp(`images/${published.imageName!}$`));

    // Again: the image is adopted, nothing is sent.
    const again = await publishGce(client, endpoints, options("p/dev/full"));
    assert.equal(again.adopted, true);
    assert.equal(again.imageName, published.imageName);
  });

  it("GIVEN the connection cut half way through the upload WHEN it goes on THEN the session is asked for its offset and what it had is not sent again", async () => {
    const object = "resume/tiny.tar.gz";
    const half = Math.floor(artifact.size / 2);
    // A chunk the size of the file: the cut falls half way through it.
    const chunkSize = Math.ceil(artifact.size / CHUNK) * CHUNK;
    fake.faults.add({ operation: "uploads.put", fault: { kind: "drop", afterBytes: half } });
    const result = await uploadObject(client, endpoints, {
      path: artifact.path,
      bucket: "oskit-images",
      object,
      chunkSize,
    });
    const kept = Math.floor(half / CHUNK) * CHUNK;
    assert.equal(result.resumes, 1);
    assert.ok(kept > 0);
    // Sent: the whole first attempt, then only what the server did not keep.
    assert.equal(result.bytesSent, artifact.size + (artifact.size - kept));
    const received = fake.state.bytesReceivedFor("oskit-images", object);
    assert.ok(received <= half + (artifact.size - kept), `received ${received}`);
    assert.equal(fake.state.object("oskit-images", object).size, artifact.size);
    assert.equal(fake.state.callsOf("uploads.query").length >= 1, true);

    // The same file again: identical, skipped.
    const skipped = await uploadObject(client, endpoints, {
      path: artifact.path,
      bucket: "oskit-images",
      object,
    });
    assert.equal(skipped.skipped, true);
    assert.equal(skipped.bytesSent, 0);
  });

  it("GIVEN 429 and 503 answers WHEN uploading and registering THEN they are retried", async () => {
    fake.faults
      .add({ operation: "uploads.start", fault: { kind: "throttle" } })
      .add({ operation: "uploads.put", fault: { kind: "error" }, times: 2 })
      .add({ operation: "images.insert", fault: { kind: "throttle" } })
      .add({ operation: "globalOperations.wait", fault: { kind: "error" } });
    const published = await publishGce(client, endpoints, options("p/dev/retry"));
    assert.equal(fake.state.image(published.imageName!).status, "READY");
    assert.equal(fake.faults.pending.length, 0);
  });

  it("GIVEN the image operation fails WHEN published THEN GCE's code and message are surfaced and the object is named for a resume", async () => {
    fake.faults.add({
      operation: "images.insert",
      fault: {
        kind: "fail",
        code: "INVALID_IMAGE_TAR",
        message: "The tar archive is not a valid image.",
      },
    });
    await assert.rejects(publishGce(client, endpoints, options("p/dev/fail")), (error: Error) => {
      assert.ok(error instanceof PublishInterrupted);
      assert.match(error.message, /INVALID_IMAGE_TAR: The tar archive is not a valid image\./);
      assert.equal(error.object, objectName(artifact.sha256, "p/dev/fail"));
      return true;
    });
  });

  it("GIVEN oskit.gcp.Image WHEN its insert fails, then update, then delete THEN the partial create is recorded, resumed without uploading and everything removed", async () => {
    const inputs: ImageInputs = {
      artifact,
      project: "oskit-test",
      bucket: "oskit-images",
      name: "web",
      labels: { team: "os" },
      owner: { project: "p", stack: "dev", resource: "web" },
      endpoints,
      chunkSize: CHUNK,
    };
    const deps = { client, pollMs: 1 };
    fake.faults.add({
      operation: "images.insert",
      fault: { kind: "fail", code: "QUOTA_EXCEEDED", message: "Quota 'IMAGES' exceeded." },
    });
    let partial: { id: string; properties: Parameters<typeof updateImage>[0] } | undefined;
    await assert.rejects(createImage(inputs, deps), (error: Error & typeof partial) => {
      assert.match(error.message, /QUOTA_EXCEEDED: Quota 'IMAGES' exceeded\..*pulumi up/);
      partial = error;
      return true;
    });
    assert.equal(partial!.properties.selfLink, undefined);
    assert.deepEqual(diffImage(partial!.properties, inputs).replaces, []);
    const puts = fake.state.callsOf("uploads.put").length;
    const outs = await updateImage(partial!.properties, inputs, deps);
    assert.equal(fake.state.callsOf("uploads.put").length, puts, "the object was not sent again");
    assert.equal(fake.state.image(outs.imageName!).labels.team, "os");

    // A killed run's object of another digest with this owner's metadata is swept by the next create.
    const stray = "oskit/stray.tar.gz";
    await uploadObject(client, endpoints, {
      path: artifact.path,
      bucket: "oskit-images",
      object: stray,
      metadata: { "oskit-digest": `sha256:${"f".repeat(64)}`, "oskit-owner": "p/dev/web" },
    });
    fake.state.removeObject("oskit-images", outs.objectName);
    fake.state.images.delete(outs.imageName!);
    await createImage(inputs, deps);
    assert.equal(fake.state.findObject("oskit-images", stray), undefined);

    await deleteImageResource(outs, deps);
    assert.equal(fake.state.images.get(outs.imageName!)?.status ?? "gone", "gone");
    assert.equal(fake.state.findObject("oskit-images", outs.objectName), undefined);
  });

  it("GIVEN an image of that name made by another owner WHEN published THEN it is not adopted", async () => {
    const published = await publishGce(client, endpoints, options("p/dev/theirs"));
    const image = fake.state.image(published.imageName!);
    image.labels = { ...image.labels, "oskit-owner": "someone-else" };
    await assert.rejects(
      publishGce(client, endpoints, options("p/dev/theirs")),
      /is not p\/dev\/theirs's image/,
    );
  });
});
