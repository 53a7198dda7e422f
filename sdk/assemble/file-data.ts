/**
 * A regular file's contents while a system is assembled: bytes in memory, or a range of the
 * build's spill file, so a root filesystem of gigabytes is held on disk rather than in RAM.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { randomBytes } from "node:crypto";
import { AssembleError } from "../errors";

/** The most a chunk of file data read back at once holds. */
const CHUNK = 1024 * 1024;

/** A file's contents, read as often as needed; immutable. */
export class FileData {
  private constructor(
    /** Bytes. */
    readonly size: number,
    private readonly bytes: Buffer | undefined,
    private readonly spill: { readonly file: SpillFile; readonly offset: number } | undefined,
  ) {}

  /** Contents held in memory. */
  static of(bytes: Buffer | string): FileData {
    const buffer = typeof bytes === "string" ? Buffer.from(bytes) : bytes;
    return new FileData(buffer.length, buffer, undefined);
  }

  /** @internal contents that a spill file holds. */
  static spilled(file: SpillFile, offset: number, size: number): FileData {
    return new FileData(size, undefined, { file, offset });
  }

  /** All of it, in memory: for files a writer needs whole (a kernel, a command line). */
  read(): Buffer {
    if (this.bytes !== undefined) return this.bytes;
    const out = Buffer.allocUnsafe(this.size);
    this.spill!.file.readInto(out, this.spill!.offset);
    return out;
  }

  /** The contents in pieces of at most 1 MiB: for writers that stream. */
  *chunks(): Generator<Buffer> {
    if (this.bytes !== undefined) {
      if (this.size > 0) yield this.bytes;
      return;
    }
    for (let at = 0; at < this.size; at += CHUNK) {
      const piece = Buffer.allocUnsafe(Math.min(CHUNK, this.size - at));
      this.spill!.file.readInto(piece, this.spill!.offset + at);
      yield piece;
    }
  }

  /** The same pieces, as an async iterable (what streaming writers take). */
  stream(): AsyncIterable<Buffer> {
    return Readable.from(this.chunks());
  }
}

/**
 * An anonymous scratch file in a directory (opened, then unlinked at once, so nothing is left
 * behind whatever happens to the process): file data is appended and read back by offset.
 */
export class SpillFile {
  private size = 0;
  private closed = false;

  private constructor(
    private readonly fd: number,
    private readonly dir: string,
  ) {}

  /** A new spill file in `dir` (the output directory: the build's own disk space). */
  static open(dir: string): SpillFile {
    const path = join(dir, `.oskit-spill-${randomBytes(6).toString("hex")}`);
    let fd: number;
    try {
      fd = openSync(path, "wx+", 0o600);
    } catch (error) {
      throw new AssembleError(
        `cannot create scratch space in ${dir}: ${(error as Error).message}`,
        { cause: error },
      );
    }
    unlinkSync(path);
    return new SpillFile(fd, dir);
  }

  /** Appends a file's contents (exactly `size` bytes) and returns them as FileData. */
  async append(
    chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    size: number,
    context: string,
  ): Promise<FileData> {
    const offset = this.size;
    this.size += size; // reserved first: images are extracted side by side
    let written = 0;
    for await (const chunk of chunks) {
      if (written + chunk.length > size)
        throw new AssembleError(`${context}: more file data than the ${size} bytes announced`);
      this.write(chunk, offset + written, context);
      written += chunk.length;
    }
    if (written !== size)
      throw new AssembleError(`${context}: expected ${size} bytes of file data, got ${written}`);
    return FileData.spilled(this, offset, size);
  }

  private write(chunk: Uint8Array, position: number, context: string): void {
    let done = 0;
    try {
      while (done < chunk.length)
        done += writeSync(this.fd, chunk, done, chunk.length - done, position + done);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new AssembleError(
        code === "ENOSPC" || code === "EDQUOT"
          ? `${context}: no space left in ${this.dir} for the system's files (the build holds them there while it writes); free some space or build into another directory with -o`
          : `${context}: cannot hold the file's data in ${this.dir}: ${(error as Error).message}`,
        { cause: error },
      );
    }
  }

  /** @internal fills `out` from `offset`. */
  readInto(out: Buffer, offset: number): void {
    if (this.closed) throw new AssembleError("file data read after its build ended");
    let done = 0;
    while (done < out.length) {
      const n = readSync(this.fd, out, done, out.length - done, offset + done);
      if (n === 0) throw new AssembleError("the build's scratch file ended early");
      done += n;
    }
  }

  /** Frees the space (the file has no name: closing it is the end of it). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}
