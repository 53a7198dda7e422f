import { strict as assert } from "node:assert";
import {
  normalizeRlimitType,
  parseRlimitValue,
  RLIM_INFINITY,
} from "../../../sdk/manifest/rlimits";

describe("rlimits", () => {
  it("accepts LinuxKit's spellings of a limit type", () => {
    assert.deepEqual(
      ["NOFILE", "RLIMIT_NOFILE", " nofile ", "rlimit_rttime"].map(normalizeRlimitType),
      ["nofile", "nofile", "nofile", "rttime"],
    );
    assert.equal(normalizeRlimitType("files"), undefined);
  });

  it("reads counts and unlimited, including RLIM_INFINITY written out", () => {
    assert.deepEqual(
      ["0", " 1024 ", "unlimited", "UNLIMITED", RLIM_INFINITY].map(parseRlimitValue),
      [0, 1024, "unlimited", "unlimited", "unlimited"],
    );
    for (const bad of ["-1", "1e3", "", "99999999999999999999"])
      assert.equal(parseRlimitValue(bad), undefined, bad);
  });
});
