/**
 * The ISO formats, written by oskit's own ISO 9660 writer:
 * - `iso-efi` (`NAME-efi.iso`): an El Torito EFI entry pointing at a FAT image holding the UKI as
 *   EFI/BOOT/BOOTX64.EFI, and a protective MBR and GPT naming that image as the EFI system
 *   partition, so the same file boots UEFI machines as a CD and as a disk.
 * - `iso-bios` (`NAME.iso`): an El Torito BIOS no-emulation entry pointing at GRUB's El Torito
 *   image (from the boot package, its boot info table filled in), which reads
 *   /boot/grub/grub.cfg, /boot/kernel and /boot/initrd.img from the CD — the paths and grub.cfg
 *   of the BIOS disks. GRUB's boot.img in the MBR loads the same image's GRUB (the diskboot.img
 *   after cdboot.img, its block list pointed at the rest) when the file is booted as a disk.
 */
import { createHash } from "node:crypto";
import type { FileTree } from "../assemble/tree";
import { FormatError } from "../errors";
import { bootFile, initrdBytes } from "./boot-files";
import { uki, type DiskContext } from "./disk-writers";
import { BIOS_PATHS, type GrubImages } from "./disk/bios-disk";
import { espSize } from "./disk/efi-disk";
import { writeGpt } from "./disk/gpt";
import { grubBootCode, grubConfig } from "./disk/grub";
import { derivedGuid, PartitionType } from "./disk/guid";
import { encodeMbr } from "./disk/mbr";
import { SECTOR, type SparseDisk } from "./disk/sparse-disk";
import { buildFat } from "./fat/fat";
import { CD_SECTOR, Platform, VIRTUAL_SECTOR } from "./iso/el-torito";
import { buildIso, isoFile, type IsoFile } from "./iso/iso9660";
import { writeOutputs, type OutputFile } from "./output";

export const ISO_FORMATS = ["iso-efi", "iso-bios"] as const;
export type IsoFormat = (typeof ISO_FORMATS)[number];

/** Where the boot package keeps GRUB's El Torito image (cdboot.img, then GRUB with ISO 9660). */
export const GRUB_ELTORITO_PATH = "/boot/grub/i386-pc/eltorito.img";
/** Where the boot package keeps GRUB's MBR code (the BIOS disks read it from there too). */
const GRUB_BOOT_IMG_PATH = "/boot/grub/i386-pc/boot.img";

export interface IsoContext extends DiskContext {
  /** GRUB's El Torito image, from the boot package (iso-bios). */
  readonly grubElTorito?: Buffer;
  /** GRUB's boot.img (and the disks' core.img), from the boot package: iso-bios's MBR. */
  readonly grub?: GrubImages;
}

/** The ESP image's path on the CD. */
const ESP_PATH = "boot/efi.img";
/** The protective MBR, the GPT header and 128 entries at the start; the backup at the end. */
const GPT_TAIL = 33 * SECTOR;
/** An El Torito entry's 16-bit count of 512-byte sectors describes at most this many bytes. */
const CATALOG_LIMIT = 0xffff * VIRTUAL_SECTOR;

/** A volume id from the system's name: uppercase d-characters, at most 32. */
export function volumeId(name: string): string {
  return (
    name
      .toUpperCase()
      .replace(/[^A-Z0-9_]/g, "_")
      .slice(0, 32) || "OSKIT"
  );
}

/**
 * The EFI system partition as a file of the CD: FAT (its type by cluster count) holding the UKI
 * as EFI/BOOT/BOOTX64.EFI, as large as the UKI plus 2 % and 1 MiB.
 */
function espFile(image: Buffer, seed: string, mtime: number): IsoFile {
  const size = espSize(image.length);
  const fat = buildFat([{ path: "EFI/BOOT/BOOTX64.EFI", data: image }], {
    sectors: size / SECTOR,
    hiddenSectors: 0,
    volumeId: parseInt(seed.slice(0, 8), 16),
    mtime,
  });
  return { path: ESP_PATH, size, regions: fat.regions };
}

/**
 * The CD's El Torito count for the ESP: its size in 512-byte sectors; beyond 16 bits, 0, which
 * EDK2 (OVMF and most UEFI firmware) reads as "to the end of the volume" — the ESP is the last
 * file, so that is the ESP and the backup GPT.
 */
