import { strict as assert } from "node:assert";
import { FileMode } from "../../../sdk/manifest/mode";

describe("FileMode", () => {
  it("reads numbers as modes and strings as octal, and writes four octal digits", () => {
    const cases: [number | string, string][] = [
      [0o644, "0644"],
      [0o4755, "4755"],
      [0, "0000"],
      ["644", "0644"],
      ["0644", "0644"],
      ["0o755", "0755"],
      ["01777", "1777"],
    ];
    for (const [input, expected] of cases)
      assert.equal(FileMode.parse(input).toString(), expected, String(input));
  });

  it("refuses what is not a mode", () => {
    for (const input of [-1, 0o10000, 1.5, "0x1ff", "rw-r--r--", "0888", "", "077777"]) {
      assert.throws(() => FileMode.parse(input), RangeError, String(input));
    }
  });

  it("has LinuxKit's defaults", () => {
    assert.equal(FileMode.FILE_DEFAULT.toString(), "0600");
    assert.equal(FileMode.DIRECTORY_DEFAULT.toString(), "0700");
  });
});
