import { strict as assert } from "node:assert";
import { isAbsoluteCleanPath, normalizeImagePath } from "../../../sdk/manifest/paths";

describe("normalizeImagePath", () => {
  it("treats etc/motd and /etc/motd as the same file", () => {
    for (const input of ["etc/motd", "/etc/motd", "//etc/./motd/", "./etc//motd"]) {
      assert.deepEqual(normalizeImagePath(input), { ok: true, path: "/etc/motd" }, input);
    }
  });

  it("refuses paths that climb out of the root, the root itself and NUL bytes", () => {
    for (const input of ["../etc", "etc/../../x", "/", "", ".", "etc/\0motd"]) {
      const result = normalizeImagePath(input);
      assert.equal(result.ok, false, input);
    }
  });

  it("recognizes absolute clean paths", () => {
    assert.ok(isAbsoluteCleanPath("/var/lib"));
    assert.ok(!isAbsoluteCleanPath("var/lib"));
    assert.ok(!isAbsoluteCleanPath("/var/../etc"));
  });
});
