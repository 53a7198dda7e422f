/** The image references a manifest names, and rewriting them (pinning by digest). */
import { CONTAINER_SECTIONS, type Manifest } from "./schema";

/** Every image reference of a manifest, as written. */
export function manifestImages(manifest: Manifest): string[] {
  return [
    ...new Set([
      ...(manifest.kernel ? [manifest.kernel.image] : []),
      ...(manifest.init ?? []),
      ...(manifest.volumes ?? []).flatMap((v) => (v.image === undefined ? [] : [v.image])),
      ...CONTAINER_SECTIONS.flatMap((s) => (manifest[s] ?? []).map((c) => c.image)),
    ]),
  ];
}

/** The manifest with every image reference replaced by `rewrite(ref)`. */
export function mapImages(manifest: Manifest, rewrite: (ref: string) => string): Manifest {
  const out: Record<string, unknown> = { ...manifest };
  if (manifest.kernel) out.kernel = { ...manifest.kernel, image: rewrite(manifest.kernel.image) };
  if (manifest.init) out.init = manifest.init.map(rewrite);
  if (manifest.volumes)
    out.volumes = manifest.volumes.map((v) =>
      v.image === undefined ? v : { ...v, image: rewrite(v.image) },
    );
  for (const section of CONTAINER_SECTIONS) {
    const list = manifest[section];
    if (list) out[section] = list.map((c) => ({ ...c, image: rewrite(c.image) }));
  }
  return out;
}
