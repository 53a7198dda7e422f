/**
 * `oskit run qemu`: boots a system under QEMU — kernel+initrd (a name prefix, as LinuxKit takes
 * it), an ISO or a disk image — with user networking and port forwards, a configuration CD-ROM
 * for the metadata package, and its state (pid, console log, QMP socket) in a directory, so that
 * `oskit stop` can power it off cleanly.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  closeSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RunError } from "../errors";
import { configIso } from "../formats/iso/config-iso";

export type Accelerator = "tcg" | "kvm";

export interface RunOptions {
  /** A kernel+initrd name prefix (PATH-kernel, PATH-initrd.img, PATH-cmdline), an ISO or a disk image. */
  readonly path: string;
  /** Port forwards `HOST:GUEST[/udp]`, bound to 127.0.0.1. */
  readonly publish?: readonly string[];
  /** Memory in MiB. @default 1024 */
  readonly mem?: number;
  /** @default 1 */
  readonly cpus?: number;
  /** Boot with UEFI firmware (OVMF) instead of SeaBIOS. */
  readonly uefi?: boolean;
  /** More disks (`FILE` or `FILE,format=qcow2`), attached with virtio. */
  readonly disks?: readonly string[];
  /** Configuration data for the metadata package, as a CD-ROM holding one file, `config`. */
  readonly data?: Uint8Array;
  /** @default "tcg" (KVM only when asked: it is not always usable where /dev/kvm exists) */
  readonly accel?: Accelerator;
  /** Also write the console here (it always goes to STATE/console.log). */
  readonly consoleLog?: string;
  /** Start QEMU in the background and return. */
  readonly detach?: boolean;
  /** Connect the console to this terminal (foreground runs): type into the guest, Ctrl-C stops QEMU. */
  readonly interactive?: boolean;
  /** Where the pid, console log, QMP socket and data CD live. @default a new temporary directory */
  readonly state?: string;
  /** Kill the VM after this many seconds (foreground runs). */
  readonly timeout?: number;
}

/** What PATH is: found by names, then by content. */
export type Target =
  | {
      readonly kind: "kernel+initrd";
      readonly kernel: string;
      readonly initrd: string;
      readonly cmdline: string;
    }
  | { readonly kind: "iso"; readonly file: string }
  | { readonly kind: "disk"; readonly file: string; readonly format: "raw" | "qcow2" | "vpc" };

const QEMU = "qemu-system-x86_64";
const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

function readAt(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(length);
    const read = readSync(fd, buf, 0, length, offset);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Finds what PATH names: a kernel+initrd prefix, an ISO (`CD001` at 32769) or a disk image. */
export function detectTarget(path: string): Target {
  const prefix = resolve(path);
  if (existsSync(`${prefix}-kernel`) && existsSync(`${prefix}-initrd.img`)) {
    return {
      kind: "kernel+initrd",
      kernel: `${prefix}-kernel`,
      initrd: `${prefix}-initrd.img`,
      cmdline: existsSync(`${prefix}-cmdline`)
        ? readFileSync(`${prefix}-cmdline`, "utf8").trim()
        : "",
    };
  }
  if (!existsSync(prefix)) {
    throw new RunError(
      `${path}: no such file, and no ${path}-kernel and ${path}-initrd.img (build with oskit build -f kernel+initrd)`,
    );
  }
  if (readAt(prefix, 32769, 5).toString("ascii") === "CD001" || /\.iso$/i.test(prefix))
    return { kind: "iso", file: prefix };
  if (readAt(prefix, 0, 4).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb])))
    return { kind: "disk", file: prefix, format: "qcow2" };
  if (/\.vhd$/i.test(prefix)) return { kind: "disk", file: prefix, format: "vpc" };
  return { kind: "disk", file: prefix, format: "raw" };
}

function requireProgram(): void {
  const found = spawnSync("sh", ["-c", `command -v ${QEMU}`]);
  if (found.status !== 0)
    throw new RunError(
      `${QEMU} not found: install the qemu-system-x86 package (apt-get install qemu-system-x86)`,
    );
}

/** `8080:80` or `5353:53/udp` → QEMU's hostfwd. */
export function hostForward(publish: string): string {
  const match = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/.exec(publish);
  if (match === null)
    throw new RunError(`--publish ${publish}: expected HOST:GUEST or HOST:GUEST/udp, e.g. 8080:80`);
  return `${match[3] ?? "tcp"}:127.0.0.1:${match[1]}-:${match[2]}`;
}

