/**
 * What `oskit.local.QemuVm` does, as plain async functions (the dynamic provider calls these):
 * boot an artifact under QEMU, detached, with its pid, console log and QMP socket in a state
 * directory; tell whether it still runs; power it off and remove what it left. A VM is restarted
 * to apply any change, so every input replaces it, and a QEMU that has gone away is a change that
 * starts it again. The user data may be a secret: no message carries it.
 */
import { COPYFILE_FICLONE } from "node:constants";
import { copyFile, mkdir, readdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { readdirSync, readFileSync } from "node:fs";
import { extname, join } from "node:path";
import { FORMATS, type Format } from "../../sdk/formats/writers";
import { qmpSocketOf } from "../../sdk/run/qemu-options";
import { runQemu, type RunOptions, type RunResult } from "../../sdk/run/qemu";
import { isVmQemu, stopVm, type StopResult } from "../../sdk/run/stop";
import type { Artifact } from "../build/image-build";

/** The value Pulumi gives for an input it does not know yet (a preview). */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** What a QemuVm is given (its inputs in state, defaults resolved by the resource class). */
export interface QemuVmInputs {
  /** The ImageBuild artifact to boot (kernel+initrd, uki, raw-efi, qcow2, vhd, aws or an ISO). */
  readonly artifact: Artifact;
  /** Port forwards `HOST:GUEST[/udp]`, bound to 127.0.0.1. */
  readonly publish: readonly string[];
  /** Memory in MiB. */
  readonly mem: number;
  readonly cpus: number;
  /** User data for the metadata package, on a configuration CD-ROM (may be a secret). */
  readonly data?: string;
  /** Where the pid, console log, QMP socket and data CD live (absolute). */
  readonly stateDir: string;
}

/** A port forward of a running VM. */
export interface PortForward {
  /** The host's address the port is bound to. */
  readonly address: "127.0.0.1";
  readonly host: number;
  readonly guest: number;
  readonly protocol: "tcp" | "udp";
}

/** What a QemuVm records. */
export interface QemuVmOutputs extends QemuVmInputs {
  /** QEMU's process id. */
  readonly pid: number;
  readonly ports: readonly PortForward[];
  /** The guest's serial console, as QEMU writes it. */
  readonly consoleLog: string;
}

export interface CheckFailure {
  readonly property: string;
  readonly reason: string;
}

/** QEMU's start and stop, and how a running VM is recognized, handed in (tests give their own). */
export interface QemuVmDeps {
  readonly runQemu: (options: RunOptions) => Promise<RunResult>;
  readonly stopVm: (state: string, timeout?: number) => Promise<StopResult>;
  /** True while `pid` is the QEMU serving the state directory's QMP socket. */
  readonly isRunning: (pid: number, state: string) => boolean;
  /** The pid of a QEMU serving the state directory, whatever its qemu.pid says. */
  readonly findQemu: (state: string) => number | undefined;
  /** Seconds a powered-off guest gets before QEMU is killed. @default 30 */
  readonly stopTimeout?: number;
}

/** Scans /proc for a QEMU whose QMP socket is in `state` (one that started but was never recorded). */
export function findVmQemu(state: string): number | undefined {
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return undefined;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue;
    }
    if (qmpSocketOf(argv) !== undefined && isVmQemu(pid, state)) return pid;
  }
  return undefined;
}

const defaults: QemuVmDeps = {
  runQemu: (options) => runQemu(options),
  stopVm,
  isRunning: isVmQemu,
  findQemu: findVmQemu,
};

/** Formats QEMU boots (a gce tarball and root filesystem tars do not). */
export const BOOTABLE: readonly Format[] = FORMATS.filter(
  (f) => f !== "tar" && f !== "tar-kernel-initrd" && f !== "gce",
);

/** Formats booted from a disk QEMU writes to: a copy in the state directory, so the artifact stays intact. */
const WRITABLE_DISK: ReadonlySet<Format> = new Set(["raw-efi", "qcow2", "vhd", "aws"]);

