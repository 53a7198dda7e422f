/**
 * A file tree held in memory: the contents of a component image while it is being built.
 * Owners and modes are data here, never applied with chown, so no root is needed; paths are
 * normalized and may not climb out of the root, and nothing is added below a path that is not
 * a directory (a symlink in the middle of a path could otherwise lead a write outside).
 *
 * Hard links are paths that hold the same file node (one object, as one inode): removing or
 * replacing one of the names leaves the others with the file, as a filesystem does.
 */
import {
  chmod,
  link,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  symlink,
  writeFile,
} from "node:fs/promises";
import { join } from "node:path";
import { AssembleError } from "../errors";
import { TarType, type TarHeader } from "../formats/tar/header";
import type { TarEntry } from "../formats/tar/reader";
import type { TarWriter } from "../formats/tar/writer";
import { FileData, type SpillFile } from "./file-data";

interface Owner {
  readonly uid: number;
  readonly gid: number;
}

/** A regular file; every path that holds this same object is a hard link to it. */
export type FileNode = {
  readonly kind: "file";
  readonly mode: number;
  readonly data: FileData;
} & Owner;

export type TreeNode =
  | FileNode
  | ({ readonly kind: "dir"; readonly mode: number } & Owner)
  | ({ readonly kind: "symlink"; readonly target: string } & Owner)
  | ({
      readonly kind: "device";
      readonly type: "char" | "block" | "fifo";
      readonly mode: number;
      readonly major: number;
      readonly minor: number;
    } & Owner);

const ROOT_OWNER: Owner = { uid: 0, gid: 0 };

/** OCI layer whiteouts: `.wh.NAME` deletes NAME; `.wh..wh..opq` marks its directory opaque. */
const WHITEOUT = ".wh.";
const OPAQUE = ".wh..wh..opq";

/**
 * The tree node a tar entry describes (owners applied by the caller), a hard link's target, or
 * undefined to skip it.
 */
async function nodeOf(
  entry: TarEntry,
  where: string,
  spill: SpillFile | undefined,
): Promise<TreeNode | { readonly kind: "hardlink"; readonly target: string } | undefined> {
  const h = entry.header;
  switch (h.type) {
    case TarType.File:
    case TarType.Contiguous:
      return {
        kind: "file",
        mode: h.mode,
        data:
          spill === undefined
            ? FileData.of(await entry.readAll())
            : await spill.append(entry.body, h.size, where),
        uid: 0,
        gid: 0,
      };
    case TarType.Directory:
      return { kind: "dir", mode: h.mode, uid: 0, gid: 0 };
    case TarType.Symlink:
      return { kind: "symlink", target: h.linkname, uid: 0, gid: 0 };
    case TarType.HardLink:
      return { kind: "hardlink", target: normalizeTreePath(h.linkname, where) };
    case TarType.CharDevice:
    case TarType.BlockDevice:
    case TarType.Fifo: {
      const type =
        h.type === TarType.CharDevice ? "char" : h.type === TarType.BlockDevice ? "block" : "fifo";
      return {
        kind: "device",
        type,
        mode: h.mode,
        major: h.devmajor,
        minor: h.devminor,
        uid: 0,
        gid: 0,
      };
    }
    default:
      return undefined;
  }
}

/** `/a/b` from `a/b`, `./a/b/`, `/a//b`; throws on `..`. */
export function normalizeTreePath(path: string, context: string): string {
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..")
      throw new AssembleError(`${context}: refusing the path "${path}": it climbs out of the root`);
    parts.push(part);
  }
  return `/${parts.join("/")}`;
}

