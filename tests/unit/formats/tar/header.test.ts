import { strict as assert } from "node:assert";
import { FormatError } from "../../../../sdk/errors";
import {
  checksum,
  decodeHeader,
  decodePax,
  encodeHeader,
  encodePax,
  fitsUstar,
  splitUstarPath,
  TarType,
  type TarHeader,
} from "../../../../sdk/formats/tar/header";

const base: TarHeader = {
  path: "usr/bin/app",
  mode: 0o755,
  uid: 0,
  gid: 0,
  size: 1234,
  mtime: 1492533000,
  type: TarType.File,
  linkname: "",
  uname: "",
  gname: "",
  devmajor: 0,
  devminor: 0,
};

describe("tar header", () => {
  it("encodes the ustar fields at their offsets, with a valid checksum", () => {
    const block = encodeHeader(base);
    assert.equal(block.length, 512);
    assert.equal(block.subarray(0, 11).toString(), "usr/bin/app");
    assert.equal(block.subarray(100, 108).toString(), "0000755\0");
    assert.equal(block.subarray(124, 136).toString(), "00000002322\0");
    assert.equal(block.subarray(136, 148).toString(), "13075437410\0");
    assert.equal(String.fromCharCode(block[156]!), "0");
    assert.equal(block.subarray(257, 265).toString("latin1"), "ustar\u000000");
    assert.equal(
      block.subarray(148, 156).toString(),
      `${checksum(block).toString(8).padStart(6, "0")}\0 `,
    );
    assert.deepEqual(decodeHeader(block), base);
  });

  it("splits long paths into prefix and name, and refuses what does not fit", () => {
    const long = `${"d".repeat(120)}/file`;
    assert.deepEqual(splitUstarPath(long), { prefix: "d".repeat(120), name: "file" });
    assert.deepEqual(decodeHeader(encodeHeader({ ...base, path: long })).path, long);
    assert.equal(splitUstarPath("x".repeat(101)), undefined);
    assert.ok(!fitsUstar({ ...base, size: 8 ** 11 }));
    assert.throws(() => encodeHeader({ ...base, size: 8 ** 11 }), FormatError);
    assert.throws(
      () => encodeHeader({ ...base, linkname: "l".repeat(101) }),
      /longer than 100 bytes/,
    );
  });

  it("refuses a corrupt block and reads GNU base-256 numbers", () => {
    const block = encodeHeader(base);
    block[0] = 0x41;
    assert.throws(() => decodeHeader(block), /checksum/);
    const big = encodeHeader(base);
    big.fill(0, 124, 136);
    big[124] = 0x80;
    big.writeUIntBE(2 ** 40, 130, 6);
    big.write(`${checksum(big).toString(8).padStart(6, "0")}\0 `, 148, 8, "ascii");
    assert.equal(decodeHeader(big).size, 2 ** 40);
  });

  it("writes pax records whose length counts itself, and reads them back", () => {
    assert.equal(encodePax({ path: "a" }).toString(), "9 path=a\n");
    const records = { path: "p".repeat(200), linkpath: "ü/ß", size: "123456789012" };
    const encoded = encodePax(records);
    for (const line of encoded.toString().split("\n").filter(Boolean)) {
      assert.equal(Number(line.split(" ")[0]), Buffer.byteLength(`${line}\n`));
    }
    assert.deepEqual(decodePax(encoded), records);
    assert.throws(() => decodePax(Buffer.from("99 path=x\n")), /malformed/);
  });
});
