/**
 * A streaming tar writer. Entries are written as ustar headers; a value ustar cannot hold (a long
 * path or link target, a large size or id) goes into a pax extended header named
 * `PaxHeaders/<name>`, so the output depends only on the entries given.
 */
import { FormatError } from "../../errors";
import {
  BLOCK,
  encodeHeader,
  encodePax,
  fitsUstar,
  octalLimit,
  TarType,
  type TarHeader,
} from "./header";

/** What a writer needs to know of an entry; everything not given is zero or empty. */
export type TarEntryInput = Partial<TarHeader> & { readonly path: string; readonly type: TarType };

/** Where written bytes go: a function that may return a promise (backpressure). */
export type Sink = (chunk: Buffer) => void | Promise<void>;

const ZERO = Buffer.alloc(BLOCK);

export class TarWriter {
  private finished = false;

  constructor(private readonly sink: Sink) {}

  /** Writes one entry; `body` must be exactly `size` bytes (files only). */
  async add(input: TarEntryInput, body?: Uint8Array | AsyncIterable<Uint8Array>): Promise<void> {
    if (this.finished) throw new FormatError("tar: entry added after finish()");
    const header: TarHeader = {
      path: input.path,
      mode: input.mode ?? 0,
      uid: input.uid ?? 0,
      gid: input.gid ?? 0,
      size: input.size ?? (body instanceof Uint8Array ? body.length : 0),
      mtime: input.mtime ?? 0,
      type: input.type,
      linkname: input.linkname ?? "",
      uname: input.uname ?? "",
      gname: input.gname ?? "",
      devmajor: input.devmajor ?? 0,
      devminor: input.devminor ?? 0,
    };
    if (header.type !== TarType.File && header.type !== TarType.Contiguous && header.size !== 0) {
      throw new FormatError(`tar: ${header.path}: only regular files have contents`);
    }
    if (!fitsUstar(header)) await this.pax(header);
    await this.sink(encodeHeader(this.ustarPart(header)));
    let written = 0;
    if (body !== undefined) {
      const chunks = body instanceof Uint8Array ? [body] : body;
      for await (const chunk of chunks) {
        written += chunk.length;
        if (written > header.size)
          throw new FormatError(`tar: ${header.path}: more data than its size ${header.size}`);
        await this.sink(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      }
    }
    if (written !== header.size)
      throw new FormatError(
        `tar: ${header.path}: ${written} bytes of data for size ${header.size}`,
      );
    await this.pad(header.size);
  }

  /** Writes the two zero blocks that end an archive. */
  async finish(): Promise<void> {
    if (this.finished) return;
    this.finished = true;
    await this.sink(Buffer.alloc(BLOCK * 2));
  }

  private async pad(size: number): Promise<void> {
    const rest = size % BLOCK;
    if (rest !== 0) await this.sink(ZERO.subarray(0, BLOCK - rest));
  }

  /** Records in a pax header what ustar cannot hold. */
  private async pax(h: TarHeader): Promise<void> {
    const records: Record<string, string> = {};
    const ustar = this.ustarPart(h);
    if (ustar.path !== h.path) records.path = h.path;
    if (ustar.linkname !== h.linkname) records.linkpath = h.linkname;
    if (ustar.size !== h.size) records.size = String(h.size);
    if (ustar.uid !== h.uid) records.uid = String(h.uid);
    if (ustar.gid !== h.gid) records.gid = String(h.gid);
    if (ustar.mtime !== h.mtime) records.mtime = String(h.mtime);
    if (ustar.uname !== h.uname) records.uname = h.uname;
    if (ustar.gname !== h.gname) records.gname = h.gname;
    const data = encodePax(records);
    const name = h.path.split("/").filter(Boolean).pop() ?? "entry";
    await this.sink(
      encodeHeader({
        ...ustarDefaults(),
        path: `PaxHeaders/${truncateBytes(name, 80)}`,
        type: TarType.PaxHeader,
        size: data.length,
        mtime: ustar.mtime,
      }),
    );
    await this.sink(data);
    await this.pad(data.length);
  }

  /** The header with every field cut to what ustar holds (the rest is in the pax header). */
  private ustarPart(h: TarHeader): TarHeader {
    const clamp = (v: number, width: number) => (v > octalLimit(width) || v < 0 ? 0 : v);
    return {
      ...h,
      path: fitsPath(h.path) ? h.path : truncatePath(h.path),
      linkname: Buffer.byteLength(h.linkname) <= 100 ? h.linkname : truncateBytes(h.linkname, 100),
      size: clamp(h.size, 12),
      uid: clamp(h.uid, 8),
      gid: clamp(h.gid, 8),
      mtime: clamp(h.mtime, 12),
      uname: Buffer.byteLength(h.uname) <= 32 ? h.uname : "",
      gname: Buffer.byteLength(h.gname) <= 32 ? h.gname : "",
    };
  }
}

function ustarDefaults(): Omit<TarHeader, "path" | "type"> {
  return {
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: 0,
    mtime: 0,
    linkname: "",
    uname: "",
    gname: "",
    devmajor: 0,
    devminor: 0,
  };
}

function fitsPath(path: string): boolean {
  return fitsUstar({ ...ustarDefaults(), path, type: TarType.File });
}

/** A stand-in name for readers that ignore pax headers: the last 100 bytes' worth of the path. */
function truncatePath(path: string): string {
  return truncateBytes(path.split("/").pop() ?? path, 100);
}

function truncateBytes(text: string, bytes: number): string {
  let out = text;
  while (Buffer.byteLength(out) > bytes) out = out.slice(0, -1);
  return out;
}
