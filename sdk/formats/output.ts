/**
 * The files of one format, written the way a reader may never see half of them: each under a
 * temporary name, hashed as it is written (through gzip when asked), and all renamed into place
 * together once every one is complete. A failure anywhere (a full disk, a writer's error) removes
 * every temporary file and leaves the previous outputs as they were.
 */
import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { PassThrough, Transform, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { FormatError, OskitError } from "../errors";
import type { Extent, SparseDisk } from "./disk/sparse-disk";
import { createDeterministicGzip } from "./gzip";
import type { Sink } from "./tar/writer";

/** A file a format wrote. */
export interface OutputFile {
  readonly name: string;
  readonly size: number;
  /** sha256 of the file's bytes. */
  readonly sha256: string;
  /** sha256 of the uncompressed content, for compressed files: the identity that does not depend on zlib. */
  readonly contentSha256?: string;
  /** For disk images: the byte ranges of the disk (whole 512-byte sectors) that hold non-zero data. */
  readonly allocation?: readonly Extent[];
  /** For disk images: the disk's size (a VHD's file is 512 bytes longer, a qcow2's unrelated). */
  readonly diskSize?: number;
}

/** Opens a file for writing; the default flushes it to disk before it closes. */
export type OpenFile = (path: string) => Writable;

const openFile: OpenFile = (path) => createWriteStream(path, { flush: true });

export interface FileOptions {
  /** gzip the content at this level. */
  readonly gzipLevel?: number;
  /** Bytes written first, as they are (not compressed). */
  readonly prefix?: Uint8Array;
}

/** Writes `chunk`, waiting while the stream is full; fails once the stream is destroyed. */
async function writeChunk(stream: Writable, chunk: Buffer): Promise<void> {
  if (stream.destroyed) throw new Error("the output was closed");
  if (stream.write(chunk)) return;
  await new Promise<void>((resolve, reject) => {
    const drained = () => {
      stream.off("close", closed);
      resolve();
    };
    const closed = () => {
      stream.off("drain", drained);
      reject(new Error("the output was closed"));
    };
    stream.once("drain", drained);
    stream.once("close", closed);
  });
}

/** Bytes gathered before small writes (headers, padding, small files) are passed on. */
const BATCH = 256 * 1024;

/**
 * A sink that passes small chunks on in batches of about 256 KiB: a writer's thousands of
 * headers and paddings would otherwise each cross every stream of the pipeline on their own.
 */
function batching(sink: (chunk: Buffer) => Promise<void>) {
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = async () => {
    if (pendingBytes === 0) return;
    const chunk = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    pending = [];
    pendingBytes = 0;
    await sink(chunk);
  };
  return {
    flush,
    sink: async (chunk: Buffer) => {
      if (chunk.length >= BATCH) {
        await flush();
        await sink(chunk);
        return;
      }
      pending.push(chunk);
      pendingBytes += chunk.length;
      if (pendingBytes >= BATCH) await flush();
    },
  };
}

export class OutputFiles {
  /** Temporary path of each file written and not yet renamed, by name. */
  private readonly temps = new Map<string, string>();

  constructor(
    private readonly dir: string,
    private readonly open: OpenFile = openFile,
  ) {}

  /** Where a file written here is until `commit`. */
  pathOf(name: string): string {
    const temp = this.temps.get(name);
    if (temp === undefined) throw new Error(`${name} was not written`);
    return temp;
  }

  /** Writes a file from what `produce` gives its sink: the producer and the file run together. */
  async write(
    name: string,
    produce: (sink: Sink) => Promise<void>,
    options: FileOptions = {},
  ): Promise<OutputFile> {
    const temp = join(this.dir, `.${name}.${randomBytes(4).toString("hex")}.tmp`);
    this.temps.set(name, temp);
    const content = new PassThrough();
    const contentHash = createHash("sha256");
    const fileHash = createHash("sha256");
    let size = 0;
    const count = (chunk: Buffer) => {
      fileHash.update(chunk);
      size += chunk.length;
      return chunk;
    };
    const counted = new Transform({
      transform: (chunk: Buffer, _encoding, callback) => callback(null, count(chunk)),
    });
    if (options.prefix !== undefined) counted.push(count(Buffer.from(options.prefix)));
    const written = pipeline([
      content,
      ...(options.gzipLevel === undefined
        ? []
        : [createDeterministicGzip({ level: options.gzipLevel })]),
      counted,
      this.open(temp),
    ]);
    const fed = (async () => {
      try {
        const batched = batching(async (chunk) => {
          contentHash.update(chunk);
          await writeChunk(content, chunk);
        });
        await produce(batched.sink);
        await batched.flush();
        content.end();
      } catch (error) {
        content.destroy(error as Error);
        throw error;
      }
    })();
    const [file, producer] = await Promise.allSettled([written, fed]);
    if (file.status === "rejected") throw file.reason;
    if (producer.status === "rejected") throw producer.reason;
    return {
      name,
      size,
      sha256: `sha256:${fileHash.digest("hex")}`,
      ...(options.gzipLevel !== undefined && {
        contentSha256: `sha256:${contentHash.digest("hex")}`,
      }),
    };
  }

  /**
   * Writes a disk image as a sparse file (holes where the disk is zero), followed by `trailer`
   * (a VHD's footer); hashed as the bytes a reader sees.
   */
  async writeDisk(name: string, disk: SparseDisk, trailer?: Buffer): Promise<OutputFile> {
    const temp = join(this.dir, `.${name}.${randomBytes(4).toString("hex")}.tmp`);
    this.temps.set(name, temp);
    const hash = createHash("sha256");
    const zeros = Buffer.alloc(1 << 20);
    const hashZeros = (length: number) => {
      for (let left = length; left > 0; left -= zeros.length)
        hash.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
    };
    const handle = await open(temp, "w");
    try {
      let at = 0;
      for (const { offset, data } of disk.data()) {
        hashZeros(offset - at);
        hash.update(data);
        await handle.write(data, 0, data.length, offset);
        at = offset + data.length;
      }
      hashZeros(disk.size - at);
      await handle.truncate(disk.size);
      if (trailer !== undefined) {
        hash.update(trailer);
        await handle.write(trailer, 0, trailer.length, disk.size);
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    return {
      name,
      size: disk.size + (trailer?.length ?? 0),
      sha256: `sha256:${hash.digest("hex")}`,
      allocation: disk.allocation(),
      diskSize: disk.size,
    };
  }

  /** Removes a file written here that is not an output (an intermediate). */
  async discard(name: string): Promise<void> {
    await rm(this.pathOf(name), { force: true });
    this.temps.delete(name);
  }

  /** Renames every file into place. */
  async commit(): Promise<void> {
    for (const [name, temp] of this.temps) {
      await rename(temp, join(this.dir, name));
      this.temps.delete(name);
    }
  }

  /** The names of the files being written. */
  names(): string[] {
    return [...this.temps.keys()];
  }

  /** Removes every temporary file. */
  async abort(): Promise<void> {
    for (const temp of this.temps.values()) await rm(temp, { force: true });
    this.temps.clear();
  }
}

/** Runs `body` with a fresh set of output files, renaming them into place only if it succeeds. */
export async function writeOutputs(
  dir: string,
  open: OpenFile | undefined,
  body: (files: OutputFiles) => Promise<OutputFile[]>,
): Promise<OutputFile[]> {
  const files = new OutputFiles(dir, open);
  try {
    const outputs = await body(files);
    await files.commit();
    return outputs;
  } catch (error) {
    const names = files.names();
    await files.abort();
    throw writeFailure(error, dir, names);
  }
}

/** The host's error code (ENOSPC, EACCES, …) of an error or of what caused it. */
function errnoOf(error: unknown): string | undefined {
  for (let e = error; e instanceof Error; e = e.cause) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

/** A failed write said in the user's terms: which files, where, and that nothing changed. */
function writeFailure(error: unknown, dir: string, names: readonly string[]): unknown {
  if (OskitError.is(error)) return error;
  const code = errnoOf(error);
  if (code === undefined) return error;
  const what = names.length > 0 ? names.join(", ") : "the outputs";
  const kept = "nothing was written and earlier outputs are as they were";
  return new FormatError(
    code === "ENOSPC" || code === "EDQUOT"
      ? `no space left in ${dir} while writing ${what}: ${kept}; free some space or build into another directory with -o`
      : `cannot write ${what} in ${dir}: ${(error as Error).message}; ${kept}`,
    { cause: error },
  );
}
