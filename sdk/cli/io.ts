import { writeFileAtomic } from "../files";
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

/** Writes a command's output file whole or not at all; a failure says why in the user's terms. */
export function writeOutputFile(path: string, text: string): void {
  try {
    writeFileAtomic(path, text);
  } catch (error) {
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
  else writeOutputFile(out, text);
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

/** `NAME=VALUE` pairs from repeated `--input` options. */
export function parseInputs(pairs: readonly string[]): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new OskitError(ErrorCode.Usage, `--input ${pair}: expected NAME=VALUE`);
    Object.defineProperty(inputs, pair.slice(0, eq), {
      value: pair.slice(eq + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return inputs;
}
