/**
 * gzip with a header oskit writes itself (no name, mtime 0, OS "unknown"), compressed on every
 * core: the data is cut into blocks of a fixed size, each block is deflated on Node's thread pool
 * with the 32 KiB before it as its dictionary and ends byte-aligned (a sync flush), and the blocks
 * are joined in order into one deflate stream (pigz's method). The bytes depend only on the data,
 * the level, the block size and the zlib inside Node — never on how many blocks ran at once or on
 * how the data arrived. Decompression is Node's own.
 */
import { availableParallelism } from "node:os";
import { Transform, type TransformCallback } from "node:stream";
import { promisify } from "node:util";
import { constants, crc32, deflateRaw, type ZlibOptions } from "node:zlib";

const OS_UNKNOWN = 0xff;
/** Deflate's window: the most a match can reach back, so the most of a dictionary that counts. */
const WINDOW = 32 * 1024;
/** Each block's input. Part of the output's identity: changing it changes the bytes. */
export const GZIP_BLOCK = 1024 * 1024;

const deflate = promisify<Buffer, ZlibOptions, Buffer>(deflateRaw);

export interface GzipOptions {
  /** @default 6 */
  readonly level?: number;
  /** Blocks deflated at once. @default one more than the cores, so none waits while a block is handed over */
  readonly parallel?: number;
}

/** The fixed gzip header for a level (XFL says "best" for 9 and "fastest" for 1). */
function header(level: number): Buffer {
  const xfl = level === 9 ? 2 : level === 1 ? 4 : 0;
  return Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, OS_UNKNOWN]);
}

/** A Transform that gzips what passes through it, deterministically, on several threads. */
export function createDeterministicGzip(options: GzipOptions = {}): Transform {
  const { level = 6, parallel = availableParallelism() + 1 } = options;
  let crc = 0;
  let size = 0;
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  let dictionary = Buffer.alloc(0);
  const inFlight: Promise<Buffer>[] = [];

  const submit = (block: Buffer, last: boolean) => {
    const options: ZlibOptions = {
      level,
      memLevel: 8,
      strategy: constants.Z_DEFAULT_STRATEGY,
      finishFlush: last ? constants.Z_FINISH : constants.Z_SYNC_FLUSH,
      ...(dictionary.length > 0 && { dictionary }),
    };
    const deflated = deflate(block, options);
    deflated.catch(() => undefined); // awaited in order below; a failure surfaces there
    inFlight.push(deflated);
    const joined = dictionary.length > 0 ? Buffer.concat([dictionary, block]) : block;
    dictionary = Buffer.from(joined.subarray(Math.max(0, joined.length - WINDOW)));
  };
  /** Cuts whole blocks from what is pending. */
  const cut = () => {
    if (pendingBytes < GZIP_BLOCK) return;
    let all = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    while (all.length >= GZIP_BLOCK) {
      submit(all.subarray(0, GZIP_BLOCK), false);
      all = all.subarray(GZIP_BLOCK);
    }
    pending = all.length > 0 ? [Buffer.from(all)] : [];
    pendingBytes = all.length;
  };

  const transform = new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      crc = crc32(chunk, crc);
      size = (size + chunk.length) % 2 ** 32;
      pending.push(chunk);
      pendingBytes += chunk.length;
      cut();
      void (async () => {
        while (inFlight.length >= parallel) transform.push(await inFlight.shift()!);
      })().then(() => callback(), callback);
    },
    flush(callback: TransformCallback) {
      submit(Buffer.concat(pending, pendingBytes), true);
      pending = [];
      void (async () => {
        while (inFlight.length > 0) transform.push(await inFlight.shift()!);
        const trailer = Buffer.alloc(8);
        trailer.writeUInt32LE(crc >>> 0, 0);
        trailer.writeUInt32LE(size >>> 0, 4);
        transform.push(trailer);
      })().then(() => callback(), callback);
    },
  });
  transform.push(header(level));
  return transform;
}
