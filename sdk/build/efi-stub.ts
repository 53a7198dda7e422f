/**
 * systemd's EFI stub for the UEFI formats, and GRUB's images for the BIOS disks and iso-bios when
 * the image has them, read as data from the boot package's image (oskit's `pkg/boot`, or another
 * image with them at the same paths).
 */
import { join } from "node:path";
import { extractImage } from "../assemble/layers";
import { FormatError } from "../errors";
import { GRUB_BOOT_IMG_PATH, GRUB_CORE_IMG_PATH } from "../formats/bios-writers";
import type { GrubImages } from "../formats/disk/bios-disk";
import { STUB_PATH } from "../formats/efi/uki";
import { GRUB_ELTORITO_PATH } from "../formats/iso-writers";
import { packageRef } from "../pkg/build";
import { resolveOrPull, type Platform, type ResolverOptions } from "../resolve/image";
import type { ContentStore } from "../resolve/store/store";
import { oskitRoot } from "../version";

/** oskit's boot package, as built by `oskit pkg build pkg/boot` (or `make pkgs`). */
export function defaultBootImage(): string {
  return packageRef(join(oskitRoot(), "pkg", "boot"));
}

export interface EfiStub {
  /** The boot image's digest (part of the build cache key). */
  readonly digest: string;
  readonly stub: Buffer;
  /** GRUB's El Torito image (cdboot.img first), when the boot image has one. */
  readonly grubElTorito?: Buffer;
  /** GRUB's boot.img and core.img for the BIOS disks, when the boot image has them. */
  readonly grub?: GrubImages;
}

export async function loadEfiStub(
  store: ContentStore,
  ref: string,
  platform: Platform,
  resolver: ResolverOptions,
): Promise<EfiStub> {
  const image = await resolveOrPull(store, ref, platform, resolver);
  const tree = await extractImage(store, image);
  const node = tree.get(STUB_PATH);
  if (node?.kind !== "file")
    throw new FormatError(`the boot image ${ref} has no ${STUB_PATH} (systemd's EFI stub)`);
  const eltorito = tree.get(GRUB_ELTORITO_PATH);
  const bootImg = tree.get(GRUB_BOOT_IMG_PATH);
  const coreImg = tree.get(GRUB_CORE_IMG_PATH);
  return {
    digest: image.digest,
    stub: node.data.read(),
    ...(eltorito?.kind === "file" && { grubElTorito: eltorito.data.read() }),
    ...(bootImg?.kind === "file" &&
      coreImg?.kind === "file" && {
        grub: { bootImg: bootImg.data.read(), coreImg: coreImg.data.read() },
      }),
  };
}
