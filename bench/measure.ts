/** Runs a command as a child process and measures it: wall time, and for oskit its probe report. */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ProbeReport } from "./probe";

export const ROOT = join(__dirname, "..", "..");
const OSKIT = join(ROOT, "bin", "oskit.js");
const PROBE = join(__dirname, "probe.js");

export interface Measured {
  readonly seconds: number;
  readonly stdout: string;
}

/** Runs `command args…`; rejects with its output when it fails. */
export function timed(
  command: string,
  args: readonly string[],
  options: { readonly env?: NodeJS.ProcessEnv; readonly cwd?: string } = {},
): Promise<Measured> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(command, args, {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ...options.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      if (code === 0) resolve({ seconds, stdout: Buffer.concat(out).toString() });
      else
        reject(
          new Error(
            `${command} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${Buffer.concat(err).toString().slice(-4000)}`,
          ),
        );
    });
  });
}

/** Runs `oskit args…` in a fresh Node process with the probe loaded. */
export async function oskit(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
): Promise<Measured & ProbeReport> {
  const dir = mkdtempSync(join(tmpdir(), "oskit-probe-"));
  try {
    const file = join(dir, "report.json");
    const run = await timed(process.execPath, ["--require", PROBE, OSKIT, ...args], {
      env: { ...env, OSKIT_BENCH_PROBE: file },
    });
    return { ...run, ...(JSON.parse(readFileSync(file, "utf8")) as ProbeReport) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The median of some numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Runs `fn` `times` times; returns every result. */
export async function repeat<T>(times: number, fn: () => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < times; i++) out.push(await fn());
  return out;
}
