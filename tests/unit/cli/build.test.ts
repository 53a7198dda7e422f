import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseSize } from "../../../sdk/cli/commands/build";
import { oskit } from "../../support/cli";

describe("oskit build (the command)", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-build-cli-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("refuses a --name that is not a single file name, as a usage error", () => {
    const out = join(dir, "out");
    for (const name of ["", ".", "..", "../escaped", "sub/name"]) {
      const { code, stderr } = oskit(
        ["build", "examples/hello/os.ts", "-f", "tar", "-o", out, "--name", name],
        { env: { OSKIT_STORE: join(dir, "store") } },
      );
      assert.equal(code, 2, stderr);
      assert.equal(
        stderr,
        `oskit: --name ${JSON.stringify(name)}: expected a file name without "/" (the outputs are NAME-kernel, NAME.tar, … in the output directory, which -o chooses)\n`,
      );
    }
    assert.deepEqual(readdirSync(dir), []);
    assert.equal(existsSync(join(dir, "escaped.tar")), false);
  });
});

describe("oskit build --size", () => {
  it("takes bytes or K/M/G/T (also spelled MiB, GiB), and refuses the rest as a usage error", () => {
    assert.equal(parseSize("1073741824"), 1 << 30);
    assert.equal(parseSize("2G"), 2 * (1 << 30));
    assert.equal(parseSize("512MiB"), 512 << 20);
    assert.equal(parseSize("64k"), 64 << 10);
    for (const bad of ["lots", "1.5G", "-1G", "1000", "0"]) {
      const { code, stderr } = oskit([
        "build",
        "examples/hello/os.ts",
        "-f",
        "raw-efi",
        "--size",
        bad,
        "-o",
        tmpdir(),
      ]);
      assert.equal(code, 2, stderr);
      assert.match(
        stderr,
        /--size .*: expected a size such as 2G, 512M or 1073741824 \(a multiple of 512 bytes\)/,
      );
    }
  });
});
