/**
 * What the bootable formats take from an assembled tree: the kernel and command line under
 * /boot, and the initrd (everything else as a gzip'd newc cpio, microcode first when present) —
 * streamed to a file, or held once in memory for the formats that embed it (the UKI and disks).
 */
import type { FileTree } from "../assemble/tree";
import { FormatError } from "../errors";
import { writeCpio } from "./cpio/writer";
import { createDeterministicGzip } from "./gzip";
import type { OutputFile, OutputFiles } from "./output";

export interface BootContext {
  /** Timestamp of every entry, seconds. */
  readonly mtime: number;
  /** gzip level of compressed outputs. @default 6 */
  readonly gzipLevel?: number;
  /** Work shared by the formats of one build (the initrd, the UKI), by key. */
  readonly shared?: Map<string, Promise<unknown>>;
}

/** A file of /boot, or an error saying a bootable format needs a kernel. */
export function bootFile(tree: FileTree, name: string): Buffer {
  const node = tree.get(`/boot/${name}`);
  if (node?.kind !== "file")
    throw new FormatError(
      `the system has no /boot/${name}: a bootable format needs a kernel in the definition`,
    );
  return node.data.read();
}

/** The value under `key` in the build's shared work, made once. */
export function shared<T>(ctx: BootContext, key: string, make: () => Promise<T>): Promise<T> {
  if (ctx.shared === undefined) return make();
  let value = ctx.shared.get(key) as Promise<T> | undefined;
  if (value === undefined) ctx.shared.set(key, (value = make()));
  return value;
}

const microcode = (tree: FileTree) => {
  const ucode = tree.get("/boot/ucode.cpio");
  return ucode?.kind === "file" ? ucode.data.read() : undefined;
};

/** Writes the initrd as an output file. */
export function writeInitrd(
  out: OutputFiles,
  tree: FileTree,
  ctx: BootContext,
  name: string,
): Promise<OutputFile> {
  const ucode = microcode(tree);
  return out.write(
    name,
    (sink) => writeCpio(tree, sink, { exclude: ["/boot"], mtime: ctx.mtime }),
    { gzipLevel: ctx.gzipLevel ?? 6, ...(ucode !== undefined && { prefix: ucode }) },
  );
}

/** The initrd's bytes, made once per build. */
export function initrdBytes(tree: FileTree, ctx: BootContext): Promise<Buffer> {
  return shared(ctx, "initrd", async () => {
    const gzip = createDeterministicGzip({ level: ctx.gzipLevel ?? 6 });
    const chunks: Buffer[] = [];
    const ucode = microcode(tree);
    if (ucode !== undefined) chunks.push(ucode);
    const collected = (async () => {
      for await (const chunk of gzip) chunks.push(chunk as Buffer);
    })();
    const produced = (async () => {
      await writeCpio(
        tree,
        async (chunk) => {
          if (!gzip.write(chunk)) await new Promise((r) => gzip.once("drain", r));
        },
        { exclude: ["/boot"], mtime: ctx.mtime },
      );
      gzip.end();
    })();
    await Promise.all([produced, collected]);
    return Buffer.concat(chunks);
  });
}
