/**
 * The checks Compute Engine makes of an image tarball (rawDisk.source) before it makes an image:
 * gzip, a GNU/old-GNU tar whose first member is a regular or GNU sparse (`S`) file named
 * `disk.raw`, complete, whose size is a whole number of GiB. Reads the object as a stream.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import { createGunzip } from "node:zlib";
import { GIB, type OperationError } from "./state";

const BLOCK = 512;
export const INVALID_IMAGE_TAR = "INVALID_IMAGE_TAR";

export interface TarballFacts {
  /** The disk's size (a sparse file's real size). */
  readonly diskSize: number;
  /** `S` when disk.raw is a GNU sparse file, `0` when regular. */
  readonly type: "0" | "S";
  /** SHA-1 of the object's bytes (rawDisk.sha1Checksum is compared with it). */
  readonly sha1: string;
}

class TarballError extends Error {}

/** Reads exact byte counts from a stream without holding more than a chunk. */
class Reader {
  private buffered: Buffer[] = [];
  private length = 0;
  private done = false;
  constructor(private readonly it: AsyncIterator<Buffer>) {}

  private async more(): Promise<boolean> {
    if (this.done) return false;
    const next = await this.it.next();
    if (next.done === true) {
      this.done = true;
      return false;
    }
    this.buffered.push(next.value);
    this.length += next.value.length;
    return true;
  }

  /** n bytes, or undefined when the stream ends first. */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.length < n) if (!(await this.more())) return undefined;
    const all = Buffer.concat(this.buffered);
    this.buffered = [all.subarray(n)];
    this.length -= n;
    return all.subarray(0, n);
  }

  /** Skips n bytes; false when the stream ends first. */
  async skip(n: number): Promise<boolean> {
    let left = n;
    for (;;) {
      while (left > 0 && this.buffered.length > 0) {
        const head = this.buffered[0]!;
        if (head.length <= left) {
          left -= head.length;
          this.length -= head.length;
          this.buffered.shift();
        } else {
          this.buffered[0] = head.subarray(left);
          this.length -= left;
          left = 0;
        }
      }
      if (left === 0) return true;
      if (!(await this.more())) return false;
    }
  }

  async drain(): Promise<void> {
    while (await this.more()) this.buffered = [];
  }
}

/** A tar number: octal text, or GNU base-256 (high bit of the first byte set). */
function number(block: Buffer, at: number, width: number): number {
  if ((block[at]! & 0x80) !== 0) {
    let v = BigInt(block[at]! & 0x7f);
    for (let i = 1; i < width; i++) v = (v << 8n) | BigInt(block[at + i]!);
    return Number(v);
  }
  const text = block
    .toString("latin1", at, at + width)
    .replace(/[\0 ]+$/, "")
    .trim();
  if (!/^[0-7]*$/.test(text)) throw new TarballError("The tar archive is not a valid image.");
  return text === "" ? 0 : parseInt(text, 8);
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return number(block, 148, 8) === sum;
}

interface Extent {
  readonly offset: number;
  readonly length: number;
}

function readMap(block: Buffer, at: number, count: number, into: Extent[]): void {
  for (let i = 0; i < count; i++) {
    const offset = number(block, at + i * 24, 12);
    const length = number(block, at + i * 24 + 12, 12);
    if (offset === 0 && length === 0 && block[at + i * 24] === 0) break;
    into.push({ offset, length });
  }
}

async function sha1Of(path: string): Promise<string> {
  const hash = createHash("sha1");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Checks the tarball at `path`; the facts, or the error the image operation ends with. */
export async function checkImageTarball(
  path: string,
): Promise<{ facts: TarballFacts } | { error: OperationError }> {
  const fail = (message: string) => ({ error: { code: INVALID_IMAGE_TAR, message } });
  const head = Buffer.alloc(2);
  const fh = await open(path, "r");
  try {
    await fh.read(head, 0, 2, 0);
  } finally {
    await fh.close();
  }
  if (head[0] !== 0x1f || head[1] !== 0x8b)
    return fail("The image file is not a gzip-compressed tar archive (.tar.gz).");
  const gunzip = createReadStream(path).pipe(createGunzip());
  const reader = new Reader(gunzip[Symbol.asyncIterator]() as AsyncIterator<Buffer>);
  try {
    const header = await reader.read(BLOCK);
    if (header === undefined) return fail("The tar archive is not a valid image: it is empty.");
    if (header.every((b) => b === 0))
      return fail("The file inside the tar archive was named ''. It should be named 'disk.raw'.");
    if (!checksumOk(header))
      return fail("The tar archive is not a valid image: the first header's checksum is wrong.");
    const magic = header.toString("latin1", 257, 265);
    if (magic !== "ustar  \0")
      return fail(
        "The tar archive format is not supported. Supported formats are: GNU and OLDGNU.",
      );
    const name = header.toString("utf8", 0, 100).replace(/\0.*$/s, "");
    const type = String.fromCharCode(header[156]!);
    if (type !== "0" && type !== "\0" && type !== "S")
      return fail(
        `The tar archive is not a valid image: its first member '${name}' is not a regular file.`,
      );
    if (name !== "disk.raw")
      return fail(
        `The file inside the tar archive was named '${name}'. It should be named 'disk.raw'.`,
      );
    const stored = number(header, 124, 12);
    let diskSize = stored;
    if (type === "S") {
      diskSize = number(header, 483, 12);
      const map: Extent[] = [];
      readMap(header, 386, 4, map);
      let extended = header[482] !== 0;
      while (extended) {
        const ext = await reader.read(BLOCK);
        if (ext === undefined)
          return fail("The tar archive is not a valid image: it is cut short.");
        readMap(ext, 0, 21, map);
        extended = ext[504] !== 0;
      }
      let last = 0;
      let data = 0;
      for (const e of map) {
        if (e.offset < last || e.offset + e.length > diskSize)
          return fail(
            "The tar archive is not a valid image: disk.raw's sparse map is out of order.",
          );
        last = e.offset + e.length;
        data += e.length;
      }
      if (data !== stored)
        return fail(
          "The tar archive is not a valid image: disk.raw's sparse map disagrees with its size.",
        );
    }
    if (diskSize === 0 || diskSize % GIB !== 0)
      return fail(
        `The disk.raw file inside the tar archive is ${diskSize} bytes, not a whole number of GiB (a multiple of ${GIB} bytes).`,
      );
    if (!(await reader.skip(Math.ceil(stored / BLOCK) * BLOCK)))
      return fail("The tar archive is not a valid image: disk.raw is cut short.");
    await reader.drain();
    return { facts: { diskSize, type: type === "S" ? "S" : "0", sha1: await sha1Of(path) } };
  } catch (error) {
    if (error instanceof TarballError) return fail(error.message);
    return fail(
      `The tar archive is not a valid image: the gzip stream is damaged (${(error as Error).message}).`,
    );
  } finally {
    gunzip.destroy();
  }
}
