/** oskit's own version (package.json's), for `--version` and the build cache key, and where oskit is. */
import { readFileSync } from "node:fs";
import { join } from "node:path";

/** The directory of oskit's package.json (its packages are under pkg/). */
export function oskitRoot(): string {
  return join(__dirname, "..", "..");
}

let version: string | undefined;

/** The version in oskit's package.json. */
export function oskitVersion(): string {
  version ??= (
    JSON.parse(readFileSync(join(oskitRoot(), "package.json"), "utf8")) as {
      version: string;
    }
  ).version;
  return version;
}
