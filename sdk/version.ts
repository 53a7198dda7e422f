/** oskit's own version (package.json's), for `--version` and the build cache key. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

let version: string | undefined;

/** The version in oskit's package.json. */
export function oskitVersion(): string {
  version ??= (
    JSON.parse(readFileSync(join(__dirname, "..", "..", "package.json"), "utf8")) as {
      version: string;
    }
  ).version;
  return version;
}
