/**
 * systemd's EFI stub for the UEFI formats, read as data from the boot package's image (oskit's
 * `pkg/boot`, or another image with the stub at the same path).
 */
import { join } from "node:path";
import { extractImage } from "../assemble/layers";
import { FormatError } from "../errors";
import { STUB_PATH } from "../formats/efi/uki";
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
}

export async function loadEfiStub(
  store: ContentStore,
  ref: string,
  platform: Platform,
  resolver: ResolverOptions,
): Promise<EfiStub> {
  const image = await resolveOrPull(store, ref, platform, resolver);
  const node = (await extractImage(store, image)).get(STUB_PATH);
  if (node?.kind !== "file")
    throw new FormatError(`the boot image ${ref} has no ${STUB_PATH} (systemd's EFI stub)`);
  return { digest: image.digest, stub: node.data.read() };
}
