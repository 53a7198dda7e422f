import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { assemble, containerIds, resolveImages } from "../../../sdk/assemble/assemble";
import type { FileTree } from "../../../sdk/assemble/tree";
import { TarType } from "../../../sdk/formats/tar/header";
import { TarWriter } from "../../../sdk/formats/tar/writer";
import { validateManifest } from "../../../sdk/manifest/validate";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { storeImage } from "../../support/images";
import { FileData } from "../../../sdk/assemble/file-data";

async function tarOf(
  files: Record<string, string | { link: string } | { mode: number; text: string }>,
): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const writer = new TarWriter((c) => void chunks.push(c));
  for (const [path, value] of Object.entries(files)) {
    if (typeof value === "object" && "link" in value)
      await writer.add({ path, type: TarType.Symlink, linkname: value.link, mode: 0o777 });
    else {
      const text = typeof value === "string" ? value : value.text;
      await writer.add(
        { path, type: TarType.File, mode: typeof value === "string" ? 0o644 : value.mode },
        Buffer.from(text),
      );
    }
  }
  await writer.finish();
  return Buffer.concat(chunks);
}

const text = (tree: FileTree, path: string) => {
  const node = tree.get(path);
  return node?.kind === "file" ? node.data.read().toString() : undefined;
};

