import { strict as assert } from "node:assert";
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Artifact } from "../../../provider/build/image-build";
import { checkMemory, imageMemoryNeedMiB, payloadBytes } from "../../../provider/memory";
import { ValidationError } from "../../../sdk/errors";

const MiB = 1 << 20;
const artifact = (format: Artifact["format"], size: number, path = "/nowhere"): Artifact => ({
  format,
  path,
  sha256: `sha256:${"ab".repeat(32)}`,
  size,
  files: [],
});
const wording = {
  field: "size",
  kinds: "sizes",
  artifact: "the artifact",
  lookup: (type: string) => `look ${type} up`,
};

describe("provider/memory: what a system needs in RAM", () => {
  it("GIVEN an artifact WHEN its need is computed THEN it is 256 MiB plus three times its payload, rounded up", () => {
    assert.equal(imageMemoryNeedMiB(artifact("gce", 30 * MiB)), 346);
    assert.equal(imageMemoryNeedMiB(artifact("gce", 30 * MiB + 1)), 347);
    assert.equal(imageMemoryNeedMiB(artifact("aws", 1024 * MiB), 10 * MiB), 286);
  });

  it("GIVEN an aws or vhd disk WHEN its payload is measured THEN it is what the sparse file holds; other formats, their size", () => {
    const dir = mkdtempSync(join(tmpdir(), "oskit-memory-"));
    try {
      const path = join(dir, "disk.raw");
      const fd = openSync(path, "w");
      writeSync(fd, Buffer.alloc(4 * MiB, 1), 0, 4 * MiB, 0);
      ftruncateSync(fd, 1024 * MiB);
      closeSync(fd);
      const held = payloadBytes(artifact("aws", 1024 * MiB, path));
      assert.ok(held >= 4 * MiB && held < 5 * MiB, `${held}`);
      assert.equal(
        payloadBytes(artifact("vhd", 1024 * MiB, path)),
        held,
        "a fixed VHD, mostly zeros",
      );
      assert.equal(payloadBytes(artifact("raw-efi", 1024 * MiB, path)), 1024 * MiB);
      assert.equal(payloadBytes(artifact("aws", 1024 * MiB, join(dir, "gone"))), 1024 * MiB);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("GIVEN the cloud's wording WHEN a check fails THEN the message is in it, with both figures", () => {
    assert.throws(
      () => checkMemory({ type: "s", artifact: artifact("gce", 10 * MiB), haveMiB: 200, wording }),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.message.includes(
          'size: "s" has 200 MiB of memory; this image runs from RAM and needs 286 MiB (256 MiB + 3 × its 10.0 MiB gce artifact): choose a larger type',
        ),
    );
    assert.throws(
      () => checkMemory({ type: "s", artifact: undefined, haveMiB: 200, wording }),
      /artifact: no artifact: give the artifact/,
    );
    assert.throws(
      () => checkMemory({ type: "s", artifact: artifact("gce", MiB), haveMiB: undefined, wording }),
      /size: "s" is not in oskit's table of sizes: give memoryMiB, its memory \(look s up\)/,
    );
    assert.deepEqual(
      checkMemory({ type: "s", artifact: artifact("gce", MiB), haveMiB: 4096, wording }),
      { needMiB: 259, haveMiB: 4096 },
    );
  });
});
