import { strict as assert } from "node:assert";
import { join } from "node:path";
import { loadDefinitions } from "../../../../sdk/cli/load";
import { diffManifests, type OsDiff } from "../../../../sdk/manifest/diff/compute";
import { DIFF_FORMATS, renderDiff } from "../../../../sdk/manifest/diff/render";
import { validateManifest } from "../../../../sdk/manifest/validate";
import { assertGolden } from "../../../support/golden";
import { FIXTURES } from "../../../support/paths";

const EXTENSION = { text: "txt", markdown: "md", json: "json" } as const;

describe("renderDiff", () => {
  let diff: OsDiff;
  before(async () => {
    const a = await loadDefinitions([join(FIXTURES, "diff", "before.ts")]);
    const b = await loadDefinitions([join(FIXTURES, "diff", "after.yml")]);
    diff = diffManifests(a.manifest, b.manifest);
  });

  for (const format of DIFF_FORMATS) {
    it(`renders before.ts → after.yml as ${format} (golden)`, () => {
      assertGolden(`diff/before-after.${EXTENSION[format]}`, renderDiff(diff, format));
    });
  }

  it("colours text only when asked, and colours every kind of line", () => {
    const plain = renderDiff(diff, "text");
    const color = renderDiff(diff, "text", { color: true });
    assert.ok(!plain.includes("\u001b["));
    for (const code of ["\u001b[31m", "\u001b[32m", "\u001b[33m", "\u001b[36m", "\u001b[1m"])
      assert.ok(color.includes(code), code);
    assert.equal(color.replace(new RegExp(`${"\u001b"}\\[\\d+m`, "g"), ""), plain);
  });

  it("says nothing in text and 'no changes' in markdown when the systems are equal", () => {
    const m = validateManifest({ services: [{ name: "a", image: "a:1" }] });
    const same = diffManifests(m, m);
    assert.equal(renderDiff(same, "text"), "");
    assert.match(renderDiff(same, "markdown"), /No changes to the operating system/);
    assert.equal((JSON.parse(renderDiff(same, "json")) as OsDiff).equal, true);
  });

  it("keeps table cells intact whatever the values hold", () => {
    const d = diffManifests(
      validateManifest({ services: [{ name: "a", image: "a:1", command: ["sh", "-c", "a | b"] }] }),
      validateManifest({
        services: [{ name: "a", image: "a:1", command: ["sh", "-c", "echo `x`\nnext"] }],
      }),
    );
    const row = renderDiff(d, "markdown")
      .split("\n")
      .find((l) => l.includes("command"))!;
    assert.equal(row.split(/(?<!\\)\|/).length, 5, row);
    assert.ok(!row.includes("\n"));
  });
});
