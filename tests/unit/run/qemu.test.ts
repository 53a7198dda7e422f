import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { constants as os, tmpdir } from "node:os";
import { join } from "node:path";
import { RunError } from "../../../sdk/errors";
import { Platform } from "../../../sdk/formats/iso/el-torito";
import { buildIso, isoFile } from "../../../sdk/formats/iso/iso9660";
import { detectTarget, hostForward, qemuArgs, runQemu } from "../../../sdk/run/qemu";
import { ROOT } from "../../support/paths";

/** Whether a process exists (and is not a zombie). */
function running(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return false;
  }
}

/**
 * Runs `oskit run qemu PATH` with a fake qemu-system-x86_64 (`script`, a shell script) first on
 * PATH and TMPDIR in `dir`/tmp; `during` is called with the oskit process once the fake started.
 */
async function runWithFakeQemu(
  dir: string,
  script: string,
  args: readonly string[],
  during: (oskit: ReturnType<typeof spawn>, qemuPid: number) => void = () => undefined,
): Promise<{ code: number | null; signal: NodeJS.Signals | null; qemuPid: number }> {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  mkdirSync(join(dir, "tmp"), { recursive: true });
  const pidFile = join(dir, "qemu.pid");
  rmSync(pidFile, { force: true });
  writeFileSync(join(bin, "qemu-system-x86_64"), `#!/bin/sh\necho $$ > "${pidFile}"\n${script}\n`);
  chmodSync(join(bin, "qemu-system-x86_64"), 0o755);
  const oskit = spawn(process.execPath, [join(ROOT, "bin", "oskit.js"), "run", "qemu", ...args], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ""}`, TMPDIR: join(dir, "tmp") },
    stdio: ["ignore", "ignore", "inherit"],
  });
  const closed = new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    oskit.on("close", (code, signal) => resolve([code, signal])),
  );
  const started = Date.now();
  while (!existsSync(pidFile) || readFileSync(pidFile, "utf8").trim() === "") {
    if (Date.now() - started > 10000) throw new Error("the fake QEMU did not start");
    await new Promise((r) => setTimeout(r, 20));
  }
  const qemuPid = Number(readFileSync(pidFile, "utf8").trim());
  during(oskit, qemuPid);
  const [code, signal] = await closed;
  return { code, signal, qemuPid };
}

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
    // The smallest sound qcow2 v3: header cluster, refcount table cluster, an empty L1 table.
    const qcow2 = Buffer.alloc(3 * 65536);
    qcow2.write("QFI\xfb", 0, "latin1");
    qcow2.writeUInt32BE(3, 4);
    qcow2.writeUInt32BE(16, 20);
    qcow2.writeBigUInt64BE(1n << 20n, 24);
    qcow2.writeUInt32BE(1, 36);
    qcow2.writeBigUInt64BE(2n * 65536n, 40);
    qcow2.writeBigUInt64BE(65536n, 48);
    qcow2.writeUInt32BE(1, 56);
    qcow2.writeUInt32BE(4, 96);
    qcow2.writeUInt32BE(104, 100);
    writeFileSync(join(dir, "disk"), qcow2);
    assert.deepEqual(detectTarget(join(dir, "disk")), {
      kind: "disk",
      file: join(dir, "disk"),
      format: "qcow2",
      efi: false,
    });
    writeFileSync(join(dir, "raw.img"), Buffer.alloc(512));
    assert.deepEqual(detectTarget(join(dir, "raw.img")), {
      kind: "disk",
      file: join(dir, "raw.img"),
      format: "raw",
      efi: false,
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

  it("names the systems in a directory given as PATH instead of reading it as a disk", () => {
    for (const f of ["web-kernel", "web-initrd.img", "db-kernel", "db-initrd.img", "x.tar"])
      writeFileSync(join(dir, f), "x");
    assert.throws(
      () => detectTarget(dir),
      (e: unknown) =>
        e instanceof RunError &&
        e.message ===
          `${dir} is a directory; give the name prefix of a system in it: oskit run qemu ${join(dir, "db")} or oskit run qemu ${join(dir, "web")}`,
    );
    mkdirSync(join(dir, "empty"));
    assert.throws(() => detectTarget(join(dir, "empty")), /is a directory without NAME-kernel/);
  });

  it("boots an ISO whose El Torito catalog names only an EFI image through OVMF, and attaches an ISO as a disk when asked", async () => {
    const write = async (name: string, platforms: readonly Platform[]) => {
      const iso = buildIso({
        volumeId: "T",
        mtime: 0,
        files: [isoFile("boot.img", Buffer.alloc(4096, 1))],
        boot: platforms.map((platform) => ({ platform, path: "boot.img" })),
      });
      await iso.disk.writeRaw(join(dir, name));
      return detectTarget(join(dir, name));
    };
    const efi = await write("efi.iso", [Platform.Efi]);
    assert.deepEqual(efi, { kind: "iso", file: join(dir, "efi.iso"), efi: true });
    const plain = Buffer.alloc(40000);
    plain.write("CD001", 32769);
    writeFileSync(join(dir, "plain.iso"), plain);
    for (const other of [
      await write("both.iso", [Platform.Bios, Platform.Efi]),
      await write("bios.iso", [Platform.Bios]),
      detectTarget(join(dir, "plain.iso")),
    ])
      assert.deepEqual(other, {
        kind: "iso",
        file: other.kind === "iso" && other.file,
        efi: false,
      });

    const state = join(dir, "state");
    mkdirSync(state);
    const args = qemuArgs(efi, { path: "x" }, state).join(" ");
    assert.match(
      args,
      /if=pflash,format=raw,readonly=on,file=\/usr\/share\/OVMF\/OVMF_CODE_4M\.fd/,
    );
    assert.match(args, /media=cdrom/);
    const disk = qemuArgs(efi, { path: "x", isoAsDisk: true }, state).join(" ");
    assert.match(disk, new RegExp(`file=${dir}/efi\\.iso,format=raw,if=virtio,readonly=on`));
    assert.doesNotMatch(disk, /media=cdrom,readonly=on,if=none,id=boot/);
  });

  it("doubles commas in the paths it puts into QEMU's option lists", () => {
    const state = join(dir, "a,b");
    mkdirSync(state);
    writeFileSync(join(state, "disk,1.iso"), Buffer.alloc(512));
    const args = qemuArgs(
      { kind: "iso", file: join(state, "disk,1.iso") },
      {
        path: "x",
        disks: [`${dir}/a,,b/extra,,2.qcow2,format=qcow2`],
        data: Buffer.from("d"),
      },
      state,
    );
    const s = join(dir, "a,,b");
    for (const expected of [
      `unix:${s}/qmp.sock,server=on,wait=off`,
      `file=${s}/disk,,1.iso,media=cdrom,readonly=on,if=none,id=boot`,
      `file=${s}/extra,,2.qcow2,format=qcow2,if=virtio`,
      `file=${s}/data.iso,media=cdrom,readonly=on,if=none,id=data`,
      `file,id=con,path=${s}/console.log`,
    ])
      assert.ok(args.includes(expected), `${expected} in ${args.join(" ")}`);
  });

  it("stops QEMU and removes its state directory when oskit is interrupted", async function () {
    this.timeout(20000);
    for (const f of ["s-kernel", "s-initrd.img"]) writeFileSync(join(dir, f), "x");
    for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
      const result = await runWithFakeQemu(dir, "exec sleep 30", [join(dir, "s")], (oskit) =>
        oskit.kill(signal),
      );
      const left = running(result.qemuPid);
      if (left) process.kill(result.qemuPid, "SIGKILL");
      assert.equal(left, false, `QEMU still runs after ${signal} ${JSON.stringify(result)}`);
      assert.deepEqual([result.code, result.signal], [128 + os.signals[signal], null]);
      assert.deepEqual(readdirSync(join(dir, "tmp")), [], "the state directory is removed");
    }
  });

  it("removes the state directory it made after a foreground run, and keeps one it was given", async function () {
    this.timeout(20000);
    for (const f of ["s-kernel", "s-initrd.img"]) writeFileSync(join(dir, f), "x");
    const made = await runWithFakeQemu(dir, "exit 0", [join(dir, "s")]);
    assert.equal(made.code, 0);
    assert.deepEqual(readdirSync(join(dir, "tmp")), []);
    const given = await runWithFakeQemu(dir, "exit 0", [
      join(dir, "s"),
      "--state",
      join(dir, "st"),
    ]);
    assert.equal(given.code, 0);
    assert.ok(existsSync(join(dir, "st", "console.log")));
  });
});
