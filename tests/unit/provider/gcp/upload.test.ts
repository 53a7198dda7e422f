import { strict as assert } from "node:assert";
import {
  CHUNK_QUANTUM,
  chunkRanges,
  heldBytes,
  sameContent,
} from "../../../../provider/gcp/upload";

describe("resumable upload chunking", () => {
  it("GIVEN a total and a chunk size WHEN chunked THEN every chunk but the last is the chunk size", () => {
    const MiB = 1 << 20;
    const ranges = chunkRanges(0, 20 * MiB + 5, 8 * MiB);
    assert.deepEqual(ranges, [
      [0, 8 * MiB],
      [8 * MiB, 16 * MiB],
      [16 * MiB, 20 * MiB + 5],
    ]);
    assert.deepEqual(chunkRanges(3 * CHUNK_QUANTUM, 4 * CHUNK_QUANTUM, CHUNK_QUANTUM), [
      [3 * CHUNK_QUANTUM, 4 * CHUNK_QUANTUM],
    ]);
  });

  it("GIVEN a chunk size not a multiple of 256 KiB WHEN chunked THEN it is refused", () => {
    assert.throws(() => chunkRanges(0, 10, 1000), /multiple of 256 KiB/);
    assert.throws(() => chunkRanges(0, 10, 0), /multiple of 256 KiB/);
  });

  it("GIVEN a 308's Range WHEN read THEN the next offset is one past its end (none: 0)", () => {
    assert.equal(heldBytes("bytes=0-262143"), 262144);
    assert.equal(heldBytes(null), 0);
    assert.throws(() => heldBytes("bytes=5-9"), /unreadable Range/);
  });

  it("GIVEN an object WHEN compared with a file THEN size and one checksum decide", () => {
    const file = { size: 3, sha256: "", crc32c: "AAAAAA==", md5: "md5" };
    assert.ok(sameContent({ bucket: "b", name: "n", size: "3", crc32c: "AAAAAA==" }, file));
    assert.ok(sameContent({ bucket: "b", name: "n", size: "3", md5Hash: "md5" }, file));
    assert.ok(!sameContent({ bucket: "b", name: "n", size: "4", crc32c: "AAAAAA==" }, file));
    assert.ok(!sameContent({ bucket: "b", name: "n", size: "3", crc32c: "BBBBBB==" }, file));
    assert.ok(!sameContent(undefined, file));
  });
});
