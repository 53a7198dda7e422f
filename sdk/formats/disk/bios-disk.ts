/**
 * The disks a BIOS boots with GRUB from the boot package, which reads the kernel, the initrd and
 * a grub.cfg holding the command line from a FAT partition:
 *
 * - `raw-bios`: an MBR (GRUB's boot.img, a disk signature, one active FAT partition from 1 MiB),
 *   core.img in the sectors after the MBR (from sector 1; 1 MiB leaves room for 2047).
 * - `raw-hybrid`: a GPT whose protective MBR carries boot.img; a BIOS boot partition holding
 *   core.img in the sectors before 1 MiB (from sector 40, as far as 2047); the EFI system
 *   partition from 1 MiB holding the UKI as EFI/BOOT/BOOTX64.EFI for UEFI firmware and the
 *   kernel, initrd and grub.cfg for GRUB; the backup GPT at the disk's last sector.
 *
 * The partition is sized as the ESP of the UEFI disks (its files, 2 % and 1 MiB, whole MiB); the
 * disk signature, GUIDs and volume id are derived from the content.
 */
import { createHash } from "node:crypto";
import { FormatError } from "../../errors";
import { buildFat, type FatFile, type FatType } from "../fat/fat";
import { espSize, MiB } from "./efi-disk";
import { writeGpt } from "./gpt";
import { coreSectors, grubBootCode, grubConfig, grubCore } from "./grub";
import { derivedGuid, PartitionType } from "./guid";
import { encodeMbr, MbrType } from "./mbr";
import { SECTOR, SparseDisk } from "./sparse-disk";

/** GRUB's images from the boot package. */
export interface GrubImages {
  /** The MBR code (boot.img). */
  readonly bootImg: Buffer;
  /** The disk's GRUB (core.img, diskboot.img first). */
  readonly coreImg: Buffer;
}

/** What GRUB boots. */
export interface BiosSystem {
  readonly kernel: Buffer;
  readonly initrd: Buffer;
  readonly cmdline: string;
}

export interface BiosDisk {
  readonly disk: SparseDisk;
  readonly fatType: FatType;
}

/** Where the files GRUB reads are, on the partition (the embedded config searches for the config). */
export const BIOS_PATHS = {
  kernel: "/boot/kernel",
  initrd: "/boot/initrd.img",
  config: "/boot/grub/grub.cfg",
} as const;

/** The BIOS boot partition's first sector on the hybrid disk: after the GPT, 8-sector aligned. */
export const HYBRID_CORE_SECTOR = 40;
const FIRST_PARTITION = MiB / SECTOR;

function grubFiles(system: BiosSystem): FatFile[] {
  const config = grubConfig(system.cmdline, BIOS_PATHS.kernel, BIOS_PATHS.initrd);
  return [
    { path: BIOS_PATHS.config.slice(1), data: Buffer.from(config, "utf8") },
    { path: BIOS_PATHS.kernel.slice(1), data: system.kernel },
    { path: BIOS_PATHS.initrd.slice(1), data: system.initrd },
  ];
}

const bytesOf = (files: readonly FatFile[]) => files.reduce((n, f) => n + f.data.length, 0);

function seedOf(grub: GrubImages, files: readonly FatFile[]): string {
  const hash = createHash("sha256").update(grub.bootImg).update(grub.coreImg);
  for (const f of files) hash.update(`${f.path}\0${f.data.length}\0`).update(f.data);
  return hash.digest("hex");
}

function checkSize(size: number, minimal: number, format: string): void {
  if (size < minimal)
    throw new FormatError(
      `the ${format} disk needs at least ${minimal / MiB} MiB, not ${(size / MiB).toFixed(1)} MiB`,
    );
}

/** The smallest raw-bios disk: 1 MiB for the MBR and core.img, then the partition. */
export function minimalBiosDiskSize(system: BiosSystem): number {
  return MiB + espSize(bytesOf(grubFiles(system)));
}