/** Files `oskit run qemu` and this module write into a state directory: nothing else is removed. */
const STATE_FILES = [
  "command",
  "console.log",
  "qemu.pid",
  "qmp.sock",
  "data.iso",
  "OVMF_VARS.fd",
  "uki-disk.img",
];

const PUBLISH = /^(\d{1,5}):(\d{1,5})(?:\/(tcp|udp))?$/;

const isUnknown = (value: unknown) => value === UNKNOWN;

/** `8080:80/udp` as a port forward (the input is checked). */
function portForward(publish: string): PortForward {
  const [, host, guest, protocol] = PUBLISH.exec(publish) ?? [];
  return {
    address: "127.0.0.1",
    host: Number(host),
    guest: Number(guest),
    protocol: protocol === "udp" ? "udp" : "tcp",
  };
}

/** A message without the user data in it. */
export function withoutData(message: string, data: string | undefined): string {
  return data === undefined || data === "" ? message : message.replaceAll(data, "[data]");
}

/** An Error whose message (and cause's) cannot carry the user data. */
function scrubbed(error: unknown, data: string | undefined): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof Error && withoutData(message, data) === message) return error;
  return new Error(withoutData(message, data));
}

/** Validates the inputs (unknown values of a preview pass). */
export function checkQemuVm(raw: QemuVmInputs): {
  readonly inputs: QemuVmInputs;
  readonly failures: CheckFailure[];
} {
  const news = raw as unknown as Readonly<Record<string, unknown>>;
  const failures: CheckFailure[] = [];
  const artifact = news.artifact;
  if (artifact === undefined || artifact === null)
    failures.push({
      property: "artifact",
      reason: 'expected an ImageBuild artifact, e.g. build.artifacts["kernel+initrd"]',
    });
  else if (!isUnknown(artifact)) {
    if (typeof artifact !== "object" || Array.isArray(artifact))
      failures.push({
        property: "artifact",
        reason: "expected an ImageBuild artifact ({ format, path, sha256, size, files })",
      });
    else {
      const { format, path, sha256 } = artifact as Record<string, unknown>;
      if (!isUnknown(format) && !(BOOTABLE as readonly unknown[]).includes(format))
        failures.push({
          property: "artifact.format",
          reason: `QEMU cannot boot format ${JSON.stringify(format)}; build one of ${BOOTABLE.join(", ")}`,
        });
      if (!isUnknown(path) && (typeof path !== "string" || path === ""))
        failures.push({ property: "artifact.path", reason: "expected the artifact's path" });
      if (!isUnknown(sha256) && (typeof sha256 !== "string" || !sha256.startsWith("sha256:")))
        failures.push({ property: "artifact.sha256", reason: 'expected "sha256:…"' });
    }
  }
  const publish = news.publish;
  if (!isUnknown(publish)) {
    if (!Array.isArray(publish))
      failures.push({ property: "publish", reason: 'expected a list of "HOST:GUEST" forwards' });
    else {
      const seen = new Set<string>();
      publish.forEach((p, i) => {
        if (isUnknown(p)) return;
        const match = typeof p === "string" ? PUBLISH.exec(p) : null;
        const ports = match === null ? [] : [Number(match[1]), Number(match[2])];
        if (match === null || ports.some((n) => n < 1 || n > 65535)) {
          failures.push({
            property: `publish[${i}]`,
            reason: `${JSON.stringify(p)}: expected HOST:GUEST or HOST:GUEST/udp with ports 1–65535, e.g. 8080:80`,
          });
          return;
        }
        const key = `${match[1]}/${match[3] ?? "tcp"}`;
        if (seen.has(key))
          failures.push({
            property: `publish[${i}]`,
            reason: `host port ${key} is forwarded twice`,
          });
        seen.add(key);
      });
    }
  }
  for (const [key, max] of [
    ["mem", 1 << 20],
    ["cpus", 256],
  ] as const) {
    const value = news[key];
    if (
      !isUnknown(value) &&
      !(Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= max)
    )
      failures.push({ property: key, reason: `expected a whole number from 1 to ${max}` });
  }
  if (news.data !== undefined && !isUnknown(news.data) && typeof news.data !== "string")
    failures.push({ property: "data", reason: "expected a string" });
  const stateDir = news.stateDir;
  if (!isUnknown(stateDir) && (typeof stateDir !== "string" || !stateDir.startsWith("/")))
    failures.push({ property: "stateDir", reason: "expected an absolute directory path" });
  return { inputs: raw, failures };
}

