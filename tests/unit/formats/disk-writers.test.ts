import { strict as assert } from "node:assert";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileTree } from "../../../sdk/assemble/tree";
import { DISK_FORMATS } from "../../../sdk/formats/disk-writers";
import { parsePe } from "../../../sdk/formats/efi/pe";
import { WRITERS, type WriteContext } from "../../../sdk/formats/writers";
import { testPe } from "../../support/pe";
import { FileData } from "../../../sdk/assemble/file-data";

const MiB = 1 << 20;
const GiB = 1 << 30;

function system(): FileTree {
  const tree = new FileTree();
  const file = (data: Buffer, mode = 0o644) => ({
    kind: "file" as const,
    mode,
    data: FileData.of(data),
    uid: 0,
    gid: 0,
  });
  tree.set(
    "/boot/kernel",
    file(
      testPe({
        majorImageVersion: 1,
        sections: [{ name: ".text", data: Buffer.alloc(3 * MiB, 1) }],
      }),
    ),
  );
  tree.set("/boot/cmdline", file(Buffer.from("console=ttyS0")));
  tree.set("/init", file(Buffer.from("#!/bin/sh\n"), 0o755));
  return tree;
}

describe("the UEFI format writers", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-disk-writers-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const ctx = (extra: Partial<WriteContext> = {}): WriteContext => ({
    dir,
    name: "s",
    mtime: 1492533000,
    efiStub: testPe(),
    manifestDigest: `sha256:${"0".repeat(64)}`,
    shared: new Map(),
    ...extra,
  });

  it("write every format from one UKI, each disk at its size, with its allocation map", async () => {
    const shared = ctx();
    const tree = system();
    const files = [];
    for (const format of DISK_FORMATS) files.push(...(await WRITERS[format].write(tree, shared)));
    const byName = Object.fromEntries(files.map((f) => [f.name, f]));
    assert.deepEqual(readdirSync(dir).sort(), Object.keys(byName).sort());
    const uki = byName["s.efi"]!;
    assert.deepEqual(
      parsePe(readFileSync(join(dir, "s.efi")), "uki")
        .sections.map((s) => s.name)
        .slice(-4),
      [".osrel", ".cmdline", ".initrd", ".linux"],
    );
    assert.equal(byName["s-efi.img"]!.size, byName["s-efi.img"]!.diskSize);
    assert.ok(
      byName["s-efi.img"]!.size >= uki.size + 2 * MiB && byName["s-efi.img"]!.size % MiB === 0,
    );
    assert.equal(byName["s.vhd"]!.size, byName["s-efi.img"]!.size + 512);
    assert.equal(byName["s.raw"]!.size, GiB);
    assert.equal(byName["s.img.tar.gz"]!.diskSize, GiB);
    assert.equal(byName["s.qcow2"]!.diskSize, byName["s-efi.img"]!.size);
    for (const name of ["s-efi.img", "s.raw", "s.vhd", "s.qcow2", "s.img.tar.gz"]) {
      const allocation = byName[name]!.allocation!;
      const data = allocation.reduce((n, e) => n + e.length, 0);
      assert.ok(data > uki.size && data < uki.size + MiB, `${name}: ${data} bytes allocated`);
    }
    assert.ok(statSync(join(dir, "s.raw")).blocks * 512 < 16 * MiB, "sparse on the host");
    assert.deepEqual(
      [...shared.shared!.keys()].sort(),
      [
        "disk-1073741824",
        `disk-${byName["s-efi.img"]!.size}`,
        "initrd",
        "uki",
        "uki-sha256",
      ].sort(),
      "the initrd, UKI and each disk size are made once",
    );
  });

  it("round a larger --size up to each format's unit, and refuse one too small for the UKI", async () => {
    const tree = system();
    const [raw] = await WRITERS["raw-efi"].write(tree, ctx({ diskSize: 100 * MiB + 512 }));
    assert.equal(raw!.size, 101 * MiB);
    const [aws] = await WRITERS.aws.write(tree, ctx({ diskSize: GiB + MiB }));
    assert.equal(aws!.size, 2 * GiB);
    await assert.rejects(
      WRITERS.vhd.write(tree, ctx({ diskSize: MiB })),
      /--size 1 MiB is too small: the UKI needs a disk of at least \d+ MiB/,
    );
    assert.deepEqual(
      readdirSync(dir).sort(),
      ["s-efi.img", "s.raw"],
      "nothing left by the failure",
    );
  });

  it("need the EFI stub, and a kernel", async () => {
    await assert.rejects(
      WRITERS.uki.write(system(), ctx({ efiStub: undefined })),
      /need systemd's EFI stub \(the boot package\)/,
    );
    await assert.rejects(
      WRITERS["raw-efi"].write(new FileTree(), ctx()),
      /the system has no \/boot\/kernel/,
    );
  });
});
