// pkg/init/rootfs/init, run by a host shell with every busybox command faked: the fake only
// records what it is asked (nothing on this machine is copied, removed or mounted).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../support/paths";

/** Runs /init with a fake busybox whose `cp` of `failing` fails; its calls and console output. */
function runInit(dir: string, failing: string): { calls: string[]; console: string } {
  const fake = join(dir, "busybox");
  const calls = join(dir, "calls");
  const console = join(dir, "console");
  writeFileSync(
    fake,
    [
      "#!/bin/sh",
      `echo "$*" >> "${calls}"`,
      `if [ "$1" = cp ] && [ "$3" = "${failing}" ]; then echo "cp: write error: No space left on device" >&2; exit 1; fi`,
      'if [ "$1" = dirname ]; then dirname "$2"; fi',
      "exit 0",
    ].join("\n"),
  );
  chmodSync(fake, 0o755);
  writeFileSync(calls, "");
  writeFileSync(console, "");
  const init = readFileSync(join(ROOT, "pkg/init/rootfs/init"), "utf8")
    .replaceAll("BB=/bin/busybox", `BB=${fake}`)
    .replaceAll("BB=/newroot/bin/busybox", `BB=${fake}`)
    .replaceAll("/dev/console", console);
  assert.ok(!/(^|[^$])\/bin\/busybox|\/dev\/console/.test(init.replace(/^#!.*\n/, "")));
  const script = join(dir, "init");
  writeFileSync(script, init);
  spawnSync("sh", [script], { encoding: "utf8" });
  return {
    calls: readFileSync(calls, "utf8").split("\n").filter(Boolean),
    console: readFileSync(console, "utf8"),
  };
}

describe("the initramfs /init", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-init-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("switches to the root in memory once every entry is copied", () => {
    const { calls } = runInit(dir, "/nothing-fails");
    assert.equal(calls.at(-1), "switch_root /newroot /sbin/init");
    assert.ok(calls.includes("cp -a /etc /newroot//"), calls.join("\n"));
  });

  it("says so and powers off, without switch_root, when a copy fails", () => {
    const { calls, console } = runInit(dir, "/etc");
    assert.equal(calls.at(-1), "poweroff -f");
    assert.ok(!calls.some((c) => c.startsWith("switch_root")), calls.join("\n"));
    assert.ok(!calls.includes("rm -rf /etc"), "a copy that failed is not removed");
    assert.match(
      console,
      /oskit: copying \/etc failed\noskit: cannot move the root filesystem into memory: copying \/etc failed; stopping\n/,
    );
  });
});
