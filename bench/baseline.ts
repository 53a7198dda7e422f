/**
 * The baseline a build is measured against: the same work done with standard tools — every layer
 * unpacked with `tar -x` into LinuxKit's layout, then `find | sort | cpio -o -H newc
 * --reproducible | gzip -n -6` — in one shell script.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { ResolvedImages } from "../sdk/assemble/assemble";
import type { Manifest } from "../sdk/manifest/schema";
import { Digest } from "../sdk/manifest/digest";
import type { ContentStore } from "../sdk/resolve/store/store";

const quote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** The blob files of an image's layers, in order. */
async function layerFiles(store: ContentStore, images: ResolvedImages, ref: string) {
  const image = images.get(ref);
  if (image === undefined) throw new Error(`${ref} was not resolved`);
  return Promise.all(image.layers.map((l) => store.blobPath(Digest.parse(l.digest))));
}

/** Writes the script into `work` and returns its path; it leaves the initrd at work/initrd.img. */
export async function baselineScript(
  manifest: Manifest,
  images: ResolvedImages,
  store: ContentStore,
  work: string,
): Promise<string> {
  const lines = ["set -euo pipefail", `W=${quote(work)}`, 'R="$W/root"', 'mkdir -p "$R"'];
  const unpack = async (ref: string, into: string) => {
    lines.push(`mkdir -p ${into}`);
    for (const file of await layerFiles(store, images, ref))
      lines.push(`tar -xf ${quote(file)} -C ${into}`);
  };
  if (manifest.kernel !== undefined) {
    await unpack(manifest.kernel.image, '"$W/kernel"');
    if (manifest.kernel.tar !== "none")
      lines.push(`tar -xf "$W/kernel/"${quote(manifest.kernel.tar)} -C "$R"`);
  }
  for (const ref of manifest.init ?? []) await unpack(ref, '"$R"');
  for (const section of ["onboot", "onshutdown", "services"] as const) {
    for (const [i, container] of (manifest[section] ?? []).entries()) {
      const dir =
        section === "services" ? container.name : `${String(i).padStart(3, "0")}-${container.name}`;
      await unpack(container.image, `"$R"/containers/${section}/${quote(dir)}/rootfs`);
    }
  }
  lines.push(
    'cd "$R"',
    'find . | LC_ALL=C sort | cpio -o -H newc --reproducible --quiet | gzip -n -6 > "$W/initrd.img"',
  );
  const path = join(work, "baseline.sh");
  writeFileSync(path, `${lines.join("\n")}\n`);
  return path;
}
