import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { Artifact } from "../../../../provider/build/image-build";
import {
  checkMachineMemory,
  machineTypeMemoryMiB,
  networkTag,
} from "../../../../provider/gcp/instance";
import { ValidationError } from "../../../../sdk/errors";
import { ROOT } from "../../../support/paths";

const MiB = 1 << 20;
const artifact = (size: number): Artifact => ({
  format: "gce",
  path: "/nowhere/hello.tar.gz",
  sha256: `sha256:${"ab".repeat(32)}`,
  size,
  files: [],
});

describe("oskit.gcp.Instance: memory", () => {
  it("GIVEN common machine types WHEN looked up THEN the table gives their memory in MiB (GCE's memoryMb)", () => {
    const types = [
      "e2-micro",
      "e2-small",
      "e2-medium",
      "f1-micro",
      "g1-small",
      "e2-standard-2",
      "e2-standard-32",
      "e2-highmem-4",
      "e2-highcpu-8",
      "n1-standard-1",
      "n1-highcpu-2",
      "n1-highmem-2",
      "n2-standard-2",
      "n2-highmem-128",
      "n2d-standard-224",
      "n4-highcpu-4",
      "t2d-standard-1",
      "t2a-standard-4",
      "c2-standard-30",
      "c2d-highcpu-56",
      "c3-standard-4",
      "c3-highcpu-22",
      "c3d-standard-360",
      "zones/europe-west1-b/machineTypes/e2-small",
      "https://www.googleapis.com/compute/v1/projects/p/zones/z/machineTypes/n2-standard-4",
      "e2-custom-2-4096",
      "custom-1-6656-ext",
      "n2-custom-4-20480",
      // not GCE types: the table says nothing rather than guess
      "e2-standard-1",
      "n2-highcpu-128",
      "c3-standard-2",
      "c4-standard-8",
      "m3-ultramem-32",
      "e2-huge",
    ];
    assert.deepEqual(Object.fromEntries(types.map((t) => [t, machineTypeMemoryMiB(t)])), {
      "e2-micro": 1024,
      "e2-small": 2048,
      "e2-medium": 4096,
      "f1-micro": 614,
      "g1-small": 1740,
      "e2-standard-2": 8192,
      "e2-standard-32": 131072,
      "e2-highmem-4": 32768,
      "e2-highcpu-8": 8192,
      "n1-standard-1": 3840,
      "n1-highcpu-2": 1843,
      "n1-highmem-2": 13312,
      "n2-standard-2": 8192,
      "n2-highmem-128": 1048576,
      "n2d-standard-224": 917504,
      "n4-highcpu-4": 8192,
      "t2d-standard-1": 4096,
      "t2a-standard-4": 16384,
      "c2-standard-30": 122880,
      "c2d-highcpu-56": 114688,
      "c3-standard-4": 16384,
      "c3-highcpu-22": 45056,
      "c3d-standard-360": 1474560,
      "zones/europe-west1-b/machineTypes/e2-small": 2048,
      "https://www.googleapis.com/compute/v1/projects/p/zones/z/machineTypes/n2-standard-4": 16384,
      "e2-custom-2-4096": 4096,
      "custom-1-6656-ext": 6656,
      "n2-custom-4-20480": 20480,
      "e2-standard-1": undefined,
      "n2-highcpu-128": undefined,
      "c3-standard-2": undefined,
      "c4-standard-8": undefined,
      "m3-ultramem-32": undefined,
      "e2-huge": undefined,
    });
  });

  it("GIVEN a machine type with less memory than the image needs WHEN checked THEN it is refused with both figures", () => {
    assert.throws(
      () => checkMachineMemory({ machineType: "f1-micro", artifact: artifact(120 * MiB) }),
      (error: unknown) =>
        error instanceof ValidationError &&
        error.problems[0]?.path === "machineType" &&
        error.message.includes(
          '"f1-micro" has 614 MiB of memory; this image runs from RAM and needs 616 MiB (256 MiB + 3 × its 120.0 MiB gce artifact): choose a larger type',
        ),
    );
    assert.deepEqual(
      checkMachineMemory({ machineType: "e2-micro", artifact: artifact(120 * MiB) }),
      { needMiB: 616, haveMiB: 1024 },
      "the gce tarball's size is the payload: the disk's zeros are compressed away",
    );
  });

  it("GIVEN a type the table does not know WHEN checked THEN memoryMiB is asked for, with the gcloud command that tells it, and used when given", () => {
    assert.throws(
      () => checkMachineMemory({ machineType: "c4-standard-8", artifact: artifact(MiB) }),
      /machineType: "c4-standard-8" is not in oskit's table of machine types: give memoryMiB, its memory \(gcloud compute machine-types describe c4-standard-8 --zone ZONE\)/,
    );
    assert.deepEqual(
      checkMachineMemory({
        machineType: "c4-standard-8",
        artifact: artifact(MiB),
        memoryMiB: 30720,
      }),
      { needMiB: 259, haveMiB: 30720 },
    );
    assert.throws(
      () =>
        checkMachineMemory({
          machineType: "e2-standard-2",
          artifact: artifact(100 * MiB),
          memoryMiB: 512,
        }),
      /"e2-standard-2" has 512 MiB of memory; .* needs 556 MiB/,
      "memoryMiB wins over the table",
    );
  });

  it("GIVEN no artifact WHEN checked THEN it says which input is missing", () => {
    assert.throws(
      () => checkMachineMemory({ machineType: "e2-micro", artifact: undefined }),
      /artifact: no artifact: give the ImageBuild artifact the image was made from/,
    );
  });
});

describe("oskit.gcp.Instance: the firewall's network tag", () => {
  it("GIVEN resource names WHEN tagged THEN the tags are valid GCE tags (lowercase, digits, dashes, at most 63, no trailing dash)", () => {
    assert.equal(networkTag("hello"), "oskit-hello");
    assert.equal(networkTag("Web_Server.1"), "oskit-web-server-1");
    const long = networkTag(`${"a".repeat(57)}-${"b".repeat(10)}`);
    assert.equal(long, `oskit-${"a".repeat(57)}`);
    assert.match(long, /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/);
  });
});

describe("oskit.gcp.Instance: loading", () => {
  it("GIVEN no @pulumi/gcp installed WHEN oskit is imported THEN it loads, oskit.gcp.Instance included", () => {
    const script = [
      'const Module = require("node:module");',
      "const resolve = Module._resolveFilename;",
      "Module._resolveFilename = function (request, ...rest) {",
      '  if (request === "@pulumi/gcp" || request.startsWith("@pulumi/gcp/")) throw new Error("no @pulumi/gcp here");',
      "  return resolve.call(this, request, ...rest);",
      "};",
      `const oskit = require(${JSON.stringify(join(ROOT, "dist", "sdk", "index.js"))});`,
      "console.log(typeof oskit.gcp.Instance, typeof oskit.ImageBuild,",
      '  Object.keys(require.cache).some((p) => p.includes("@pulumi/gcp")));',
    ].join("\n");
    const result = spawnSync(process.execPath, ["-e", script], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout.trim(), "function function false");
  });
});
