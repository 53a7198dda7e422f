import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { build } from "../../sdk/build/build";
import { loadDefinitions } from "../../sdk/cli/load";
import type { Manifest } from "../../sdk/manifest/schema";
import type { ContentStore } from "../../sdk/resolve/store/store";
import { ensurePackages, OSKIT_PACKAGES, SHARED_STORE } from "../support/packages";
import { ROOT, TMP } from "../support/paths";

describe("examples/hello, the main job", function () {
  this.timeout(600000);
  let store: ContentStore;
  let manifest: Manifest;
  before(async () => {
    store = await ensurePackages(OSKIT_PACKAGES);
    manifest = (await loadDefinitions([join(ROOT, "examples", "hello", "os.ts")])).manifest;
  });

  const buildInto = (dir: string, force = false) =>
    build(manifest, {
      store,
      formats: ["kernel+initrd", "tar"],
      outDir: dir,
      name: "hello",
      platform: { os: "linux", architecture: "amd64" },
      baseDir: join(ROOT, "examples", "hello"),
      force,
    });

  it("builds byte-identical outputs twice, and an unchanged rebuild writes nothing", async () => {
    const a = await buildInto(join(TMP, "hello-a"), true);
    const b = await buildInto(join(TMP, "hello-b"), true);
    for (const name of ["hello-kernel", "hello-initrd.img", "hello-cmdline", "hello.tar"]) {
      assert.deepEqual(
        readFileSync(join(TMP, "hello-a", name)),
        readFileSync(join(TMP, "hello-b", name)),
        name,
      );
    }
    assert.deepEqual(
      a.results.map((r) => r.files),
      b.results.map((r) => r.files),
    );
    const before = statSync(join(TMP, "hello-a", "hello-initrd.img"));
    const again = await buildInto(join(TMP, "hello-a"));
    assert.deepEqual(
      again.results.map((r) => r.cached),
      [true, true],
    );
    const after = statSync(join(TMP, "hello-a", "hello-initrd.img"));
    assert.deepEqual(
      [after.ino, after.mtimeMs],
      [before.ino, before.mtimeMs],
      "the initrd was not rewritten",
    );
    const initrd = a.results[0]!.files.find((f) => f.name === "hello-initrd.img")!;
    assert.match(initrd.contentSha256 ?? "", /^sha256:[0-9a-f]{64}$/);
  });

  it("make demo boots hello and prints the page served from inside the VM, nonce included", () => {
    const demo = spawnSync("make", ["--no-print-directory", "demo"], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, OSKIT_STORE: SHARED_STORE },
      timeout: 400000,
    });
    assert.equal(demo.status, 0, `${demo.stdout}\n${demo.stderr}`);
    const nonce = /with the nonce ([0-9a-f]{16}) sent at boot/.exec(demo.stdout)?.[1];
    assert.ok(nonce !== undefined, demo.stdout);
    assert.match(demo.stdout, new RegExp(`^ {2}nonce: ${nonce}$`, "m"));
    assert.match(demo.stdout, /^ {2}uptime: \d+\.\d+ s$/m);
    assert.match(demo.stdout, /^powered off in /m);
  });
});
