import { strict as assert } from "node:assert";
import { Digest } from "../../../sdk/manifest/digest";

describe("Digest", () => {
  it("hashes with sha256 (known vector) and round-trips through its text form", () => {
    const d = Digest.sha256("abc");
    assert.equal(
      d.toString(),
      "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
    );
    assert.ok(Digest.parse(d.toString()).equals(d));
    assert.equal(d.short(), "ba7816bf8f01");
    assert.equal(JSON.stringify({ d }), `{"d":"${d.toString()}"}`);
  });

  it("refuses anything but sha256 with 64 lowercase hex digits", () => {
    for (const text of [
      "sha256:abc",
      `sha512:${"a".repeat(64)}`,
      `sha256:${"A".repeat(64)}`,
      "a".repeat(64),
    ]) {
      assert.throws(() => Digest.parse(text), /not a sha256 digest/, text);
      assert.equal(Digest.isValid(text), false);
    }
  });
});
