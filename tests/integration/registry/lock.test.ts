import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { push } from "../../../sdk/resolve/push";
import { RegistryClient } from "../../../sdk/resolve/registry/client";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { oskit } from "../../support/cli";
import { storeImage } from "../../support/images";
import { TMP } from "../../support/paths";
import { scratchStores, startRegistry, type RunningRegistry } from "../../support/registry";
import { tarOf } from "../../support/tar";

const stores = scratchStores();

describe("registry: the lock file", function () {
  this.timeout(60000);
  let registry: RunningRegistry;
  let dir: string;
  let store: string;
  const refs = { kernel: "", init: "", app: "" };

  /** Pushes a new image under a reference (moving its tag); returns the index digest. */
  async function publish(ref: string, content: string): Promise<string> {
    const source = await ContentStore.open(stores.make());
    await storeImage(source, { ref, layers: [await tarOf({ "etc/content": content })] });
    return (await push(source, ref, ref)).digest;
  }

  const definition = (extra = "") =>
    [
      "kernel:",
      `  image: ${refs.kernel}`,
      "  cmdline: console=ttyS0",
      "init:",
      `  - ${refs.init}`,
      "services:",
      "  - name: app",
      `    image: ${refs.app}`,
      extra,
    ].join("\n");

  const git = (...args: string[]) => {
    const r = spawnSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", ...args], {
      cwd: dir,
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
  };

  before(async () => {
    registry = await startRegistry();
    refs.kernel = `${registry.host}/test/kernel:1`;
    refs.init = `${registry.host}/test/init:1`;
    refs.app = `${registry.host}/test/app:1`;
    for (const ref of Object.values(refs)) await publish(ref, `${ref} v1`);
    dir = mkdtempSync(join(TMP, "lock-"));
    store = stores.make();
    writeFileSync(join(dir, "os.yml"), definition());
  });
  after(async () => {
    await registry?.stop();
    stores.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => RegistryClient.reset());

  it("pins every image by its index and per-platform digests, and synth applies it", () => {
    const locked = oskit(["lock", "os.yml", "--store", store], { cwd: dir });
    assert.equal(locked.code, 0, locked.stderr);
    const lock = JSON.parse(readFileSync(join(dir, "oskit.lock.json"), "utf8")) as {
      version: number;
      images: Record<string, { digest: string; platforms: Record<string, string> }>;
    };
    assert.equal(lock.version, 1);
    assert.deepEqual(Object.keys(lock.images).sort(), Object.values(refs).sort());
    for (const [ref, entry] of Object.entries(lock.images)) {
      assert.ok(locked.stdout.includes(`${ref} ${entry.digest}`));
      assert.match(entry.platforms["linux/amd64"] ?? "", /^sha256:[a-f0-9]{64}$/);
    }
    const synth = oskit(["synth", "os.yml", "--frozen"], { cwd: dir });
    assert.equal(synth.code, 0, synth.stderr);
    const manifest = JSON.parse(synth.stdout) as { services: { image: string }[] };
    assert.equal(manifest.services[0]!.image, `${refs.app}@${lock.images[refs.app]!.digest}`);

    const unlocked = oskit(["synth", "os.yml", "--no-lock"], { cwd: dir });
    assert.equal((JSON.parse(unlocked.stdout) as typeof manifest).services[0]!.image, refs.app);
  });

  it("keeps a moved tag out until the lock is renewed, and diff shows the digest change", async () => {
    git("init", "-q", "-b", "main");
    git("add", "os.yml", "oskit.lock.json");
    git("commit", "-q", "-m", "v1");
    const before = JSON.parse(readFileSync(join(dir, "oskit.lock.json"), "utf8")) as {
      images: Record<string, { digest: string }>;
    };
    const moved = await publish(refs.app, `${refs.app} v2`);
    assert.notEqual(moved, before.images[refs.app]!.digest);

    const stillPinned = oskit(["synth", "os.yml"], { cwd: dir });
    assert.ok(stillPinned.stdout.includes(`${refs.app}@${before.images[refs.app]!.digest}`));

    const renewed = oskit(["lock", "os.yml", "--pull", "--store", store], { cwd: dir });
    assert.equal(renewed.code, 0, renewed.stderr);
    assert.ok(renewed.stdout.includes(`${refs.app} ${moved}`));

    const diff = oskit(["diff", "HEAD:os.yml", "os.yml"], { cwd: dir });
    assert.ok(diff.stdout.includes(before.images[refs.app]!.digest), diff.stdout);
    assert.ok(diff.stdout.includes(moved), diff.stdout);
    assert.ok(!diff.stdout.includes(before.images[refs.init]!.digest), "unchanged images shown");
  });

  it("fails --frozen when the lock is stale or missing, naming what is not pinned", () => {
    const extra = `${registry.host}/test/extra:1`;
    writeFileSync(join(dir, "os.yml"), definition(`  - name: extra\n    image: ${extra}`));
    const stale = oskit(["synth", "os.yml", "--frozen"], { cwd: dir });
    assert.equal(stale.code, 1);
    assert.match(
      stale.stderr,
      new RegExp(`oskit.lock.json is stale \\(not in it: ${extra}\\); run oskit lock`),
    );

    unlinkSync(join(dir, "oskit.lock.json"));
    const missing = oskit(["synth", "os.yml", "--frozen"], { cwd: dir });
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /--frozen, but there is no oskit.lock.json beside it; run oskit lock/,
    );
  });
});
