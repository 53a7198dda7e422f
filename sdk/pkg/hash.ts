/**
 * The content hash of a package directory: every file's relative path, kind, executable bit and
 * bytes, in path order. It does not depend on where the directory is, on mtimes, owners or the
 * umask of the checkout, so the same sources give the same tag on every machine.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { comparePaths } from "../assemble/tree";

export function hashPackageDir(dir: string): string {
  const hash = createHash("sha256");
  const walk = (relative: string): void => {
    for (const name of readdirSync(join(dir, relative)).sort(comparePaths)) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const info = lstatSync(join(dir, path));
      if (info.isDirectory()) {
        hash.update(`d ${path}\0`);
        walk(path);
      } else if (info.isSymbolicLink()) {
        hash.update(`l ${path}\0${readlinkSync(join(dir, path))}\0`);
      } else if (info.isFile()) {
        const data = readFileSync(join(dir, path));
        hash.update(`f ${path} ${(info.mode & 0o111) !== 0 ? "x" : "-"} ${data.length}\0`);
        hash.update(data);
      }
    }
  };
  walk("");
  return hash.digest("hex");
}