const REPLACING = ["publish", "mem", "cpus", "data", "stateDir"] as const;

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/**
 * A new artifact (its sha256), new forwards, memory, processors, data or state directory replace
 * the VM (stopped first: it holds the ports and the state directory). With none of those, a
 * recorded QEMU that is no longer running — its pid gone or now another program — is a change
 * that starts it again.
 */
export function diffQemuVm(
  olds: QemuVmOutputs,
  news: QemuVmInputs,
  deps: Pick<QemuVmDeps, "isRunning"> = defaults,
): { changes: boolean; replaces: string[]; changed: string[]; deleteBeforeReplace: true } {
  const replaces: string[] = [];
  const artifact = news.artifact as unknown;
  if (
    isUnknown(artifact) ||
    isUnknown((artifact as Artifact | undefined)?.sha256) ||
    olds.artifact?.sha256 !== (artifact as Artifact | undefined)?.sha256
  )
    replaces.push("artifact");
  replaces.push(...REPLACING.filter((key) => !same(olds[key], news[key])));
  const changed = [...replaces];
  if (
    replaces.length === 0 &&
    !(typeof olds.pid === "number" && deps.isRunning(olds.pid, olds.stateDir))
  )
    changed.push("pid");
  return { changes: changed.length > 0, replaces, changed, deleteBeforeReplace: true };
}

/** The file QEMU boots: a writable disk's copy in the state directory, else the artifact itself. */
function bootPath(inputs: QemuVmInputs): string {
  return WRITABLE_DISK.has(inputs.artifact.format)
    ? join(inputs.stateDir, `boot${extname(inputs.artifact.path)}`)
    : inputs.artifact.path;
}

