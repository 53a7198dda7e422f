import { strict as assert } from "node:assert";
import { NotInStoreError, resolveOrPull } from "../../../sdk/resolve/image";
import { push } from "../../../sdk/resolve/push";
import { RegistryClient } from "../../../sdk/resolve/registry/client";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { startFaultProxy, type FaultProxy } from "../../support/fault-proxy";
import { storeImage } from "../../support/images";
import { scratchStores, startRegistry, type RunningRegistry } from "../../support/registry";
import { tarOf } from "../../support/tar";

const stores = scratchStores();
const AMD64 = { os: "linux", architecture: "amd64" };

describe("registry: resolution, store first", function () {
  this.timeout(60000);
  let registry: RunningRegistry;
  let proxy: FaultProxy;
  let ref: string;
  let digest: string;

  before(async () => {
    registry = await startRegistry();
    proxy = await startFaultProxy(registry.url);
    ref = `${proxy.host}/test/resolve:1`;
    const source = await ContentStore.open(stores.make());
    await storeImage(source, { ref, layers: [await tarOf({ "etc/v": "1" })] });
    digest = (await push(source, ref, ref)).digest;
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

  it("pulls what the store lacks, then answers from the store alone", async () => {
    const store = await ContentStore.open(stores.make());
    const first = await resolveOrPull(store, ref, AMD64);
    assert.ok(proxy.requests.length > 0);
    proxy.reset();
    const again = await resolveOrPull(store, ref, AMD64);
    assert.equal(again.digest, first.digest);
    assert.deepEqual(proxy.requests, []);
  });

  it("asks the registry for tags with pull: always, but never for a stored digest", async () => {
    const store = await ContentStore.open(stores.make());
    await resolveOrPull(store, ref, AMD64);
    proxy.reset();
    await resolveOrPull(store, ref, AMD64, { pull: "always" });
    assert.ok(proxy.requests.some((r) => r.path.endsWith("/manifests/1")));

    const pinned = `${ref}@${digest}`;
    await resolveOrPull(store, pinned, AMD64);
    proxy.reset();
    await resolveOrPull(store, pinned, AMD64, { pull: "always" });
    assert.deepEqual(proxy.requests, []);
  });

  it("with pull: never, says how to get what the store lacks", async () => {
    const store = await ContentStore.open(stores.make());
    await assert.rejects(
      resolveOrPull(store, ref, AMD64, { pull: "never" }),
      (e: Error) => e instanceof NotInStoreError && e.message.includes(`oskit pull ${ref}`),
    );
    assert.deepEqual(proxy.requests, []);
  });
});
