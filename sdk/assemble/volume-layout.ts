/**
 * A volume with `format: oci`: the image as an OCI image layout (`oci-layout`, `index.json`,
 * `blobs/`), for the platforms asked (all of the image's when none are).
 */
import { AssembleError } from "../errors";
import { Digest } from "../manifest/digest";
import {
  indexSchema,
  INDEX_MEDIA_TYPES,
  manifestSchema,
  MediaType,
  REF_NAME_ANNOTATION,
  type Descriptor,
} from "../resolve/oci";
import { storeKey, type ContentStore } from "../resolve/store/store";
import type { FileTree } from "./tree";
import { FileData } from "./file-data";

const ROOT = { uid: 0, gid: 0 };

export async function writeOciLayout(
  tree: FileTree,
  dir: string,
  store: ContentStore,
  ref: string,
  platforms: readonly string[] | undefined,
): Promise<void> {
  const top = await store.resolve(ref);
  if (top === undefined) throw new AssembleError(`volume image ${ref} is not in the store`);
  const blob = async (descriptor: Descriptor) => {
    const data = await store.readBlob(Digest.parse(descriptor.digest));
    tree.set(`${dir}/blobs/sha256/${Digest.parse(descriptor.digest).hex}`, {
      kind: "file",
      mode: 0o644,
      data: FileData.of(data),
      ...ROOT,
    });
    return data;
  };
  const image = async (descriptor: Descriptor) => {
    const manifest = manifestSchema.parse(JSON.parse((await blob(descriptor)).toString("utf8")));
    await blob(manifest.config);
    for (const layer of manifest.layers) await blob(layer);
  };
  let entry: Descriptor = top;
  if (INDEX_MEDIA_TYPES.includes(top.mediaType)) {
    const index = indexSchema.parse(await store.readJson(Digest.parse(top.digest)));
    const wanted = index.manifests.filter((m) => {
      const platform =
        m.platform === undefined
          ? ""
          : [m.platform.os, m.platform.architecture, m.platform.variant].filter(Boolean).join("/");
      return (
        platforms === undefined ||
        platforms.some((p) => platform === p || platform.startsWith(`${p}/`))
      );
    });
    if (wanted.length === 0)
      throw new AssembleError(
        `volume image ${ref} has none of the platforms ${platforms?.join(", ") ?? ""}`,
      );
    for (const m of wanted) await image(m);
    const filtered = { schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: wanted };
    const data = Buffer.from(JSON.stringify(filtered));
    const digest = Digest.sha256(data);
    tree.set(`${dir}/blobs/sha256/${digest.hex}`, {
      kind: "file",
      mode: 0o644,
      data: FileData.of(data),
      ...ROOT,
    });
    entry = { mediaType: MediaType.OciIndex, digest: digest.toString(), size: data.length };
  } else {
    await image(top);
  }
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciIndex,
    manifests: [{ ...entry, annotations: { [REF_NAME_ANNOTATION]: storeKey(ref) } }],
  };
  tree.set(`${dir}/oci-layout`, {
    kind: "file",
    mode: 0o644,
    data: FileData.of(JSON.stringify({ imageLayoutVersion: "1.0.0" })),
    ...ROOT,
  });
  tree.set(`${dir}/index.json`, {
    kind: "file",
    mode: 0o644,
    data: FileData.of(JSON.stringify(index)),
    ...ROOT,
  });
}
