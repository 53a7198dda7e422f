/**
 * `oskit run qemu`: boots a system under QEMU — kernel+initrd (a name prefix, as LinuxKit takes
 * it), an ISO or a disk image — with user networking and port forwards, a configuration CD-ROM
 * for the metadata package, and its state (pid, console log, QMP socket) in a directory, so that
 * `oskit stop` can power it off cleanly. A foreground run stops QEMU when oskit is interrupted
 * (INT, TERM, HUP) and removes the state directory it made.
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
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { RunError } from "../errors";
import { buildEfiDisk, minimalDiskSize } from "../formats/disk/efi-disk";
import { configIso } from "../formats/iso/config-iso";
import { qemuOptionValue, qmpArgument, splitQemuOptions } from "./qemu-options";
import { detectTarget, type Target } from "./target";

export { detectTarget, type Target } from "./target";

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
  /** Boot with UEFI firmware (OVMF) instead of SeaBIOS. @default for disks with an EFI system partition and ISOs that boot only UEFI */
  readonly uefi?: boolean;
  /** Attach an ISO as a disk (a hybrid ISO written to a USB stick) instead of a CD-ROM. @default false */
  readonly isoAsDisk?: boolean;
  /** More disks (`FILE` or `FILE,format=qcow2`; a comma in FILE written twice, as QEMU reads it), attached with virtio. */
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
  /** Where the pid, console log, QMP socket and data CD live. @default a new temporary directory, removed after a foreground run */
  readonly state?: string;
  /** Kill the VM after this many seconds (foreground runs). */
  readonly timeout?: number;
}

const QEMU = "qemu-system-x86_64";
const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

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
    qmpArgument(state),
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
  if (
    options.uefi === true ||
    (options.uefi === undefined && (target.kind === "disk" || target.kind === "iso") && target.efi)
  ) {
    if (!existsSync(OVMF_CODE))
      throw new RunError(
        `UEFI firmware ${OVMF_CODE} not found: install the ovmf package (apt-get install ovmf)`,
      );
    const vars = join(state, "OVMF_VARS.fd");
    if (!existsSync(vars)) copyFileSync(OVMF_VARS, vars);
    args.push(
      "-drive",
      `if=pflash,format=raw,readonly=on,file=${qemuOptionValue(OVMF_CODE)}`,
      "-drive",
      `if=pflash,format=raw,file=${qemuOptionValue(vars)}`,
    );
  }
  switch (target.kind) {
    case "kernel+initrd":
      args.push("-kernel", target.kernel, "-initrd", target.initrd, "-append", target.cmdline);
      break;
    case "iso":
      if (options.isoAsDisk === true) {
        args.push(
          "-drive",
          `file=${qemuOptionValue(target.file)},format=raw,if=virtio,readonly=on`,
        );
        break;
      }
      args.push(
        "-drive",
        `file=${qemuOptionValue(target.file)},media=cdrom,readonly=on,if=none,id=boot`,
        "-device",
        "scsi-cd,bus=scsi0.0,drive=boot,bootindex=0",
      );
      break;
    case "disk":
      args.push("-drive", `file=${qemuOptionValue(target.file)},format=${target.format},if=virtio`);
      break;
    case "uki":
      throw new RunError(`${target.file}: a UKI boots from a disk; oskit run qemu makes one`);
    default: {
      const never: never = target;
      throw new RunError(`unknown target ${String(never)}`);
    }
  }
  for (const disk of options.disks ?? []) {
    const [file = "", ...rest] = splitQemuOptions(disk);
    const format = rest.find((r) => r.startsWith("format="))?.slice(7) ?? "raw";
    args.push(
      "-drive",
      `file=${qemuOptionValue(resolve(file))},format=${qemuOptionValue(format)},if=virtio`,
    );
  }
  if (options.data !== undefined) {
    const iso = join(state, "data.iso");
    writeFileSync(iso, configIso(options.data));
    args.push(
      "-drive",
      `file=${qemuOptionValue(iso)},media=cdrom,readonly=on,if=none,id=data`,
      "-device",
      "scsi-cd,bus=scsi0.0,drive=data",
    );
  }
  const console = qemuOptionValue(join(state, "console.log"));
  args.push(
    "-chardev",
    interactive(options) ? `stdio,id=con,logfile=${console}` : `file,id=con,path=${console}`,
    "-serial",
    "chardev:con",
  );
  return args;
}

/** True when the console is this terminal: a foreground run asked to be interactive. */
function interactive(options: RunOptions): boolean {
  return options.interactive === true && options.detach !== true;
}

