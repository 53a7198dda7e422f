/**
 * `oskit stop STATE`: presses the VM's power button through QMP (the guest runs its onshutdown
 * containers and powers off), waits for QEMU to exit, and kills it only if it does not. Only the
 * process whose command line is QEMU serving this state directory's QMP socket is ever signalled:
 * a pid in an old qemu.pid may belong to anything by now.
 */
import { readFileSync, realpathSync, rmSync } from "node:fs";
import { createConnection } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { RunError } from "../errors";
import { qmpSocketOf } from "./qemu-options";

/** The same directory, after symlinks, as far as they can be followed. */
function samePath(a: string, b: string): boolean {
  const real = (path: string) => {
    try {
      return realpathSync(path);
    } catch {
      return resolve(path);
    }
  };
  return real(a) === real(b);
}

/** True while `pid` is the QEMU of the VM whose state directory is `state`. */
export function isVmQemu(pid: number, state: string): boolean {
  let argv: string[];
  try {
    argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
  } catch {
    return false;
  }
  const socket = qmpSocketOf(argv);
  return (
    basename(argv[0] ?? "").startsWith("qemu-system-") &&
    socket !== undefined &&
    samePath(dirname(socket), state)
  );
}

export interface QmpOptions {
  /** Give up (and close the connection) after this long. @default 10000 */
  readonly timeoutMs?: number;
}

/** Sends QMP commands over the state directory's socket. */
export function qmp(
  state: string,
  commands: readonly string[],
  options: QmpOptions = {},
): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(state, "qmp.sock"));
    const finish = (error?: RunError) => {
      clearTimeout(timer);
      if (error === undefined) {
        socket.end();
        resolve();
      } else {
        socket.destroy();
        reject(error);
      }
    };
    const timer = setTimeout(
      () =>
        finish(
          new RunError(
            `the VM's QMP socket in ${state} did not answer within ${timeoutMs / 1000} s`,
          ),
        ),
      timeoutMs,
    );
    let buffered = "";
    let sent = 0;
    const send = (command: string) => socket.write(`${JSON.stringify({ execute: command })}\n`);
    socket.on("data", (data) => {
      buffered += data.toString();
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        let message: { QMP?: unknown; return?: unknown; error?: { desc?: string } };
        try {
          message = JSON.parse(line) as typeof message;
        } catch {
          finish(new RunError(`QMP: the VM answered something that is not JSON: ${line}`));
          return;
        }
        if (message.error !== undefined) {
          finish(new RunError(`QMP: ${message.error.desc ?? "error"}`));
          return;
        }
        if (message.QMP !== undefined) send("qmp_capabilities");
        else if (message.return !== undefined) {
          if (sent === commands.length) {
            finish();
            return;
          }
          send(commands[sent++]!);
        }
      }
    });
    socket.on("error", (error) =>
      finish(new RunError(`cannot reach the VM's QMP socket in ${state}: ${error.message}`)),
    );
    socket.on("close", () =>
      finish(new RunError(`the VM's QMP socket in ${state} closed the connection`)),
    );
  });
}

export interface StopResult {
  /** How it ended: the guest powered off, it was killed after the timeout, or it was not running. */
  readonly how: "powered off" | "killed" | "not running";
  readonly seconds: number;
}

/** Waits up to `seconds` for `done`; true when it came. */
async function waitFor(done: () => boolean, seconds: number): Promise<boolean> {
  const deadline = Date.now() + seconds * 1000;
  while (!done()) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch {
    // it has just exited
  }
}

/**
 * Powers the VM off (ACPI power button), waiting up to `timeout` seconds before killing it, and
 * removes its qemu.pid once QEMU is gone.
 */
export async function stopVm(state: string, timeout = 60): Promise<StopResult> {
  const pidFile = join(state, "qemu.pid");
  let pid: number;
  try {
    pid = Number(readFileSync(pidFile, "utf8").trim());
  } catch {
    throw new RunError(`${state} is not the state directory of a VM (no qemu.pid)`);
  }
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  const gone = () => !isVmQemu(pid, state);
  try {
    if (gone()) return { how: "not running", seconds: 0 };
    await qmp(state, ["system_powerdown"], { timeoutMs: Math.min(timeout, 10) * 1000 }).catch(
      () => undefined,
    );
    if (await waitFor(gone, timeout - seconds())) return { how: "powered off", seconds: seconds() };
    signal(pid, "SIGTERM");
    if (!(await waitFor(gone, 2))) {
      signal(pid, "SIGKILL");
      await waitFor(gone, 2);
    }
    return { how: "killed", seconds: seconds() };
  } finally {
    if (gone()) rmSync(pidFile, { force: true });
  }
}