/** The pid in the state directory's qemu.pid, if any. */
async function recordedPid(state: string): Promise<number | undefined> {
  const text = await readFile(join(state, "qemu.pid"), "utf8").catch(() => undefined);
  const pid = Number(text?.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/** The running QEMU of a state directory: by its qemu.pid, the recorded pid, or a scan. */
async function runningQemu(
  state: string,
  pid: number | undefined,
  deps: QemuVmDeps,
): Promise<number | undefined> {
  for (const candidate of [await recordedPid(state), pid])
    if (candidate !== undefined && deps.isRunning(candidate, state)) return candidate;
  return deps.findQemu(state);
}

/**
 * Powers off the QEMU serving `state` (if one runs) and waits for it to go; throws when it does
 * not, naming the pid to kill.
 */
async function stopQemu(state: string, pid: number | undefined, deps: QemuVmDeps): Promise<void> {
  const running = await runningQemu(state, pid, deps);
  if (running === undefined) return;
  if ((await recordedPid(state)) !== running)
    await writeFile(join(state, "qemu.pid"), `${running}\n`);
  let failure: unknown;
  await deps.stopVm(state, deps.stopTimeout ?? 30).catch((error: unknown) => (failure = error));
  if (deps.isRunning(running, state))
    throw new Error(
      `QEMU (pid ${running}) serving ${state} did not stop${
        failure instanceof Error ? `: ${failure.message}` : ""
      }; kill it (kill -9 ${running}) and run pulumi up again`,
    );
}

/** Removes the files a VM leaves in its state directory, and the directory once it is empty. */
async function removeState(inputs: Pick<QemuVmInputs, "stateDir" | "artifact">): Promise<void> {
  const state = inputs.stateDir;
  const files = [...STATE_FILES];
  if (inputs.artifact !== undefined && WRITABLE_DISK.has(inputs.artifact.format))
    files.push(`boot${extname(inputs.artifact.path)}`);
  for (const file of files) await rm(join(state, file), { force: true });
  const left = await readdir(state).catch(() => undefined);
  if (left !== undefined && left.length === 0) await rmdir(state).catch(() => undefined);
}

/** The outputs of a VM started as `pid`. */
function outputsOf(inputs: QemuVmInputs, pid: number): QemuVmOutputs {
  return {
    ...inputs,
    pid,
    ports: inputs.publish.map(portForward),
    consoleLog: join(inputs.stateDir, "console.log"),
  };
}

/**
 * A create that started QEMU but could not finish, nor stop it: Pulumi records it (as the
 * dynamic provider's initialization failure), so `pulumi up` resumes it with update and
 * `pulumi destroy` stops it.
 */
export class PartialCreateError extends Error {
  readonly id: string;
  readonly properties: QemuVmOutputs;
  readonly reasons: string[];
  constructor(message: string, id: string, properties: QemuVmOutputs) {
    super(message);
    this.name = "PartialCreateError";
    this.id = id;
    this.properties = properties;
    this.reasons = [message];
  }
}

/**
 * Boots the artifact detached. A failure once QEMU may have started stops it and removes what
 * the run wrote; when QEMU cannot be stopped, the error is a PartialCreateError (the VM is
 * recorded, so nothing is left that Pulumi does not know of). The id is the state directory.
 */
export async function createQemuVm(
  inputs: QemuVmInputs,
  deps: QemuVmDeps = defaults,
): Promise<{ id: string; outs: QemuVmOutputs }> {
  const state = inputs.stateDir;
  await mkdir(state, { recursive: true, mode: 0o700 });
  const other = await runningQemu(state, undefined, deps);
  if (other !== undefined)
    throw new Error(
      `a VM already runs from ${state} (QEMU pid ${other}): stop it (oskit stop ${state}) or give this QemuVm another stateDir`,
    );
  await removeState(inputs);
  await mkdir(state, { recursive: true, mode: 0o700 });
  let pid: number | undefined;
  try {
    const path = bootPath(inputs);
    if (path !== inputs.artifact.path) await copyFile(inputs.artifact.path, path, COPYFILE_FICLONE);
    const result = await deps.runQemu({
      path,
      publish: inputs.publish,
      mem: inputs.mem,
      cpus: inputs.cpus,
      ...(inputs.data !== undefined && { data: Buffer.from(inputs.data) }),
      detach: true,
      state,
    });
    pid = result.pid;
    if (!deps.isRunning(pid, state))
      throw new Error(`QEMU (pid ${pid}) exited right after it started; see ${state}/command`);
    return { id: state, outs: outputsOf(inputs, pid) };
  } catch (error) {
    const failure = scrubbed(error, inputs.data);
    try {
      await stopQemu(state, pid, deps);
    } catch (stopError) {
      const running = (await runningQemu(state, pid, deps)) ?? pid ?? 0;
      throw new PartialCreateError(
        withoutData(
          `the VM did not start (${failure.message}), and its QEMU could not be stopped: ${
            (stopError as Error).message
          }`,
          inputs.data,
        ),
        state,
        outputsOf(inputs, running),
      );
    }
    await removeState(inputs);
    throw failure;
  }
}

/**
 * Starts the VM again: after its QEMU went away, or to resume a partial create. Whatever still
 * runs from the old state directory is stopped first.
 */
export async function updateQemuVm(
  olds: QemuVmOutputs,
  news: QemuVmInputs,
  deps: QemuVmDeps = defaults,
): Promise<QemuVmOutputs> {
  try {
    await stopQemu(olds.stateDir, olds.pid, deps);
  } catch (error) {
    throw scrubbed(error, news.data);
  }
  if (olds.stateDir !== news.stateDir) await removeState(olds);
  return (await createQemuVm(news, deps)).outs;
}

/** Powers the VM off (killing QEMU if the guest does not) and removes its state directory's files. */
export async function deleteQemuVm(
  olds: QemuVmOutputs,
  deps: QemuVmDeps = defaults,
): Promise<void> {
  try {
    await stopQemu(olds.stateDir, olds.pid, deps);
  } catch (error) {
    throw scrubbed(error, olds.data);
  }
  await removeState(olds);
}
