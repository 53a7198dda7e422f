import { strict as assert } from "node:assert";
import { crc32c, crc32cBase64 } from "../../../../provider/gcp/crc32c";

describe("CRC32C (Castagnoli)", () => {
  // RFC 3720 (iSCSI), appendix B.4, the CRC as the 32-bit value of its four bytes read little-endian.
  const vectors: [string, Buffer, number][] = [
    ["32 bytes of zeros", Buffer.alloc(32, 0x00), 0x8a9136aa],
    ["32 bytes of ones", Buffer.alloc(32, 0xff), 0x62a8ab43],
    ["32 incrementing bytes", Buffer.from(Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e],
    [
      "32 decrementing bytes",
      Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i)),
      0x113fdb5c,
    ],
  ];
  for (const [name, data, expected] of vectors)
    it(`GIVEN RFC 3720's ${name} WHEN checksummed THEN it is 0x${expected.toString(16)}`, () => {
      assert.equal(crc32c(data), expected);
    });

  it('GIVEN "123456789" WHEN checksummed THEN it is the check value 0xe3069283', () => {
    assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
  });

  it("GIVEN data split anywhere WHEN checksummed in parts THEN it equals the whole's", () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 7) & 0xff));
    for (const at of [0, 1, 500, 999, 1000])
      assert.equal(crc32c(data.subarray(at), crc32c(data.subarray(0, at))), crc32c(data));
  });

  it("GIVEN a CRC WHEN written as GCS writes it THEN it is base64 of the big-endian bytes", () => {
    assert.equal(crc32cBase64(0xe3069283), "4waSgw==");
    assert.equal(crc32cBase64(0), "AAAAAA==");
  });
});
