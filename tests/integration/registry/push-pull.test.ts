import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Digest } from "../../../sdk/manifest/digest";
import { indexSchema, manifestSchema } from "../../../sdk/resolve/oci";
import { pull } from "../../../sdk/resolve/pull";
import { push } from "../../../sdk/resolve/push";
import { RegistryClient, UPLOAD_CHUNK } from "../../../sdk/resolve/registry/client";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { hasStackTrace, oskit, oskitAsync } from "../../support/cli";
import { startFaultProxy, type FaultProxy } from "../../support/fault-proxy";
import { storeImage, storeMultiArch } from "../../support/images";
import { SHARED_STORE } from "../../support/packages";
import { ROOT } from "../../support/paths";
import {
  scratchStores,
  startRegistry,
  storeProblems,
  treeSnapshot,
  type RunningRegistry,
} from "../../support/registry";
import { tarOf } from "../../support/tar";

const stores = scratchStores();
const newStore = () => stores.make();

async function layersOf(store: ContentStore, manifestDigest: string): Promise<string[]> {
  const manifest = manifestSchema.parse(await store.readJson(Digest.parse(manifestDigest)));
  return [manifest.config.digest, ...manifest.layers.map((l) => l.digest)];
}

describe("registry: push and pull against docker-registry", function () {
  this.timeout(180000);
  let registry: RunningRegistry;
  let proxy: FaultProxy;

  before(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    stores.cleanup();
  });
  beforeEach(() => {
    RegistryClient.reset();
    proxy.reset();
  });

  it("pkg build --push, then pull into an empty store, gives the same manifest digest", () => {
    const ref = `${registry.host}/oskit/httpd:t`;
    const built = oskit(["pkg", "build", "pkg/httpd", "--push", ref, "--store", SHARED_STORE]);
    assert.equal(built.code, 0, built.stderr);
    const pushedLine = built.stdout.trim().split("\n").pop()!;
    const [pushedRef, pushedDigest] = pushedLine.split(" ");
    assert.equal(pushedRef, ref);
    assert.match(pushedDigest!, /^sha256:[a-f0-9]{64}$/);

    const empty = newStore();
    const pulled = oskit(["pull", ref, "--store", empty]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.equal(pulled.stdout.trim(), `${ref} ${pushedDigest!}`);
    assert.deepEqual(storeProblems(empty), []);
    const listed = oskit(["store", "ls", "--store", empty]);
    assert.match(listed.stdout, new RegExp(`${registry.host}/oskit/httpd:t`));
  });

  it("refuses a tampered blob by naming its digest, and leaves the store unchanged", async () => {
    const source = await ContentStore.open(newStore());
    const ref = `${registry.host}/test/tampered:1`;
    const index = await storeImage(source, {
      ref,
      layers: [await tarOf({ "etc/motd": "the real bytes\n".repeat(100) })],
    });
    await push(source, ref, ref);
    const manifestDigest = indexSchema.parse(await source.readJson(Digest.parse(index.digest)))
      .manifests[0]!.digest;
    const layer = (await layersOf(source, manifestDigest))[1]!;
    const file = registry.blobFile(layer);
    const bytes = readFileSync(file);
    bytes[bytes.length >> 1]! ^= 0x01;
    writeFileSync(file, bytes);

    const target = newStore();
    await storeImage(await ContentStore.open(target), {
      ref: "example.org/already/here:1",
      layers: [await tarOf({ a: "a" })],
    });
    const before = treeSnapshot(target);
    const result = oskit(["pull", ref, "--store", target]);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(result.stderr.includes(layer), result.stderr);
    assert.match(result.stderr, /nothing was stored/);
    assert.ok(!hasStackTrace(result.stderr), result.stderr);
    assert.deepEqual(treeSnapshot(target), before);
  });

  it("pulls the platform asked for from a multi-arch index, and says which platforms exist", async () => {
    const source = await ContentStore.open(newStore());
    const ref = `${registry.host}/test/multi:1`;
    await storeMultiArch(source, ref, [
      { ref, architecture: "amd64", layers: [await tarOf({ arch: "amd64" })] },
      { ref, architecture: "arm64", layers: [await tarOf({ arch: "arm64" })] },
    ]);
    const pushed = await push(source, ref, ref);
    const index = indexSchema.parse(await source.readJson(Digest.parse(pushed.digest)));
    const byArch = Object.fromEntries(
      await Promise.all(
        index.manifests.map(
          async (m) => [m.platform!.architecture, await layersOf(source, m.digest)] as const,
        ),
      ),
    );

    const arm = newStore();
    const result = oskit(["pull", ref, "--arch", "arm64", "--store", arm]);
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.trim(), `${ref} ${pushed.digest}`);
    const armStore = await ContentStore.open(arm);
    for (const digest of byArch.arm64!) assert.ok(await armStore.hasBlob(Digest.parse(digest)));
    assert.ok(!(await armStore.hasBlob(Digest.parse(byArch.amd64![1]!))), "amd64 layer fetched");

    const all = await ContentStore.open(newStore());
    await pull(ref, all);
    for (const digest of [...byArch.amd64!, ...byArch.arm64!])
      assert.ok(await all.hasBlob(Digest.parse(digest)));

    const none = oskit(["pull", ref, "--arch", "riscv64", "--store", newStore()]);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /no image for linux\/riscv64 \(it has linux\/amd64, linux\/arm64\)/);
  });

  it("uploads large blobs in chunks, skips blobs the repository has and mounts from another", async () => {
    const source = await ContentStore.open(newStore());
    const big = randomBytes(UPLOAD_CHUNK + 1024 * 1024);
    const ref = `${proxy.host}/test/big:1`;
    await storeImage(source, { ref, plain: true, layers: [await tarOf({ data: big })] });

    const first = await push(source, ref, ref);
    assert.deepEqual([first.uploaded, first.mounted, first.skipped], [2, 0, 0]);
    const patches = proxy.requests.filter((r) => r.method === "PATCH");
    assert.equal(patches.length, 2, "a blob over the chunk size goes in two PATCHes");

    const again = await push(source, ref, ref);
    assert.deepEqual([again.uploaded, again.mounted, again.skipped], [0, 0, 2]);

    const other = `${proxy.host}/test/other:1`;
    const mounted = await push(source, ref, other);
    assert.deepEqual([mounted.uploaded, mounted.mounted, mounted.skipped], [0, 2, 0]);
    assert.ok(proxy.requests.some((r) => r.method === "POST" && /mount=sha256/.test(r.path)));

    const back = await ContentStore.open(newStore());
    const descriptor = await pull(other, back);
    assert.equal(descriptor.digest, first.digest);
    assert.deepEqual(storeProblems(back.root), []);
  });

  it("lets two processes pull the same image into one store at once", async () => {
    const source = await ContentStore.open(newStore());
    const ref = `${registry.host}/test/concurrent:1`;
    await storeImage(source, {
      ref,
      plain: true,
      layers: [
        await tarOf({ one: randomBytes(3 << 20) }),
        await tarOf({ two: randomBytes(3 << 20) }),
      ],
    });
    const pushed = await push(source, ref, ref);
    const shared = newStore();
    const results = await Promise.all([
      oskitAsync(["pull", ref, "--store", shared]),
      oskitAsync(["pull", ref, "--store", shared]),
    ]);
    for (const r of results) {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.trim(), `${ref} ${pushed.digest}`);
    }
    assert.deepEqual(storeProblems(shared), []);
    const index = JSON.parse(readFileSync(join(shared, "index.json"), "utf8")) as {
      manifests: unknown[];
    };
    assert.equal(index.manifests.length, 1);
  });

  it("pushes and pulls through the CLI with progress on stderr", async () => {
    const store = newStore();
    const ref = `${registry.host}/test/cli:1`;
    await storeImage(await ContentStore.open(store), { ref, layers: [await tarOf({ x: "x" })] });
    const pushed = oskit(["push", ref, `${registry.host}/test/cli:2`, "--store", store]);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stderr, /2 blobs uploaded, 0 mounted, 0 already there/);
    const pulled = oskit(["pull", `${registry.host}/test/cli:2`, "--store", newStore()]);
    assert.equal(pulled.code, 0, pulled.stderr);
    assert.match(pulled.stderr, /pulling .*test\/cli:2 \(linux\/amd64\): 2 blobs/);
    assert.equal(pulled.stdout.split(" ")[1]!.trim(), pushed.stdout.split(" ")[1]!.trim());
  });

  it("refuses plain HTTP to a registry that is not loopback unless named insecure", () => {
    const result = oskit(
      ["pull", "registry.invalid/x:1", "--mirror", "registry.invalid=http://example.invalid:5000"],
      {
        cwd: ROOT,
      },
    );
    assert.equal(result.code, 1);
    assert.match(result.stderr, /plain HTTP; name example\.invalid:5000 in --insecure-registry/);
  });
});
