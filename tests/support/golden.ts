import { strict as assert } from "node:assert";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { GOLDEN } from "./paths";

/**
 * Compares text with a golden file under tests/golden; `UPDATE_GOLDEN=1` rewrites the file
 * instead. Byte-exact, so key order and whitespace are part of the contract.
 */
export function assertGolden(name: string, actual: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1") {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, actual);
    return;
  }
  assert.ok(
    existsSync(path),
    `golden file ${name} is missing; run with UPDATE_GOLDEN=1 to create it`,
  );
  assert.equal(
    actual,
    readFileSync(path, "utf8"),
    `output differs from golden file ${name} (UPDATE_GOLDEN=1 to refresh)`,
  );
}
