/**
 * `oskit pkg build`: a package directory → an OCI image in the store, without Docker or root.
 * Sources are applied in order (Debian packages, local contents, build steps, packed tars, the
 * keep filter); the tree becomes one deterministic layer per architecture.
 */
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, resolve } from "node:path";
import { PackageError } from "../errors";
import { TarWriter } from "../formats/tar/writer";
import { exportLabelConfig, MOBY_CONFIG_LABEL } from "../manifest/linuxkit/label";
import type { Descriptor } from "../resolve/oci";
import type { ContentStore } from "../resolve/store/store";
import { addDebToTree, fetchDebianPackages, includeOf, type DebPackage } from "./debian";
import { globMatcher } from "./glob";
import { hashPackageDir } from "./hash";
import { writeImage, writeIndex, writeLayer } from "./image";
import { loadPkgSpec, type Arch, type PkgSpec } from "./spec";
import { runStep } from "./steps";
import { FileTree } from "../assemble/tree";
import { FileData } from "../assemble/file-data";

/** LinuxKit's fixed timestamp, 2017-04-18T16:30:00Z, for every entry unless SOURCE_DATE_EPOCH says otherwise. */
export const DEFAULT_SOURCE_DATE_EPOCH = 1492533000;

/** Labels oskit sets on its packages. */
export const DEBIAN_PACKAGES_LABEL = "org.oskit.debian.packages";
export const PACKAGE_HASH_LABEL = "org.oskit.package.hash";

export interface PkgBuildOptions {
  readonly store: ContentStore;
  /** Architectures to build; the package's own list by default. */
  readonly arches?: readonly Arch[];
  /** Timestamp of every entry (seconds). @default SOURCE_DATE_EPOCH, else 2017-04-18T16:30:00Z */
  readonly sourceDateEpoch?: number;
  /** Told what is happening, one line at a time. */
  readonly progress?: (message: string) => void;
}

export interface PkgBuildResult {
  /** The reference tagged in the store, e.g. `oskit/httpd:1a2b3c4d5e6f7a8b`. */
  readonly ref: string;
  /** The image index's descriptor. */
  readonly index: Descriptor;
  /** One manifest per architecture. */
  readonly manifests: readonly Descriptor[];
  /** The Debian packages used, per architecture. */
  readonly debian: Readonly<Record<string, readonly DebPackage[]>>;
}

/**
 * The reference a package directory builds to (its tag from the content hash), without building
 * it: what a definition names to use a local package.
 *
 * @example
 * new oskit.Service({ name: "web", image: oskit.packageRef(join(__dirname, "pkg/httpd")) })
 */
export function packageRef(dir: string): string {
  const spec = loadPkgSpec(dir);
  return `${spec.image}:${spec.tag.replaceAll("{hash}", hashPackageDir(dir).slice(0, 16))}`;
}

export async function buildPackage(dir: string, options: PkgBuildOptions): Promise<PkgBuildResult> {
  const root = resolve(dir);
  const spec = loadPkgSpec(root);
  const hash = hashPackageDir(root);
  const ref = `${spec.image}:${spec.tag.replaceAll("{hash}", hash.slice(0, 16))}`;
  const arches = options.arches ?? spec.arches;
  for (const arch of arches) {
    if (!spec.arches.includes(arch))
      throw new PackageError(
        `${spec.image}: build.yml does not list the architecture ${arch} (arches: ${spec.arches.join(", ")})`,
      );
  }
  const epoch = options.sourceDateEpoch ?? sourceDateEpoch();
  const progress = options.progress ?? (() => undefined);
  const manifests: Descriptor[] = [];
  const debian: Record<string, DebPackage[]> = {};
  for (const arch of arches) {
    const work = await mkdtemp(join(tmpdir(), "oskit-pkg-"));
    try {
      const { tree, packages } = await buildTree(spec, arch, work, epoch, progress);
      debian[arch] = packages;
      const labels: Record<string, string> = {
        ...spec.labels,
        [PACKAGE_HASH_LABEL]: hash,
        ...(spec.config !== undefined && { [MOBY_CONFIG_LABEL]: exportLabelConfig(spec.config) }),
        ...(packages.length > 0 && {
          [DEBIAN_PACKAGES_LABEL]: packages
            .map((p) => `${p.name}=${p.version}`)
            .sort()
            .join(" "),
        }),
      };
      progress(`${spec.image}: writing the ${arch} layer (${tree.size} entries)`);
      const layer = await writeLayer(options.store, tree, epoch);
      const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
      manifests.push(
        await writeImage(
          options.store,
          layer,
          {
            entrypoint: spec.entrypoint,
            cmd: spec.cmd,
            env: spec.env,
            workdir: spec.workdir,
            labels,
          },
          { architecture: arch, os: "linux" },
          created,
        ),
      );
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }
  const index = await writeIndex(options.store, manifests);
  await options.store.tag(ref, index);
  return { ref, index, manifests, debian };
}

function sourceDateEpoch(): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  if (env === undefined || env === "") return DEFAULT_SOURCE_DATE_EPOCH;
  if (!/^\d+$/.test(env))
    throw new PackageError(`SOURCE_DATE_EPOCH must be a number of seconds, got "${env}"`);
  return Number(env);
}

