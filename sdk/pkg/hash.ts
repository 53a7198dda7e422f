/**
 * The content hash of a package directory: every file's relative path, kind, executable bit and
 * bytes, in path order. It does not depend on where the directory is, on mtimes, owners or the
 * umask of the checkout, so the same sources give the same tag on every machine.
 */
import { createHash } from "node:crypto";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import { comparePaths } from "./tree";

export async function hashPackageDir(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (relative: string): Promise<void> => {
    for (const name of (await readdir(join(dir, relative))).sort(comparePaths)) {
      const path = relative === "" ? name : `${relative}/${name}`;
      const info = await lstat(join(dir, path));
      if (info.isDirectory()) {
        hash.update(`d ${path}\0`);
        await walk(path);
      } else if (info.isSymbolicLink()) {
        hash.update(`l ${path}\0${await readlink(join(dir, path))}\0`);
      } else if (info.isFile()) {
        const data = await readFile(join(dir, path));
        hash.update(`f ${path} ${(info.mode & 0o111) !== 0 ? "x" : "-"} ${data.length}\0`);
        hash.update(data);
      }
    }
  };
  await walk("");
  return hash.digest("hex");
}
