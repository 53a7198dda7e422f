/**
 * `oskit stop STATE`: presses the VM's power button through QMP (the guest runs its onshutdown
 * containers and powers off), waits for QEMU to exit, and kills it only if it does not.
 */
import { readFileSync } from "node:fs";
import { createConnection } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { RunError } from "../errors";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends QMP commands over the state directory's socket. */
export function qmp(state: string, commands: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(join(state, "qmp.sock"));
    let buffered = "";
    let sent = 0;
    const send = (command: string) => socket.write(`${JSON.stringify({ execute: command })}\n`);
    socket.on("data", (data) => {
      buffered += data.toString();
      let newline;
      while ((newline = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, newline);
        buffered = buffered.slice(newline + 1);
        const message = JSON.parse(line) as {
          QMP?: unknown;
          return?: unknown;
          error?: { desc?: string };
        };
        if (message.error !== undefined) {
          socket.destroy();
          reject(new RunError(`QMP: ${message.error.desc ?? "error"}`));
          return;
        }
        if (message.QMP !== undefined) send("qmp_capabilities");
        else if (message.return !== undefined) {
          if (sent === commands.length) {
            socket.end();
            resolve();
            return;
          }
          send(commands[sent++]!);
        }
      }
    });
    socket.on("error", (error) =>
      reject(new RunError(`cannot reach the VM's QMP socket in ${state}: ${error.message}`)),
    );
  });
}

export interface StopResult {
  /** How it ended: the guest powered off, or it was killed after the timeout. */
  readonly how: "powered off" | "killed" | "not running";
  readonly seconds: number;
}

/** Powers the VM off (ACPI power button), waiting up to `timeout` seconds before killing it. */
export async function stopVm(state: string, timeout = 60): Promise<StopResult> {
  let pid: number;
  try {
    pid = Number(readFileSync(join(state, "qemu.pid"), "utf8").trim());
  } catch {
    throw new RunError(`${state} is not the state directory of a VM (no qemu.pid)`);
  }
  const started = Date.now();
  const seconds = () => (Date.now() - started) / 1000;
  if (!alive(pid)) return { how: "not running", seconds: 0 };
  await qmp(state, ["system_powerdown"]).catch(() => undefined);
  while (seconds() < timeout) {
    if (!alive(pid)) return { how: "powered off", seconds: seconds() };
    await sleep(100);
  }
  process.kill(pid, "SIGTERM");
  await sleep(2000);
  if (alive(pid)) process.kill(pid, "SIGKILL");
  return { how: "killed", seconds: seconds() };
}
