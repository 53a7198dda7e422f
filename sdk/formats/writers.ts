/**
 * Output formats: an assembled tree → files, named as LinuxKit names them (the UEFI formats are
 * in disk-writers.ts, the BIOS disks in bios-writers.ts). Every writer is
 * deterministic: the same tree gives the same bytes (compressed bytes also depend on the zlib in
 * Node, so each output also records the digest of its uncompressed content).
 */
import { readFile } from "node:fs/promises";
import type { FileTree } from "../assemble/tree";
import { BIOS_FORMATS, BIOS_WRITERS, type BiosContext } from "./bios-writers";
import { bootFile, writeInitrd } from "./boot-files";
import { DISK_FORMATS, DISK_WRITERS } from "./disk-writers";
import { ISO_FORMATS, ISO_WRITERS, type IsoContext } from "./iso-writers";
import { writeOutputs, type OpenFile, type OutputFile } from "./output";
import { TarType } from "./tar/header";
import { TarWriter, type Sink } from "./tar/writer";

export type { OutputFile } from "./output";

export const FORMATS = [
  "kernel+initrd",
  "tar",
  "tar-kernel-initrd",
  ...DISK_FORMATS,
  ...BIOS_FORMATS,
  ...ISO_FORMATS,
] as const;
export type Format = (typeof FORMATS)[number];

export interface WriteContext extends BiosContext, IsoContext {
  /** Opens each file for writing (tests hand in streams that fail). @default a file stream, flushed to disk before it closes */
  readonly openFile?: OpenFile;
}

export interface FormatWriter {
  /** The files it writes for a system named `name`. */
  files(name: string): readonly string[];
  /** Writes them all, or (on failure) none: they are renamed into place together. */
  write(tree: FileTree, ctx: WriteContext): Promise<OutputFile[]>;
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
  ...DISK_WRITERS,
  ...BIOS_WRITERS,
  ...ISO_WRITERS,
  "kernel+initrd": {
    files: (name) => [`${name}-kernel`, `${name}-initrd.img`, `${name}-cmdline`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => [
        await out.write(`${ctx.name}-kernel`, async (sink) => sink(bootFile(tree, "kernel"))),
        await writeInitrd(out, tree, ctx, `${ctx.name}-initrd.img`),
        await out.write(`${ctx.name}-cmdline`, async (sink) => sink(bootFile(tree, "cmdline"))),
      ]),
  },
  tar: {
    files: (name) => [`${name}.tar`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => [
        await out.write(`${ctx.name}.tar`, async (sink) => {
          const writer = new TarWriter(sink);
          await tree.writeTar(writer, ctx.mtime);
          await writer.finish();
        }),
      ]),
  },
  "tar-kernel-initrd": {
    files: (name) => [`${name}-initrd.tar`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => {
        const initrd = await writeInitrd(out, tree, ctx, `${ctx.name}-initrd.img`);
        const initrdBytes = await readFile(out.pathOf(initrd.name));
        await out.discard(initrd.name);
        const ucode = tree.get("/boot/ucode.cpio");
        const entries: [string, Buffer][] = [
          ["kernel", bootFile(tree, "kernel")],
          ["initrd.img", initrdBytes],
          ["cmdline", bootFile(tree, "cmdline")],
          ...(ucode?.kind === "file"
            ? ([["ucode.cpio", ucode.data.read()]] as [string, Buffer][])
            : []),
        ];
        return [
          await out.write(`${ctx.name}-initrd.tar`, (sink) => writeTarOf(sink, entries, ctx.mtime)),
        ];
      }),
  },
};
