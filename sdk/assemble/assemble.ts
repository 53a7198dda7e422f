/**
 * Manifest → root filesystem, in LinuxKit's layout: the kernel's modules and the init images in
 * `/`, the kernel and its command line in `/boot`, each container as an OCI bundle under
 * `/containers`, volumes, the definition's files. Nothing is written to disk here: the result is
 * a tree the format writers take.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { isAbsolute, resolve } from "node:path";
import { AssembleError } from "../errors";
import { readTar } from "../formats/tar/reader";
import { canonicalJson } from "../manifest/canonical";
import { manifestImages } from "../manifest/images";
import { exportLinuxkit } from "../manifest/linuxkit/export";
import {
  importLabelConfig,
  MOBY_CONFIG_LABEL,
  type ContainerConfig,
} from "../manifest/linuxkit/label";
import {
  CONTAINER_SECTIONS,
  type ContainerSpec,
  type FileSpec,
  type Manifest,
  type VolumeSpec,
} from "../manifest/schema";
import {
  resolveOrPull,
  type Platform,
  type ResolvedImage,
  type ResolverOptions,
} from "../resolve/image";
import type { ContentStore } from "../resolve/store/store";
import { extractImage } from "./layers";
import { applyLinuxkitFilter } from "./linuxkit-filter";
import {
  jsonWithBigInts,
  ociSpec,
  resolveId,
  runtimeConfig,
  runtimeSteps,
  VOLUMES_DIR,
  type IdMap,
} from "./oci-spec";
import { FileTree } from "./tree";
import { writeOciLayout } from "./volume-layout";
import { FileData, type SpillFile } from "./file-data";

export interface AssembleOptions {
  readonly store: ContentStore;
  readonly platform: Platform;
  /** Values of the definition's input placeholders. */
  readonly inputs?: Readonly<Record<string, string>>;
  /** Where relative `source` paths of files are found (the definition's directory). */
  readonly baseDir: string;
  /** Told what is happening. */
  readonly progress?: (message: string) => void;
  /** Where file data is held while the system is assembled. @default memory */
  readonly spill?: SpillFile;
}

/** Every image a manifest names, resolved in the store for one platform. */
export type ResolvedImages = ReadonlyMap<string, ResolvedImage>;

/** Resolves every image of a manifest: from the store, pulling what it lacks unless told not to. */
export async function resolveImages(
  manifest: Manifest,
  store: ContentStore,
  platform: Platform,
  options: ResolverOptions = { pull: "never" },
): Promise<ResolvedImages> {
  const out = new Map<string, ResolvedImage>();
  for (const ref of manifestImages(manifest))
    out.set(ref, await resolveOrPull(store, ref, platform, options));
  return out;
}

/** The ids containers get: 100, 101, … in the order onboot, onshutdown, services. */
export function containerIds(manifest: Manifest): IdMap {
  const ids = new Map<string, number>();
  let next = 100;
  for (const section of CONTAINER_SECTIONS)
    for (const c of manifest[section] ?? []) ids.set(c.name, next++);
  return ids;
}

const ROOT = { uid: 0, gid: 0 };

export class Assembler {
  private readonly trees = new Map<string, Promise<FileTree>>();

  constructor(
    private readonly manifest: Manifest,
    private readonly images: ResolvedImages,
    private readonly options: AssembleOptions,
  ) {}

  /**
   * The whole system as one tree. Every image is extracted at once (inflating layers on all
   * cores) and applied in the manifest's order; it returns only when no extraction is running.
   */
  async assemble(): Promise<FileTree> {
    const m = this.manifest;
    const refs = [
      ...(m.kernel ? [m.kernel.image] : []),
      ...(m.init ?? []),
      ...CONTAINER_SECTIONS.flatMap((section) => (m[section] ?? []).map((c) => c.image)),
    ];
    const extractions = refs.map((ref) => this.imageTree(ref));
    for (const extraction of extractions) extraction.catch(() => undefined); // awaited in order
    try {
      return await this.assembleInOrder();
    } finally {
      await Promise.allSettled(extractions);
    }
  }

