import { strict as assert } from "node:assert";
import {
  chmodSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { hashPackageDir } from "../../../sdk/pkg/hash";

describe("hashPackageDir", () => {
  it("depends on paths, contents, links and executable bits — not on location, mtimes or other mode bits", () => {
    const dir = mkdtempSync(join(tmpdir(), "oskit-hash-"));
    try {
      const a = join(dir, "a");
      mkdirSync(join(a, "rootfs/bin"), { recursive: true });
      writeFileSync(join(a, "build.yml"), "image: x/y\n");
      writeFileSync(join(a, "rootfs/bin/run"), "#!/bin/sh\n");
      chmodSync(join(a, "rootfs/bin/run"), 0o755);
      symlinkSync("run", join(a, "rootfs/bin/start"));
      const reference = hashPackageDir(a);
      const b = join(dir, "elsewhere", "b");
      cpSync(a, b, { recursive: true, verbatimSymlinks: true });
      utimesSync(join(b, "build.yml"), new Date(0), new Date(0));
      chmodSync(join(b, "rootfs/bin/run"), 0o700);
      chmodSync(join(b, "build.yml"), 0o600);
      assert.equal(hashPackageDir(b), reference);
      chmodSync(join(b, "rootfs/bin/run"), 0o644);
      assert.notEqual(hashPackageDir(b), reference, "the executable bit counts");
      chmodSync(join(b, "rootfs/bin/run"), 0o755);
      writeFileSync(join(b, "build.yml"), "image: x/z\n");
      assert.notEqual(hashPackageDir(b), reference);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
