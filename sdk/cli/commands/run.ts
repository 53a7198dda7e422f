import { readFileSync } from "node:fs";
import { constants } from "node:os";
import { ErrorCode, OskitError } from "../../errors";
import { runQemu } from "../../run/qemu";
import { stopVm } from "../../run/stop";
import type { Io } from "../io";

export interface RunCommandOptions {
  readonly publish?: string[];
  readonly mem?: string;
  readonly cpus?: string;
  readonly uefi?: boolean;
  readonly disk?: string[];
  readonly data?: string;
  readonly dataFile?: string;
  readonly accel: string;
  readonly consoleLog?: string;
  readonly detach?: boolean;
  readonly state?: string;
  readonly timeout?: string;
}

function positive(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) === 0)
    throw new OskitError(ErrorCode.Usage, `${option} ${value}: expected a positive whole number`);
  return Number(value);
}

/** `oskit run qemu PATH`: boots a built system; the console is shown unless detached. */
export async function runCommand(
  io: Io,
  path: string,
  options: RunCommandOptions,
): Promise<number> {
  if (options.accel !== "tcg" && options.accel !== "kvm")
    throw new OskitError(ErrorCode.Usage, `--accel ${options.accel}: expected tcg or kvm`);
  if (options.data !== undefined && options.dataFile !== undefined)
    throw new OskitError(ErrorCode.Usage, "--data and --data-file: give one");
  const data =
    options.dataFile !== undefined
      ? readFileSync(options.dataFile)
      : options.data !== undefined
        ? Buffer.from(options.data)
        : undefined;
  const result = await runQemu(
    {
      path,
      publish: options.publish,
      mem: positive(options.mem, "--mem"),
      cpus: positive(options.cpus, "--cpus"),
      uefi: options.uefi,
      disks: options.disk,
      data,
      accel: options.accel,
      consoleLog: options.consoleLog,
      detach: options.detach,
      interactive:
        process.stdin.isTTY === true && (io.stdout as { isTTY?: boolean }).isTTY === true,
      state: options.state,
      timeout: positive(options.timeout, "--timeout"),
    },
    options.detach === true ? undefined : (chunk) => io.stdout.write(chunk),
  );
  if (options.detach === true) {
    io.stdout.write(`${result.state}\n`);
    io.stderr.write(
      `running (pid ${result.pid}); console in ${result.state}/console.log; stop with: oskit stop ${result.state}\n`,
    );
    return 0;
  }
  if (result.signal !== undefined) return 128 + constants.signals[result.signal];
  return result.exitCode === 0 ? 0 : 1;
}

/** `oskit stop STATE`: powers a detached VM off. */
export async function stopCommand(
  io: Io,
  state: string,
  options: { readonly timeout?: string },
): Promise<number> {
  const result = await stopVm(state, positive(options.timeout, "--timeout") ?? 60);
  io.stderr.write(
    `${state}: ${result.how}${result.how === "not running" ? "" : ` after ${result.seconds.toFixed(1)} s`}\n`,
  );
  return 0;
}
