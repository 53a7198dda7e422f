/**
 * Debian packages as sources: fetched with `apt-get download` (the host's apt sources and
 * package lists decide the version) and read with `dpkg-deb`, never installed. The versions used
 * are reported, so a changed digest can be explained by an archive update.
 */
import { spawn, spawnSync } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { PackageError } from "../errors";
import { readTar } from "../formats/tar/reader";
import type { DebianPackageSpec } from "./spec";
import { globMatcher } from "./glob";
import type { FileTree } from "../assemble/tree";

/** A downloaded package: what it is and where its .deb is. */
export interface DebPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly file: string;
  /** For a dependency build.yml does not name: the packages (with `depends: true`) that brought it in. */
  readonly requiredBy?: readonly string[];
}

function requireTool(tool: string): void {
  const found = spawnSync("sh", ["-c", `command -v ${tool}`], { encoding: "utf8" });
  if (found.status !== 0) {
    throw new PackageError(
      `${tool} is not installed; building packages from Debian needs a Debian or Ubuntu host with apt and dpkg (apt-get install apt dpkg)`,
    );
  }
}

function field(deb: string, name: string): string {
  const result = spawnSync("dpkg-deb", ["--field", deb, name], { encoding: "utf8" });
  if (result.status !== 0)
    throw new PackageError(`dpkg-deb cannot read ${deb}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

/** Downloads packages (name or name=version) for an architecture into `dir`. */
function download(specs: readonly string[], arch: string, dir: string): void {
  if (specs.length === 0) return;
  const host = spawnSync("dpkg", ["--print-architecture"], { encoding: "utf8" }).stdout.trim();
  const qualified = specs.map((s) => (arch === host ? s : s.replace(/^([^=]+)/, `$1:${arch}`)));
  const result = spawnSync("apt-get", ["download", "-q", ...qualified], {
    cwd: dir,
    encoding: "utf8",
  });
  if (result.status !== 0) {
    const errors = result.stderr
      .split("\n")
      .filter((l) => l.startsWith("E:"))
      .join("; ");
    const hint =
      arch !== host
        ? ` (for ${arch} packages the host needs \`dpkg --add-architecture ${arch} && apt-get update\`)`
        : " (run `apt-get update` if the package lists are missing or old)";
    throw new PackageError(
      `apt-get could not download ${qualified.join(" ")}: ${errors || result.stderr.trim()}${hint}`,
    );
  }
}

/** The first alternative of each direct dependency, pinned when the relation is `(= version)`. */
function directDepends(deb: string): string[] {
  const depends = field(deb, "Depends");
  if (depends === "") return [];
  return depends.split(",").map((clause) => {
    const first = clause.split("|")[0]!.trim();
    const match = /^([a-z0-9][a-z0-9+.-]+)(?::\S+)?\s*(?:\((=|>=|<=|>>|<<)\s*([^)]+)\))?/.exec(
      first,
    );
    if (match === null) throw new PackageError(`cannot read the dependency "${first}" of ${deb}`);
    return match[2] === "=" ? `${match[1]}=${match[3]!.trim()}` : match[1]!;
  });
}

/** Downloads the packages a build.yml names (and direct dependencies where asked). */
export async function fetchDebianPackages(
  specs: readonly DebianPackageSpec[],
  arch: string,
  dir: string,
): Promise<Map<string, DebPackage>> {
  requireTool("apt-get");
  requireTool("dpkg-deb");
  download(
    specs.map((s) => s.name),
    arch,
    dir,
  );
  const byName = new Map<string, DebPackage>();
  const scan = async () => {
    for (const file of (await readdir(dir)).filter((f) => f.endsWith(".deb")).sort()) {
      const path = join(dir, file);
      const name = field(path, "Package");
      if (!byName.has(name))
        byName.set(name, {
          name,
          version: field(path, "Version"),
          architecture: field(path, "Architecture"),
          file: path,
        });
    }
  };
  await scan();
  const requiredBy = new Map<string, string[]>();
  const extra: string[] = [];
  for (const spec of specs.filter((s) => s.depends)) {
    for (const dependency of directDepends(byName.get(spec.name)!.file)) {
      const name = dependency.replace(/=.*$/, "");
      requiredBy.set(name, [...(requiredBy.get(name) ?? []), spec.name]);
      extra.push(dependency);
    }
  }
  download(extra, arch, dir);
  await scan();
  for (const spec of specs) {
    if (!byName.has(spec.name)) throw new PackageError(`apt-get did not download ${spec.name}`);
  }
  const named = new Set(specs.map((s) => s.name));
  for (const [name, deb] of byName) {
    if (!named.has(name)) byName.set(name, { ...deb, requiredBy: requiredBy.get(name) ?? [] });
  }
  return byName;
}

/**
 * The include filter of a downloaded package: its own in build.yml, or for a dependency those of
 * the packages that brought it in, together (everything when one of them has none).
 */
export function includeOf(
  deb: DebPackage,
  specs: readonly DebianPackageSpec[],
): readonly string[] | undefined {
  const own = specs.find((s) => s.name === deb.name);
  if (own !== undefined) return own.include;
  const parents = specs.filter((s) => deb.requiredBy?.includes(s.name) === true);
  if (parents.length === 0 || parents.some((p) => p.include === undefined)) return undefined;
  return parents.flatMap((p) => p.include ?? []);
}

/** Adds a package's files to the tree (those `include` names, or all). */
export async function addDebToTree(
  deb: DebPackage,
  tree: FileTree,
  include?: readonly string[],
): Promise<void> {
  const child = spawn("dpkg-deb", ["--fsys-tarfile", deb.file], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", resolve);
  });
  const matcher = include === undefined ? undefined : globMatcher(include);
  await tree.addTar(readTar(child.stdout), `${deb.name} ${deb.version}`, { include: matcher });
  const code = await exited;
  if (code !== 0)
    throw new PackageError(`dpkg-deb --fsys-tarfile ${deb.file} failed: ${stderr.trim()}`);
}
