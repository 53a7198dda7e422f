/**
 * What `oskit run qemu PATH` boots, found by names and then by content: a kernel+initrd name
 * prefix, an ISO (`CD001` at 32769), a UKI (a PE file: put on a disk of its own to boot), or a
 * disk image — qcow2 by its magic, a fixed VHD by its footer, else raw — and whether that disk
 * has an EFI system partition (then it boots with UEFI firmware).
 */
import {
  closeSync,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { RunError } from "../errors";
import { guidBytes, PartitionType } from "../formats/disk/guid";

export type DiskFormat = "raw" | "qcow2" | "vpc";

export type Target =
  | {
      readonly kind: "kernel+initrd";
      readonly kernel: string;
      readonly initrd: string;
      readonly cmdline: string;
    }
  | { readonly kind: "iso"; readonly file: string }
  | { readonly kind: "uki"; readonly file: string }
  | {
      readonly kind: "disk";
      readonly file: string;
      readonly format: DiskFormat;
      /** The disk has a GPT with an EFI system partition. */
      readonly efi: boolean;
    };

function readAt(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, "r");
  try {
    const buf = Buffer.alloc(length);
    const read = readSync(fd, buf, 0, Math.max(0, length), offset);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** Reads guest bytes of a qcow2 image (only what a GPT check needs: unallocated reads as zeros). */
function readQcow2(file: string, offset: number, length: number): Buffer {
  const header = readAt(file, 0, 48);
  if (header.length < 48) return Buffer.alloc(length);
  const clusterBits = header.readUInt32BE(20);
  const cluster = 2 ** clusterBits;
  const l1 = Number(header.readBigUInt64BE(40));
  const out = Buffer.alloc(length);
  for (let at = 0; at < length;) {
    const guest = offset + at;
    const index = Math.floor(guest / cluster);
    const within = guest % cluster;
    const chunk = Math.min(length - at, cluster - within);
    const perL2 = cluster / 8;
    const l1Entry = readAt(file, l1 + Math.floor(index / perL2) * 8, 8);
    const l2 = l1Entry.length === 8 ? Number(l1Entry.readBigUInt64BE() & 0x00fffffffffffe00n) : 0;
    if (l2 !== 0) {
      const l2Entry = readAt(file, l2 + (index % perL2) * 8, 8);
      const host =
        l2Entry.length === 8 ? Number(l2Entry.readBigUInt64BE() & 0x00fffffffffffe00n) : 0;
      if (host !== 0) readAt(file, host + within, chunk).copy(out, at);
    }
    at += chunk;
  }
  return out;
}

/** True when the disk's GPT lists an EFI system partition. */
function hasEsp(file: string, format: DiskFormat): boolean {
  const read = (offset: number, length: number) =>
    format === "qcow2" ? readQcow2(file, offset, length) : readAt(file, offset, length);
  const header = read(512, 92);
  if (header.length < 92 || header.toString("latin1", 0, 8) !== "EFI PART") return false;
  const entries = Number(header.readBigUInt64LE(72));
  const count = Math.min(header.readUInt32LE(80), 128);
  const size = header.readUInt32LE(84);
  const table = read(entries * 512, count * size);
  const esp = guidBytes(PartitionType.Esp);
  for (let i = 0; i + 16 <= table.length; i += size)
    if (table.subarray(i, i + 16).equals(esp)) return true;
  return false;
}

/** The refusal for a directory given as PATH, naming the systems built into it. */
function directoryError(path: string, dir: string): RunError {
  const names = readdirSync(dir)
    .filter((f) => f.endsWith("-kernel") && existsSync(join(dir, `${f.slice(0, -7)}-initrd.img`)))
    .sort()
    .map((f) => join(path, f.slice(0, -7)));
  return new RunError(
    names.length > 0
      ? `${path} is a directory; give the name prefix of a system in it: ${names.map((n) => `oskit run qemu ${n}`).join(" or ")}`
      : `${path} is a directory without NAME-kernel and NAME-initrd.img; give the name prefix of a system built with oskit build -f kernel+initrd`,
  );
}

export function detectTarget(path: string): Target {
  const prefix = resolve(path);
  if (existsSync(`${prefix}-kernel`) && existsSync(`${prefix}-initrd.img`)) {
    return {
      kind: "kernel+initrd",
      kernel: `${prefix}-kernel`,
      initrd: `${prefix}-initrd.img`,
      cmdline: existsSync(`${prefix}-cmdline`)
        ? readFileSync(`${prefix}-cmdline`, "utf8").trim()
        : "",
    };
  }
  if (!existsSync(prefix)) {
    throw new RunError(
      `${path}: no such file, and no ${path}-kernel and ${path}-initrd.img (build with oskit build -f kernel+initrd)`,
    );
  }
  const stat = statSync(prefix);
  if (stat.isDirectory()) throw directoryError(path, prefix);
  if (readAt(prefix, 32769, 5).toString("ascii") === "CD001" || /\.iso$/i.test(prefix))
    return { kind: "iso", file: prefix };
  if (readAt(prefix, 0, 2).toString("latin1") === "MZ") return { kind: "uki", file: prefix };
  if (/\.(tar\.gz|tgz)$/i.test(prefix))
    throw new RunError(
      `${path} is an image tarball: extract its disk first (tar -xSzf ${path}) and boot disk.raw`,
    );
  let format: DiskFormat = "raw";
  if (readAt(prefix, 0, 4).equals(Buffer.from([0x51, 0x46, 0x49, 0xfb]))) format = "qcow2";
  else if (stat.size >= 512 && readAt(prefix, stat.size - 512, 8).toString("latin1") === "conectix")
    format = "vpc";
  return { kind: "disk", file: prefix, format, efi: hasEsp(prefix, format) };
}
