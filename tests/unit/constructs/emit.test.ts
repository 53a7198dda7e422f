import { strict as assert } from "node:assert";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { loadDefinitions } from "../../../sdk/cli/load";
import { emitTypescript } from "../../../sdk/constructs/emit";
import { canonicalJson } from "../../../sdk/manifest/canonical";
import { importLinuxkit } from "../../../sdk/manifest/linuxkit/import";
import { validateManifest } from "../../../sdk/manifest/validate";
import { linuxkitFixtures } from "../../support/fixtures";
import { assertGolden } from "../../support/golden";
import { TMP } from "../../support/paths";

/** Writes emitted TypeScript where `oskit` resolves, runs it, and returns its manifest. */
async function runEmitted(name: string, source: string) {
  mkdirSync(TMP, { recursive: true });
  const path = join(TMP, `${name}.ts`);
  writeFileSync(path, source);
  return (await loadDefinitions([path])).manifest;
}

describe("emitTypescript", () => {
  it("writes readable TypeScript with the shortest constructs (golden)", () => {
    const fixture = linuxkitFixtures().find((f) => f.name === "everything")!;
    const { manifest } = importLinuxkit({ text: fixture.text });
    assertGolden("import/everything.ts", emitTypescript(manifest, { source: "everything.yml" }));
  });

  it("emits programs that synthesize the same manifest, whatever the strings hold", async () => {
    const tricky = validateManifest({
      kernel: { image: "k:1", cmdline: 'a="b c" \\ d' },
      services: [
        {
          name: "s",
          image: "s:1",
          command: ["sh", "-c", "echo `date` ${HOME} \\\\n"],
          env: ["Q='\"x\"'"],
        },
      ],
      files: [
        { path: "/a", contents: "line1\n`tick` ${not} \\back\r\ttab\u0001ctl\n" },
        { path: "/b", contents: { $input: "token" }, mode: 0o400 },
        { path: "/c", directory: true, uid: "s", gid: 0 },
        { path: "/d", symlink: "/a" },
        { path: "/e", source: "~/x", optional: true, mode: "0644" },
        { path: "/f", metadata: "yaml" },
        { path: "/g", contents: "" },
      ],
      volumes: [{ name: "v", image: "v:1", readonly: true }],
    });
    const again = await runEmitted("tricky", emitTypescript(tricky));
    assert.equal(canonicalJson(again), canonicalJson(tricky));
  });
});
