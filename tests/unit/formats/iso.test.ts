import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { configIso } from "../../../sdk/formats/iso/config-iso";

describe("the configuration ISO", () => {
  it("holds one file that isoinfo (genisoimage) reads back, in a fixed layout", () => {
    const data = Buffer.from('{"ssh": {"authorized_keys": "ssh-ed25519 AAAA"}}\n'.repeat(100));
    const iso = configIso(data);
    assert.equal(iso.length, (21 + Math.ceil(data.length / 2048)) * 2048);
    assert.equal(iso.subarray(32769, 32774).toString(), "CD001");
    assert.deepEqual(configIso(data), iso);
    const dir = mkdtempSync(join(tmpdir(), "oskit-iso-"));
    try {
      writeFileSync(join(dir, "c.iso"), iso);
      const list = spawnSync("isoinfo", ["-l", "-i", join(dir, "c.iso")], { encoding: "utf8" });
      assert.equal(list.status, 0, `isoinfo (Debian's genisoimage) is needed: ${list.stderr}`);
      assert.match(list.stdout, new RegExp(`${data.length} .* CONFIG\\.;1`));
      const file = spawnSync("isoinfo", ["-i", join(dir, "c.iso"), "-x", "/CONFIG.;1"]);
      assert.deepEqual(file.stdout, data);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => configIso(data, { name: "user-data" }), /level-1 name/);
  });
});
