/**
 * GRUB's i386-pc images placed on a disk, patched as grub-bios-setup patches them (GRUB's
 * boot.S, diskboot.S and util/setup.c), with the core image embedded in contiguous sectors:
 *
 * - boot.img (one sector, in the MBR): the LBA of core.img's first sector at 0x5c (64 bits), the
 *   boot drive at 0x64 left at 0xff (use the drive the BIOS passes), and the floppy probe's jump
 *   at 0x66 replaced by two NOPs, as for hard disks. Its bytes from 0x1b8 belong to the disk
 *   signature and partition table and are not taken.
 * - core.img (diskboot.img's sector, then the compressed kernel and modules): the block list that
 *   grows down from the end of diskboot.img's sector — 12-byte entries of a 64-bit LBA, a 16-bit
 *   sector count and the 16-bit segment to load them at, ended by an entry of zero length —
 *   names the rest of core.img: one entry, from its second sector, loaded at segment 0x820
 *   (right after diskboot.img at 0x8000).
 *
 * No Reed-Solomon codes are added (grub-bios-setup's optional recovery data): core.img's field
 * for them stays 0, which GRUB's startup code reads as none.
 */
import { FormatError } from "../../errors";
import { MBR_BOOT_CODE } from "./mbr";
import { SECTOR } from "./sparse-disk";

const KERNEL_SECTOR = 0x5c;
const BOOT_DRIVE = 0x64;
const DRIVE_CHECK = 0x66;
const BLOCK_SIZE = 12;
const FIRST_BLOCK = SECTOR - BLOCK_SIZE;
/** Where diskboot.img loads the rest of core.img: segment 0x820 is 0x8200, after its own sector at 0x8000. */
const CORE_SEGMENT = 0x820;
/** core.img is loaded below 0x78000 from 0x8000: at most this many sectors (grub-bios-setup's limit). */
export const MAX_CORE_SECTORS = (0x78000 - 0x8200) >> 9;

/** GRUB's boot.img as the boot code of an MBR whose core.img starts at `coreSector`. */
export function grubBootCode(bootImg: Buffer, coreSector: number): Buffer {
  if (bootImg.length !== SECTOR || bootImg[510] !== 0x55 || bootImg[511] !== 0xaa)
    throw new FormatError(
      `GRUB's boot.img must be one 512-byte boot sector, not ${bootImg.length} bytes`,
    );
  if (bootImg[DRIVE_CHECK] !== 0xeb && bootImg.readUInt16LE(DRIVE_CHECK) !== 0x9090)
    throw new FormatError(
      `GRUB's boot.img has no drive check jump at 0x${DRIVE_CHECK.toString(16)}: not an i386-pc boot.img`,
    );
  const code = Buffer.from(bootImg.subarray(0, MBR_BOOT_CODE));
  code.writeBigUInt64LE(BigInt(coreSector), KERNEL_SECTOR);
  code[BOOT_DRIVE] = 0xff;
  code[DRIVE_CHECK] = 0x90;
  code[DRIVE_CHECK + 1] = 0x90;
  return code;
}

/** The number of whole sectors core.img takes. */
export function coreSectors(coreImg: Buffer): number {
  return Math.ceil(coreImg.length / SECTOR);
}

/**
 * core.img for the sectors from `firstSector` on, padded to whole sectors, with its block list
 * naming them.
 */
export function grubCore(coreImg: Buffer, firstSector: number): Buffer {
  const sectors = coreSectors(coreImg);
  if (sectors < 2)
    throw new FormatError(
      `GRUB's core.img is ${coreImg.length} bytes: expected diskboot.img and a kernel`,
    );
  if (sectors > MAX_CORE_SECTORS)
    throw new FormatError(
      `GRUB's core.img is ${sectors} sectors; GRUB loads at most ${MAX_CORE_SECTORS} (keep its module list short)`,
    );
  if (coreImg.readUInt16LE(FIRST_BLOCK + 10) !== CORE_SEGMENT)
    throw new FormatError(
      "GRUB's core.img does not start with diskboot.img (no block list loading at segment 0x820 at the end of its first sector)",
    );
  const out = Buffer.alloc(sectors * SECTOR);
  coreImg.copy(out);
  for (let at = FIRST_BLOCK; at > 0 && out.readUInt16LE(at + 8) !== 0; at -= BLOCK_SIZE)
    out.fill(0, at, at + BLOCK_SIZE);
  out.writeBigUInt64LE(BigInt(firstSector + 1), FIRST_BLOCK);
  out.writeUInt16LE(sectors - 1, FIRST_BLOCK + 8);
  out.writeUInt16LE(CORE_SEGMENT, FIRST_BLOCK + 10);
  out.fill(0, FIRST_BLOCK - BLOCK_SIZE, FIRST_BLOCK);
  return out;
}

/** The block list of a placed core.img, first entry first (for tests and checks). */
export function coreBlockList(core: Buffer): { start: number; sectors: number; segment: number }[] {
  const list = [];
  for (let at = FIRST_BLOCK; at > 0; at -= BLOCK_SIZE) {
    const sectors = core.readUInt16LE(at + 8);
    if (sectors === 0) break;
    list.push({
      start: Number(core.readBigUInt64LE(at)),
      sectors,
      segment: core.readUInt16LE(at + 10),
    });
  }
  return list;
}

/**
 * A grub.cfg that boots the kernel and initrd of the same file system with a command line. Each
 * word is quoted for GRUB's script parser; GRUB passes words to Linux separated by single spaces,
 * escaping quotes and backslashes, so a command line holding those cannot pass unchanged and is
 * refused.
 */
export function grubConfig(cmdline: string, kernel: string, initrd: string): string {
  if (/["'\\]/.test(cmdline))
    throw new FormatError(
      `the kernel command line ${JSON.stringify(cmdline)} holds quotes or backslashes, which GRUB's linux command would escape: the BIOS formats cannot pass it unchanged`,
    );
  const words = cmdline.split(/\s+/).filter(Boolean);
  return [
    `linux ${[kernel, ...words].map((w) => `'${w}'`).join(" ")}`,
    `initrd '${initrd}'`,
    "boot",
    "",
  ].join("\n");
}