describe("assemble", () => {
  let dir: string;
  let store: ContentStore;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-assemble-"));
    store = await ContentStore.open(join(dir, "store"));
    const modules = await tarOf({ "lib/modules/6.1/modules.dep": "" });
    await storeImage(store, {
      ref: "test/kernel:1",
      layers: [
        await tarOf({
          kernel: "bzImage",
          "kernel.tar": modules.toString("latin1"),
          "ucode.cpio": "ucode",
        }),
      ],
    });
    await storeImage(store, {
      ref: "test/init:1",
      layers: [
        await tarOf({
          init: { mode: 0o755, text: "#!/bin/sh" },
          "etc/hostname": "builder",
          ".dockerenv": "",
          "etc/resolv.conf": "nameserver 8.8.8.8",
        }),
      ],
    });
    await storeImage(store, {
      ref: "test/app:1",
      layers: [
        await tarOf({ "bin/app": { mode: 0o755, text: "app" }, "etc/hosts": "evil" }),
        await tarOf({ "bin/.wh.app": "", "bin/app2": "v2" }),
      ],
      entrypoint: ["/bin/app2"],
      label: {
        capabilities: ["CAP_NET_ADMIN"],
        binds: ["/run:/run"],
        runtime: { mkdir: ["/run/app"] },
      },
    });
    writeFileSync(join(dir, "host.txt"), "from the host\n");
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("lays out the system as LinuxKit does", async () => {
    const manifest = validateManifest({
      kernel: {
        image: "test/kernel:1",
        cmdline: "console=ttyS0",
        tar: "kernel.tar",
        ucode: "ucode.cpio",
      },
      init: ["test/init:1"],
      volumes: [{ name: "data" }, { name: "assets", image: "test/app:1", readonly: true }],
      onboot: [{ name: "first", image: "test/app:1", readonly: true }],
      onshutdown: [{ name: "bye", image: "test/app:1" }],
      services: [{ name: "web", image: "test/app:1", bindsAdd: ["data:/data"] }],
      files: [
        {
          path: "/etc/web/token",
          contents: { $input: "token" },
          mode: 0o400,
          uid: "web",
          gid: "first",
        },
        { path: "/etc/host.txt", source: "host.txt" },
        { path: "/etc/missing", source: "nope", optional: true },
        { path: "/etc/oskit.json", metadata: "json" },
        { path: "/var/link", symlink: "/etc/host.txt" },
      ],
    });
    const progress: string[] = [];
    const images = await resolveImages(manifest, store, { os: "linux", architecture: "amd64" });
    const tree = await assemble(manifest, images, {
      store,
      platform: { os: "linux", architecture: "amd64" },
      inputs: { token: "s3cret" },
      baseDir: dir,
      progress: (m) => progress.push(m),
    });
    assert.equal(text(tree, "/boot/kernel"), "bzImage");
    assert.equal(text(tree, "/boot/cmdline"), "console=ttyS0");
    assert.equal(text(tree, "/boot/ucode.cpio"), "ucode");
    assert.equal(tree.get("/lib/modules/6.1/modules.dep")?.kind, "file");
    assert.equal(tree.get("/.dockerenv"), undefined);
    assert.equal(tree.get("/etc/hostname"), undefined);
    assert.deepEqual(tree.get("/etc/resolv.conf"), {
      kind: "symlink",
      target: "/run/resolvconf/resolv.conf",
      uid: 0,
      gid: 0,
    });
    assert.match(text(tree, "/etc/hosts") ?? "", /^127\.0\.0\.1 +localhost/);
    for (const d of [
      "/dev",
      "/proc",
      "/sys",
      "/containers/volumes/data/lower",
      "/containers/volumes/data/tmp",
      "/containers/volumes/data/merged",
      "/containers/volumes/assets/merged",
    ]) {
      assert.equal(tree.get(d)?.kind, "dir", d);
    }
    assert.equal(
      tree.get("/containers/volumes/assets/tmp"),
      undefined,
      "a read-only volume has no tmp/",
    );
    assert.equal(text(tree, "/containers/volumes/assets/lower/bin/app2"), "v2");
    assert.equal(text(tree, "/containers/onboot/000-first/rootfs/bin/app2"), "v2");
    assert.equal(
      tree.get("/containers/onboot/000-first/rootfs/bin/app"),
      undefined,
      "whiteouts apply",
    );
    assert.match(text(tree, "/containers/onboot/000-first/rootfs/etc/hosts") ?? "", /localhost/);
    assert.equal(tree.get("/containers/onshutdown/000-bye/lower/bin/app2")?.kind, "file");
    assert.equal(tree.get("/containers/services/web/tmp")?.kind, "dir");
    assert.equal(tree.get("/containers/services/web/rootfs")?.kind, "dir");
    const config = JSON.parse(text(tree, "/containers/services/web/config.json")!) as {
      process: { args: string[]; capabilities: { effective: string[] } };
      mounts: { destination: string; source: string }[];
    };
    assert.deepEqual(config.process.args, ["/bin/app2"]);
    assert.deepEqual(config.process.capabilities.effective, ["CAP_NET_ADMIN"]);
    assert.deepEqual(
      config.mounts.filter((m) => ["/data", "/run"].includes(m.destination)).map((m) => m.source),
      ["/containers/volumes/data/merged", "/run"],
    );
    assert.equal(text(tree, "/containers/services/web/runtime.steps"), "mkdir\t/run/app\n");
    const ids = containerIds(manifest);
    assert.deepEqual(tree.get("/etc/web/token"), {
      kind: "file",
      mode: 0o400,
      data: FileData.of("s3cret"),
      uid: ids.get("web"),
      gid: ids.get("first"),
    });
    assert.equal(text(tree, "/etc/host.txt"), "from the host\n");
    assert.equal(tree.get("/etc/missing"), undefined);
    assert.match(text(tree, "/etc/oskit.json") ?? "", /"contents": "s3cret"/);
    assert.equal(
      progress.filter((m) => m.startsWith("extracting test/app:1")).length,
      1,
      "an image used four times is extracted once",
    );
  });

  it("says which input has no value and which image is missing", async () => {
    const manifest = validateManifest({ files: [{ path: "/t", contents: { $input: "token" } }] });
    await assert.rejects(
      assemble(manifest, new Map(), {
        store,
        platform: { os: "linux", architecture: "amd64" },
        baseDir: dir,
      }),
      /the input "token" has no value/,
    );
    await assert.rejects(
      resolveImages(validateManifest({ init: ["test/none:1"] }), store, {
        os: "linux",
        architecture: "amd64",
      }),
      /test\/none:1 is not in the store .*make pkgs/,
    );
    await assert.rejects(
      resolveImages(validateManifest({ init: ["test/init:1"] }), store, {
        os: "linux",
        architecture: "arm64",
      }),
      /has no image for linux\/arm64 \(it has linux\/amd64\)/,
    );
  });
});
