/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum Cloud Storage keeps of every
 * object (`crc32c`, base64 of the big-endian value): table-driven, incremental.
 */

const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC32C of `data`, continuing from `previous` (the CRC of the bytes before it). */
export function crc32c(data: Uint8Array, previous = 0): number {
  let crc = ~previous >>> 0;
  for (let i = 0; i < data.length; i++) crc = TABLE[(crc ^ data[i]!) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}

/** The form Cloud Storage gives and takes: base64 of the four big-endian bytes. */
export function crc32cBase64(value: number): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(value >>> 0);
  return bytes.toString("base64");
}
