/**
 * Build steps: host commands run in a scratch copy of the tree, for oskit's own packages
 * (`depmod`, symlinks for busybox's applets, …). The environment is fixed — umask 022, TZ=UTC,
 * LC_ALL=C, SOURCE_DATE_EPOCH — so a step's output does not depend on who runs it or where.
 */
import { spawn } from "node:child_process";
import { PackageError } from "../errors";

export interface StepContext {
  /** The tree, materialized. */
  readonly root: string;
  /** A scratch copy of the package directory (the working directory of each step). */
  readonly pkg: string;
  readonly arch: string;
  readonly sourceDateEpoch: number;
  /** The package, for messages. */
  readonly name: string;
}

const OUTPUT_TAIL = 30;

/** Runs one step; throws PackageError with the command, its exit and the end of its output. */
export async function runStep(argv: readonly string[], ctx: StepContext): Promise<void> {
  const env: NodeJS.ProcessEnv = {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    ROOT: ctx.root,
    PKG: ctx.pkg,
    ARCH: ctx.arch,
    HOME: ctx.pkg,
    TZ: "UTC",
    LC_ALL: "C",
    SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch),
  };
  const child = spawn("sh", ["-c", 'umask 022; exec "$@"', "sh", ...argv], {
    cwd: ctx.pkg,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: string[] = [];
  const collect = (data: Buffer) => {
    lines.push(...data.toString().split("\n").filter(Boolean));
    if (lines.length > OUTPUT_TAIL) lines.splice(0, lines.length - OUTPUT_TAIL);
  };
  child.stdout.on("data", collect);
  child.stderr.on("data", collect);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  if (code !== 0) {
    throw new PackageError(
      [
        `${ctx.name}: the step \`${argv.join(" ")}\` failed (exit ${String(code)})`,
        ...lines.map((l) => `  | ${l}`),
      ].join("\n"),
    );
  }
}
