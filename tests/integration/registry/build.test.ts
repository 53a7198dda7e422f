import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { push } from "../../../sdk/resolve/push";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { oskit } from "../../support/cli";
import { storeImage } from "../../support/images";
import { TMP } from "../../support/paths";
import { scratchStores, startRegistry, type RunningRegistry } from "../../support/registry";
import { tarOf } from "../../support/tar";

const stores = scratchStores();

describe("registry: oskit build with images only in a registry", function () {
  this.timeout(60000);
  let registry: RunningRegistry;
  let dir: string;
  let refs: string[];

  before(async () => {
    registry = await startRegistry();
    const kernel = `${registry.host}/test/kernel:1`;
    const init = `${registry.host}/test/init:1`;
    const app = `${registry.host}/test/app:1`;
    refs = [kernel, init, app];
    const source = await ContentStore.open(stores.make());
    await storeImage(source, {
      ref: kernel,
      layers: [await tarOf({ kernel: "not really a kernel", "kernel.tar": await tarOf({}) })],
    });
    await storeImage(source, { ref: init, layers: [await tarOf({ init: "#!/bin/sh\n" })] });
    await storeImage(source, {
      ref: app,
      entrypoint: ["/bin/app"],
      layers: [await tarOf({ "bin/app": "#!/bin/sh\n" })],
    });
    for (const ref of refs) await push(source, ref, ref);
    dir = mkdtempSync(join(TMP, "registry-build-"));
    writeFileSync(
      join(dir, "os.yml"),
      [
        "kernel:",
        `  image: ${kernel}`,
        "  cmdline: console=ttyS0",
        "init:",
        `  - ${init}`,
        "services:",
        "  - name: app",
        `    image: ${app}`,
        "",
      ].join("\n"),
    );
  });
  after(async () => {
    await registry?.stop();
    stores.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("pulls what the store lacks, warns about every unpinned tag, and builds the same bytes once locked", () => {
    const store = stores.make();
    const first = oskit(["build", "os.yml", "-f", "tar", "-o", "a", "--store", store], {
      cwd: dir,
    });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /pulling .*test\/kernel:1/);
    const warning = first.stderr.split("\n").find((l) => l.includes("not pinned by a digest"));
    assert.ok(warning !== undefined, first.stderr);
    for (const ref of refs) assert.ok(warning.includes(ref), warning);

    const locked = oskit(["lock", "os.yml", "--store", store], { cwd: dir });
    assert.equal(locked.code, 0, locked.stderr);
    const second = oskit(
      ["build", "os.yml", "-f", "tar", "-o", "b", "--frozen", "--store", stores.make()],
      { cwd: dir },
    );
    assert.equal(second.code, 0, second.stderr);
    assert.ok(!second.stderr.includes("not pinned"), second.stderr);
    assert.ok(
      readFileSync(join(dir, "a", "os.tar")).equals(readFileSync(join(dir, "b", "os.tar"))),
    );
  });
});
