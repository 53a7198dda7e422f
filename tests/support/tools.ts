import { spawnSync } from "node:child_process";

export interface ToolResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs a reference tool (fsck.vfat, sgdisk, qemu-img, tar, mtools) on a test's output; a tool
 * that is missing is an error that says to run make deps.
 */
export function tool(command: string, args: readonly string[], input?: Buffer): ToolResult {
  const result = spawnSync(command, args, {
    encoding: "utf8",
    input,
    maxBuffer: 64 << 20,
    env: { ...process.env, LC_ALL: "C", MTOOLS_SKIP_CHECK: "1" },
  });
  if (result.error !== undefined)
    throw new Error(`${command} cannot run (${result.error.message}): run make deps`);
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** A hex dump, 32 bytes per line with the offset, for golden files of binary structures. */
export function hexDump(data: Buffer, base = 0): string {
  const lines: string[] = [];
  for (let at = 0; at < data.length; at += 32) {
    const row = data.subarray(at, at + 32);
    if (row.every((b) => b === 0)) {
      if (lines.at(-1) !== "*") lines.push("*");
      continue;
    }
    lines.push(`${(base + at).toString(16).padStart(8, "0")}  ${row.toString("hex")}`);
  }
  return `${lines.join("\n")}\n`;
}
