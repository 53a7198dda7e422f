/**
 * A disk image held as the regions that were written, everything else zero: disks of a GiB or
 * more whose content is a few MiB cost only that content. It gives the allocation map (the
 * 512-byte sectors holding non-zero data) that the container formats and the publishers use, and
 * writes itself as a sparse file on the host.
 */
import { open } from "node:fs/promises";
import { FormatError } from "../../errors";

export const SECTOR = 512;

/** A run of bytes on the disk, a whole number of sectors. */
export interface Extent {
  readonly offset: number;
  readonly length: number;
}

interface Region {
  readonly offset: number;
  readonly data: Buffer;
}

/** True when every byte of the buffer is zero. */
export function isZero(data: Buffer): boolean {
  for (let i = 0; i < data.length; i++) if (data[i] !== 0) return false;
  return true;
}

export class SparseDisk {
  private readonly regions: Region[] = [];

  constructor(readonly size: number) {
    if (!Number.isSafeInteger(size) || size <= 0 || size % SECTOR !== 0)
      throw new FormatError(
        `a disk's size must be a positive multiple of ${SECTOR} bytes, not ${size}`,
      );
  }

  /** Places bytes at an offset; regions may not overlap. */
  write(offset: number, data: Buffer): void {
    if (offset < 0 || offset + data.length > this.size)
      throw new FormatError(
        `a write of ${data.length} bytes at ${offset} falls outside the ${this.size}-byte disk`,
      );
    if (data.length === 0) return;
    const clash = this.regions.find(
      (r) => offset < r.offset + r.data.length && r.offset < offset + data.length,
    );
    if (clash !== undefined)
      throw new FormatError(
        `a write at ${offset} (${data.length} bytes) overlaps one at ${clash.offset} (${clash.data.length} bytes)`,
      );
    this.regions.push({ offset, data });
    this.regions.sort((a, b) => a.offset - b.offset);
  }

  /** The bytes of a range (zeros where nothing was written). */
  read(offset: number, length: number): Buffer {
    const out = Buffer.alloc(length);
    for (const r of this.regions) {
      const start = Math.max(offset, r.offset);
      const end = Math.min(offset + length, r.offset + r.data.length);
      if (start < end) r.data.copy(out, start - offset, start - r.offset, end - r.offset);
    }
    return out;
  }

  /** The runs of sectors holding non-zero bytes, merged, in order. */
  allocation(): Extent[] {
    const sectors: number[] = [];
    for (const r of this.regions) {
      const first = Math.floor(r.offset / SECTOR);
      const last = Math.floor((r.offset + r.data.length - 1) / SECTOR);
      for (let s = first; s <= last; s++) {
        if (sectors.at(-1) === s) continue;
        const start = s * SECTOR - r.offset;
        const inside = start >= 0 && start + SECTOR <= r.data.length;
        const bytes = inside
          ? r.data.subarray(start, start + SECTOR)
          : this.read(s * SECTOR, SECTOR);
        if (!isZero(bytes)) sectors.push(s);
      }
    }
    const runs: Extent[] = [];
    for (const s of sectors) {
      const last = runs.at(-1);
      if (last !== undefined && last.offset + last.length === s * SECTOR)
        runs[runs.length - 1] = { offset: last.offset, length: last.length + SECTOR };
      else runs.push({ offset: s * SECTOR, length: SECTOR });
    }
    return runs;
  }

  /** The allocated runs with their bytes. */
  *data(): Generator<{ readonly offset: number; readonly data: Buffer }> {
    for (const run of this.allocation())
      yield { offset: run.offset, data: this.read(run.offset, run.length) };
  }

  /** Writes the disk to a file as a sparse file: only the allocated runs, then the full length. */
  async writeRaw(path: string): Promise<void> {
    const handle = await open(path, "w");
    try {
      for (const { offset, data } of this.data()) await handle.write(data, 0, data.length, offset);
      await handle.truncate(this.size);
      await handle.sync();
    } finally {
      await handle.close();
    }
  }
}
