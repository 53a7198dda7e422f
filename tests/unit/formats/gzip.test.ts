import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { Readable } from "node:stream";
import { gunzipSync } from "node:zlib";
import { createDeterministicGzip } from "../../../sdk/formats/gzip";

async function gzip(data: Buffer, level: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of Readable.from([data.subarray(0, 10), data.subarray(10)]).pipe(
    createDeterministicGzip(level),
  )) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

describe("deterministic gzip", () => {
  const data = Buffer.from("oskit ".repeat(10000));

  it("writes a fixed header (no name, mtime 0, OS unknown) and a trailer gunzip verifies", async () => {
    const out = await gzip(data, 9);
    assert.deepEqual([...out.subarray(0, 10)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 0xff]);
    assert.deepEqual(gunzipSync(out), data);
    const system = spawnSync("gzip", ["-dc"], { input: out });
    assert.equal(system.status, 0);
    assert.deepEqual(system.stdout, data);
    assert.equal(out.readUInt32LE(out.length - 4), data.length);
  });

  it("gives the same bytes for the same data and level", async () => {
    assert.deepEqual(await gzip(data, 6), await gzip(data, 6));
    assert.notDeepEqual(await gzip(data, 1), await gzip(data, 9));
  });
});
