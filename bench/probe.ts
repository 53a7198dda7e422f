/**
 * Loaded with `node --require` into a measured process: when it exits, writes what it used — peak
 * resident memory and bytes written to storage (from /proc/self/io) — as JSON to the file named by
 * OSKIT_BENCH_PROBE.
 */
import { readFileSync, writeFileSync } from "node:fs";

export interface ProbeReport {
  /** Peak resident set size, MiB. */
  readonly maxRssMib: number;
  /** Bytes the process caused to be written to storage (not to pipes or terminals). */
  readonly bytesWritten: number;
}

/** A /proc/self/io field, or 0 where the kernel does not account I/O per task. */
function ioField(name: string): number {
  const text = (() => {
    try {
      return readFileSync("/proc/self/io", "utf8");
    } catch {
      return "";
    }
  })();
  const match = new RegExp(`^${name}: (\\d+)$`, "m").exec(text);
  return match === null ? 0 : Number(match[1]);
}

const target = process.env.OSKIT_BENCH_PROBE;
if (target !== undefined) {
  process.on("exit", () => {
    const report: ProbeReport = {
      maxRssMib: process.resourceUsage().maxRSS / 1024,
      bytesWritten: ioField("write_bytes") - ioField("cancelled_write_bytes"),
    };
    writeFileSync(target, JSON.stringify(report));
  });
}
