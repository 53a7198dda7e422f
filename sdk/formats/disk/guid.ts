/**
 * GUIDs as GPT stores them (the first three fields little-endian, the rest as written), and GUIDs
 * derived from content so that the same inputs give the same disk.
 */
import { createHash } from "node:crypto";
import { FormatError } from "../../errors";

const GUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/i;

/** The 16 bytes of a GUID in GPT's mixed-endian encoding. */
export function guidBytes(guid: string): Buffer {
  const m = GUID.exec(guid);
  if (m === null) throw new FormatError(`"${guid}" is not a GUID`);
  const out = Buffer.alloc(16);
  out.writeUInt32LE(parseInt(m[1]!, 16), 0);
  out.writeUInt16LE(parseInt(m[2]!, 16), 4);
  out.writeUInt16LE(parseInt(m[3]!, 16), 6);
  Buffer.from(m[4]! + m[5]!, "hex").copy(out, 8);
  return out;
}

/** A version-4-shaped GUID derived from a seed (e.g. the content digest and a purpose). */
export function derivedGuid(...seed: string[]): string {
  const hash = createHash("sha256").update(seed.join("\0")).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x40;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

export const PartitionType = {
  Esp: "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
  LinuxData: "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
  /** GRUB's core.img on a GPT disk booted by a BIOS ("Hah!IdontNeedEFI"). */
  BiosBoot: "21686148-6449-6E6F-744E-656564454649",
} as const;
