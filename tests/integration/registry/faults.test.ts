import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { Digest } from "../../../sdk/manifest/digest";
import { indexSchema, manifestSchema } from "../../../sdk/resolve/oci";
import { pull } from "../../../sdk/resolve/pull";
import { push } from "../../../sdk/resolve/push";
import { RegistryClient } from "../../../sdk/resolve/registry/client";
import type { RegistryOptions } from "../../../sdk/resolve/registry/hosts";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { startFaultProxy, type Fault, type FaultProxy } from "../../support/fault-proxy";
import { storeImage } from "../../support/images";
import {
  scratchStores,
  startRegistry,
  storeProblems,
  treeSnapshot,
  type RunningRegistry,
} from "../../support/registry";
import { tarOf } from "../../support/tar";

const stores = scratchStores();
/** Short timeouts and backoff so that each fault costs little time; three tries per request. */
const FAST: RegistryOptions = { timeoutMs: 400, backoffMs: 20, attempts: 3 };
const MANIFEST = /\/manifests\//;

describe("registry: faults between oskit and the registry", function () {
  this.timeout(60000);
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let ref: string;
  let digest: string;
  let layer: string;

  before(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    ref = `${proxy.host}/test/faults:1`;
    const source = await ContentStore.open(stores.make());
    await storeImage(source, {
      ref,
      plain: true,
      layers: [await tarOf({ data: randomBytes(256 * 1024) })],
    });
    digest = (await push(source, ref, ref)).digest;
    const index = indexSchema.parse(await source.readJson(Digest.parse(digest)));
    const manifest = manifestSchema.parse(
      await source.readJson(Digest.parse(index.manifests[0]!.digest)),
    );
    layer = manifest.layers[0]!.digest;
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

  const layerGets = () =>
    proxy.requests.filter((r) => r.method === "GET" && r.path.endsWith(layer));

  /** Pulls through the proxy into a fresh store with these faults; returns the store. */
  async function pullWith(
    ...rules: { method?: string; path: RegExp; fault: Fault; times?: number }[]
  ) {
    for (const rule of rules) proxy.inject(rule);
    const store = await ContentStore.open(stores.make());
    const descriptor = await pull(ref, store, { registry: FAST });
    assert.equal(descriptor.digest, digest);
    assert.deepEqual(storeProblems(store.root), []);
    return store;
  }

  /** Pulls into a store holding another image, expecting failure; the store must be unchanged. */
  async function failingPull(
    expected: RegExp,
    ...rules: { method?: string; path: RegExp; fault: Fault; times?: number }[]
  ) {
    for (const rule of rules) proxy.inject(rule);
    const store = await ContentStore.open(stores.make());
    await storeImage(store, { ref: "example.org/other:1", layers: [await tarOf({ a: "a" })] });
    const before = treeSnapshot(store.root);
    await assert.rejects(pull(ref, store, { registry: FAST }), expected);
    assert.deepEqual(treeSnapshot(store.root), before);
  }

  it("retries 500s and succeeds", async () => {
    await pullWith({ path: MANIFEST, fault: { kind: "status", status: 500 }, times: 2 });
    assert.deepEqual(
      proxy.requests.slice(0, 3).map((r) => r.fault),
      ["status", "status", undefined],
    );
  });

  it("gives up on a registry that keeps failing, naming the reference, URL and status", async () => {
    await failingPull(
      new RegExp(
        `${ref} manifest: GET http://${proxy.host}/v2/test/faults/manifests/1 answered 503 Service Unavailable \\(INJECTED: injected fault\\)`,
      ),
      { path: MANIFEST, fault: { kind: "status", status: 503 } },
    );
    assert.equal(proxy.requests.length, FAST.attempts);
  });

  it("retries a connection reset", async () => {
    await pullWith({ path: new RegExp(layer), fault: { kind: "reset" }, times: 1 });
    assert.equal(layerGets().length, 2);
  });

  it("resumes a truncated blob with a Range request", async () => {
    await pullWith({
      method: "GET",
      path: new RegExp(layer),
      fault: { kind: "truncate" },
      times: 1,
    });
    const gets = layerGets();
    assert.equal(gets.length, 2);
    assert.equal(gets[0]!.range, undefined);
    assert.match(gets[1]!.range ?? "", /^bytes=[1-9]\d*-$/);
  });

  it("resumes a blob whose bytes stop coming", async () => {
    await pullWith({
      method: "GET",
      path: new RegExp(layer),
      fault: { kind: "stall", ms: 2000 },
      times: 1,
    });
    const gets = layerGets();
    assert.equal(gets.length, 2);
    assert.match(gets[1]!.range ?? "", /^bytes=[1-9]\d*-$/);
  });

  it("retries a response slower than the timeout", async () => {
    await pullWith({ path: MANIFEST, fault: { kind: "delay", ms: 1500 }, times: 1 });
    assert.equal(proxy.requests.filter((r) => MANIFEST.test(r.path)).length, 3);
  });

  it("waits as long as a 429's Retry-After asks", async () => {
    await pullWith({
      path: MANIFEST,
      fault: { kind: "status", status: 429, retryAfter: "1" },
      times: 1,
    });
    const [limited, next] = proxy.requests;
    assert.equal(limited!.fault, "status");
    assert.ok(next!.at - limited!.at >= 950, `retried after ${next!.at - limited!.at} ms`);
  });

  it("refuses a blob whose bytes do not match its digest, storing nothing", async () => {
    await failingPull(
      new RegExp(
        `${layer}: the bytes received \\(\\d+\\) have the digest sha256:[a-f0-9]{64}; nothing was stored`,
      ),
      { method: "GET", path: new RegExp(layer), fault: { kind: "corrupt" } },
    );
  });

  it("refuses a manifest whose bytes do not match the digest asked for", async () => {
    proxy.inject({ method: "GET", path: /\/manifests\/sha256:/, fault: { kind: "corrupt" } });
    await assert.rejects(
      pull(`${proxy.host}/test/faults@${digest}`, await ContentStore.open(stores.make()), {
        registry: FAST,
      }),
      /manifest: the registry sent a manifest whose digest is sha256:[a-f0-9]{64}, not sha256:/,
    );
  });

  it("gives up on a blob that keeps breaking off, storing nothing", async () => {
    await failingPull(new RegExp(`${layer}: 3 tries failed`), {
      method: "GET",
      path: new RegExp(layer),
      fault: { kind: "truncate" },
    });
  });

  it("retries a failed manifest upload", async () => {
    const source = await ContentStore.open(stores.make());
    const target = `${proxy.host}/test/faults-push:1`;
    await storeImage(source, { ref: target, layers: [await tarOf({ b: "b" })] });
    proxy.inject({
      method: "PUT",
      path: MANIFEST,
      fault: { kind: "status", status: 502 },
      times: 1,
    });
    const pushed = await push(source, target, target, { registry: FAST });
    const back = await pull(target, await ContentStore.open(stores.make()), { registry: FAST });
    assert.equal(back.digest, pushed.digest);
  });
});
