/**
 * The BIOS disks: `raw-bios` (MBR, GRUB, one FAT partition with the kernel, initrd and a
 * grub.cfg holding the command line) and `raw-hybrid` (one GPT disk that a BIOS boots through
 * GRUB and UEFI firmware through the UKI). GRUB's images come from the boot package; the writers
 * only place and patch them. Disks are the smallest whole number of MiB that fits, or the size
 * asked for, written sparse with their allocation map.
 */
import type { FileTree } from "../assemble/tree";
import { FormatError } from "../errors";
import { bootFile, initrdBytes } from "./boot-files";
import {
  buildBiosDisk,
  buildHybridDisk,
  minimalBiosDiskSize,
  minimalHybridDiskSize,
  type BiosSystem,
  type GrubImages,
} from "./disk/bios-disk";
import { MiB } from "./disk/efi-disk";
import { uki, type DiskContext } from "./disk-writers";
import { writeOutputs, type OutputFile } from "./output";

export const BIOS_FORMATS = ["raw-bios", "raw-hybrid"] as const;
export type BiosFormat = (typeof BIOS_FORMATS)[number];

/** Where the boot package keeps GRUB's MBR code and the disk's GRUB. */
export const GRUB_BOOT_IMG_PATH = "/boot/grub/i386-pc/boot.img";
export const GRUB_CORE_IMG_PATH = "/boot/grub/i386-pc/core.img";

export interface BiosContext extends DiskContext {
  /** GRUB's boot.img and core.img, from the boot package. */
  readonly grub?: GrubImages;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

function grubOf(ctx: BiosContext, format: BiosFormat): GrubImages {
  if (ctx.grub === undefined)
    throw new FormatError(
      `${format} needs GRUB's boot.img and core.img from the boot package (${GRUB_BOOT_IMG_PATH}, ${GRUB_CORE_IMG_PATH}): build it with \`make pkgs\` or \`oskit pkg build pkg/boot\``,
    );
  return ctx.grub;
}

async function biosSystem(tree: FileTree, ctx: BiosContext): Promise<BiosSystem> {
  return {
    kernel: bootFile(tree, "kernel"),
    initrd: await initrdBytes(tree, ctx),
    cmdline: bootFile(tree, "cmdline").toString("utf8"),
  };
}

/** The disk's size: the one asked for (refused when below the minimal one), else the minimal, whole MiB. */
function sizeFor(ctx: BiosContext, minimal: number, format: BiosFormat): number {
  if (ctx.diskSize !== undefined && ctx.diskSize < minimal)
    throw new FormatError(
      `--size ${ctx.diskSize >> 20} MiB is too small: ${format} needs a disk of at least ${minimal / MiB} MiB`,
    );
  return alignUp(ctx.diskSize ?? minimal, MiB);
}

interface BiosWriter {
  files(name: string): readonly string[];
  write(tree: FileTree, ctx: BiosContext): Promise<OutputFile[]>;
}

export const BIOS_WRITERS: { readonly [F in BiosFormat]: BiosWriter } = {
  "raw-bios": {
    files: (name) => [`${name}-bios.img`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => {
        const grub = grubOf(ctx, "raw-bios");
        const system = await biosSystem(tree, ctx);
        const size = sizeFor(ctx, minimalBiosDiskSize(system), "raw-bios");
        const { disk } = buildBiosDisk(grub, system, size, ctx.mtime);
        return [await out.writeDisk(`${ctx.name}-bios.img`, disk)];
      }),
  },
  "raw-hybrid": {
    files: (name) => [`${name}-hybrid.img`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => {
        const grub = grubOf(ctx, "raw-hybrid");
        const system = await biosSystem(tree, ctx);
        const image = await uki(tree, ctx);
        const size = sizeFor(ctx, minimalHybridDiskSize(image, system), "raw-hybrid");
        const { disk } = buildHybridDisk(grub, image, system, size, ctx.mtime);
        return [await out.writeDisk(`${ctx.name}-hybrid.img`, disk)];
      }),
  },
};
