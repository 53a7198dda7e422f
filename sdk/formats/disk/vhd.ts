/**
 * The footer of a fixed VHD (Microsoft's "Virtual Hard Disk Image Format Specification"): the
 * raw disk followed by 512 bytes. Azure takes fixed VHDs whose size is a whole number of MiB and
 * reads the current-size field; QEMU reads that field too for the creator "win " (for others, such
 * as "vpc " and "qemu", it computes the size from the CHS geometry, which rounds it), so the footer
 * names "win " and both see the same size. All numbers big-endian.
 */
import { FormatError } from "../../errors";

const VHD_EPOCH = 946684800;
const MiB = 1 << 20;

/** The CHS geometry the specification derives from a size (its appendix, as QEMU computes it too). */
export function vhdGeometry(size: number): { cylinders: number; heads: number; sectors: number } {
  let total = Math.floor(size / 512);
  if (total > 65535 * 16 * 255) total = 65535 * 16 * 255;
  let spt: number;
  let heads: number;
  let cth: number;
  if (total >= 65535 * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = Math.floor(total / spt);
  } else {
    spt = 17;
    cth = Math.floor(total / spt);
    heads = Math.max(4, Math.floor((cth + 1023) / 1024));
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = Math.floor(total / spt);
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = Math.floor(total / spt);
    }
  }
  return { cylinders: Math.floor(cth / heads), heads, sectors: spt };
}

/** The footer of a fixed VHD of `size` bytes (a whole number of MiB). */
export function vhdFooter(size: number, uuid: string, mtime: number): Buffer {
  if (size % MiB !== 0)
    throw new FormatError(`a VHD for Azure must be a whole number of MiB, not ${size} bytes`);
  const f = Buffer.alloc(512);
  f.write("conectix", 0, "latin1");
  f.writeUInt32BE(2, 8);
  f.writeUInt32BE(0x00010000, 12);
  f.writeBigUInt64BE(0xffffffffffffffffn, 16);
  f.writeUInt32BE(Math.max(0, mtime - VHD_EPOCH) >>> 0, 24);
  f.write("win ", 28, "latin1");
  f.writeUInt32BE(0x000a0000, 32);
  f.write("Wi2k", 36, "latin1");
  f.writeBigUInt64BE(BigInt(size), 40);
  f.writeBigUInt64BE(BigInt(size), 48);
  const g = vhdGeometry(size);
  f.writeUInt16BE(g.cylinders, 56);
  f[58] = g.heads;
  f[59] = g.sectors;
  f.writeUInt32BE(2, 60);
  Buffer.from(uuid.replace(/-/g, ""), "hex").copy(f, 68);
  let sum = 0;
  for (const byte of f) sum += byte;
  f.writeUInt32BE(~sum >>> 0, 64);
  return f;
}
