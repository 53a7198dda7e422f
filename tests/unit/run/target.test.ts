import { strict as assert } from "node:assert";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildEfiDisk, minimalDiskSize } from "../../../sdk/formats/disk/efi-disk";
import { writeQcow2 } from "../../../sdk/formats/disk/qcow2";
import { vhdFooter } from "../../../sdk/formats/disk/vhd";
import { detectTarget, qemuArgs } from "../../../sdk/run/qemu";
import { testPe } from "../../support/pe";

describe("what oskit run qemu boots", () => {
  let dir: string;
  before(() => (dir = mkdtempSync(join(tmpdir(), "oskit-target-"))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("finds the EFI system partition of raw, qcow2 and VHD disks, and boots them with UEFI", async () => {
    const uki = testPe();
    const { disk } = buildEfiDisk(uki, minimalDiskSize(uki.length), 0);
    const raw = join(dir, "os-efi.img");
    await disk.writeRaw(raw);
    const vhd = join(dir, "os.vhd");
    await disk.writeRaw(vhd);
    await appendFile(vhd, vhdFooter(disk.size, "00000000-0000-4000-8000-000000000000", 0));
    const qcow2 = join(dir, "os.qcow2");
    const out = createWriteStream(qcow2);
    await writeQcow2(disk, (c) => new Promise<void>((ok) => out.write(c, () => ok())));
    await new Promise((ok) => out.end(ok));
    for (const [file, format] of [
      [raw, "raw"],
      [vhd, "vpc"],
      [qcow2, "qcow2"],
    ] as const) {
      const target = detectTarget(file);
      assert.deepEqual(target, { kind: "disk", file, format, efi: true });
      const args = qemuArgs(target, { path: file }, dir).join(" ");
      assert.match(
        args,
        /if=pflash,format=raw,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE_4M\.fd/,
      );
      assert.ok(args.includes(`file=${file},format=${format},if=virtio`), args);
      assert.doesNotMatch(qemuArgs(target, { path: file, uefi: false }, dir).join(" "), /pflash/);
    }
  });

  it("takes a PE file for a UKI, and says to extract an image tarball first", () => {
    writeFileSync(join(dir, "os.efi"), testPe());
    assert.deepEqual(detectTarget(join(dir, "os.efi")), { kind: "uki", file: join(dir, "os.efi") });
    writeFileSync(join(dir, "os.img.tar.gz"), Buffer.alloc(1024));
    assert.throws(
      () => detectTarget(join(dir, "os.img.tar.gz")),
      /extract its disk first \(tar -xSzf/,
    );
  });
});
