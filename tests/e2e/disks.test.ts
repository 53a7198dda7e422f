import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import {
  chownSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build, type BuildResult } from "../../sdk/build/build";
import { loadDefinitions } from "../../sdk/cli/load";
import { DISK_FORMATS } from "../../sdk/formats/disk-writers";
import type { Manifest } from "../../sdk/manifest/schema";
import type { ContentStore } from "../../sdk/resolve/store/store";
import { ensurePackages, OSKIT_PACKAGES, SHARED_STORE } from "../support/packages";
import { ROOT, TMP } from "../support/paths";
import { tool } from "../support/tools";
import { bootAndFetch } from "../support/vm";

const MiB = 1 << 20;

function chownRecursive(path: string, id: number): void {
  chownSync(path, id, id);
  if (statSync(path).isDirectory())
    for (const name of readdirSync(path)) chownRecursive(join(path, name), id);
}
const GiB = 1 << 30;

describe("examples/hello as a UKI and UEFI disks", function () {
  this.timeout(900000);
  let store: ContentStore;
  let manifest: Manifest;
  let built: BuildResult;
  const out = join(TMP, "disks-a");
  const file = (name: string) => join(out, name);

  const buildInto = (dir: string) =>
    build(manifest, {
      store,
      formats: DISK_FORMATS,
      outDir: dir,
      name: "hello",
      platform: { os: "linux", architecture: "amd64" },
      baseDir: join(ROOT, "examples", "hello"),
      force: true,
    });

  before(async () => {
    store = await ensurePackages(OSKIT_PACKAGES);
    manifest = (await loadDefinitions([join(ROOT, "examples", "hello", "os.ts")])).manifest;
    built = await buildInto(out);
  });

  it("writes every format, sized by its rules, which the reference tools accept", () => {
    const files = Object.fromEntries(built.results.flatMap((r) => r.files).map((f) => [f.name, f]));
    assert.deepEqual(Object.keys(files).sort(), [
      "hello-efi.img",
      "hello.efi",
      "hello.img.tar.gz",
      "hello.qcow2",
      "hello.raw",
      "hello.vhd",
    ]);
    const raw = files["hello-efi.img"]!;
    assert.equal(raw.size % MiB, 0);
    assert.ok(raw.size < files["hello.efi"]!.size + 8 * MiB, `raw-efi is ${raw.size} bytes`);
    assert.equal(files["hello.vhd"]!.size, raw.size + 512);
    assert.equal(files["hello.raw"]!.size, GiB);
    assert.equal(files["hello.img.tar.gz"]!.diskSize, GiB);
    for (const f of Object.values(files).filter((f) => f.allocation !== undefined))
      assert.ok(
        f.allocation!.every((e) => e.offset % 512 === 0 && e.length % 512 === 0),
        f.name,
      );
    assert.ok(statSync(file("hello.raw")).blocks * 512 < 64 * MiB, "the AWS disk is sparse");

    for (const disk of ["hello-efi.img", "hello.raw"]) {
      const v = tool("sgdisk", ["-v", file(disk)]);
      assert.equal(v.code, 0, v.stdout);
      assert.match(v.stdout, /No problems found/);
    }
    const esp = join(TMP, "disks-esp.img");
    writeFileSync(esp, readFileSync(file("hello-efi.img")).subarray(MiB, raw.size - MiB));
    const fsck = tool("fsck.vfat", ["-n", esp]);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
    rmSync(esp);
    assert.match(tool("qemu-img", ["check", file("hello.qcow2")]).stdout, /No errors were found/);
    assert.equal(
      tool("qemu-img", [
        "compare",
        "-f",
        "raw",
        "-F",
        "qcow2",
        file("hello-efi.img"),
        file("hello.qcow2"),
      ]).code,
      0,
    );
    for (const opts of ["", ",force_size_calc=current_size"]) {
      const info = JSON.parse(
        tool("qemu-img", [
          "info",
          "--output=json",
          "--image-opts",
          `driver=vpc${opts},file.filename=${file("hello.vhd")}`,
        ]).stdout,
      ) as { "virtual-size": number };
      assert.equal(info["virtual-size"], raw.size);
    }
    assert.match(
      tool("tar", ["--list", "--verbose", "--gzip", "--file", file("hello.img.tar.gz")]).stdout,
      /^-rw-r--r-- root\/root 1073741824 2017-04-18 16:30 disk\.raw$/m,
    );
  });

  it("builds byte-identical files in another directory", async () => {
    const again = await buildInto(join(TMP, "disks-b"));
    const digests = (r: BuildResult) =>
      r.results.flatMap((x) => x.files).map((f) => [f.name, f.sha256]);
    assert.deepEqual(digests(again), digests(built));
    for (const name of [
      "hello.efi",
      "hello-efi.img",
      "hello.vhd",
      "hello.qcow2",
      "hello.img.tar.gz",
    ])
      assert.ok(readFileSync(join(TMP, "disks-b", name)).equals(readFileSync(file(name))), name);
    rmSync(join(TMP, "disks-b"), { recursive: true, force: true });
  });

  it("builds the same bytes as an unprivileged user with no programs on PATH", function () {
    if (process.getuid?.() !== 0) this.skip();
    const home = mkdtempSync(join(tmpdir(), "oskit-nobody-"));
    try {
      cpSync(SHARED_STORE, join(home, "store"), { recursive: true });
      chownRecursive(home, 65534);
      const result = spawnSync(
        "setpriv",
        [
          "--reuid=65534",
          "--regid=65534",
          "--clear-groups",
          "env",
          "-i",
          `HOME=${home}`,
          "PATH=/nonexistent",
          process.execPath,
          join(ROOT, "bin", "oskit.js"),
          "build",
          join(ROOT, "examples", "hello", "os.ts"),
          ...DISK_FORMATS.flatMap((f) => ["-f", f]),
          "--name",
          "hello",
          "-o",
          join(home, "out"),
          "--store",
          join(home, "store"),
        ],
        { encoding: "utf8" },
      );
      assert.equal(result.status, 0, result.stderr);
      for (const f of built.results.flatMap((r) => r.files))
        assert.ok(result.stdout.includes(f.sha256), `${f.name} differs:\n${result.stdout}`);
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  const boots: [string, () => string][] = [
    ["raw-efi", () => file("hello-efi.img")],
    ["qcow2", () => file("hello.qcow2")],
    ["vhd", () => file("hello.vhd")],
    ["aws", () => file("hello.raw")],
    [
      "gce (disk.raw extracted with GNU tar)",
      () => {
        const dir = join(TMP, "disks-gce");
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        const x = tool("tar", ["-xSzf", file("hello.img.tar.gz"), "-C", dir]);
        assert.equal(x.code, 0, x.stderr);
        return join(dir, "disk.raw");
      },
    ],
  ];
  for (const [format, path] of boots) {
    it(`boots from the ${format} disk alone through OVMF and serves the page`, async () => {
      const served = await bootAndFetch(path());
      assert.match(served.page, new RegExp(`^nonce: ${served.nonce}$`, "m"));
      assert.equal(served.stopped, "powered off");
    });
  }
});