export function espSectorCount(bytes: number): number {
  return bytes <= CATALOG_LIMIT ? bytes / VIRTUAL_SECTOR : 0;
}

/** iso-efi: the CD, and the GPT that makes it a disk whose ESP is the same bytes. */
export async function efiIso(tree: FileTree, ctx: IsoContext): Promise<SparseDisk> {
  const image = await uki(tree, ctx);
  const seed = createHash("sha256").update(image).digest("hex");
  const esp = espFile(image, seed, ctx.mtime);
  const iso = buildIso({
    volumeId: volumeId(ctx.name),
    mtime: ctx.mtime,
    files: [esp],
    boot: [{ platform: Platform.Efi, path: ESP_PATH, sectorCount: espSectorCount(esp.size) }],
    tail: GPT_TAIL,
  });
  const first = (iso.sectors.get(ESP_PATH)! * CD_SECTOR) / SECTOR;
  writeGpt(iso.disk, derivedGuid(seed, "iso-disk"), [
    {
      type: PartitionType.Esp,
      guid: derivedGuid(seed, "iso-esp"),
      first,
      last: first + esp.size / SECTOR - 1,
      name: "EFI System Partition",
    },
  ]);
  return iso.disk;
}

/**
 * iso-bios: GRUB's El Torito image, its grub.cfg, the kernel and the initrd; sector 0 is GRUB's
 * boot.img pointing at the image's diskboot.img, with one active MBR entry of type 0 from sector 0
 * over the whole file (as xorriso writes GRUB's hybrid MBR), so BIOS firmware boots it as a disk.
 */
export async function biosIso(tree: FileTree, ctx: IsoContext): Promise<SparseDisk> {
  if (ctx.grubElTorito === undefined || ctx.grub === undefined)
    throw new FormatError(
      `iso-bios needs GRUB's El Torito image and boot.img (${GRUB_ELTORITO_PATH}, ${GRUB_BOOT_IMG_PATH} in the boot package): build it with \`make pkgs\` or \`oskit pkg build pkg/boot\``,
    );
  const eltorito = GRUB_ELTORITO_PATH.slice(1);
  const { kernel, initrd, config } = BIOS_PATHS;
  const cmdline = bootFile(tree, "cmdline").toString("utf8").trim();
  const files = [
    isoFile(eltorito, ctx.grubElTorito),
    isoFile(config.slice(1), Buffer.from(grubConfig(cmdline, kernel, initrd))),
    isoFile(kernel.slice(1), bootFile(tree, "kernel")),
    isoFile(initrd.slice(1), await initrdBytes(tree, ctx)),
  ];
  const iso = buildIso({
    volumeId: volumeId(ctx.name),
    mtime: ctx.mtime,
    files,
    boot: [
      {
        platform: Platform.Bios,
        path: eltorito,
        sectorCount: CD_SECTOR / VIRTUAL_SECTOR,
        bootInfoTable: true,
        grub2BootInfo: true,
      },
    ],
  });
  const seed = createHash("sha256");
  for (const f of files) for (const r of f.regions) seed.update(r.data);
  const diskboot = (iso.sectors.get(eltorito)! * CD_SECTOR) / SECTOR + CD_SECTOR / SECTOR;
  iso.disk.write(
    0,
    encodeMbr({
      bootCode: grubBootCode(ctx.grub.bootImg, diskboot),
      diskSignature: seed.digest().readUInt32LE(0),
      partitions: [{ type: 0x00, first: 0, sectors: iso.disk.size / SECTOR, active: true }],
    }),
  );
  return iso.disk;
}

interface IsoWriter {
  files(name: string): readonly string[];
  write(tree: FileTree, ctx: IsoContext): Promise<OutputFile[]>;
}

export const ISO_WRITERS: { readonly [F in IsoFormat]: IsoWriter } = {
  "iso-efi": {
    files: (name) => [`${name}-efi.iso`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => [
        await out.writeDisk(`${ctx.name}-efi.iso`, await efiIso(tree, ctx)),
      ]),
  },
  "iso-bios": {
    files: (name) => [`${name}.iso`],
    write: (tree, ctx) =>
      writeOutputs(ctx.dir, ctx.openFile, async (out) => [
        await out.writeDisk(`${ctx.name}.iso`, await biosIso(tree, ctx)),
      ]),
  },
};
