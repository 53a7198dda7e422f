import { strict as assert } from "node:assert";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { build, type BuildResult } from "../../sdk/build/build";
import { loadDefinitions } from "../../sdk/cli/load";
import { BIOS_FORMATS } from "../../sdk/formats/bios-writers";
import type { Manifest } from "../../sdk/manifest/schema";
import type { ContentStore } from "../../sdk/resolve/store/store";
import { ensurePackages, OSKIT_PACKAGES } from "../support/packages";
import { ROOT, TMP } from "../support/paths";
import { tool } from "../support/tools";
import { bootAndFetch } from "../support/vm";

const MiB = 1 << 20;

describe("examples/hello as BIOS disks (raw-bios, raw-hybrid)", function () {
  this.timeout(900000);
  let store: ContentStore;
  let manifest: Manifest;
  let built: BuildResult;
  const out = join(TMP, "bios-a");
  const file = (name: string) => join(out, name);

  const buildInto = (dir: string) =>
    build(manifest, {
      store,
      formats: BIOS_FORMATS,
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

  it("writes both disks, whole MiB, with file systems and tables the reference tools accept", () => {
    const files = Object.fromEntries(built.results.flatMap((r) => r.files).map((f) => [f.name, f]));
    assert.deepEqual(Object.keys(files).sort(), ["hello-bios.img", "hello-hybrid.img"]);
    const bios = files["hello-bios.img"]!;
    const hybrid = files["hello-hybrid.img"]!;
    assert.equal(bios.size % MiB, 0);
    assert.equal(hybrid.size % MiB, 0);
    const v = tool("sgdisk", ["-v", file("hello-hybrid.img")]);
    assert.equal(v.code, 0, v.stdout);
    assert.match(v.stdout, /No problems found/);
    for (const [disk, size, tail] of [
      ["hello-bios.img", bios.size, 0],
      ["hello-hybrid.img", hybrid.size, MiB],
    ] as const) {
      const part = join(TMP, "bios-part.img");
      writeFileSync(part, readFileSync(file(disk)).subarray(MiB, size - tail));
      const fsck = tool("fsck.vfat", ["-n", part]);
      assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
      assert.doesNotMatch(fsck.stdout, /warning|differ/i, disk);
      rmSync(part);
    }
  });

  it("builds byte-identical disks in another directory", async () => {
    const again = await buildInto(join(TMP, "bios-b"));
    const digests = (r: BuildResult) =>
      r.results.flatMap((x) => x.files).map((f) => [f.name, f.sha256]);
    assert.deepEqual(digests(again), digests(built));
    for (const name of ["hello-bios.img", "hello-hybrid.img"])
      assert.ok(readFileSync(join(TMP, "bios-b", name)).equals(readFileSync(file(name))), name);
    rmSync(join(TMP, "bios-b"), { recursive: true, force: true });
  });

  const boots: [string, string, boolean][] = [
    ["raw-bios", "hello-bios.img", false],
    ["raw-hybrid", "hello-hybrid.img", false],
    ["raw-hybrid", "hello-hybrid.img", true],
  ];
  for (const [format, name, uefi] of boots) {
    it(`boots from the ${format} disk alone through ${uefi ? "OVMF" : "SeaBIOS"} and serves the page`, async () => {
      const served = await bootAndFetch(file(name), 240, { uefi });
      assert.match(served.page, new RegExp(`^nonce: ${served.nonce}$`, "m"));
      assert.equal(served.stopped, "powered off");
    });
  }
});
