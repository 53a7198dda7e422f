import { existsSync } from "node:fs";
import { dirname, join } from "node:path";

/** The repository root: the nearest directory above the compiled test holding package.json. */
function findRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export const ROOT = findRoot(__dirname);
export const FIXTURES = join(ROOT, "tests", "fixtures");
export const GOLDEN = join(ROOT, "tests", "golden");
/** Scratch space for tests, inside the repository so that `oskit` resolves from generated modules. */
export const TMP = join(ROOT, "tests", ".tmp");
