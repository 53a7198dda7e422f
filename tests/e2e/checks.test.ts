import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { build } from "../../sdk/build/build";
import { loadDefinitions } from "../../sdk/cli/load";
import { runQemu } from "../../sdk/run/qemu";
import { stopVm } from "../../sdk/run/stop";
import { ensurePackages, OSKIT_PACKAGES } from "../support/packages";
import { FIXTURES, TMP } from "../support/paths";

/** "OSKIT-CHECK name result" lines of a console log, in order. */
function checks(console: string): [string, string][] {
  return [...console.matchAll(/^OSKIT-CHECK (\S+) ?(.*?)\r?$/gm)].map((m) => [m[1]!, m[2]!]);
}

async function waitFor(
  predicate: () => boolean,
  seconds: number,
  what: string,
  log: () => string,
): Promise<void> {
  const deadline = Date.now() + seconds * 1000;
  while (!predicate()) {
    if (Date.now() > deadline)
      throw new Error(`${what} within ${seconds} s; console:\n${log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe("a system under QEMU (TCG)", function () {
  this.timeout(600000);
  const nonce = randomBytes(6).toString("hex");
  let console = "";
  let state: string;

  before(async () => {
    const store = await ensurePackages([
      ...OSKIT_PACKAGES.filter((p) => /\/(kernel|init|metadata)$/.test(p)),
      join(FIXTURES, "e2e", "probe"),
    ]);
    const { manifest } = await loadDefinitions([join(FIXTURES, "e2e", "checks.ts")]);
    const out = join(TMP, "e2e-checks");
    await build(manifest, {
      store,
      formats: ["kernel+initrd"],
      outDir: out,
      name: "checks",
      platform: { os: "linux", architecture: "amd64" },
      baseDir: join(FIXTURES, "e2e"),
    });
    const vm = await runQemu({ path: join(out, "checks"), detach: true, data: Buffer.from(nonce) });
    state = vm.state;
    const log = () => readFileSync(join(state, "console.log"), "utf8");
    await waitFor(
      () => /oskit: system ready/.test(log()) && checks(log()).length >= 9,
      240,
      "the checks did not all report",
      log,
    );
    const stopped = await stopVm(state, 90);
    console = log();
    assert.equal(stopped.how, "powered off", console.slice(-3000));
  });

  const result = (name: string) => checks(console).find(([n]) => n === name)?.[1];

  it("runs the onboot containers in order, before the services", () => {
    const names = checks(console).map(([n]) => n);
    assert.ok(names.indexOf("first") < names.indexOf("second"), names.join(" "));
    for (const service of ["noadmin", "admin", "readonly", "bind", "owned", "data"]) {
      assert.ok(
        names.indexOf("second") < names.indexOf(service),
        `${service} ran before the onboot containers finished`,
      );
    }
  });

  it("enforces capabilities: without CAP_NET_ADMIN a service cannot add a link, with it it can", () => {
    assert.equal(result("noadmin"), "refused");
    assert.equal(result("admin"), "added");
  });

  it("keeps a read-only container's root read-only, and a writable one's writable", () => {
    assert.equal(result("readonly"), "refused");
    assert.equal(result("writable"), "writable");
  });

  it("shows a bind-mounted file, and files have the declared mode and owner", () => {
    assert.equal(result("bind"), "bound-into-the-container");
    const admin =
      100 + ["metadata", "first", "second", "goodbye", "noadmin", "admin"].indexOf("admin");
    assert.equal(result("owned"), `640 ${admin} 42`);
  });

  it("passes --data to /run/config", () => {
    assert.equal(result("data"), nonce);
  });

  it("runs the onshutdown containers at power-off", () => {
    assert.equal(result("goodbye"), "ran");
    assert.ok(console.indexOf("OSKIT-CHECK goodbye") > console.indexOf("oskit: shutting down"));
  });
});
