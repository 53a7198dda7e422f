import { strict as assert } from "node:assert";
import { exportLinuxkit } from "../../../sdk/manifest/linuxkit/export";
import { importLinuxkit } from "../../../sdk/manifest/linuxkit/import";
import { checkManifest, validateManifest } from "../../../sdk/manifest/validate";
import { problemLines as checkedProblems } from "../../support/problems";

function problems(text: string): string[] {
  return checkedProblems(() => importLinuxkit({ text, filename: "p.yml" }));
}

// Keys such as __proto__, constructor or toString must be data, never the object machinery.
describe("prototype keys in definitions", () => {
  it("refuses __proto__ at the top level instead of taking it for the document's prototype", () => {
    const lines = problems("__proto__:\n  services:\n    - name: evil\n      image: alpine:3\n");
    assert.ok(lines.includes('__proto__: the key "__proto__" is not allowed'), lines.join("\n"));
  });

  it("refuses __proto__ in a map field instead of dropping it", () => {
    const lines = problems(
      "services:\n  - name: a\n    image: a:1\n    sysctl:\n      __proto__: x\n",
    );
    assert.ok(
      lines.includes('services[a].sysctl[__proto__]: the key "__proto__" is not allowed'),
      lines.join("\n"),
    );
    const raw = JSON.parse(
      '{"services":[{"name":"a","image":"a:1","annotations":{"__proto__":"x"}}]}',
    ) as unknown;
    assert.equal(checkManifest(raw).ok, false);
  });

  it("treats constructor and toString as unknown fields, with sensible suggestions", () => {
    for (const key of ["constructor", "toString", "hasOwnProperty"]) {
      const lines = problems(`services:\n  - name: a\n    image: a:1\n    ${key}: 1\n`);
      assert.equal(lines.length, 1, lines.join("\n"));
      assert.match(
        lines[0]!,
        new RegExp(
          `^services\\[a\\]\\.${key}: unknown field; (did you mean "[a-zA-Z.]+"\\?|expected one of)`,
        ),
      );
    }
    assert.deepEqual(
      problems("services:\n  - name: a\n    image: a:1\n    mounts: [{ type: constructor }]\n"),
      [
        "services[a].mounts[0].destination: required for a constructor mount (only proc, devpts, sysfs, cgroup, mqueue have a default)",
      ],
    );
  });

  it("does not find input values among Object's own methods", () => {
    const manifest = validateManifest({
      files: [{ path: "/a", contents: { $input: "constructor" } }],
    });
    assert.throws(() => exportLinuxkit(manifest), /the input "constructor"/);
    assert.match(exportLinuxkit(manifest, { inputs: { constructor: "v" } }), /contents: v/);
  });
});
