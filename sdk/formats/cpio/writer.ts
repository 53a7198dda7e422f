/**
 * Writes a file tree as a newc cpio archive, the way the kernel unpacks an initramfs: entries in
 * path order (directories before what they hold), inode numbers counted from 1, one mtime, and
 * each group of hard links written as the file (with its data) followed by links to it — the
 * kernel makes a link of every later entry with the same inode.
 */
import { FileData } from "../../assemble/file-data";
import type { FileTree, TreeNode } from "../../assemble/tree";
import type { Sink } from "../tar/writer";
import { encodeNewcHeader, FileType, pad4, TRAILER_NAME } from "./newc";

const EMPTY = FileData.of(Buffer.alloc(0));

export interface CpioOptions {
  /** Leave out these top-level paths (and what is below them), e.g. `/boot`. */
  readonly exclude?: readonly string[];
  readonly mtime: number;
}

function typeBits(node: TreeNode): number {
  switch (node.kind) {
    case "file":
      return FileType.File;
    case "dir":
      return FileType.Directory;
    case "symlink":
      return FileType.Symlink;
    case "device":
      return node.type === "char"
        ? FileType.Char
        : node.type === "block"
          ? FileType.Block
          : FileType.Fifo;
    default: {
      const never: never = node;
      throw new Error(`unknown node ${String(never)}`);
    }
  }
}

/** Writes the tree (but `exclude`) and the trailer. */
export async function writeCpio(tree: FileTree, sink: Sink, options: CpioOptions): Promise<void> {
  const excluded = (path: string) =>
    (options.exclude ?? []).some((e) => path === e || path.startsWith(`${e}/`));
  const paths = tree.paths().filter((p) => !excluded(p));
  const holders = tree.hardlinkHolders();
  const groups = new Map<string, string[]>();
  for (const path of paths) {
    const holder = holders.get(path);
    if (holder !== undefined) groups.set(holder, [...(groups.get(holder) ?? []), path]);
  }
  const inodes = new Map<string, number>();
  const written = new Set<string>();
  let next = 1;
  for (const path of paths) {
    const holder = holders.get(path) ?? path;
    let ino = inodes.get(holder);
    if (ino === undefined) inodes.set(holder, (ino = next++));
    const node = tree.get(path)!;
    const links = groups.get(holder)?.length ?? 1;
    const first = !written.has(holder);
    written.add(holder);
    const data =
      node.kind === "file"
        ? first
          ? node.data
          : EMPTY
        : node.kind === "symlink"
          ? FileData.of(node.target)
          : EMPTY;
    await sink(
      encodeNewcHeader({
        ino,
        mode: typeBits(node) | ((node.kind === "symlink" ? 0o777 : node.mode) & 0o7777),
        uid: node.uid,
        gid: node.gid,
        nlink: node.kind === "dir" ? 2 : links,
        mtime: options.mtime,
        filesize: data.size,
        devmajor: 0,
        devminor: 0,
        rdevmajor: node.kind === "device" ? node.major : 0,
        rdevminor: node.kind === "device" ? node.minor : 0,
        name: path.slice(1),
      }),
    );
    if (data.size > 0) {
      for (const chunk of data.chunks()) await sink(chunk);
      const padding = pad4(data.size);
      if (padding > 0) await sink(Buffer.alloc(padding));
    }
  }
  await sink(
    encodeNewcHeader({
      ino: 0,
      mode: 0,
      uid: 0,
      gid: 0,
      nlink: 1,
      mtime: 0,
      filesize: 0,
      devmajor: 0,
      devminor: 0,
      rdevmajor: 0,
      rdevminor: 0,
      name: TRAILER_NAME,
    }),
  );
}
