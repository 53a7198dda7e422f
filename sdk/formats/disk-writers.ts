/**
 * The UEFI formats: the UKI (systemd's EFI stub with the kernel, initrd, command line and
 * os-release), and the disks that carry it as EFI/BOOT/BOOTX64.EFI — raw (`raw-efi`), qcow2, a
 * fixed VHD for Azure, a GCE image tarball and a raw disk for AWS. Each disk is laid out for its
 * final size (whole MiB for Azure, whole GiB for GCE and AWS), written sparse, and reports which
 * sectors hold data.
 */
import { createHash } from "node:crypto";
import type { FileTree } from "../assemble/tree";
import { FormatError } from "../errors";
import { bootFile, initrdBytes, shared, type BootContext } from "./boot-files";
import { buildEfiDisk, GiB, minimalDiskSize, MiB } from "./disk/efi-disk";
import { derivedGuid } from "./disk/guid";
import { writeQcow2 } from "./disk/qcow2";
import type { SparseDisk } from "./disk/sparse-disk";
import { vhdFooter } from "./disk/vhd";
import { buildUki, osRelease } from "./efi/uki";
import { writeOutputs, type OpenFile, type OutputFile } from "./output";
import { writeSparseArchive } from "./tar/gnu-sparse";

export const DISK_FORMATS = ["uki", "raw-efi", "qcow2", "vhd", "gce", "aws"] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];

export interface DiskContext extends BootContext {
  readonly dir: string;
  readonly name: string;
  readonly openFile?: OpenFile;
  /** systemd's EFI stub, from the boot package. */
  readonly efiStub?: Buffer;
  /** The system's manifest digest, for the UKI's os-release. */
  readonly manifestDigest?: string;
  /** The disk size asked for (`--size`), else the smallest that fits plus a margin. */
  readonly diskSize?: number;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** The system's UKI, made once per build. */
export function uki(tree: FileTree, ctx: DiskContext): Promise<Buffer> {
  return shared(ctx, "uki", async () => {
    if (ctx.efiStub === undefined)
      throw new FormatError("the UEFI formats need systemd's EFI stub (the boot package)");
    const parts = buildUki({
      stub: ctx.efiStub,
      kernel: bootFile(tree, "kernel"),
      initrd: await initrdBytes(tree, ctx),
      cmdline: bootFile(tree, "cmdline").toString("utf8"),
      osRelease: osRelease(ctx.name, ctx.manifestDigest ?? ""),
    });
    return Buffer.concat(parts);
  });
}

/** The disk for a size rule (the size asked for, or the minimal one, rounded up to `unit`, at least `least`). */
async function disk(
  tree: FileTree,
  ctx: DiskContext,
  unit: number,
  least = 0,
): Promise<SparseDisk> {
  const image = await uki(tree, ctx);
  const minimal = minimalDiskSize(image.length);
  if (ctx.diskSize !== undefined && ctx.diskSize < minimal)
    throw new FormatError(
      `--size ${ctx.diskSize >> 20} MiB is too small: the UKI needs a disk of at least ${minimal >> 20} MiB`,
    );
  const size = Math.max(least, alignUp(ctx.diskSize ?? minimal, unit));
  return shared(ctx, `disk-${size}`, () =>
    Promise.resolve(buildEfiDisk(image, size, ctx.mtime).disk),
  );
}

interface DiskWriter {
  files(name: string): readonly string[];
  write(tree: FileTree, ctx: DiskContext): Promise<OutputFile[]>;
}

export const DISK_WRITERS: { readonly [F in DiskFormat]: DiskWriter } = {
  uki: {
    files: (name) => [`${name}.efi`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => {
        const image = await uki(tree, ctx);
        return [await out.write(`${ctx.name}.efi`, async (sink) => sink(image))];
      }),
  },
  "raw-efi": {
    files: (name) => [`${name}-efi.img`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => [
        await out.writeDisk(`${ctx.name}-efi.img`, await disk(tree, ctx, MiB)),
      ]),
  },
  qcow2: {
    files: (name) => [`${name}.qcow2`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => {
        const d = await disk(tree, ctx, MiB);
        const file = await out.write(`${ctx.name}.qcow2`, (sink) => writeQcow2(d, sink));
        return [{ ...file, allocation: d.allocation(), diskSize: d.size }];
      }),
  },
  vhd: {
    files: (name) => [`${name}.vhd`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => {
        const d = await disk(tree, ctx, MiB);
        const seed = await shared(ctx, "uki-sha256", async () =>
          createHash("sha256")
            .update(await uki(tree, ctx))
            .digest("hex"),
        );
        const footer = vhdFooter(d.size, derivedGuid(seed, "vhd", String(d.size)), ctx.mtime);
        return [await out.writeDisk(`${ctx.name}.vhd`, d, footer)];
      }),
  },
  gce: {
    files: (name) => [`${name}.img.tar.gz`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => {
        const d = await disk(tree, ctx, GiB);
        const file = await out.write(
          `${ctx.name}.img.tar.gz`,
          (sink) =>
            writeSparseArchive(
              {
                name: "disk.raw",
                size: d.size,
                mtime: ctx.mtime,
                regions: d.allocation(),
                read: (offset, length) => d.read(offset, length),
              },
              sink,
            ),
          { gzipLevel: ctx.gzipLevel ?? 6 },
        );
        return [{ ...file, allocation: d.allocation(), diskSize: d.size }];
      }),
  },
  aws: {
    files: (name) => [`${name}.raw`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => [
        await out.writeDisk(`${ctx.name}.raw`, await disk(tree, ctx, GiB, GiB)),
      ]),
  },
};
