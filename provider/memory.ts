/**
 * What an oskit system needs in RAM, and the check that refuses a machine with less: shared by the
 * clouds' machines (`oskit.aws.Instance`, `oskit.gcp.Instance`, `oskit.azure.VirtualMachine`), which
 * bring their own tables.
 */
import { statSync } from "node:fs";
import { ValidationError } from "../sdk/errors";
import type { Artifact } from "./build/image-build";

const MiB = 1 << 20;

/**
 * What an image needs in RAM, in MiB: the whole system runs from memory, so 256 MiB for the
 * kernel, the runtime and the services' own working memory, plus 3 × the boot payload (the
 * compressed kernel and initrd stay in memory while the initrd unpacks into RAM, about 2.5 times
 * its gzip'd size: hello's 12.0 MB initrd is 29.3 MB unpacked). The payload is the artifact's size;
 * for `aws` (a disk of whole GiB) and `vhd` (a fixed VHD of whole MiB), disks that are mostly zeros,
 * it is the bytes their sparse files hold.
 */
export function imageMemoryNeedMiB(artifact: Artifact, payloadBytes = artifact.size): number {
  return 256 + Math.ceil((3 * payloadBytes) / MiB);
}

/** Formats written as sparse disks that are mostly zeros: their payload is what the file holds. */
const SPARSE_DISKS: ReadonlySet<Artifact["format"]> = new Set(["aws", "vhd"]);

/** The boot payload of an artifact in bytes (see imageMemoryNeedMiB). */
export function payloadBytes(artifact: Artifact): number {
  if (!SPARSE_DISKS.has(artifact.format)) return artifact.size;
  try {
    return Math.min(artifact.size, statSync(artifact.path).blocks * 512);
  } catch {
    return artifact.size; // not on this machine: the whole disk, which errs on the safe side
  }
}

/** How a cloud names what is checked, for the messages. */
export interface MemoryCheckWording {
  /** The input the machine's type came in (`instanceType`, `machineType`). */
  readonly field: string;
  /** What the cloud calls it, plural (`instance types`, `machine types`). */
  readonly kinds: string;
  /** What the missing artifact should be (`the ImageBuild artifact the AMI was made from`). */
  readonly artifact: string;
  /** How to find a type's memory (`aws ec2 describe-instance-types --instance-types t3.micro`). */
  readonly lookup: (type: string) => string;
}

/**
 * Refuses a machine type with less memory than the image needs, or one whose memory is not known
 * (neither `memoryMiB` nor the table); returns both figures.
 */
export function checkMemory(input: {
  readonly type: string;
  readonly artifact: Artifact | undefined;
  /** The type's memory in MiB from the cloud's table, or `memoryMiB` when given. */
  readonly haveMiB: number | undefined;
  readonly payloadBytes?: number | undefined;
  readonly wording: MemoryCheckWording;
}): { readonly needMiB: number; readonly haveMiB: number } {
  const { type, artifact, haveMiB, wording } = input;
  if (artifact === undefined)
    throw new ValidationError([
      { path: "artifact", message: `no artifact: give ${wording.artifact}` },
    ]);
  const payload = input.payloadBytes ?? payloadBytes(artifact);
  const needMiB = imageMemoryNeedMiB(artifact, payload);
  if (haveMiB === undefined)
    throw new ValidationError([
      {
        path: wording.field,
        message: `"${type}" is not in oskit's table of ${wording.kinds}: give memoryMiB, its memory (${wording.lookup(type)})`,
      },
    ]);
  if (haveMiB < needMiB)
    throw new ValidationError([
      {
        path: wording.field,
        message: `"${type}" has ${haveMiB} MiB of memory; this image runs from RAM and needs ${needMiB} MiB (256 MiB + 3 × its ${(
          payload / MiB
        ).toFixed(1)} MiB ${artifact.format} artifact): choose a larger type`,
      },
    ]);
  return { needMiB, haveMiB };
}
