import { renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { ErrorCode, OskitError } from "../errors";

/** Where a command writes; the real process streams, or buffers in tests. */
export interface Io {
  readonly stdout: NodeJS.WritableStream & { isTTY?: boolean };
  readonly stderr: NodeJS.WritableStream;
  readonly env: NodeJS.ProcessEnv;
  readonly cwd: string;
}

export const processIo: Io = {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
};

/** Writes a file through a temporary file and a rename, so a failure never leaves half a file. */
export function writeFileAtomic(path: string, text: string): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  try {
    writeFileSync(temp, text);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    const code = (error as NodeJS.ErrnoException).code;
    const reason =
      code === "ENOENT"
        ? "its directory does not exist"
        : code === "EISDIR"
          ? "it is a directory"
          : (error as Error).message;
    throw new OskitError(ErrorCode.Output, `cannot write ${path}: ${reason}`, { cause: error });
  }
}

/** Writes a command's output to a file (`-o`) or to stdout. */
export function emit(io: Io, text: string, out: string | undefined): void {
  if (out === undefined) io.stdout.write(text);
  else writeFileAtomic(out, text);
}

/** Whether to colour output: `--color always|never`, else when stdout is a terminal and NO_COLOR is unset. */
export function useColor(io: Io, choice: "auto" | "always" | "never"): boolean {
  if (choice !== "auto") return choice === "always";
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== "") return false;
  if (io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== "0") return true;
  return io.stdout.isTTY === true;
}

export function warn(io: Io, warnings: readonly string[]): void {
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
}
