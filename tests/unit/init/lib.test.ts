// pkg/init/rootfs/usr/lib/oskit/lib.sh, sourced by a host shell with runc and the console faked.
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../support/paths";

const LIB = join(ROOT, "pkg/init/rootfs/usr/lib/oskit/lib.sh");

describe("the init's lib.sh", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-lib-sh-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("does not call an onboot container started apart (for its interfaces) finished as if it succeeded", () => {
    const bundle = join(dir, "containers", "onboot", "000-net");
    mkdirSync(bundle, { recursive: true });
    writeFileSync(join(bundle, "runtime.steps"), "interface\teth1\tveth\tpeer1\t0\n");
    const log = join(dir, "log");
    const script = [
      `. "${LIB}"`,
      `log() { echo "$*" >> "${log}"; }`,
      "create_container() { return 0; }",
      "runtime_after() { :; }",
      'runc() { [ "$1" = state ] && echo \'  "status": "stopped",\'; return 0; }',
      `run_to_completion "${bundle}"`,
    ].join("\n");
    const result = spawnSync("sh", ["-c", script], { encoding: "utf8" });
    assert.equal(result.status, 0, result.stderr);
    assert.equal(
      readFileSync(log, "utf8"),
      "net: finished (exit status unknown: started with runc start for its interfaces or namespace binds); continuing\n",
    );
  });
});
