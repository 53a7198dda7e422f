import { strict as assert } from "node:assert";
import { diffManifests } from "../../../sdk/manifest/diff/compute";
import { renderDiff } from "../../../sdk/manifest/diff/render";
import { validateManifest } from "../../../sdk/manifest/validate";

// A diff shows other people's strings; it must not let them move the cursor, clear the screen or
// break a markdown table.
describe("diff output escaping", () => {
  const before = validateManifest({
    files: [
      { path: "/a", contents: "line\n" },
      { path: "/l", symlink: "/x" },
    ],
  });
  const after = validateManifest({
    files: [
      { path: "/a", contents: "line\n\u001b[2K\u001b[1Aspoofed\n" },
      { path: "/l", symlink: "/y\r| x | <img src=x>\n" },
      { path: "/n", symlink: "/z\u2028|\nnext" },
    ],
  });
  const diff = diffManifests(before, after);

  it("writes control characters in text output as escapes", () => {
    const text = renderDiff(diff, "text");
    assert.ok(!text.includes("\u001b"), JSON.stringify(text));
    assert.ok(!text.includes("\r") && !text.includes("\u2028"));
    assert.match(text, /\\u001b\[2K/);
    assert.equal(text.split("\n").filter((l) => l.startsWith("files[/l]")).length, 1);
  });

  it("keeps every markdown table row on one line with its three cells", () => {
    const md = renderDiff(diff, "markdown");
    const rows = md
      .split("\n")
      .filter((l) => l.startsWith("| ") && !l.startsWith("| ---") && !l.startsWith("| |"));
    assert.ok(rows.length >= 3);
    for (const row of rows) assert.equal(row.split(/(?<!\\)\|/).length, 5, row);
    const outsideCode = md.replace(/(`+)[^`]*?\1/g, "");
    assert.ok(md.includes("<img") && !outsideCode.includes("<img"), "HTML only inside code spans");
  });
});
