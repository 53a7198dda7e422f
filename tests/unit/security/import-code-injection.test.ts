import { strict as assert } from "node:assert";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadDefinitions } from "../../../sdk/cli/load";
import { emitTypescript } from "../../../sdk/constructs/emit";
import { canonicalJson } from "../../../sdk/manifest/canonical";
import { importLinuxkit } from "../../../sdk/manifest/linuxkit/import";
import { TMP } from "../../support/paths";

// `oskit import` writes TypeScript from someone's YAML; nothing in the YAML may become code.
describe("import code injection", () => {
  it("prints map values shaped like the emitter's code nodes as plain data", async () => {
    const yaml = [
      "services:",
      "  - name: web",
      "    image: nginx:1.27",
      "    annotations:",
      "      code: '(globalThis.INJECTED = true, \"x\")'",
      "      callee: 'globalThis.INJECTED = true'",
      "      args: '[]'",
      "    sysctl: { code: 'process.exit(7)' }",
      "files:",
      "  - path: /etc/x",
      '    contents: "`${globalThis.INJECTED = true}` \\\\ */ // \\u2028"',
    ].join("\n");
    const { manifest } = importLinuxkit({ text: yaml, filename: "evil.yml" });
    const source = emitTypescript(manifest, {
      source: "evil.yml\n globalThis.INJECTED = true; //",
    });
    assert.ok(!/^\s*globalThis\.INJECTED/m.test(source), source);
    mkdirSync(TMP, { recursive: true });
    const file = join(TMP, "injection.ts");
    writeFileSync(file, source);
    const { manifest: again } = await loadDefinitions([file]);
    assert.equal((globalThis as { INJECTED?: boolean }).INJECTED, undefined);
    assert.equal(canonicalJson(again), canonicalJson(manifest));
  });
});
