import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { Readable } from "node:stream";
import { gunzipSync, gzipSync } from "node:zlib";
import { createDeterministicGzip, GZIP_BLOCK, type GzipOptions } from "../../../sdk/formats/gzip";

/** gzips `data` arriving in pieces of `piece` bytes. */
async function gzip(data: Buffer, options: GzipOptions, piece = 10): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length; at += piece) pieces.push(data.subarray(at, at + piece));
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.from(pieces).pipe(createDeterministicGzip(options)))
    chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Text that compresses like a root filesystem, different in every block. */
function text(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let x = 7;
  for (let at = 0; at < bytes; at++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[at] = (x >>> 24) % 7 === 0 ? 0x0a : 0x61 + ((x >>> 16) % 8);
  }
  return out;
}

describe("deterministic gzip", () => {
  const small = Buffer.from("oskit ".repeat(10000));
  const large = text(3 * GZIP_BLOCK + 12345);

  it("writes a fixed header (no name, mtime 0, OS unknown) and a trailer gunzip verifies", async () => {
    const out = await gzip(small, { level: 9 });
    assert.deepEqual([...out.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
    assert.deepEqual(gunzipSync(out), small);
    const system = spawnSync("gzip", ["-dc"], { input: out });
    assert.equal(system.status, 0);
    assert.deepEqual(system.stdout, small);
    assert.equal(out.readUInt32LE(out.length - 4), small.length);
  });

  it("gives the same bytes for the same data and level", async () => {
    assert.deepEqual(await gzip(small, { level: 6 }), await gzip(small, { level: 6 }));
    assert.notDeepEqual(await gzip(small, { level: 1 }), await gzip(small, { level: 9 }));
  });

  it("joins blocks deflated in parallel into one stream that gzip -t accepts", async () => {
    const out = await gzip(large, { level: 6, parallel: 4 }, 65536);
    assert.deepEqual(gunzipSync(out), large);
    const system = spawnSync("gzip", ["-t"], { input: out });
    assert.equal(system.status, 0, system.stderr.toString());
    // the 32 KiB dictionaries keep the cost of cutting small: within 1% of one zlib stream
    assert.ok(out.length <= gzipSync(large, { level: 6 }).length * 1.01, `${out.length} bytes`);
  });

  it("gives the same bytes however many blocks run at once and however the data arrives", async () => {
    const one = await gzip(large, { level: 6, parallel: 1 }, 1 << 20);
    assert.deepEqual(await gzip(large, { level: 6, parallel: 3 }, 4093), one);
    assert.deepEqual(await gzip(large, { level: 6, parallel: 2 }, large.length), one);
  });

  it("compresses nothing into a valid empty stream", async () => {
    const out = await gzip(Buffer.alloc(0), { level: 6 });
    assert.deepEqual(gunzipSync(out), Buffer.alloc(0));
  });
});
