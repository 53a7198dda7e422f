/**
 * A unified kernel image: systemd's EFI stub (from the boot package) with the kernel, initrd,
 * command line and os-release appended as the `.linux`, `.initrd`, `.cmdline` and `.osrel`
 * sections the stub looks for — the order and flags of systemd's ukify, `.linux` last.
 */
import { FormatError } from "../../errors";
import { appendSections, parsePe, SectionFlags } from "./pe";

/** Where the boot package keeps the stub. */
export const STUB_PATH = "/boot/linuxx64.efi.stub";

export interface UkiParts {
  readonly stub: Buffer;
  readonly kernel: Buffer;
  readonly initrd: Buffer;
  readonly cmdline: string;
  /** os-release text for `.osrel`. */
  readonly osRelease: string;
}

const DATA = SectionFlags.InitializedData | SectionFlags.MemRead;
const X86_64 = 0x8664;

/** The UKI's bytes, in parts (the kernel and initrd are not copied). */
export function buildUki(parts: UkiParts): Buffer[] {
  const kernel = parsePe(parts.kernel, "the kernel");
  if (kernel.machine !== X86_64)
    throw new FormatError("the kernel is not an x86-64 EFI program (the uki format is for amd64)");
  if (kernel.majorImageVersion < 1)
    throw new FormatError(
      "the kernel's EFI stub is older than version 1.0 (Linux 5.8): systemd's stub cannot load it",
    );
  return appendSections(
    parts.stub,
    [
      { name: ".osrel", data: Buffer.from(parts.osRelease), characteristics: DATA },
      { name: ".cmdline", data: Buffer.from(`${parts.cmdline.trim()}\0`), characteristics: DATA },
      { name: ".initrd", data: parts.initrd, characteristics: DATA },
      {
        name: ".linux",
        data: parts.kernel,
        characteristics: SectionFlags.Code | SectionFlags.MemRead,
      },
    ],
    "the EFI stub",
  );
}

/** os-release for a system: oskit, the system's name and its manifest digest. */
export function osRelease(name: string, manifestDigest: string): string {
  return [
    'NAME="oskit"',
    "ID=oskit",
    `PRETTY_NAME="oskit ${name}"`,
    `IMAGE_ID=${name.replace(/[^A-Za-z0-9._-]/g, "_")}`,
    `IMAGE_VERSION=${manifestDigest.replace(/^sha256:/, "").slice(0, 12)}`,
    "",
  ].join("\n");
}
