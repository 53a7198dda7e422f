/**
 * Image layers applied to a tree: decompressed by what their bytes are (gzip, zstd or plain
 * tar), read as a stream, whiteouts applied, every path kept inside the root.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { PassThrough } from "node:stream";
import { type Readable } from "node:stream";
import * as zlib from "node:zlib";
import { AssembleError, OskitError } from "../errors";
import { readTar } from "../formats/tar/reader";
import { Digest } from "../manifest/digest";
import type { ResolvedImage } from "../resolve/image";
import type { ContentStore } from "../resolve/store/store";
import type { SpillFile } from "./file-data";
import { FileTree } from "./tree";

const GZIP = [0x1f, 0x8b];
const ZSTD = [0x28, 0xb5, 0x2f, 0xfd];
/** Bytes read and inflated at a time: fewer, larger steps than Node's 16 KiB default. */
const CHUNK = 256 * 1024;

/** A decompressing stream chosen by the first bytes of the layer. */
async function decompressed(path: string, context: string): Promise<Readable> {
  const head = Buffer.alloc(4);
  const handle = await open(path);
  try {
    await handle.read(head, 0, 4, 0);
  } finally {
    await handle.close();
  }
  const starts = (magic: readonly number[]) => magic.every((b, i) => head[i] === b);
  const source = createReadStream(path, { highWaterMark: CHUNK });
  if (starts(GZIP)) return source.pipe(zlib.createGunzip({ chunkSize: CHUNK }));
  if (starts(ZSTD)) {
    const zstd = (zlib as { createZstdDecompress?: () => NodeJS.ReadWriteStream })
      .createZstdDecompress;
    if (zstd === undefined) {
      source.destroy();
      throw new AssembleError(
        `${context}: the layer is zstd-compressed; this Node.js has no zstd (Node ≥ 22.15 has) — use Node 24 or a gzip image`,
      );
    }
    return source.pipe(zstd() as unknown as PassThrough);
  }
  return source;
}

/** The image's filesystem: its layers applied in order. */
export async function extractImage(
  store: ContentStore,
  image: ResolvedImage,
  spill?: SpillFile,
): Promise<FileTree> {
  const tree = new FileTree(spill);
  for (const [i, layer] of image.layers.entries()) {
    const context = `${image.ref} layer ${i + 1}/${image.layers.length}`;
    const path = await store.blobPath(Digest.parse(layer.digest));
    const stream = await decompressed(path, context);
    try {
      await tree.addTar(readTar(stream), context, { whiteouts: true });
    } catch (error) {
      stream.destroy();
      if (error instanceof AssembleError) throw error;
      if (OskitError.is(error))
        throw new AssembleError(`${context}: ${error.message}`, { cause: error });
      throw new AssembleError(`${context}: cannot read the layer: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  return tree;
}
