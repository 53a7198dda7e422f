import { strict as assert } from "node:assert";
import { globMatcher } from "../../../sdk/pkg/glob";

describe("package globs", () => {
  it("match a path or anything below it; * and ? stay in one component, ** crosses them", () => {
    const match = globMatcher([
      "/boot/vmlinuz-*",
      "/lib/modules",
      "/usr/lib/*-linux-gnu/libc.so.?",
      "/a/**/z",
      "/x/{one,two}",
    ]);
    for (const path of [
      "/boot/vmlinuz-6.1",
      "/lib/modules",
      "/lib/modules/6.1/kernel/x.ko",
      "/usr/lib/x86_64-linux-gnu/libc.so.6",
      "/a/z",
      "/a/b/c/z",
      "/x/two",
    ]) {
      assert.ok(match(path), path);
    }
    for (const path of [
      "/boot/config-6.1",
      "/lib/modules-extra",
      "/usr/lib/a/b-linux-gnu/libc.so.6",
      "/a/bz",
      "/x/three",
      "/boot",
    ]) {
      assert.ok(!match(path), path);
    }
  });
});
