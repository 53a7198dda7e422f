/**
 * gzip with a header oskit writes itself (no name, mtime 0, OS "unknown"), so the bytes depend
 * only on the data, the level and the zlib inside Node. Decompression is Node's own.
 */
import { Transform, type TransformCallback } from "node:stream";
import { constants, createDeflateRaw, crc32, type DeflateRaw } from "node:zlib";

const OS_UNKNOWN = 0xff;

/** A Transform that gzips what passes through it, deterministically. */
export function createDeterministicGzip(level = 6): Transform {
  let crc = 0;
  let size = 0;
  const header = Buffer.from([
    0x1f,
    0x8b,
    8,
    0,
    0,
    0,
    0,
    0,
    level === 9 ? 2 : level === 1 ? 4 : 0,
    OS_UNKNOWN,
  ]);
  const deflate: DeflateRaw = createDeflateRaw({
    level,
    memLevel: 9,
    strategy: constants.Z_DEFAULT_STRATEGY,
  });
  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      crc = crc32(chunk, crc);
      size = (size + chunk.length) % 2 ** 32;
      if (!deflate.write(chunk)) deflate.once("drain", () => callback());
      else callback();
    },
    flush(callback: TransformCallback) {
      deflate.once("end", () => {
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(crc >>> 0, 0);
        trailer.writeUInt32LE(size >>> 0, 4);
        transform.push(trailer);
        callback();
      });
      deflate.end();
    },
  });
  deflate.on("data", (data: Buffer) => transform.push(data));
  deflate.on("error", (error) => transform.destroy(error));
  transform.push(header);
  return transform;
}
