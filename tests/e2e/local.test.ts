import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  checkImageBuild,
  createImageBuild,
  deleteImageBuild,
  diffImageBuild,
  type ImageBuildInputs,
} from "../../provider/build/image-build";
import { osInput } from "../../provider/build/os-input";
import {
  checkQemuVm,
  createQemuVm,
  deleteQemuVm,
  diffQemuVm,
  type QemuVmInputs,
} from "../../provider/local/qemu-vm";
import { loadDefinitions } from "../../sdk/cli/load";
import { manifestDigest } from "../../sdk/manifest/canonical";
import { packageRef } from "../../sdk/pkg/build";
import { ContentStore, defaultStoreRoot } from "../../sdk/resolve/store/store";
import { isVmQemu } from "../../sdk/run/stop";
import { ensurePackages, OSKIT_PACKAGES, SHARED_STORE } from "../support/packages";
import { ROOT, TMP } from "../support/paths";
import { freePort } from "../support/registry";

/** The user's store when `make pkgs` has filled it with the current packages, else the tests' own. */
async function packageStore(): Promise<string> {
  const user = await ContentStore.open(defaultStoreRoot());
  const found = await Promise.all(OSKIT_PACKAGES.map((dir) => user.resolve(packageRef(dir))));
  if (found.every((d) => d !== undefined)) return defaultStoreRoot();
  await ensurePackages(OSKIT_PACKAGES);
  return SHARED_STORE;
}

describe("oskit.local.QemuVm for real: hello built by ImageBuild's functions, booted, served, stopped", function () {
  this.timeout(600000);
  const dir = join(TMP, "local-e2e");
  before(() => rmSync(dir, { recursive: true, force: true }));

  it("GIVEN hello as kernel+initrd WHEN a QemuVm runs it with a port and data THEN the page shows the data, a diff is a no-op and delete leaves nothing", async () => {
    const hello = join(ROOT, "examples", "hello");
    const manifest = (await loadDefinitions([join(hello, "os.ts")])).manifest;
    const buildInputs = checkImageBuild({
      os: osInput(manifest),
      manifestDigest: manifestDigest(manifest).toString(),
      formats: ["kernel+initrd"],
      name: "hello",
      outDir: join(dir, "build"),
      baseDir: hello,
      arch: "amd64",
      store: await packageStore(),
    } satisfies ImageBuildInputs);
    assert.deepEqual(buildInputs.failures, []);
    const { outs: built } = await createImageBuild(buildInputs.inputs);

    const nonce = randomBytes(8).toString("hex");
    const port = await freePort();
    const vmInputs: QemuVmInputs = {
      artifact: built.artifacts["kernel+initrd"]!,
      publish: [`${port}:80`],
      mem: 1024,
      cpus: 1,
      data: nonce,
      stateDir: join(dir, "vms", "hello"),
    };
    assert.deepEqual(checkQemuVm(vmInputs).failures, []);
    const started = Date.now();
    const { id, outs: vm } = await createQemuVm(vmInputs);
    let page = "";
    try {
      assert.equal(id, vmInputs.stateDir);
      assert.ok(isVmQemu(vm.pid, vm.stateDir), "QEMU runs, serving the state directory");
      const deadline = started + 240_000;
      while (!page.includes(nonce) && Date.now() < deadline) {
        try {
          const response = await fetch(`http://127.0.0.1:${vm.ports[0]!.host}/cgi-bin/hello`, {
            signal: AbortSignal.timeout(3000),
          });
          page = await response.text();
        } catch {
          await new Promise((r) => setTimeout(r, 250));
        }
      }
      assert.ok(
        page.includes(`nonce: ${nonce}`),
        `no page with the nonce; console:\n${readFileSync(vm.consoleLog, "utf8").slice(-3000)}`,
      );
      console.log(
        `      hello answered ${((Date.now() - started) / 1000).toFixed(1)} s after create`,
      );
      assert.match(page, /hello from oskit/);
      assert.equal(diffQemuVm(vm, vmInputs).changes, false);
      assert.equal((await diffImageBuild(built, buildInputs.inputs)).changes, false);
    } finally {
      await deleteQemuVm(vm);
    }
    assert.equal(isVmQemu(vm.pid, vm.stateDir), false, "QEMU is gone");
    assert.equal(existsSync(vm.stateDir), false, "its state directory is gone");
    assert.deepEqual(diffQemuVm(vm, vmInputs).changed, ["pid"], "a stopped VM is a change");
    await deleteImageBuild(built);
    assert.deepEqual(readdirSync(join(dir, "build")), []);
    assert.deepEqual(readdirSync(join(dir, "vms")), []);
  });
});