  private async assembleInOrder(): Promise<FileTree> {
    const root = new FileTree(this.options.spill);
    const m = this.manifest;
    if (m.kernel) await this.addKernel(root);
    for (const ref of m.init ?? []) {
      const tree = (await this.imageTree(ref)).clone();
      applyLinuxkitFilter(tree, "root");
      root.graft("/", tree, `init ${ref}`);
    }
    applyLinuxkitFilter(root, "root");
    for (const volume of m.volumes ?? []) await this.addVolume(root, volume);
    const ids = containerIds(m);
    for (const section of CONTAINER_SECTIONS) {
      for (const [i, container] of (m[section] ?? []).entries()) {
        const dir =
          section === "services"
            ? container.name
            : `${String(i).padStart(3, "0")}-${container.name}`;
        await this.addContainer(root, `/containers/${section}/${dir}`, container, ids);
      }
    }
    for (const file of m.files ?? []) this.addFile(root, file, ids);
    return root;
  }

  /** An image's filesystem, extracted once however many containers use it. */
  private imageTree(ref: string): Promise<FileTree> {
    const image = this.image(ref);
    let tree = this.trees.get(image.digest);
    if (tree === undefined) {
      this.options.progress?.(
        `extracting ${ref} (${image.layers.length} layer${image.layers.length === 1 ? "" : "s"}, ${image.layers.reduce((n, l) => n + l.size, 0)} bytes)`,
      );
      tree = extractImage(this.options.store, image, this.options.spill);
      this.trees.set(image.digest, tree);
    }
    return tree;
  }

  private image(ref: string): ResolvedImage {
    const image = this.images.get(ref);
    if (image === undefined) throw new AssembleError(`${ref} was not resolved`);
    return image;
  }

  private async addKernel(root: FileTree): Promise<void> {
    const kernel = this.manifest.kernel!;
    const tree = await this.imageTree(kernel.image);
    const file = (name: string, what: string) => {
      const node = tree.get(`/${name}`);
      if (node?.kind !== "file")
        throw new AssembleError(`kernel ${kernel.image}: the image has no ${what} /${name}`);
      return node;
    };
    root.set("/boot/kernel", { ...file(kernel.binary, "kernel binary"), mode: 0o644 });
    root.set("/boot/cmdline", {
      kind: "file",
      mode: 0o644,
      data: FileData.of(kernel.cmdline ?? ""),
      ...ROOT,
    });
    if (kernel.ucode !== undefined)
      root.set("/boot/ucode.cpio", { ...file(kernel.ucode, "microcode archive"), mode: 0o644 });
    if (kernel.tar !== "none") {
      await root.addTar(
        readTar(file(kernel.tar, "modules tarball").data.stream()),
        `kernel ${kernel.image} ${kernel.tar}`,
      );
    }
  }

  private async addVolume(root: FileTree, volume: VolumeSpec): Promise<void> {
    const base = `${VOLUMES_DIR}/${volume.name}`;
    root.set(`${base}/lower`, { kind: "dir", mode: 0o755, ...ROOT });
    if (volume.image !== undefined) {
      if (volume.format === "oci") {
        await writeOciLayout(
          root,
          `${base}/lower`,
          this.options.store,
          volume.image,
          volume.platforms,
        );
      } else {
        root.graft(`${base}/lower`, await this.imageTree(volume.image), `volume ${volume.name}`);
      }
    }
    if (volume.readonly !== true) root.set(`${base}/tmp`, { kind: "dir", mode: 0o755, ...ROOT });
    root.set(`${base}/merged`, { kind: "dir", mode: 0o755, ...ROOT });
  }

