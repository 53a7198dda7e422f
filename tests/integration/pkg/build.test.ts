import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { chmodSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { Digest } from "../../../sdk/manifest/digest";
import { imageConfigSchema, indexSchema, manifestSchema } from "../../../sdk/resolve/oci";
import { readTar } from "../../../sdk/formats/tar/reader";
import { createGunzip } from "node:zlib";
import { createReadStream } from "node:fs";
import { packageRef } from "../../../sdk/pkg/build";
import { OSKIT_PACKAGES, SHARED_STORE } from "../../support/packages";
import { ROOT } from "../../support/paths";

const isRoot = process.getuid?.() === 0;
const NOBODY = 65534;

/** Runs `oskit pkg build` in a subprocess with the given environment and (when root) user. */
function build(dir: string, store: string, options: { umask: string; tz: string; user?: number }) {
  const command = [process.execPath, join(ROOT, "bin", "oskit.js"), "pkg", "build", dir];
  const prefix =
    options.user === undefined
      ? []
      : ["setpriv", `--reuid=${options.user}`, `--regid=${options.user}`, "--clear-groups"];
  const shell = `umask ${options.umask}; exec ${[...prefix, ...command].map((a) => `'${a}'`).join(" ")}`;
  const result = spawnSync("sh", ["-c", shell], {
    cwd: dir,
    encoding: "utf8",
    env: { PATH: process.env.PATH, TZ: options.tz, LANG: "C", OSKIT_STORE: store, HOME: store },
  });
  assert.equal(result.status, 0, result.stderr);
  const [ref, digest] = result.stdout.trim().split(" ");
  return { ref: ref!, digest: digest! };
}

describe("oskit pkg build (Debian packages from the archive)", function () {
  this.timeout(180000);
  let work: string;
  before(() => (work = mkdtempSync(join(tmpdir(), "oskit-pkg-it-"))));
  after(() => rmSync(work, { recursive: true, force: true }));

  it("gives the same digest in another directory, with another umask, TZ and user", () => {
    const a = join(work, "a", "httpd");
    const b = join(work, "b", "deeper", "place", "httpd");
    cpSync(join(ROOT, "pkg", "httpd"), a, { recursive: true, verbatimSymlinks: true });
    cpSync(join(ROOT, "pkg", "httpd"), b, { recursive: true, verbatimSymlinks: true });
    spawnSync("chmod", ["-R", "go-rwx,u-w", b]);
    chmodSync(b, 0o755);
    for (const dir of [
      join(work, "b"),
      join(work, "b", "deeper"),
      join(work, "b", "deeper", "place"),
    ])
      chmodSync(dir, 0o755);
    spawnSync("chmod", ["-R", "a+rX", b]);
    const storeA = join(work, "store-a");
    const storeB = join(work, "store-b");
    mkdirSync(storeB, { mode: 0o777 });
    chmodSync(storeB, 0o777);
    chmodSync(work, 0o755);
    const first = build(a, storeA, { umask: "022", tz: "UTC" });
    const second = build(b, storeB, {
      umask: "077",
      tz: "Asia/Tokyo",
      user: isRoot ? NOBODY : undefined,
    });
    assert.equal(second.ref, first.ref);
    assert.equal(second.digest, first.digest);
    assert.match(first.ref, /^oskit\/httpd:[0-9a-f]{16}$/);
  });

  it("writes an OCI image whose config carries the label and the Debian versions, and whose layer is normalized", async () => {
    const store = await ContentStore.open(join(work, "store-a"));
    const [ref] = await store.list();
    const index = indexSchema.parse(await store.readJson(Digest.parse(ref!.descriptor.digest)));
    assert.deepEqual(
      index.manifests.map((m) => m.platform),
      [{ architecture: "amd64", os: "linux" }],
    );
    const manifest = manifestSchema.parse(
      await store.readJson(Digest.parse(index.manifests[0]!.digest)),
    );
    const config = imageConfigSchema.parse(
      await store.readJson(Digest.parse(manifest.config.digest)),
    );
    const labels = config.config?.Labels ?? {};
    assert.deepEqual(JSON.parse(labels["org.mobyproject.config"]!), {
      capabilities: ["CAP_NET_BIND_SERVICE", "CAP_SETGID", "CAP_SETUID"],
      readonly: true,
    });
    assert.match(labels["org.oskit.debian.packages"]!, /^busybox-static=\S+$/);
    assert.equal(config.created, "2017-04-18T16:30:00Z");
    const entries: string[] = [];
    const layer = await store.blobPath(Digest.parse(manifest.layers[0]!.digest));
    for await (const entry of readTar(createReadStream(layer).pipe(createGunzip()))) {
      const h = entry.header;
      entries.push(`${h.path} ${h.mode.toString(8)} ${h.uid}:${h.gid} ${h.mtime}`);
    }
    assert.deepEqual(entries, [
      "bin/ 755 0:0 1492533000",
      "bin/busybox 755 0:0 1492533000",
      "bin/sh 777 0:0 1492533000",
      "srv/ 755 0:0 1492533000",
      "srv/www/ 755 0:0 1492533000",
      "srv/www/index.html 644 0:0 1492533000",
    ]);
  });

  it("make pkgs puts every oskit package into the store, and their programs find their libraries", async () => {
    const store = SHARED_STORE;
    const result = spawnSync("make", ["--no-print-directory", "pkgs"], {
      cwd: ROOT,
      encoding: "utf8",
      env: { ...process.env, OSKIT_STORE: store },
    });
    assert.equal(result.status, 0, result.stderr);
    const contents = await ContentStore.open(store);
    for (const dir of OSKIT_PACKAGES) {
      assert.ok(
        (await contents.resolve(packageRef(dir))) !== undefined,
        `${packageRef(dir)} is not in the store`,
      );
    }
    const kernel = spawnSync(
      process.execPath,
      [join(ROOT, "bin", "oskit.js"), "pkg", "show-tag", join(ROOT, "pkg", "kernel")],
      { encoding: "utf8" },
    );
    assert.match(kernel.stdout, /^oskit\/kernel:[0-9a-f]{16}\n$/);
    if (!isRoot) return;
    for (const [pkg, program] of [
      ["init", ["/usr/sbin/runc", "--version"]],
      ["sshd", ["/usr/sbin/dropbear", "-V"]],
      ["getty", ["/bin/sh", "-c", "echo ok"]],
    ] as const) {
      const rootfs = await unpack(store, pkg, join(work, `rootfs-${pkg}`));
      const run = spawnSync("chroot", [rootfs, ...program], { encoding: "utf8" });
      assert.equal(run.status, 0, `${pkg}: ${run.stderr}`);
    }
  });
});

/** Extracts the amd64 layer of an image in the store into a directory. */
async function unpack(storeDir: string, pkg: string, into: string): Promise<string> {
  const store = await ContentStore.open(storeDir);
  const descriptor = (await store.resolve(packageRef(join(ROOT, "pkg", pkg))))!;
  const index = indexSchema.parse(await store.readJson(Digest.parse(descriptor.digest)));
  const manifest = manifestSchema.parse(
    await store.readJson(Digest.parse(index.manifests[0]!.digest)),
  );
  mkdirSync(into, { recursive: true });
  const tar = spawnSync("tar", [
    "-xzf",
    await store.blobPath(Digest.parse(manifest.layers[0]!.digest)),
    "-C",
    into,
  ]);
  assert.equal(tar.status, 0, tar.stderr.toString());
  readFileSync(join(into, "bin", "busybox"));
  return into;
}
