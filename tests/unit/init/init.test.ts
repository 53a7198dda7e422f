// pkg/init/rootfs/init, run by a host shell with every busybox command faked: the fake only
// records what it is asked (nothing on this machine is mounted, copied or removed).
import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../../support/paths";

interface Options {
  /** The busybox call (its arguments, space-separated) that fails. */
  readonly failing?: string;
  /** Whether the image has /usr/libexec/oskit (runc). */
  readonly libexec?: boolean;
}

/** Runs /init with a fake busybox; its calls and console output. */
function runInit(dir: string, options: Options = {}): { calls: string[]; console: string } {
  const fake = join(dir, "busybox");
  const calls = join(dir, "calls");
  const console = join(dir, "console");
  writeFileSync(
    fake,
    [
      "#!/bin/sh",
      `echo "$*" >> "${calls}"`,
      `if [ "$*" = "${options.failing ?? ""}" ]; then echo "$1: failed" >&2; exit 1; fi`,
      "exit 0",
    ].join("\n"),
  );
  chmodSync(fake, 0o755);
  writeFileSync(calls, "");
  writeFileSync(console, "");
  const init = readFileSync(join(ROOT, "pkg/init/rootfs/init"), "utf8")
    .replaceAll("BB=/bin/busybox", `BB=${fake}`)
    .replaceAll("/dev/console", console)
    .replaceAll("cd /newroot", `cd "${dir}"`)
    .replaceAll("[ -d /usr/libexec/oskit ]", options.libexec === true ? "true" : "false");
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

  it("binds the initramfs onto /newroot, moves it over / and starts init in it, copying nothing", () => {
    const { calls } = runInit(dir);
    assert.deepEqual(calls.slice(-5), [
      "mount --bind / /newroot",
      "mount --move /dev /newroot/dev",
      "mount --move . /",
      "rmdir newroot",
      "chroot . /sbin/init",
    ]);
    assert.ok(calls.includes("chmod 0755 /"), calls.join("\n"));
    assert.ok(!calls.some((c) => c.startsWith("cp ")), calls.join("\n"));
  });

  it("puts /usr/libexec/oskit (runc) on a ramfs before the root moves", () => {
    const { calls } = runInit(dir, { libexec: true });
    const at = (call: string) => calls.indexOf(call);
    const ramfs = at("mount -t ramfs -o mode=0755 ramfs /newroot/usr/libexec/oskit");
    const copy = at("cp -a /usr/libexec/oskit/. /newroot/usr/libexec/oskit/");
    assert.ok(at("mount --bind / /newroot") < ramfs, calls.join("\n"));
    assert.ok(ramfs < copy && copy < at("mount --move . /"), calls.join("\n"));
    assert.equal(calls.at(-1), "chroot . /sbin/init");
  });

  for (const failing of [
    "mount --bind / /newroot",
    "cp -a /usr/libexec/oskit/. /newroot/usr/libexec/oskit/",
    "mount --move . /",
  ]) {
    it(`says so and powers off, without starting init, when \`${failing}\` fails`, () => {
      const { calls, console } = runInit(dir, { failing, libexec: true });
      assert.equal(calls.at(-1), "poweroff -f");
      assert.ok(!calls.some((c) => c.startsWith("chroot")), calls.join("\n"));
      assert.match(console, /\noskit: cannot .*; stopping\n$/);
    });
  }
});
