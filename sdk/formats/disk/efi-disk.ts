/**
 * The UEFI disk every cloud boots: a GPT with one EFI system partition holding the UKI as
 * `EFI/BOOT/BOOTX64.EFI` (the removable-media path firmware falls back to without boot entries).
 * The partition starts at 1 MiB and is as small as the UKI allows plus a margin; the disk is the
 * size asked for (at least that), its backup GPT at its last sector. GUIDs and the volume id are
 * derived from the content, so the same UKI gives the same disk.
 */
import { createHash } from "node:crypto";
import { FormatError } from "../../errors";
import { buildFat, type FatType } from "../fat/fat";
import { writeGpt } from "./gpt";
import { derivedGuid, PartitionType } from "./guid";
import { SECTOR, SparseDisk } from "./sparse-disk";

export const MiB = 1 << 20;
export const GiB = 1 << 30;
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** The ESP's size for a UKI: the UKI, 2% and 1 MiB for the file system and growth, whole MiB. */
export function espSize(ukiBytes: number): number {
  return alignUp(ukiBytes + Math.ceil(ukiBytes / 50) + MiB, MiB);
}

/** The smallest disk for a UKI: 1 MiB before the ESP, the ESP, 1 MiB after it for the backup GPT. */
export function minimalDiskSize(ukiBytes: number): number {
  return espSize(ukiBytes) + 2 * MiB;
}

export interface EfiDisk {
  readonly disk: SparseDisk;
  readonly fatType: FatType;
}

/** Builds the disk for a UKI at `size` bytes (at least the minimal size). */
export function buildEfiDisk(uki: Buffer, size: number, mtime: number): EfiDisk {
  const minimal = minimalDiskSize(uki.length);
  if (size < minimal)
    throw new FormatError(
      `the disk needs at least ${minimal / MiB} MiB for its ${(uki.length / MiB).toFixed(1)} MiB UKI, not ${(size / MiB).toFixed(1)} MiB`,
    );
  const seed = createHash("sha256").update(uki).digest("hex");
  const disk = new SparseDisk(size);
  const first = MiB / SECTOR;
  const sectors = espSize(uki.length) / SECTOR;
  writeGpt(disk, derivedGuid(seed, "disk"), [
    {
      type: PartitionType.Esp,
      guid: derivedGuid(seed, "esp"),
      first,
      last: first + sectors - 1,
      name: "EFI System Partition",
    },
  ]);
  const fat = buildFat([{ path: "EFI/BOOT/BOOTX64.EFI", data: uki }], {
    sectors,
    hiddenSectors: first,
    volumeId: parseInt(seed.slice(0, 8), 16),
    mtime,
  });
  for (const region of fat.regions) disk.write(MiB + region.offset, region.data);
  return { disk, fatType: fat.type };
}
