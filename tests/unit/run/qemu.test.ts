import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RunError } from "../../../sdk/errors";
import { detectTarget, hostForward, qemuArgs, runQemu } from "../../../sdk/run/qemu";

describe("oskit run qemu", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-qemu-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("finds what PATH names: a kernel+initrd prefix, an ISO, a qcow2 or a raw disk", () => {
    for (const f of ["s-kernel", "s-initrd.img"]) writeFileSync(join(dir, f), "x");
    writeFileSync(join(dir, "s-cmdline"), "console=ttyS0\n");
    assert.deepEqual(detectTarget(join(dir, "s")), {
      kind: "kernel+initrd",
      kernel: join(dir, "s-kernel"),
      initrd: join(dir, "s-initrd.img"),
      cmdline: "console=ttyS0",
    });
    const iso = Buffer.alloc(40000);
    iso.write("CD001", 32769);
    writeFileSync(join(dir, "image.bin"), iso);
    assert.equal(detectTarget(join(dir, "image.bin")).kind, "iso");
    writeFileSync(join(dir, "disk"), Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]));
    assert.deepEqual(detectTarget(join(dir, "disk")), {
      kind: "disk",
      file: join(dir, "disk"),
      format: "qcow2",
    });
    writeFileSync(join(dir, "raw.img"), Buffer.alloc(512));
    assert.deepEqual(detectTarget(join(dir, "raw.img")), {
      kind: "disk",
      file: join(dir, "raw.img"),
      format: "raw",
    });
    assert.throws(
      () => detectTarget(join(dir, "missing")),
      /no such file, and no .*missing-kernel/,
    );
  });

  it("forwards ports from 127.0.0.1 and refuses malformed ones", () => {
    assert.equal(hostForward("8080:80"), "tcp:127.0.0.1:8080-:80");
    assert.equal(hostForward("5353:53/udp"), "udp:127.0.0.1:5353-:53");
    assert.throws(() => hostForward("80"), RunError);
  });

  it("builds a q35 TCG command line with virtio devices, the data CD-ROM on virtio-scsi and UEFI firmware", () => {
    for (const f of ["s-kernel", "s-initrd.img"]) writeFileSync(join(dir, f), "x");
    const args = qemuArgs(
      detectTarget(join(dir, "s")),
      {
        path: join(dir, "s"),
        publish: ["8080:80"],
        data: Buffer.from("nonce"),
        mem: 512,
        uefi: existsSync("/usr/share/OVMF/OVMF_CODE_4M.fd"),
      },
      dir,
    ).join(" ");
    assert.match(args, /-machine q35 -accel tcg -m 512 -smp 1/);
    assert.match(
      args,
      /-netdev user,id=net0,hostfwd=tcp:127\.0\.0\.1:8080-:80 -device virtio-net-pci,netdev=net0/,
    );
    assert.match(args, /-kernel \S+s-kernel -initrd \S+s-initrd\.img -append/);
    assert.match(
      args,
      /media=cdrom,readonly=on,if=none,id=data -device scsi-cd,bus=scsi0\.0,drive=data/,
    );
    assert.ok(existsSync(join(dir, "data.iso")));
    if (existsSync("/usr/share/OVMF/OVMF_CODE_4M.fd")) {
      assert.match(
        args,
        /if=pflash,format=raw,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE_4M\.fd/,
      );
      assert.ok(
        existsSync(join(dir, "OVMF_VARS.fd")),
        "the firmware's variables are a private copy",
      );
    }
  });

  it("names the Debian package when QEMU is missing", async () => {
    const path = process.env.PATH;
    process.env.PATH = dir;
    try {
      await assert.rejects(
        runQemu({ path: join(dir, "s") }),
        /qemu-system-x86_64 not found: install the qemu-system-x86 package/,
      );
    } finally {
      process.env.PATH = path;
    }
  });
});
