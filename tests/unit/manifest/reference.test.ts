import { strict as assert } from "node:assert";
import { ImageRef, ReferenceSyntaxError } from "../../../sdk/manifest/reference";

describe("ImageRef", () => {
  it("parses repository, tag and digest, with and without a registry", () => {
    const digest = `sha256:${"a".repeat(64)}`;
    const cases: [string, string | undefined, string, string | undefined, string | undefined][] = [
      ["alpine", undefined, "alpine", undefined, undefined],
      ["linuxkit/init:v1.2.0", undefined, "linuxkit/init", "v1.2.0", undefined],
      [`linuxkit/init@${digest}`, undefined, "linuxkit/init", undefined, digest],
      [`localhost:5000/a/b:1@${digest}`, "localhost:5000", "a/b", "1", digest],
      [
        "registry.example.com/team/app_x__y-z:3.1",
        "registry.example.com",
        "team/app_x__y-z",
        "3.1",
        undefined,
      ],
      ["[::1]:5000/app", "[::1]:5000", "app", undefined, undefined],
    ];
    for (const [text, domain, path, tag, dig] of cases) {
      const ref = ImageRef.parse(text);
      assert.deepEqual([ref.domain, ref.path, ref.tag, ref.digest], [domain, path, tag, dig], text);
      assert.equal(ref.toString(), text);
    }
  });

  it("makes the registry explicit as Docker does", () => {
    assert.equal(ImageRef.parse("alpine:3").fullRepository, "docker.io/library/alpine");
    assert.equal(ImageRef.parse("linuxkit/init").fullRepository, "docker.io/linuxkit/init");
    assert.equal(ImageRef.parse("ghcr.io/a/b").fullRepository, "ghcr.io/a/b");
  });

  it("refuses malformed references and says why", () => {
    const bad: [string, RegExp][] = [
      ["", /empty/],
      ["Alpine", /not a valid repository path component/],
      ["alpine:", /not a valid tag/],
      ["alpine:-x", /not a valid tag/],
      ["alpine@sha256:xyz", /not a digest/],
      ["a//b", /empty path component/],
      [" alpine", /spaces/],
      ["bad_host.com:x/app", /not a valid registry host|not a valid tag/],
      [`${"a".repeat(256)}`, /longer than 255/],
    ];
    for (const [text, message] of bad) {
      assert.throws(
        () => ImageRef.parse(text),
        (e: Error) => e instanceof ReferenceSyntaxError && message.test(e.message),
        text,
      );
      assert.equal(ImageRef.tryParse(text), undefined);
    }
  });

  it("holds sha256 digests to 64 lowercase hex digits", () => {
    assert.throws(
      () => ImageRef.parse(`alpine@sha256:${"A".repeat(64)}`),
      /64 lowercase hex digits/,
    );
    assert.throws(
      () => ImageRef.parse(`alpine@sha256:${"a".repeat(32)}`),
      /64 lowercase hex digits/,
    );
    assert.equal(
      ImageRef.parse(`alpine@sha512:${"f".repeat(128)}`).digest,
      `sha512:${"f".repeat(128)}`,
    );
  });
});
