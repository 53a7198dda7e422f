import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./paths";

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the built `oskit` binary as a user would, in a subprocess. */
export function oskit(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const result = spawnSync(process.execPath, [join(ROOT, "bin", "oskit.js"), ...args], {
    cwd: options.cwd ?? ROOT,
    env: {
      ...process.env,
      NO_COLOR: "1",
      FORCE_COLOR: undefined,
      OSKIT_DEBUG: undefined,
      ...options.env,
    },
    encoding: "utf8",
  });
  if (result.error !== undefined) throw result.error;
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** True when the text has what looks like a JavaScript stack frame. */
export function hasStackTrace(text: string): boolean {
  return /^\s+at .+[:(]\d+/m.test(text);
}
