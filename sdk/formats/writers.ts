/**
 * Output formats: an assembled tree → files, named as LinuxKit names them. Every writer is
 * deterministic: the same tree gives the same bytes (compressed bytes also depend on the zlib in
 * Node, so each output also records the digest of its uncompressed content).
 */
import { createHash, randomBytes } from "node:crypto";
import { open, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { FileTree } from "../assemble/tree";
import { FormatError } from "../errors";
import { writeCpio } from "./cpio/writer";
import { createDeterministicGzip } from "./gzip";
import { TarType } from "./tar/header";
import { TarWriter, type Sink } from "./tar/writer";

export const FORMATS = ["kernel+initrd", "tar", "tar-kernel-initrd"] as const;
export type Format = (typeof FORMATS)[number];

/** A file a format wrote. */
export interface OutputFile {
  readonly name: string;
  readonly size: number;
  /** sha256 of the file's bytes. */
  readonly sha256: string;
  /** sha256 of the uncompressed content, for compressed files: the identity that does not depend on zlib. */
  readonly contentSha256?: string;
}

export interface WriteContext {
  readonly dir: string;
  readonly name: string;
  /** Timestamp of every entry, seconds. */
  readonly mtime: number;
  /** gzip level of compressed outputs. @default 6 */
  readonly gzipLevel?: number;
}

export interface FormatWriter {
  /** The files it writes for a system named `name`. */
  files(name: string): readonly string[];
  write(tree: FileTree, ctx: WriteContext): Promise<OutputFile[]>;
}

/** Writes a file through a temporary name (renamed into place only once complete), hashing it. */
async function writeFile(
  dir: string,
  name: string,
  produce: (sink: Sink) => Promise<void>,
  options: { readonly gzipLevel?: number; readonly prefix?: Uint8Array } = {},
): Promise<OutputFile> {
  const target = join(dir, name);
  const temp = join(dir, `.${name}.${randomBytes(4).toString("hex")}.tmp`);
  const handle = await open(temp, "w");
  const fileHash = createHash("sha256");
  const contentHash = createHash("sha256");
  let size = 0;
  const toFile = async (chunk: Buffer) => {
    fileHash.update(chunk);
    size += chunk.length;
    await handle.write(chunk);
  };
  try {
    if (options.prefix !== undefined) await toFile(Buffer.from(options.prefix));
    if (options.gzipLevel === undefined) {
      await produce(async (chunk) => {
        contentHash.update(chunk);
        await toFile(chunk);
      });
    } else {
      const gzip = createDeterministicGzip(options.gzipLevel);
      const drained = (async () => {
        for await (const chunk of gzip) await toFile(chunk as Buffer);
      })();
      await produce(async (chunk) => {
        contentHash.update(chunk);
        if (!gzip.write(chunk)) await new Promise((r) => gzip.once("drain", r));
      });
      gzip.end();
      await drained;
    }
    await handle.sync();
    await handle.close();
    await rename(temp, target);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temp, { force: true });
    throw error;
  }
  return {
    name,
    size,
    sha256: `sha256:${fileHash.digest("hex")}`,
    ...(options.gzipLevel !== undefined && {
      contentSha256: `sha256:${contentHash.digest("hex")}`,
    }),
  };
}

function bootFile(tree: FileTree, name: string): Buffer {
  const node = tree.get(`/boot/${name}`);
  if (node?.kind !== "file")
    throw new FormatError(
      `the system has no /boot/${name}: a bootable format needs a kernel in the definition`,
    );
  return node.data;
}

/** The initrd: everything but /boot as a gzip'd newc cpio, microcode (when present) before it, uncompressed. */
async function writeInitrd(tree: FileTree, ctx: WriteContext, name: string): Promise<OutputFile> {
  const ucode = tree.get("/boot/ucode.cpio");
  return writeFile(
    ctx.dir,
    name,
    (sink) => writeCpio(tree, sink, { exclude: ["/boot"], mtime: ctx.mtime }),
    {
      gzipLevel: ctx.gzipLevel ?? 6,
      ...(ucode?.kind === "file" && { prefix: ucode.data }),
    },
  );
}

async function writeTarOf(
  sink: Sink,
  entries: readonly (readonly [string, Buffer])[],
  mtime: number,
): Promise<void> {
  const writer = new TarWriter(sink);
  for (const [path, data] of entries)
    await writer.add({ path, type: TarType.File, mode: 0o644, mtime, size: data.length }, data);
  await writer.finish();
}

export const WRITERS: { readonly [F in Format]: FormatWriter } = {
  "kernel+initrd": {
    files: (name) => [`${name}-kernel`, `${name}-initrd.img`, `${name}-cmdline`],
    async write(tree, ctx) {
      const kernel = await writeFile(ctx.dir, `${ctx.name}-kernel`, async (sink) =>
        sink(bootFile(tree, "kernel")),
      );
      const initrd = await writeInitrd(tree, ctx, `${ctx.name}-initrd.img`);
      const cmdline = await writeFile(ctx.dir, `${ctx.name}-cmdline`, async (sink) =>
        sink(bootFile(tree, "cmdline")),
      );
      return [kernel, initrd, cmdline];
    },
  },
  tar: {
    files: (name) => [`${name}.tar`],
    async write(tree, ctx) {
      return [
        await writeFile(ctx.dir, `${ctx.name}.tar`, async (sink) => {
          const writer = new TarWriter(sink);
          await tree.writeTar(writer, ctx.mtime);
          await writer.finish();
        }),
      ];
    },
  },
  "tar-kernel-initrd": {
    files: (name) => [`${name}-initrd.tar`],
    async write(tree, ctx) {
      const dir = ctx.dir;
      const initrd = await writeInitrd(tree, ctx, `.${ctx.name}-initrd.img.part`);
      const initrdBytes = await readFile(join(dir, initrd.name));
      await rm(join(dir, initrd.name), { force: true });
      const ucode = tree.get("/boot/ucode.cpio");
      const entries: [string, Buffer][] = [
        ["kernel", bootFile(tree, "kernel")],
        ["initrd.img", initrdBytes],
        ["cmdline", bootFile(tree, "cmdline")],
        ...(ucode?.kind === "file" ? ([["ucode.cpio", ucode.data]] as [string, Buffer][]) : []),
      ];
      return [
        await writeFile(dir, `${ctx.name}-initrd.tar`, (sink) =>
          writeTarOf(sink, entries, ctx.mtime),
        ),
      ];
    },
  },
};