/** The smallest raw-hybrid disk: 1 MiB for the GPT and core.img, the ESP, 1 MiB for the backup GPT. */
export function minimalHybridDiskSize(uki: Buffer, system: BiosSystem): number {
  return espSize(uki.length + bytesOf(grubFiles(system))) + 2 * MiB;
}

const mbrType = (type: FatType) =>
  type === 12 ? MbrType.Fat12 : type === 16 ? MbrType.Fat16Lba : MbrType.Fat32Lba;

/** The MBR disk GRUB boots, at `size` bytes. */
export function buildBiosDisk(
  grub: GrubImages,
  system: BiosSystem,
  size: number,
  mtime: number,
): BiosDisk {
  checkSize(size, minimalBiosDiskSize(system), "raw-bios");
  const files = grubFiles(system);
  const seed = seedOf(grub, files);
  const sectors = espSize(bytesOf(files)) / SECTOR;
  if (1 + coreSectors(grub.coreImg) > FIRST_PARTITION)
    throw new FormatError(`GRUB's core.img does not fit the ${MiB} bytes before the partition`);
  const disk = new SparseDisk(size);
  const fat = buildFat(files, {
    sectors,
    hiddenSectors: FIRST_PARTITION,
    volumeId: parseInt(seed.slice(0, 8), 16),
    mtime,
  });
  disk.write(
    0,
    encodeMbr({
      bootCode: grubBootCode(grub.bootImg, 1),
      diskSignature: parseInt(seed.slice(8, 16), 16),
      partitions: [{ type: mbrType(fat.type), first: FIRST_PARTITION, sectors, active: true }],
    }),
  );
  disk.write(SECTOR, grubCore(grub.coreImg, 1));
  for (const region of fat.regions) disk.write(MiB + region.offset, region.data);
  return { disk, fatType: fat.type };
}

/** The GPT disk that UEFI firmware boots through the UKI and a BIOS through GRUB, at `size` bytes. */
export function buildHybridDisk(
  grub: GrubImages,
  uki: Buffer,
  system: BiosSystem,
  size: number,
  mtime: number,
): BiosDisk {
  checkSize(size, minimalHybridDiskSize(uki, system), "raw-hybrid");
  const files: FatFile[] = [{ path: "EFI/BOOT/BOOTX64.EFI", data: uki }, ...grubFiles(system)];
  const seed = seedOf(grub, files);
  const sectors = espSize(bytesOf(files)) / SECTOR;
  const coreLast = HYBRID_CORE_SECTOR + coreSectors(grub.coreImg) - 1;
  if (coreLast >= FIRST_PARTITION)
    throw new FormatError(
      `GRUB's core.img does not fit the BIOS boot partition (sectors ${HYBRID_CORE_SECTOR}–${FIRST_PARTITION - 1})`,
    );
  const disk = new SparseDisk(size);
  writeGpt(
    disk,
    derivedGuid(seed, "disk"),
    [
      {
        type: PartitionType.BiosBoot,
        guid: derivedGuid(seed, "bios-boot"),
        first: HYBRID_CORE_SECTOR,
        last: FIRST_PARTITION - 1,
        name: "BIOS boot partition",
      },
      {
        type: PartitionType.Esp,
        guid: derivedGuid(seed, "esp"),
        first: FIRST_PARTITION,
        last: FIRST_PARTITION + sectors - 1,
        name: "EFI System Partition",
      },
    ],
    grubBootCode(grub.bootImg, HYBRID_CORE_SECTOR),
  );
  disk.write(HYBRID_CORE_SECTOR * SECTOR, grubCore(grub.coreImg, HYBRID_CORE_SECTOR));
  const fat = buildFat(files, {
    sectors,
    hiddenSectors: FIRST_PARTITION,
    volumeId: parseInt(seed.slice(0, 8), 16),
    mtime,
  });
  for (const region of fat.regions) disk.write(MiB + region.offset, region.data);
  return { disk, fatType: fat.type };
}
