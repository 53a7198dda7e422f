import { strict as assert } from "node:assert";
import {
  chmodSync,
  createReadStream,
  mkdirSync,
  mkdtempSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { spawnSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createGunzip } from "node:zlib";
import { PackageError } from "../../../sdk/errors";
import { readTar } from "../../../sdk/formats/tar/reader";
import { Digest } from "../../../sdk/manifest/digest";
import { buildPackage, packageRef } from "../../../sdk/pkg/build";
import { imageConfigSchema, indexSchema, manifestSchema } from "../../../sdk/resolve/oci";
import { ContentStore } from "../../../sdk/resolve/store/store";

/** A package made of local files and steps only (no Debian packages, so no network). */
function localPackage(dir: string, buildYml: string): void {
  mkdirSync(join(dir, "rootfs", "etc"), { recursive: true });
  writeFileSync(join(dir, "rootfs", "etc", "motd"), "hi\n");
  writeFileSync(join(dir, "rootfs", "run.sh"), "#!/bin/sh\n");
  chmodSync(join(dir, "rootfs", "run.sh"), 0o700);
  writeFileSync(
    join(dir, "step.sh"),
    [
      "set -eu",
      'mkdir -p "$ROOT/lib/modules/1.0"',
      'echo "$ARCH $TZ $SOURCE_DATE_EPOCH $(umask)" > "$ROOT/lib/modules/1.0/env"',
      'cp "$PKG/build.yml" "$ROOT/copied.yml"',
      'touch "$ROOT/junk"',
    ].join("\n"),
  );
  writeFileSync(join(dir, "build.yml"), buildYml);
}

async function layerEntries(store: ContentStore, indexDigest: string) {
  const index = indexSchema.parse(await store.readJson(Digest.parse(indexDigest)));
  const manifest = manifestSchema.parse(
    await store.readJson(Digest.parse(index.manifests[0]!.digest)),
  );
  const config = imageConfigSchema.parse(
    await store.readJson(Digest.parse(manifest.config.digest)),
  );
  const entries: Record<string, string> = {};
  const path = await store.blobPath(Digest.parse(manifest.layers[0]!.digest));
  for await (const entry of readTar(createReadStream(path).pipe(createGunzip()))) {
    const inner: string[] = [];
    if (entry.header.path.endsWith(".tar")) {
      for await (const e of readTar([await entry.readAll()]))
        inner.push(`${e.header.path}=${(await e.readAll()).toString().trim()}`);
    }
    entries[entry.header.path] =
      `${entry.header.mode.toString(8)}${inner.length > 0 ? ` [${inner.join(", ")}]` : ""}`;
  }
  return { entries, config };
}

describe("buildPackage", () => {
  let dir: string;
  let store: ContentStore;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-build-"));
    store = await ContentStore.open(join(dir, "store"));
    mkdirSync(join(dir, "pkg"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("applies contents, steps (in a fixed environment), packs and the keep filter, and tags the result", async () => {
    localPackage(
      join(dir, "pkg"),
      [
        "image: example.com/demo",
        "tag: v1-{hash}",
        "contents: [{ from: rootfs, to: / }]",
        "steps: [[sh, step.sh]]",
        "pack: [{ tar: /modules.tar, from: [/lib/modules] }]",
        "keep: [/etc, /run.sh, /modules.tar, /copied.yml]",
        "entrypoint: [/run.sh]",
        "env: [A=1]",
        "config: { capabilities: [CAP_NET_ADMIN], binds.add: [/a:/b] }",
      ].join("\n"),
    );
    const progress: string[] = [];
    const result = await buildPackage(join(dir, "pkg"), {
      store,
      progress: (m) => progress.push(m),
    });
    assert.equal(result.ref, packageRef(join(dir, "pkg")));
    assert.match(result.ref, /^example\.com\/demo:v1-[0-9a-f]{16}$/);
    assert.equal((await store.resolve(result.ref))?.digest, result.index.digest);
    const { entries, config } = await layerEntries(store, result.index.digest);
    assert.deepEqual(entries, {
      "copied.yml": "644",
      "etc/": "755",
      "etc/motd": "644",
      "modules.tar":
        "644 [lib/=, lib/modules/=, lib/modules/1.0/=, lib/modules/1.0/env=amd64 UTC 1492533000 0022]",
      "run.sh": "755",
    });
    assert.deepEqual(config.config?.Entrypoint, ["/run.sh"]);
    assert.deepEqual(config.config?.Env, ["A=1"]);
    assert.equal(
      config.config?.Labels?.["org.mobyproject.config"],
      '{"binds.add":["/a:/b"],"capabilities":["CAP_NET_ADMIN"]}',
    );
    assert.ok(progress.some((m) => m.includes("running sh step.sh")));
  });

  it("keeps a file packed away under one name for its other names outside the pack", async () => {
    const pkg = join(dir, "pkg");
    writeFileSync(
      join(pkg, "link.sh"),
      [
        'mkdir -p "$ROOT/lib/modules"',
        'echo bzImage > "$ROOT/lib/modules/vmlinuz"',
        'ln "$ROOT/lib/modules/vmlinuz" "$ROOT/kernel"',
        'ln "$ROOT/lib/modules/vmlinuz" "$ROOT/vmlinuz"',
      ].join("\n"),
    );
    writeFileSync(
      join(pkg, "build.yml"),
      [
        "image: example.com/kernel",
        "steps: [[sh, link.sh]]",
        "pack: [{ tar: /kernel.tar, from: [/lib/modules] }]",
        "keep: [/kernel, /vmlinuz, /kernel.tar]",
      ].join("\n"),
    );
    const result = await buildPackage(pkg, { store });
    const { entries } = await layerEntries(store, result.index.digest);
    assert.deepEqual(entries, {
      kernel: "644",
      "kernel.tar": "644 [lib/=, lib/modules/=, lib/modules/vmlinuz=bzImage]",
      vmlinuz: "644",
    });
  });

  it("builds the same digest twice", async () => {
    localPackage(
      join(dir, "pkg"),
      "image: example.com/demo\ncontents: [{ from: rootfs, to: /opt }]\nsteps: [[sh, step.sh]]\n",
    );
    const first = await buildPackage(join(dir, "pkg"), { store });
    const second = await buildPackage(join(dir, "pkg"), { store });
    assert.equal(second.index.digest, first.index.digest);
    const later = await buildPackage(join(dir, "pkg"), { store, sourceDateEpoch: 0 });
    assert.notEqual(
      later.index.digest,
      first.index.digest,
      "SOURCE_DATE_EPOCH sets the timestamps",
    );
  });

  it("reports a failing step with the end of its output, and sources outside the package", async () => {
    localPackage(
      join(dir, "pkg"),
      "image: example.com/demo\nsteps: [[sh, -c, 'echo working; echo broken >&2; exit 3']]\n",
    );
    await assert.rejects(
      buildPackage(join(dir, "pkg"), { store }),
      (e: unknown) =>
        e instanceof PackageError &&
        e.message ===
          "example.com/demo: the step `sh -c echo working; echo broken >&2; exit 3` failed (exit 3)\n  | working\n  | broken",
    );
    localPackage(
      join(dir, "pkg"),
      "image: example.com/demo\ncontents: [{ from: ../outside, to: / }]\n",
    );
    await assert.rejects(
      buildPackage(join(dir, "pkg"), { store }),
      /contents from "\.\.\/outside" is outside the package directory/,
    );
    localPackage(join(dir, "pkg"), "image: example.com/demo\narches: [amd64]\n");
    await assert.rejects(
      buildPackage(join(dir, "pkg"), { store, arches: ["arm64"] }),
      /does not list the architecture arm64/,
    );
  });

  describe("with Debian packages (from a fake archive: apt-get copies prepared .debs)", () => {
    let path: string | undefined;
    beforeEach(() => {
      const archive = join(dir, "archive");
      const debs: Record<string, { depends?: string; files: string[] }> = {
        "meta-a": { depends: "dep+x", files: ["usr/share/doc/meta-a/copyright"] },
        "meta-c": { depends: "dep.x", files: ["usr/share/doc/meta-c/copyright"] },
        "dep+x": { files: ["usr/share/a/from-plus", "usr/share/c/from-plus"] },
        "dep.x": { files: ["usr/share/a/from-dot", "usr/share/c/from-dot"] },
      };
      for (const [name, deb] of Object.entries(debs)) {
        const root = join(dir, "debs", name);
        mkdirSync(join(root, "DEBIAN"), { recursive: true });
        writeFileSync(
          join(root, "DEBIAN", "control"),
          [
            `Package: ${name}`,
            "Version: 1.0",
            "Architecture: amd64",
            "Maintainer: oskit tests <tests@oskit.invalid>",
            "Description: a package for tests",
            ...(deb.depends === undefined ? [] : [`Depends: ${deb.depends}`]),
            "",
          ].join("\n"),
        );
        for (const file of deb.files) {
          mkdirSync(join(root, file, ".."), { recursive: true });
          writeFileSync(join(root, file), `${name}\n`);
        }
        mkdirSync(archive, { recursive: true });
        const built = spawnSync("dpkg-deb", [
          "--root-owner-group",
          "--build",
          root,
          join(archive, `${name}.deb`),
        ]);
        assert.equal(built.status, 0, built.stderr?.toString());
      }
      const bin = join(dir, "bin");
      mkdirSync(bin);
      writeFileSync(
        join(bin, "apt-get"),
        [
          "#!/bin/sh",
          '[ "$1" = download ] || exit 1',
          "shift",
          'for p in "$@"; do',
          '  [ "$p" = -q ] && continue',
          "  name=${p%%=*}; name=${name%%:*}",
          `  cp "${archive}/$name.deb" . || { echo "E: Unable to locate package $name" >&2; exit 100; }`,
          "done",
        ].join("\n"),
      );
      chmodSync(join(bin, "apt-get"), 0o755);
      path = process.env.PATH;
      process.env.PATH = `${bin}:${path ?? ""}`;
    });
    afterEach(() => (process.env.PATH = path));

    it("filters each dependency by the include of the package that brought it in, and lists packages by code unit", async () => {
      writeFileSync(
        join(dir, "pkg", "build.yml"),
        [
          "image: example.com/deps",
          "debian:",
          "  - { name: meta-a, depends: true, include: [/usr/share/a] }",
          "  - { name: meta-c, depends: true, include: [/usr/share/c] }",
        ].join("\n"),
      );
      const result = await buildPackage(join(dir, "pkg"), { store });
      const { entries } = await layerEntries(store, result.index.digest);
      assert.deepEqual(Object.keys(entries), [
        "usr/",
        "usr/share/",
        "usr/share/a/",
        "usr/share/a/from-plus",
        "usr/share/c/",
        "usr/share/c/from-dot",
      ]);
      assert.deepEqual(
        result.debian.amd64!.map((p) => p.name),
        ["dep+x", "dep.x", "meta-a", "meta-c"],
      );
    });
  });
});