async function buildTree(
  spec: PkgSpec,
  arch: Arch,
  work: string,
  epoch: number,
  progress: (message: string) => void,
): Promise<{ tree: FileTree; packages: DebPackage[] }> {
  let tree = new FileTree();
  const packages: DebPackage[] = [];
  if (spec.debian.length > 0) {
    const debs = join(work, "debs");
    await mkdir(debs);
    progress(`${spec.image}: downloading ${spec.debian.map((d) => d.name).join(", ")} (${arch})`);
    const fetched = await fetchDebianPackages(spec.debian, arch, debs);
    const dependencies = [...fetched.values()].filter((d) => d.requiredBy !== undefined);
    for (const deb of [...spec.debian.map((d) => fetched.get(d.name)!), ...dependencies])
      await addDebToTree(deb, tree, includeOf(deb, spec.debian));
    packages.push(
      ...[...fetched.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
    );
  }
  for (const content of spec.contents) {
    const source = resolve(spec.dir, content.from);
    if (relative(spec.dir, source).startsWith("..")) {
      throw new PackageError(
        `${spec.image}: contents from "${content.from}" is outside the package directory`,
      );
    }
    await tree.addHostPath(source, content.to, {
      mode: content.mode,
      context: `${spec.image} contents`,
    });
  }
  if (spec.steps.length > 0) {
    const rootDir = join(work, "root");
    const pkgDir = join(work, "pkg");
    await mkdir(rootDir);
    await tree.materialize(rootDir);
    await cp(spec.dir, pkgDir, { recursive: true, verbatimSymlinks: true });
    for (const step of spec.steps) {
      progress(`${spec.image}: running ${step.join(" ")}`);
      await runStep(step, {
        root: rootDir,
        pkg: pkgDir,
        arch,
        sourceDateEpoch: epoch,
        name: spec.image,
      });
    }
    tree = await FileTree.fromDirectory(rootDir, tree);
  }
  for (const pack of spec.pack) {
    const packed = new FileTree();
    for (const from of pack.from) {
      if (tree.get(from) === undefined)
        throw new PackageError(`${spec.image}: pack ${pack.tar}: the tree has no ${from}`);
      for (const path of tree.paths().filter((p) => p === from || p.startsWith(`${from}/`)))
        packed.set(path, tree.get(path)!, `${spec.image} pack`);
      tree.delete(from);
    }
    const chunks: Buffer[] = [];
    const writer = new TarWriter((chunk) => void chunks.push(chunk));
    await packed.writeTar(writer, epoch);
    await writer.finish();
    tree.set(
      pack.tar,
      { kind: "file", mode: 0o644, uid: 0, gid: 0, data: FileData.of(Buffer.concat(chunks)) },
      `${spec.image} pack`,
    );
  }
  if (spec.keep !== undefined) tree.retain(globMatcher(spec.keep));
  return { tree, packages };
}
