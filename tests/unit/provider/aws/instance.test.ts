import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, openSync, rmSync, writeSync, closeSync, ftruncateSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Artifact } from "../../../../provider/build/image-build";
import {
  checkInstanceMemory,
  imageMemoryNeedMiB,
  instanceTypeMemoryMiB,
} from "../../../../provider/aws/instance";
import { ValidationError } from "../../../../sdk/errors";
import { ROOT } from "../../../support/paths";

const MiB = 1 << 20;
const artifact = (format: Artifact["format"], size: number, path = "/nowhere"): Artifact => ({
  format,
  path,
  sha256: `sha256:${"ab".repeat(32)}`,
  size,
  files: [],
});

describe("oskit.aws.Instance: memory", () => {
  it("GIVEN common instance types WHEN looked up THEN the table gives their memory in MiB", () => {
    const table = Object.fromEntries(
      [
        "t3.nano",
        "t3a.micro",
        "t4g.small",
        "t2.2xlarge",
        "m5.large",
        "m6i.4xlarge",
        "m7g.medium",
        "c6i.xlarge",
        "c5.9xlarge",
        "c7g.medium",
        "r6i.large",
        "m5.medium",
        "c5.medium",
        "x2iedn.xlarge",
        "t3.huge",
      ].map((t) => [t, instanceTypeMemoryMiB(t)]),
    );
    assert.deepEqual(table, {
      "t3.nano": 512,
      "t3a.micro": 1024,
      "t4g.small": 2048,
      "t2.2xlarge": 32768,
      "m5.large": 8192,
      "m6i.4xlarge": 65536,
      "m7g.medium": 4096,
      "c6i.xlarge": 8192,
      "c5.9xlarge": 73728,
      "c7g.medium": 2048,
      "r6i.large": 16384,
      "m5.medium": undefined, // no such type: medium is Graviton's only
      "c5.medium": undefined,
      "x2iedn.xlarge": undefined,
      "t3.huge": undefined,
    });
  });

  it("GIVEN an artifact WHEN its need is computed THEN it is 256 MiB plus three times its size", () => {
    assert.equal(imageMemoryNeedMiB(artifact("raw-efi", 30 * MiB)), 346);
    assert.equal(imageMemoryNeedMiB(artifact("raw-efi", 30 * MiB + 1)), 347, "rounded up");
  });

  it("GIVEN a type with less memory than the image needs WHEN checked THEN it is refused with both figures", () => {
    assert.throws(
      () =>
        checkInstanceMemory({ instanceType: "t3.nano", artifact: artifact("raw-efi", 100 * MiB) }),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.problems[0]?.path === "instanceType" &&
        error.message.includes(
          '"t3.nano" has 512 MiB of memory; this image runs from RAM and needs 556 MiB (256 MiB + 3 × its 100.0 MiB raw-efi artifact): choose a larger type',
        ),
    );
    assert.deepEqual(
      checkInstanceMemory({ instanceType: "t3.micro", artifact: artifact("raw-efi", 100 * MiB) }),
      { needMiB: 556, haveMiB: 1024 },
    );
  });

  it("GIVEN a type the table does not know WHEN checked THEN memoryMiB is asked for, and used when given", () => {
    assert.throws(
      () => checkInstanceMemory({ instanceType: "x8g.large", artifact: artifact("raw-efi", MiB) }),
      /instanceType: "x8g.large" is not in oskit's table of instance types: give memoryMiB/,
    );
    assert.deepEqual(
      checkInstanceMemory({
        instanceType: "x8g.large",
        artifact: artifact("raw-efi", MiB),
        memoryMiB: 32768,
      }),
      { needMiB: 259, haveMiB: 32768 },
    );
    assert.throws(
      () =>
        checkInstanceMemory({
          instanceType: "m5.large",
          artifact: artifact("raw-efi", 100 * MiB),
          memoryMiB: 300,
        }),
      /"m5.large" has 300 MiB of memory; .* needs 556 MiB/,
      "memoryMiB wins over the table",
    );
  });

  it("GIVEN no artifact WHEN checked THEN it says which input is missing", () => {
    assert.throws(
      () => checkInstanceMemory({ instanceType: "t3.micro", artifact: undefined }),
      /artifact: no artifact: give the ImageBuild artifact the AMI was made from/,
    );
  });

  it("GIVEN an aws artifact (a sparse disk of whole GiB) WHEN checked THEN its held bytes count, not its GiB", () => {
    const dir = mkdtempSync(join(tmpdir(), "oskit-instance-"));
    try {
      const path = join(dir, "hello.raw");
      const fd = openSync(path, "w");
      writeSync(fd, Buffer.alloc(10 * MiB, 1), 0, 10 * MiB, 0);
      ftruncateSync(fd, 1024 * MiB);
      closeSync(fd);
      const { needMiB } = checkInstanceMemory({
        instanceType: "t3.micro",
        artifact: artifact("aws", 1024 * MiB, path),
      });
      assert.ok(needMiB >= 286 && needMiB <= 290, `${needMiB}`); // 256 + 3 × ~10 MiB
      assert.throws(
        () =>
          checkInstanceMemory({
            instanceType: "t3.micro",
            artifact: artifact("aws", 1024 * MiB, join(dir, "gone.raw")),
          }),
        /needs 3328 MiB/,
        "a file not on this machine counts whole",
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("oskit.aws.Instance: loading", () => {
  it("GIVEN no @pulumi/aws installed WHEN oskit is imported THEN it loads, oskit.aws.Instance included", () => {
    const script = [
      'const Module = require("node:module");',
      "const resolve = Module._resolveFilename;",
      "Module._resolveFilename = function (request, ...rest) {",
      '  if (request === "@pulumi/aws" || request.startsWith("@pulumi/aws/")) throw new Error("no @pulumi/aws here");',
      "  return resolve.call(this, request, ...rest);",
      "};",
      `const oskit = require(${JSON.stringify(join(ROOT, "dist", "sdk", "index.js"))});`,
      "console.log(typeof oskit.aws.Instance, typeof oskit.ImageBuild,",
      '  Object.keys(require.cache).some((p) => p.includes("@pulumi/aws")));',
    ].join("\n");
    const result = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), "function function false");
  });
});
