import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import {
  chownSync,
  cpSync,
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
import { decodeCatalog } from "../../sdk/formats/iso/el-torito";
import { ISO_FORMATS } from "../../sdk/formats/iso-writers";
import type { OutputFile } from "../../sdk/formats/output";
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

describe("examples/hello as ISOs written by oskit", function () {
  this.timeout(900000);
  let built: BuildResult;
  let files: Record<string, OutputFile>;
  const out = join(TMP, "isos");
  const file = (name: string) => join(out, name);

  before(async () => {
    const store = await ensurePackages(OSKIT_PACKAGES);
    const { manifest } = await loadDefinitions([join(ROOT, "examples", "hello", "os.ts")]);
    built = await build(manifest, {
      store,
      formats: ISO_FORMATS,
      outDir: out,
      name: "hello",
      platform: { os: "linux", architecture: "amd64" },
      baseDir: join(ROOT, "examples", "hello"),
      force: true,
    });
    files = Object.fromEntries(built.results.flatMap((r) => r.files).map((f) => [f.name, f]));
  });

  it("writes hello-efi.iso and hello.iso, which xorriso, sgdisk and fsck.vfat accept", () => {
    assert.deepEqual(Object.keys(files).sort(), ["hello-efi.iso", "hello.iso"]);
    const efi = tool("xorriso", [
      "-indev",
      file("hello-efi.iso"),
      "-report_el_torito",
      "plain",
      "-report_system_area",
      "plain",
    ]);
    assert.equal(efi.code, 0, efi.stderr);
    assert.match(efi.stdout, /^El Torito boot img : {3}1 {2}UEFI {2}y {3}none/m);
    assert.match(efi.stdout, /^GPT partition path : {3}1 {2}\/boot\/efi\.img$/m);
    assert.doesNotMatch(efi.stderr, /FAILURE|SORRY|WARNING/);
    const v = tool("sgdisk", ["-v", file("hello-efi.iso")]);
    assert.equal(v.code, 0, v.stdout);
    assert.match(v.stdout, /No problems found/);
    const iso = readFileSync(file("hello-efi.iso"));
    const [entry] = decodeCatalog(iso.subarray(19 * 2048, 20 * 2048));
    const esp = join(TMP, "isos-esp.img");
    writeFileSync(
      esp,
      iso.subarray(entry!.sector * 2048, entry!.sector * 2048 + entry!.sectorCount * 512),
    );
    const fsck = tool("fsck.vfat", ["-n", esp]);
    assert.equal(fsck.code, 0, fsck.stdout + fsck.stderr);
    rmSync(esp);

    const bios = tool("xorriso", [
      "-indev",
      file("hello.iso"),
      "-report_el_torito",
      "plain",
      "-find",
      "/",
      "-type",
      "f",
    ]);
    assert.equal(bios.code, 0, bios.stderr);
    assert.match(
      bios.stdout,
      /^El Torito boot img : {3}1 {2}BIOS {2}y {3}none {2}0x0000 {2}0x00 {6}4 /m,
    );
    assert.match(bios.stdout, /^El Torito img opts : {3}1 {2}boot-info-table grub2-boot-info$/m);
    assert.match(
      bios.stdout,
      /^'\/boot\/grub\/grub\.cfg'\n'\/boot\/grub\/i386-pc\/eltorito\.img'\n'\/boot\/initrd\.img'\n'\/boot\/kernel'$/m,
    );
    for (const f of Object.values(files)) {
      assert.equal(f.size % 2048, 0, f.name);
      assert.ok(statSync(file(f.name)).blocks * 512 <= f.size, `${f.name} is sparse`);
    }
    assert.ok(files["hello-efi.iso"]!.size < 32 * MiB, `${files["hello-efi.iso"]!.size} bytes`);
  });

  it("builds the same bytes again, as an unprivileged user with no programs on PATH", function () {
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
          ...ISO_FORMATS.flatMap((f) => ["-f", f]),
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
      for (const f of Object.values(files)) {
        assert.ok(result.stdout.includes(f.sha256), `${f.name} differs:\n${result.stdout}`);
        assert.ok(
          readFileSync(join(home, "out", f.name)).equals(readFileSync(file(f.name))),
          f.name,
        );
      }
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });

  const boots: [string, string, Parameters<typeof bootAndFetch>[2]][] = [
    ["iso-efi as a CD-ROM through OVMF", "hello-efi.iso", {}],
    ["iso-efi as a disk through OVMF", "hello-efi.iso", { uefi: true, isoAsDisk: true }],
    ["iso-bios as a CD-ROM through SeaBIOS and GRUB", "hello.iso", {}],
    ["iso-bios as a disk through SeaBIOS and GRUB", "hello.iso", { isoAsDisk: true }],
  ];
  for (const [what, name, how] of boots) {
    it(`boots ${what} and serves the page`, async () => {
      const served = await bootAndFetch(file(name), 240, how);
      assert.match(served.page, new RegExp(`^nonce: ${served.nonce}$`, "m"));
      assert.equal(served.stopped, "powered off");
    });
  }
});