/** What a run gives back: its state directory and QEMU's pid, and for a foreground run how it ended. */
export interface RunResult {
  /** The state directory (removed after a foreground run that made it). */
  readonly state: string;
  readonly pid: number;
  /** QEMU's exit status (foreground runs; null when it was killed). */
  readonly exitCode?: number | null;
  /** The signal that interrupted oskit, and that QEMU was stopped with (foreground runs). */
  readonly signal?: NodeJS.Signals;
}

/** Signals that stop a foreground run: QEMU gets them too, and a second one kills it. */
const STOP_SIGNALS: readonly NodeJS.Signals[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Starts QEMU; in the foreground resolves once it has exited, detached once it runs. A state
 * directory the run made itself is removed unless the VM runs on, detached.
 */
export async function runQemu(
  options: RunOptions,
  onConsole?: (chunk: Buffer) => void,
): Promise<RunResult> {
  requireProgram();
  if (options.accel === "kvm" && !existsSync("/dev/kvm"))
    throw new RunError("--accel kvm: /dev/kvm does not exist on this machine; use --accel tcg");
  const target = detectTarget(options.path);
  const made = options.state === undefined;
  const state = made ? mkdtempSync(join(tmpdir(), "oskit-run-")) : resolve(options.state);
  let keep = !made;
  try {
    mkdirSync(state, { recursive: true });
    const result = await startQemu(target, options, state, onConsole);
    keep ||= options.detach === true;
    return result;
  } finally {
    if (!keep) rmSync(state, { recursive: true, force: true });
  }
}

/** A UKI goes on an EFI disk of its own, in the state directory; other targets boot as they are. */
async function bootable(target: Target, state: string): Promise<Target> {
  if (target.kind !== "uki") return target;
  const uki = readFileSync(target.file);
  const file = join(state, "uki-disk.img");
  await buildEfiDisk(uki, minimalDiskSize(uki.length), 0).disk.writeRaw(file);
  return { kind: "disk", file, format: "raw", efi: true };
}

async function startQemu(
  target: Target,
  options: RunOptions,
  state: string,
  onConsole: ((chunk: Buffer) => void) | undefined,
): Promise<RunResult> {
  const console = join(state, "console.log");
  const args = qemuArgs(await bootable(target, state), options, state);
  writeFileSync(join(state, "command"), `${[QEMU, ...args].join(" ")}\n`);
  writeFileSync(console, "");
  // Signals are caught before QEMU exists, so that one arriving while it starts still stops it.
  const received: NodeJS.Signals[] = [];
  let child: ReturnType<typeof spawn> | undefined;
  const stop = (signal: NodeJS.Signals) => {
    received.push(signal);
    child?.kill(received.length > 1 ? "SIGKILL" : signal);
  };
  const foreground = options.detach !== true;
  if (foreground) for (const signal of STOP_SIGNALS) process.on(signal, stop);
  try {
    child = spawn(QEMU, args, {
      detached: options.detach === true,
      stdio: interactive(options) ? ["inherit", "inherit", "pipe"] : ["ignore", "ignore", "pipe"],
    });
    if (received[0] !== undefined) child.kill(received[0]);
    return await watchQemu(child, options, state, onConsole, received);
  } finally {
    if (foreground) for (const signal of STOP_SIGNALS) process.off(signal, stop);
  }
}

async function watchQemu(
  child: ReturnType<typeof spawn>,
  options: RunOptions,
  state: string,
  onConsole: ((chunk: Buffer) => void) | undefined,
  received: readonly NodeJS.Signals[],
): Promise<RunResult> {
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  const pid = child.pid;
  if (pid === undefined) throw new RunError(`${QEMU} did not start`);
  writeFileSync(join(state, "qemu.pid"), `${pid}\n`);
  const tail = followFile(join(state, "console.log"), (chunk) => {
    if (!interactive(options)) onConsole?.(chunk);
    if (options.consoleLog !== undefined) writeFileSync(options.consoleLog, chunk, { flag: "a" });
  });
  if (options.detach === true) {
    await new Promise((r) => setTimeout(r, 300));
    tail.stop();
    if (child.exitCode !== null) throw new RunError(`${QEMU} exited at once: ${stderr.trim()}`);
    child.stderr!.destroy();
    child.unref();
    return { state, pid };
  }
  const timer =
    options.timeout === undefined
      ? undefined
      : setTimeout(() => child.kill("SIGKILL"), options.timeout * 1000);
  let exitCode: number | null;
  try {
    exitCode = await new Promise<number | null>((done) => child.on("close", done));
  } finally {
    if (timer !== undefined) clearTimeout(timer);
    tail.stop();
  }
  if (received[0] !== undefined) return { state, pid, exitCode, signal: received[0] };
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
