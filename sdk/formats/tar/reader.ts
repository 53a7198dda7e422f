/**
 * A streaming tar reader: ustar, pax (`x` and `g` headers) and GNU long names (`L`, `K`).
 * Entries come one at a time; an entry's data must be read (or left) before the next is asked
 * for, and is never held in memory unless the caller asks for all of it.
 */
import { FormatError } from "../../errors";
import { BLOCK, decodeHeader, decodePax, isZeroBlock, TarType, type TarHeader } from "./header";

export interface TarEntry {
  /** The header, with pax and GNU long-name overrides applied. */
  readonly header: TarHeader;
  /** The entry's data, streamed; iterate it at most once. */
  readonly body: AsyncIterable<Buffer>;
  /** The entry's data, whole. */
  readAll(): Promise<Buffer>;
}

/** Reads exact byte counts from a stream of chunks. */
class ByteSource {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private ended = false;
  private readonly iterator: AsyncIterator<Uint8Array>;

  constructor(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    if (Symbol.asyncIterator in source) {
      this.iterator = source[Symbol.asyncIterator]();
    } else {
      const sync = source[Symbol.iterator]();
      this.iterator = { next: () => Promise.resolve(sync.next()) };
    }
  }

  private async fill(n: number): Promise<void> {
    while (this.buffered < n && !this.ended) {
      const next = await this.iterator.next();
      if (next.done === true) this.ended = true;
      else if (next.value.length > 0) {
        const chunk = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.length);
        this.chunks.push(chunk);
        this.buffered += chunk.length;
      }
    }
  }

  private take(n: number): Buffer {
    const out: Buffer[] = [];
    let left = n;
    while (left > 0) {
      const head = this.chunks[0]!;
      if (head.length <= left) {
        out.push(head);
        this.chunks.shift();
        left -= head.length;
      } else {
        out.push(head.subarray(0, left));
        this.chunks[0] = head.subarray(left);
        left = 0;
      }
    }
    this.buffered -= n;
    return out.length === 1 ? out[0]! : Buffer.concat(out, n);
  }

  /** Exactly n bytes, or undefined at a clean end of the stream. */
  async read(n: number): Promise<Buffer | undefined> {
    await this.fill(n);
    if (this.buffered === 0 && this.ended) return undefined;
    if (this.buffered < n) throw new FormatError("tar: the archive is truncated");
    return this.take(n);
  }

  /** Up to n bytes as they arrive. */
  async *stream(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      await this.fill(1);
      if (this.buffered === 0) throw new FormatError("tar: the archive is truncated");
      const size = Math.min(left, this.chunks[0]!.length);
      left -= size;
      yield this.take(size);
    }
  }

  async skip(n: number): Promise<void> {
    for await (const chunk of this.stream(n)) void chunk;
  }
}

const padding = (size: number) => (BLOCK - (size % BLOCK)) % BLOCK;

/** The entries of a tar archive. */
export async function* readTar(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
): AsyncGenerator<TarEntry> {
  const input = new ByteSource(source);
  let global: Record<string, string> = {};
  let local: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await input.read(BLOCK);
    if (block === undefined || isZeroBlock(block)) return;
    const raw = decodeHeader(block);
    if (raw.type === TarType.PaxHeader || raw.type === TarType.PaxGlobalHeader) {
      const records = decodePax(
        ((await input.read(raw.size + padding(raw.size))) ?? Buffer.alloc(0)).subarray(0, raw.size),
      );
      if (raw.type === TarType.PaxGlobalHeader) global = { ...global, ...records };
      else local = { ...local, ...records };
      continue;
    }
    if (raw.type === TarType.GnuLongName || raw.type === TarType.GnuLongLink) {
      const data = ((await input.read(raw.size + padding(raw.size))) ?? Buffer.alloc(0)).subarray(
        0,
        raw.size,
      );
      const text = data.toString("utf8").replace(/\0+$/, "");
      if (raw.type === TarType.GnuLongName) longName = text;
      else longLink = text;
      continue;
    }
    const pax = { ...global, ...local };
    const number = (key: string, fallback: number) => {
      const value = pax[key];
      if (value === undefined) return fallback;
      const n = Number(value);
      if (!Number.isFinite(n) || n < 0)
        throw new FormatError(`tar: pax ${key} "${value}" is not a number`);
      return Math.floor(n);
    };
    const header: TarHeader = {
      ...raw,
      path: pax.path ?? longName ?? raw.path,
      linkname: pax.linkpath ?? longLink ?? raw.linkname,
      size: number("size", raw.size),
      uid: number("uid", raw.uid),
      gid: number("gid", raw.gid),
      mtime: number("mtime", raw.mtime),
      uname: pax.uname ?? raw.uname,
      gname: pax.gname ?? raw.gname,
    };
    local = {};
    longName = undefined;
    longLink = undefined;
    const dataSize =
      header.type === TarType.File || header.type === TarType.Contiguous ? header.size : 0;
    let remaining = dataSize;
    let opened = false;
    const body: AsyncIterable<Buffer> = {
      [Symbol.asyncIterator]: () => {
        if (opened) throw new FormatError(`tar: the data of ${header.path} was already read`);
        opened = true;
        return (async function* () {
          for await (const chunk of input.stream(remaining)) {
            remaining -= chunk.length;
            yield chunk;
          }
        })();
      },
    };
    const entry: TarEntry = {
      header,
      body,
      async readAll() {
        const parts: Buffer[] = [];
        for await (const chunk of body) parts.push(chunk);
        return Buffer.concat(parts, dataSize);
      },
    };
    yield entry;
    await input.skip(remaining);
    await input.skip(padding(dataSize));
  }
}
