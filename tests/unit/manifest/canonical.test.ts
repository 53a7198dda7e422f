import { strict as assert } from "node:assert";
import { canonicalJson, manifestDigest } from "../../../sdk/manifest/canonical";
import { validateManifest } from "../../../sdk/manifest/validate";

describe("canonicalJson", () => {
  it("sorts keys at every depth, drops undefined and keeps array order", () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [3, 1], c: undefined, b: null } }),
      '{"a":{"b":null,"d":[3,1]},"b":1}',
    );
  });

  it("gives equal manifests equal digests whatever the key order or path spelling", () => {
    const a = validateManifest({
      services: [{ name: "web", image: "nginx:1", env: ["A=1"] }],
      files: [{ path: "etc/motd", contents: "hi", mode: 0o644 }],
    });
    const b = validateManifest({
      files: [{ mode: "0644", contents: "hi", path: "/etc/motd" }],
      services: [{ env: ["A=1"], image: "nginx:1", name: "web" }],
      onboot: [],
    });
    assert.equal(manifestDigest(a).toString(), manifestDigest(b).toString());
    const c = validateManifest({ services: [{ name: "web", image: "nginx:2", env: ["A=1"] }] });
    assert.notEqual(manifestDigest(a).toString(), manifestDigest(c).toString());
  });
});
