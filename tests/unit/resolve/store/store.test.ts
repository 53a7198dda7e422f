import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ResolveError } from "../../../../sdk/errors";
import { Digest } from "../../../../sdk/manifest/digest";
import { MediaType } from "../../../../sdk/resolve/oci";
import { ContentStore, defaultStoreRoot, storeKey } from "../../../../sdk/resolve/store/store";
import { ROOT } from "../../../support/paths";

const INDEX = MediaType.OciIndex;

describe("ContentStore", () => {
  let dir: string;
  let store: ContentStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-store-"));
    store = await ContentStore.open(dir);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("is an OCI image layout", () => {
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "oci-layout"), "utf8")), {
      imageLayoutVersion: "1.0.0",
    });
    assert.deepEqual(readdirSync(join(dir, "blobs")), ["sha256"]);
  });

  it("lives in OSKIT_STORE, else the XDG cache, else ~/.cache/oskit", () => {
    assert.equal(defaultStoreRoot({ OSKIT_STORE: "/s", XDG_CACHE_HOME: "/x" }), "/s");
    assert.equal(defaultStoreRoot({ XDG_CACHE_HOME: "/x" }), "/x/oskit");
    assert.match(defaultStoreRoot({}), /\/\.cache\/oskit$/);
  });

  it("stores blobs by digest and refuses bytes that do not match an expected digest", async () => {
    const blob = await store.putBlob(Buffer.from("hello"));
    assert.equal(blob.digest.toString(), Digest.sha256("hello").toString());
    assert.deepEqual(await store.readBlob(blob.digest), Buffer.from("hello"));
    await assert.rejects(
      store.putBlob(Buffer.from("evil"), Digest.sha256("hello")),
      /digest mismatch/,
    );
    assert.deepEqual(
      readdirSync(join(dir, "blobs", "sha256")),
      [blob.digest.hex],
      "no temporary file is left behind",
    );
  });

  it("never hands out a blob whose bytes do not match its digest, and removes it", async () => {
    const blob = await store.putBlob(Buffer.from("original"));
    assert.equal(await store.blobPath(blob.digest), join(dir, "blobs", "sha256", blob.digest.hex));
    const path = join(dir, "blobs", "sha256", blob.digest.hex);
    writeFileSync(path, "tampered");
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    await assert.rejects(
      store.blobPath(blob.digest),
      (e: unknown) => e instanceof ResolveError && /corrupt/.test(e.message),
    );
    assert.equal(await store.hasBlob(blob.digest), false);
    const again = await store.putBlob(Buffer.from("original"));
    writeFileSync(join(dir, "blobs", "sha256", again.digest.hex), "tampered");
    await assert.rejects(store.readBlob(again.digest), /corrupt/);
  });

  it("tags references by name, resolves them by name and by digest, and removes them", async () => {
    const index = await store.putJson({ schemaVersion: 2, mediaType: INDEX, manifests: [] });
    const descriptor = { mediaType: INDEX, digest: index.digest.toString(), size: index.size };
    assert.equal(await store.tag("oskit/init:v1", descriptor), "docker.io/oskit/init:v1");
    assert.equal(storeKey("alpine"), "docker.io/library/alpine:latest");
    assert.equal((await store.resolve("docker.io/oskit/init:v1"))?.digest, descriptor.digest);
    assert.deepEqual(await store.resolve(`oskit/init@${descriptor.digest}`), descriptor);
    assert.equal(await store.resolve("oskit/init:v2"), undefined);
    assert.deepEqual(
      (await store.list()).map((r) => r.name),
      ["docker.io/oskit/init:v1"],
    );
    assert.deepEqual(await store.untag(["oskit/init:v1", "oskit/other:v1"]), [
      "docker.io/oskit/init:v1",
    ]);
    assert.deepEqual(await store.list(), []);
    await assert.rejects(
      store.tag("x:1", { mediaType: INDEX, digest: Digest.sha256("missing").toString(), size: 1 }),
      /has no blob/,
    );
  });

  it("collects unreferenced blobs older than the grace period, and keeps what references reach", async () => {
    const layer = await store.putBlob(Buffer.from("layer"));
    const config = await store.putJson({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: [] },
    });
    const manifest = await store.putJson({
      schemaVersion: 2,
      mediaType: MediaType.OciManifest,
      config: {
        mediaType: MediaType.OciConfig,
        digest: config.digest.toString(),
        size: config.size,
      },
      layers: [
        { mediaType: MediaType.OciLayerGzip, digest: layer.digest.toString(), size: layer.size },
      ],
    });
    const index = await store.putJson({
      schemaVersion: 2,
      mediaType: INDEX,
      manifests: [
        {
          mediaType: MediaType.OciManifest,
          digest: manifest.digest.toString(),
          size: manifest.size,
        },
      ],
    });
    await store.tag("app:1", {
      mediaType: INDEX,
      digest: index.digest.toString(),
      size: index.size,
    });
    const orphan = await store.putBlob(Buffer.from("orphan"));
    assert.deepEqual(await store.gc(), { removed: 0, freedBytes: 0, kept: 4 }, "young blobs stay");
    assert.deepEqual(await store.gc({ graceSeconds: 0 }), { removed: 1, freedBytes: 6, kept: 4 });
    assert.equal(await store.hasBlob(orphan.digest), false);
    assert.equal(await store.hasBlob(layer.digest), true);
  });

  it("leaves other writers' temporary files to gc --now, and removes them only once an hour old", async () => {
    const blobs = join(dir, "blobs", "sha256");
    writeFileSync(join(blobs, ".tmp-1234-abcdef"), "being written");
    writeFileSync(join(blobs, ".tmp-1234-old"), "abandoned");
    utimesSync(join(blobs, ".tmp-1234-old"), new Date(0), new Date(Date.now() - 2 * 3600 * 1000));
    writeFileSync(join(blobs, "notes.txt"), "not a blob");
    utimesSync(join(blobs, "notes.txt"), new Date(0), new Date(0));
    await store.gc({ graceSeconds: 0 });
    assert.deepEqual(readdirSync(blobs).sort(), [".tmp-1234-abcdef", "notes.txt"]);
  });

  it("stores a blob it already has even when gc removes the old copy meanwhile", async () => {
    const blob = await store.putBlob(Buffer.from("again"));
    const path = join(dir, "blobs", "sha256", blob.digest.hex);
    const hasBlob = store.hasBlob.bind(store);
    store.hasBlob = async (digest) => {
      const had = await hasBlob(digest);
      rmSync(path, { force: true }); // gc, between the look and the write
      return had;
    };
    await store.putBlob(Buffer.from("again"));
    assert.deepEqual(readFileSync(path), Buffer.from("again"));
  });

  it("names a damaged index.json instead of failing inside the JSON parser", async () => {
    writeFileSync(join(dir, "index.json"), '{"schemaVersion": 2, "manif');
    await assert.rejects(
      store.list(),
      (e: unknown) =>
        e instanceof ResolveError &&
        e.message.includes(join(dir, "index.json")) &&
        /damaged.*move it away/.test(e.message),
    );
  });

  it("sorts references by code unit, the same in every locale", async () => {
    const index = await store.putJson({ schemaVersion: 2, mediaType: INDEX, manifests: [] });
    const descriptor = { mediaType: INDEX, digest: index.digest.toString(), size: index.size };
    for (const tag of ["a", "B", "a-b", "ab"]) await store.tag(`example.com/x:${tag}`, descriptor);
    assert.deepEqual(
      (await store.list()).map((r) => r.name.slice("example.com/x:".length)),
      ["B", "a", "a-b", "ab"],
    );
  });

  it("loses no reference and no blob when two processes write at once", async function () {
    this.timeout(60000);
    const run = (name: string) =>
      new Promise<number | null>((resolve, reject) => {
        const child = spawn(
          process.execPath,
          [join(ROOT, "tests/support/store-worker.js"), ROOT, dir, name, "25"],
          { stdio: ["ignore", "ignore", "inherit"] },
        );
        child.on("error", reject);
        child.on("close", resolve);
      });
    assert.deepEqual(await Promise.all([run("a"), run("b")]), [0, 0]);
    const names = (await store.list()).map((r) => r.name);
    assert.equal(names.length, 50);
    for (const worker of ["a", "b"])
      for (let i = 0; i < 25; i++) assert.ok(names.includes(`example.com/${worker}:v${i}`));
    for (const { descriptor } of await store.list())
      await store.readBlob(Digest.parse(descriptor.digest));
    assert.ok(readdirSync(join(dir, "blobs", "sha256")).every((f) => !f.startsWith(".tmp")));
    assert.ok(!readdirSync(dir).some((f) => f.endsWith(".lock") || f.endsWith(".tmp")));
  });
});
