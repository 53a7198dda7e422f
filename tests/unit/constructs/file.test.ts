import { strict as assert } from "node:assert";
import { File } from "../../../sdk/constructs/file";
import { input } from "../../../sdk/constructs/input";

describe("File", () => {
  it("has one factory per kind of entry, each giving LinuxKit's fields", () => {
    assert.deepEqual(File.text("/a", "x", { uid: "web" }).props, {
      path: "/a",
      contents: "x",
      uid: "web",
    });
    assert.deepEqual(File.text("/a", input("k")).props, { path: "/a", contents: { $input: "k" } });
    assert.deepEqual(File.directory("/d", { mode: 0o755 }).props, {
      path: "/d",
      directory: true,
      mode: 0o755,
    });
    assert.deepEqual(File.symlink("/l", "/target").props, { path: "/l", symlink: "/target" });
    assert.deepEqual(File.fromHost("/k", "~/.ssh/id.pub", { optional: true }).props, {
      path: "/k",
      source: "~/.ssh/id.pub",
      optional: true,
    });
    assert.deepEqual(File.metadata("/etc/m.json", "json").props, {
      path: "/etc/m.json",
      metadata: "json",
    });
  });

  it("leaves an unreadable mode unresolved for synth to report", () => {
    assert.equal(File.text("/a", "x", { mode: "rw" }).mode, undefined);
  });

  it("makes frozen placeholders", () => {
    const ref = input("sshKey");
    assert.ok(Object.isFrozen(ref));
    assert.equal(JSON.stringify(ref), '{"$input":"sshKey"}');
  });
});
