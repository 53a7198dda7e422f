import { strict as assert } from "node:assert";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FileData } from "../../../sdk/assemble/file-data";
import { FileTree } from "../../../sdk/assemble/tree";
import { BIOS_FORMATS } from "../../../sdk/formats/bios-writers";
import { WRITERS, type WriteContext } from "../../../sdk/formats/writers";
import { fakeBootImg, fakeCoreImg } from "../../support/grub";
import { testPe } from "../../support/pe";

const MiB = 1 << 20;

function system(cmdline = "console=ttyS0"): FileTree {
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
  tree.set("/boot/cmdline", file(Buffer.from(cmdline)));
  tree.set("/init", file(Buffer.from("#!/bin/sh\n"), 0o755));
  return tree;
}

describe("the BIOS format writers", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-bios-writers-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const ctx = (extra: Partial<WriteContext> = {}): WriteContext => ({
    dir,
    name: "s",
    mtime: 1492533000,
    efiStub: testPe(),
    grub: { bootImg: fakeBootImg(), coreImg: fakeCoreImg(200) },
    manifestDigest: `sha256:${"0".repeat(64)}`,
    shared: new Map(),
    ...extra,
  });

  it("write raw-bios and raw-hybrid as sparse disks of whole MiB with their allocation maps", async () => {
    const shared = ctx();
    const files = [];
    for (const format of BIOS_FORMATS)
      files.push(...(await WRITERS[format].write(system(), shared)));
    assert.deepEqual(
      files.map((f) => f.name),
      ["s-bios.img", "s-hybrid.img"],
    );
    const [bios, hybrid] = files;
    assert.equal(bios!.size % MiB, 0);
    assert.equal(hybrid!.size % MiB, 0);
    assert.equal(bios!.diskSize, bios!.size);
    const data = (f: typeof bios) => f!.allocation!.reduce((n, e) => n + e.length, 0);
    assert.ok(data(hybrid) > 2 * data(bios) - MiB, "the hybrid disk holds the kernel twice");
    assert.equal(statSync(join(dir, "s-bios.img")).size, bios!.size);
    assert.deepEqual([...shared.shared!.keys()].sort(), ["initrd", "uki"]);
  });

  it("honour --size, and refuse one too small", async () => {
    const [bios] = await WRITERS["raw-bios"].write(system(), ctx({ diskSize: 100 * MiB + 512 }));
    assert.equal(bios!.size, 101 * MiB);
    await assert.rejects(
      WRITERS["raw-hybrid"].write(system(), ctx({ diskSize: MiB })),
      /--size 1 MiB is too small: raw-hybrid needs a disk of at least \d+ MiB/,
    );
    assert.deepEqual(readdirSync(dir), ["s-bios.img"], "nothing left by the failure");
  });

  it("need GRUB from the boot package, and a command line GRUB passes unchanged", async () => {
    for (const format of BIOS_FORMATS)
      await assert.rejects(
        WRITERS[format].write(system(), ctx({ grub: undefined })),
        new RegExp(`${format} needs GRUB's boot.img and core.img .*: build it with \`make pkgs\``),
      );
    await assert.rejects(
      WRITERS["raw-bios"].write(system('init="/bin/sh"'), ctx()),
      /holds quotes or backslashes/,
    );
  });
});