/** Byte order of UTF-8 paths, so the order is the same on every machine. */
export function comparePaths(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function parentOf(path: string): string {
  return path.slice(0, path.lastIndexOf("/")) || "/";
}

export class FileTree {
  private readonly nodes = new Map<string, TreeNode>();

  /** @param spill where file data read from archives is held (in memory without one) */
  constructor(private readonly spill?: SpillFile) {}

  get size(): number {
    return this.nodes.size;
  }

  get(path: string): TreeNode | undefined {
    return this.nodes.get(path);
  }

  /** Every path, sorted by bytes. */
  paths(): string[] {
    return [...this.nodes.keys()].sort(comparePaths);
  }

  /**
   * Adds or replaces an entry, creating missing parent directories (0755, root). A file node
   * already in the tree becomes one more name of that file (a hard link).
   */
  set(rawPath: string, node: TreeNode, context = "tree"): void {
    const path = normalizeTreePath(rawPath, context);
    if (path === "/") {
      if (node.kind !== "dir") throw new AssembleError(`${context}: the root must be a directory`);
      return;
    }
    this.ensureDirectory(parentOf(path), context);
    const existing = this.nodes.get(path);
    if (existing?.kind === "dir" && node.kind !== "dir") this.delete(path);
    this.nodes.set(path, node);
  }

  /**
   * Makes `path` a hard link to the file now at `target`: the file as it is, whatever later
   * happens to the name `target` (tar's meaning of a link entry).
   */
  link(rawPath: string, rawTarget: string, context = "tree"): void {
    const path = normalizeTreePath(rawPath, context);
    const target = normalizeTreePath(rawTarget, context);
    this.set(path, this.linkTarget(path, target, this.nodes.get(target), context), context);
  }

  private linkTarget(
    path: string,
    target: string,
    node: TreeNode | undefined,
    context: string,
  ): FileNode {
    if (path === target) throw new AssembleError(`${context}: hard link ${path} points at itself`);
    if (node?.kind !== "file")
      throw new AssembleError(
        `${context}: hard link ${path} points at ${target}, which is not a file in the tree`,
      );
    return node;
  }

  private ensureDirectory(path: string, context: string): void {
    if (path === "/") return;
    const existing = this.nodes.get(path);
    if (existing?.kind === "dir") return;
    if (existing !== undefined) {
      throw new AssembleError(
        `${context}: cannot add below ${path}: it is a ${existing.kind}, not a directory`,
      );
    }
    this.ensureDirectory(parentOf(path), context);
    this.nodes.set(path, { kind: "dir", mode: 0o755, ...ROOT_OWNER });
  }

  /** Removes a path and everything below it (but what `keep` accepts). */
  delete(path: string, keep: (path: string) => boolean = () => false): void {
    const prefix = `${path}/`;
    for (const key of [...this.nodes.keys()]) {
      if ((key === path || key.startsWith(prefix)) && !keep(key)) this.nodes.delete(key);
    }
  }

  /** Removes everything below a directory, keeping the directory (and what `keep` accepts). */
  deleteBelow(path: string, keep: (path: string) => boolean = () => false): void {
    const prefix = path === "/" ? "/" : `${path}/`;
    for (const key of [...this.nodes.keys()]) {
      if (key !== path && key.startsWith(prefix) && !keep(key)) this.nodes.delete(key);
    }
  }

  /** Keeps only the paths `keep` accepts and the directories above them. */
  retain(keep: (path: string) => boolean): void {
    const kept = new Set<string>();
    for (const path of this.nodes.keys()) {
      if (!keep(path)) continue;
      for (let p = path; p !== "/"; p = parentOf(p)) kept.add(p);
    }
    for (const path of [...this.nodes.keys()]) if (!kept.has(path)) this.nodes.delete(path);
  }

  /** A copy (nodes are immutable and shared, so hard links stay hard links). */
  clone(): FileTree {
    const out = new FileTree(this.spill);
    for (const [path, node] of this.nodes) out.nodes.set(path, node);
    return out;
  }

  /**
   * Adds every entry of `other` below `prefix` (`/` merges it into this tree, later entries
   * winning). Its files are new files here, hard-linked among themselves as they were in `other`,
   * so grafting one image twice does not link the two copies.
   */
  graft(prefix: string, other: FileTree, context: string): void {
    const base = prefix === "/" ? "" : prefix;
    const copies = new Map<FileNode, FileNode>();
    for (const path of other.paths()) {
      const node = other.get(path)!;
      if (node.kind !== "file") {
        this.set(`${base}${path}`, node, context);
        continue;
      }
      let copy = copies.get(node);
      if (copy === undefined) copies.set(node, (copy = { ...node }));
      this.set(`${base}${path}`, copy, context);
    }
    if (prefix !== "/" && this.get(prefix) === undefined)
      this.set(prefix, { kind: "dir", mode: 0o755, ...ROOT_OWNER }, context);
  }

  /** The entries below `path`, with paths relative to it. */
  subtree(path: string): FileTree {
    const out = new FileTree(this.spill);
    const prefix = path === "/" ? "/" : `${path}/`;
    for (const key of this.paths()) {
      if (key.startsWith(prefix))
        out.nodes.set(`/${key.slice(prefix.length)}`, this.nodes.get(key)!);
    }
    return out;
  }

  /**
   * Adds the entries of a tar archive: a Debian package's data (those `include` accepts), or an
   * image layer with `whiteouts` (`.wh.NAME` removes NAME, `.wh..wh..opq` empties its directory,
   * both only of what earlier layers put there). Problems name the entry. A hard link `include`
   * accepts keeps its file even when `include` leaves out the name the archive gave it first.
   */
  async addTar(
    entries: AsyncIterable<TarEntry>,
    context: string,
    options: { readonly include?: (path: string) => boolean; readonly whiteouts?: boolean } = {},
  ): Promise<void> {
    const include = options.include ?? (() => true);
    const fromThisArchive = new Set<string>();
    const leftOut = new Map<string, FileNode>();
    const fileAt = (target: string) => leftOut.get(target) ?? this.nodes.get(target);
    for await (const entry of entries) {
      const h = entry.header;
      const where = `${context}: entry "${h.path}"`;
      const path = normalizeTreePath(h.path, where);
      if (path === "/") continue;
      if (!include(path)) {
        const node = await nodeOf(entry, where, this.spill);
        const file = node?.kind === "hardlink" ? fileAt(node.target) : node;
        if (file?.kind === "file")
          leftOut.set(path, file === node ? { ...file, uid: h.uid, gid: h.gid } : file);
        continue;
      }
      const name = path.slice(path.lastIndexOf("/") + 1);
      if (options.whiteouts === true && name.startsWith(WHITEOUT)) {
        const dir = parentOf(path);
        const keep = (p: string) => fromThisArchive.has(p);
        if (name === OPAQUE) this.deleteBelow(dir, keep);
        else
          this.delete(
            dir === "/"
              ? `/${name.slice(WHITEOUT.length)}`
              : `${dir}/${name.slice(WHITEOUT.length)}`,
            keep,
          );
        continue;
      }
      const node = await nodeOf(entry, where, this.spill);
      if (node === undefined) continue;
      this.set(
        path,
        node.kind === "hardlink"
          ? this.linkTarget(path, node.target, fileAt(node.target), where)
          : { ...node, uid: h.uid, gid: h.gid },
        where,
      );
      fromThisArchive.add(path);
    }
  }

  /**
   * Adds a directory or file of the build host at `to`. Modes do not depend on the checkout's
   * umask: 0755 for directories and executable files, 0644 for the rest, unless `mode` is given
   * for files. Owners are root.
   */
  async addHostPath(
    source: string,
    to: string,
    options: { readonly mode?: number; readonly context: string },
  ): Promise<void> {
    const info = await lstat(source).catch(() => {
      throw new AssembleError(`${options.context}: ${source} does not exist`);
    });
    if (info.isDirectory()) {
      this.set(to, { kind: "dir", mode: 0o755, ...ROOT_OWNER }, options.context);
      for (const name of (await readdir(source)).sort(comparePaths)) {
        await this.addHostPath(join(source, name), `${to}/${name}`, options);
      }
    } else if (info.isSymbolicLink()) {
      this.set(
        to,
        { kind: "symlink", target: await readlink(source), ...ROOT_OWNER },
        options.context,
      );
    } else if (info.isFile()) {
      const mode = options.mode ?? ((info.mode & 0o111) !== 0 ? 0o755 : 0o644);
      this.set(
        to,
        { kind: "file", mode, data: FileData.of(await readFile(source)), ...ROOT_OWNER },
        options.context,
      );
    } else {
      throw new AssembleError(
        `${options.context}: ${source} is neither a file, a directory nor a symlink`,
      );
    }
  }

  /**
   * Writes the tree into an empty directory for build steps. Modes are set exactly (whatever the
   * umask); owners are not (no root needed); device nodes are left out and kept in the tree.
   */
  async materialize(dir: string): Promise<void> {
    const paths = this.paths();
    const holders = this.hardlinkHolders();
    for (const path of paths) {
      const node = this.nodes.get(path)!;
      const target = join(dir, path);
      const holder = holders.get(path);
      if (node.kind === "dir") await mkdir(target, { recursive: true });
      else if (node.kind === "file" && holder !== undefined && holder !== path)
        await link(join(dir, holder), target);
      else if (node.kind === "file") {
        await writeFile(target, node.data.read());
        await chmod(target, node.mode);
      } else if (node.kind === "symlink") await symlink(node.target, target);
    }
    for (const path of [...paths].reverse()) {
      const node = this.nodes.get(path)!;
      if (node.kind === "dir") await chmod(join(dir, path), node.mode);
    }
  }

  /**
   * Reads a materialized tree back after build steps. Owners and device nodes come from
   * `previous` for paths it had; new paths are owned by root. Files sharing an inode become hard
   * links (their owner is the first path's).
   */
  static async fromDirectory(dir: string, previous: FileTree): Promise<FileTree> {
    const tree = new FileTree();
    const inodes = new Map<number, FileNode>();
    const walk = async (path: string): Promise<void> => {
      for (const name of (await readdir(join(dir, path))).sort(comparePaths)) {
        const child = path === "/" ? `/${name}` : `${path}/${name}`;
        const host = join(dir, child);
        const info = await lstat(host);
        const owner = previous.ownerOf(child) ?? ROOT_OWNER;
        if (info.isDirectory()) {
          tree.nodes.set(child, { kind: "dir", mode: info.mode & 0o7777, ...owner });
          await walk(child);
        } else if (info.isSymbolicLink()) {
          tree.nodes.set(child, { kind: "symlink", target: await readlink(host), ...owner });
        } else if (info.isFile()) {
          let file = info.nlink > 1 ? inodes.get(info.ino) : undefined;
          if (file === undefined) {
            file = {
              kind: "file",
              mode: info.mode & 0o7777,
              data: FileData.of(await readFile(host)),
              ...owner,
            };
            if (info.nlink > 1) inodes.set(info.ino, file);
          }
          tree.nodes.set(child, file);
        } else {
          throw new AssembleError(
            `a build step left ${child}, which is not a file, directory or symlink; create device nodes in build.yml instead`,
          );
        }
      }
    };
    await walk("/");
    for (const path of previous.paths()) {
      const node = previous.get(path)!;
      if (
        node.kind === "device" &&
        !tree.nodes.has(path) &&
        tree.nodes.get(parentOf(path))?.kind === "dir"
      )
        tree.nodes.set(path, node);
    }
    return tree;
  }

  /**
   * Writes the tree as tar entries in byte order of their paths, every entry with the same mtime,
   * no user or group names, and each group of hard links written as one file (the first path)
   * and links to it.
   */
  async writeTar(writer: TarWriter, mtime: number): Promise<void> {
    const holder = this.hardlinkHolders();
    for (const path of this.paths()) {
      const node = this.nodes.get(path)!;
      const name = path.slice(1);
      const base: Pick<TarHeader, "mtime"> = { mtime };
      switch (node.kind) {
        case "dir":
          await writer.add({
            ...base,
            path: `${name}/`,
            type: TarType.Directory,
            mode: node.mode,
            uid: node.uid,
            gid: node.gid,
          });
          break;
        case "symlink":
          await writer.add({
            ...base,
            path: name,
            type: TarType.Symlink,
            mode: 0o777,
            linkname: node.target,
            uid: node.uid,
            gid: node.gid,
          });
          break;
        case "device":
          await writer.add({
            ...base,
            path: name,
            type:
              node.type === "char"
                ? TarType.CharDevice
                : node.type === "block"
                  ? TarType.BlockDevice
                  : TarType.Fifo,
            mode: node.mode,
            uid: node.uid,
            gid: node.gid,
            devmajor: node.major,
            devminor: node.minor,
          });
          break;
        case "file": {
          const first = holder.get(path);
          if (first !== undefined && first !== path) {
            await writer.add({
              ...base,
              path: name,
              type: TarType.HardLink,
              linkname: first.slice(1),
              mode: node.mode,
              uid: node.uid,
              gid: node.gid,
            });
          } else {
            await writer.add(
              {
                ...base,
                path: name,
                type: TarType.File,
                mode: node.mode,
                uid: node.uid,
                gid: node.gid,
                size: node.data.size,
              },
              node.data.stream(),
            );
          }
          break;
        }
        default: {
          const never: never = node;
          throw new Error(`unknown node ${String(never)}`);
        }
      }
    }
  }

  /** The owner of a path, or undefined when the tree has no such path. */
  ownerOf(path: string): Owner | undefined {
    const node = this.nodes.get(path);
    return node === undefined ? undefined : { uid: node.uid, gid: node.gid };
  }

  /** For every path of a file with more than one name: its first name in byte order (which holds the data). */
  hardlinkHolders(): Map<string, string> {
    const names = new Map<FileNode, string[]>();
    for (const path of this.paths()) {
      const node = this.nodes.get(path)!;
      if (node.kind !== "file") continue;
      const paths = names.get(node);
      if (paths === undefined) names.set(node, [path]);
      else paths.push(path);
    }
    const holder = new Map<string, string>();
    for (const paths of names.values()) {
      if (paths.length > 1) for (const path of paths) holder.set(path, paths[0]!);
    }
    return holder;
  }
}
