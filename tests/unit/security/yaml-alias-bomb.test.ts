import { strict as assert } from "node:assert";
import { ValidationError } from "../../../sdk/errors";
import { importLinuxkit } from "../../../sdk/manifest/linuxkit/import";

// A few lines of YAML aliases can expand to gigabytes ("billion laughs"); the import stops early.
describe("YAML alias bomb", () => {
  it("is refused as a problem, quickly, without expanding", () => {
    const levels = ["a: &a [x, x, x, x, x, x, x, x, x]"];
    for (let i = 1; i < 9; i++)
      levels.push(
        `${"abcdefghi"[i]}: &${"abcdefghi"[i]} [${Array(9)
          .fill(`*${"abcdefghi"[i - 1]}`)
          .join(", ")}]`,
      );
    const started = Date.now();
    assert.throws(
      () => importLinuxkit({ text: `${levels.join("\n")}\n`, filename: "bomb.yml" }),
      (e: unknown) =>
        e instanceof ValidationError &&
        e.problems.some((p) => p.path === "bomb.yml" && /alias/i.test(p.message)),
    );
    assert.ok(Date.now() - started < 2000);
  });
});