/** The QEMU command line for a target (the state directory must exist). */
export function qemuArgs(target: Target, options: RunOptions, state: string): string[] {
  const args = [
    "-machine",
    "q35",
    "-accel",
    options.accel ?? "tcg",
    "-m",
    String(options.mem ?? 1024),
    "-smp",
    String(options.cpus ?? 1),
    "-display",
    "none",
    "-monitor",
    "none",
    "-qmp",
    `unix:${join(state, "qmp.sock")},server=on,wait=off`,
    "-device",
    "virtio-rng-pci",
    // CD-ROMs hang off virtio-scsi: Debian's cloud kernel has no driver for q35's AHCI controller.
    "-device",
    "virtio-scsi-pci,id=scsi0",
    "-netdev",
    ["user", "id=net0", ...(options.publish ?? []).map((p) => `hostfwd=${hostForward(p)}`)].join(
      ",",
    ),
    "-device",
    "virtio-net-pci,netdev=net0",
  ];
  if (options.uefi === true) {
    if (!existsSync(OVMF_CODE))
      throw new RunError(
        `UEFI firmware ${OVMF_CODE} not found: install the ovmf package (apt-get install ovmf)`,
      );
    const vars = join(state, "OVMF_VARS.fd");
    if (!existsSync(vars)) copyFileSync(OVMF_VARS, vars);
    args.push(
      "-drive",
      `if=pflash,format=raw,readonly=on,file=${OVMF_CODE}`,
      "-drive",
      `if=pflash,format=raw,file=${vars}`,
    );
  }
  switch (target.kind) {
    case "kernel+initrd":
      args.push("-kernel", target.kernel, "-initrd", target.initrd, "-append", target.cmdline);
      break;
    case "iso":
      args.push(
        "-drive",
        `file=${target.file},media=cdrom,readonly=on,if=none,id=boot`,
        "-device",
        "scsi-cd,bus=scsi0.0,drive=boot,bootindex=0",
      );
      break;
    case "disk":
      args.push("-drive", `file=${target.file},format=${target.format},if=virtio`);
      break;
    default: {
      const never: never = target;
      throw new RunError(`unknown target ${String(never)}`);
    }
  }
  for (const disk of options.disks ?? []) {
    const [file = "", ...rest] = disk.split(",");
    const format = rest.find((r) => r.startsWith("format="))?.slice(7) ?? "raw";
    args.push("-drive", `file=${resolve(file)},format=${format},if=virtio`);
  }
  if (options.data !== undefined) {
    const iso = join(state, "data.iso");
    writeFileSync(iso, configIso(options.data));
    args.push(
      "-drive",
      `file=${iso},media=cdrom,readonly=on,if=none,id=data`,
      "-device",
      "scsi-cd,bus=scsi0.0,drive=data",
    );
  }
  return args;
}

export interface Running {
  /** The state directory. */
  readonly state: string;
  readonly pid: number;
}

/** Starts QEMU; in the foreground resolves with its exit status, detached once it runs. */
export async function runQemu(
  options: RunOptions,
  onConsole?: (chunk: Buffer) => void,
): Promise<{ readonly state: string; readonly pid: number; readonly exitCode?: number | null }> {
  requireProgram();
  if (options.accel === "kvm" && !existsSync("/dev/kvm"))
    throw new RunError("--accel kvm: /dev/kvm does not exist on this machine; use --accel tcg");
  const target = detectTarget(options.path);
  const state =
    options.state === undefined
      ? mkdtempSync(join(tmpdir(), "oskit-run-"))
      : resolve(options.state);
  mkdirSync(state, { recursive: true });
  const console = join(state, "console.log");
  const interactive = options.interactive === true && options.detach !== true;
  const chardev = interactive ? `stdio,id=con,logfile=${console}` : `file,id=con,path=${console}`;
  const args = [...qemuArgs(target, options, state), "-chardev", chardev, "-serial", "chardev:con"];
  writeFileSync(join(state, "command"), `${[QEMU, ...args].join(" ")}\n`);
  writeFileSync(console, "");
  const child = spawn(QEMU, args, {
    detached: options.detach === true,
    stdio: interactive ? ["inherit", "inherit", "pipe"] : ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid;
  if (pid === undefined) throw new RunError(`${QEMU} did not start`);
  writeFileSync(join(state, "qemu.pid"), `${pid}\n`);
  const tail = followFile(console, (chunk) => {
    if (!interactive) onConsole?.(chunk);
    if (options.consoleLog !== undefined) writeFileSync(options.consoleLog, chunk, { flag: "a" });
  });
  if (options.detach === true) {
    await new Promise((r) => setTimeout(r, 300));
    tail.stop();
    if (child.exitCode !== null) throw new RunError(`${QEMU} exited at once: ${stderr.trim()}`);
    child.stderr.destroy();
    child.unref();
    return { state, pid };
  }
  const timer =
    options.timeout === undefined
      ? undefined
      : setTimeout(() => child.kill("SIGKILL"), options.timeout * 1000);
  const exitCode = await new Promise<number | null>((done) => child.on("close", done));
  if (timer !== undefined) clearTimeout(timer);
  tail.stop();
  if (exitCode !== 0 && stderr.trim() !== "")
    throw new RunError(`${QEMU} failed: ${stderr.trim()}`);
  return { state, pid, exitCode };
}

/** Calls `onData` with what is appended to a file, until stopped. */
export function followFile(path: string, onData: (chunk: Buffer) => void): { stop(): void } {
  let offset = 0;
  const poll = () => {
    try {
      const fd = openSync(path, "r");
      try {
        for (;;) {
          const buf = Buffer.alloc(64 * 1024);
          const read = readSync(fd, buf, 0, buf.length, offset);
          if (read <= 0) break;
          offset += read;
          onData(buf.subarray(0, read));
        }
      } finally {
        closeSync(fd);
      }
    } catch {
      // the file appears once QEMU opens it
    }
  };
  const interval = setInterval(poll, 100);
  return {
    stop() {
      clearInterval(interval);
      poll();
    },
  };
}