  private async addContainer(
    root: FileTree,
    dir: string,
    container: ContainerSpec,
    ids: IdMap,
  ): Promise<void> {
    const image = this.image(container.image);
    const labelText = image.config.config?.Labels?.[MOBY_CONFIG_LABEL];
    let label: ContainerConfig = {};
    if (labelText !== undefined && labelText !== "") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(labelText);
      } catch {
        throw new AssembleError(`${container.image}: its ${MOBY_CONFIG_LABEL} label is not JSON`);
      }
      label = importLabelConfig(parsed, `${container.image} label`, MOBY_CONFIG_LABEL);
    }
    const spec = ociSpec({ container, label, image: image.config, ids });
    const runtime = runtimeConfig(container, label);
    const data = (text: string) => ({
      kind: "file" as const,
      mode: 0o644,
      data: FileData.of(text),
      ...ROOT,
    });
    root.set(`${dir}/config.json`, data(jsonWithBigInts(spec)));
    root.set(`${dir}/runtime.json`, data(`${JSON.stringify(runtime, null, 2)}\n`));
    const steps = runtimeSteps(runtime, `container ${container.name}`);
    if (steps !== "") root.set(`${dir}/runtime.steps`, data(steps));
    const tree = (await this.imageTree(container.image)).clone();
    applyLinuxkitFilter(tree, "container");
    const readonly = (spec.root as { readonly: boolean }).readonly;
    if (readonly) {
      root.graft(`${dir}/rootfs`, tree, `container ${container.name}`);
    } else {
      root.graft(`${dir}/lower`, tree, `container ${container.name}`);
      root.set(`${dir}/tmp`, { kind: "dir", mode: 0o755, ...ROOT });
      root.set(`${dir}/rootfs`, { kind: "dir", mode: 0o755, ...ROOT });
    }
  }

  private addFile(root: FileTree, file: FileSpec, ids: IdMap): void {
    const what = `files[${file.path}]`;
    const owner = {
      uid: resolveId(file.uid, ids, `${what}: uid`),
      gid: resolveId(file.gid, ids, `${what}: gid`),
    };
    const mode = parseInt(file.mode, 8);
    const context = what;
    if (file.directory === true)
      return root.set(file.path, { kind: "dir", mode, ...owner }, context);
    if (file.symlink !== undefined)
      return root.set(file.path, { kind: "symlink", target: file.symlink, ...owner }, context);
    let data: Buffer;
    if (file.metadata !== undefined) {
      const resolved = this.withInputs(this.manifest);
      data = Buffer.from(
        file.metadata === "yaml" ? exportLinuxkit(resolved) : `${canonicalJson(resolved, 2)}\n`,
      );
    } else if (file.source !== undefined) {
      const path = file.source.startsWith("~/")
        ? resolve(homedir(), file.source.slice(2))
        : isAbsolute(file.source)
          ? file.source
          : resolve(this.options.baseDir, file.source);
      try {
        data = readFileSync(path);
      } catch (error) {
        if (file.optional === true) return;
        throw new AssembleError(
          `${what}: cannot read the source ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
        );
      }
    } else if (typeof file.contents === "object") {
      data = Buffer.from(this.input(file.contents.$input, what));
    } else {
      data = Buffer.from(file.contents ?? "");
    }
    root.set(file.path, { kind: "file", mode, data: FileData.of(data), ...owner }, context);
  }

  private input(name: string, what: string): string {
    const inputs = this.options.inputs ?? {};
    if (!Object.hasOwn(inputs, name))
      throw new AssembleError(
        `${what}: the input "${name}" has no value (give it to the build, e.g. oskit build --input ${name}=…)`,
      );
    return inputs[name]!;
  }

  /** The manifest with every input placeholder replaced by its value (what metadata files record). */
  private withInputs(manifest: Manifest): Manifest {
    return {
      ...manifest,
      ...(manifest.files && {
        files: manifest.files.map((f) =>
          typeof f.contents === "object"
            ? { ...f, contents: this.input(f.contents.$input, `files[${f.path}]`) }
            : f,
        ),
      }),
    };
  }
}

/** Assembles a manifest whose images are resolved. */
export function assemble(
  manifest: Manifest,
  images: ResolvedImages,
  options: AssembleOptions,
): Promise<FileTree> {
  return new Assembler(manifest, images, options).assemble();
}
