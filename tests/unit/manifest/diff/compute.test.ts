import { strict as assert } from "node:assert";
import { canonicalJson } from "../../../../sdk/manifest/canonical";
import { Digest } from "../../../../sdk/manifest/digest";
import { diffManifests, type Change } from "../../../../sdk/manifest/diff/compute";
import { importLinuxkit } from "../../../../sdk/manifest/linuxkit/import";
import { validateManifest } from "../../../../sdk/manifest/validate";
import { linuxkitFixtures } from "../../../support/fixtures";

const m = validateManifest;
const web = { name: "web", image: "nginx:1.27" };

describe("diffManifests", () => {
  it("finds no change between equal systems and a change between any two fixtures", () => {
    const manifests = linuxkitFixtures().map((f) => importLinuxkit({ text: f.text }).manifest);
    for (const a of manifests) {
      assert.deepEqual(diffManifests(a, a).changes, []);
      assert.equal(diffManifests(a, a).equal, true);
      for (const b of manifests) {
        const d = diffManifests(a, b);
        assert.equal(d.equal, canonicalJson(a) === canonicalJson(b));
        assert.equal(d.changes.length === 0, d.equal, "a difference the diff does not show");
      }
    }
  });

  it("matches containers by name across sections", () => {
    const d = diffManifests(m({ onboot: [web] }), m({ services: [web] }));
    assert.deepEqual(d.changes, [
      {
        kind: "moved",
        subject: "container",
        path: "services[web]",
        from: "onboot[0]",
        to: "services[0]",
      },
    ]);
  });

  it("reports a changed order as moves of the fewest containers", () => {
    const names = (list: string[]) => list.map((name) => ({ name, image: "a:1" }));
    const d = diffManifests(
      m({ onboot: names(["a", "b", "c", "d"]) }),
      m({ onboot: names(["b", "c", "d", "a"]) }),
    );
    assert.deepEqual(
      d.changes.map((c) => [c.kind, c.path, c.from, c.to]),
      [["moved", "onboot[a]", "onboot[0]", "onboot[3]"]],
    );
  });

  it("tells a reordered set apart from a changed one", () => {
    const d = diffManifests(
      m({ services: [{ ...web, capabilities: ["CAP_CHOWN", "CAP_KILL"], command: ["a", "b"] }] }),
      m({ services: [{ ...web, capabilities: ["CAP_KILL", "CAP_CHOWN"], command: ["b", "a"] }] }),
    );
    assert.deepEqual(d.changes[0]?.fields, [
      {
        field: "capabilities",
        reordered: true,
        before: ["CAP_CHOWN", "CAP_KILL"],
        after: ["CAP_KILL", "CAP_CHOWN"],
      },
      { field: "command", before: ["a", "b"], after: ["b", "a"] },
    ]);
  });

  it("splits image references into repository, tag and digest changes", () => {
    const digest = `sha256:${"b".repeat(64)}`;
    const d = diffManifests(
      m({ services: [web] }),
      m({ services: [{ ...web, image: `ghcr.io/x/nginx:1.27@${digest}` }] }),
    );
    assert.deepEqual(d.changes[0]?.fields?.[0]?.image, {
      before: "nginx:1.27",
      after: `ghcr.io/x/nginx:1.27@${digest}`,
      repository: ["nginx", "ghcr.io/x/nginx"],
      digest: ["", digest],
    });
  });

  it("never shows or hashes the value behind an input placeholder", () => {
    const secret = "hunter2";
    const d = diffManifests(
      m({ files: [{ path: "/t", contents: secret }] }),
      m({ files: [{ path: "/t", contents: { $input: "token" } }] }),
    );
    const contents = (d.changes[0] as Change).fields?.[0]?.contents;
    assert.deepEqual(contents, {
      before: { kind: "text", size: 7 },
      after: { kind: "input", name: "token" },
    });
    assert.ok(!JSON.stringify(d).includes(secret));
  });

  it("shows binary contents as size and digest, text as a unified diff", () => {
    const d = diffManifests(
      m({
        files: [
          { path: "/b", contents: "\u0000a" },
          { path: "/t", contents: "a\nb\nc\n" },
        ],
      }),
      m({
        files: [
          { path: "/b", contents: "\u0000b" },
          { path: "/t", contents: "a\nB\nc\n" },
        ],
      }),
    );
    const [binary, text] = d.changes.map((c) => c.fields?.[0]?.contents);
    assert.deepEqual(binary, {
      before: { kind: "binary", size: 2, sha256: Digest.sha256("\u0000a").toString() },
      after: { kind: "binary", size: 2, sha256: Digest.sha256("\u0000b").toString() },
    });
    assert.deepEqual(text?.patch, ["@@ -1,3 +1,3 @@", " a", "-b", "+B", " c"]);
  });

  it("reports an order change even when entries are also added", () => {
    const d = diffManifests(
      m({
        kernel: { image: "k:1", cmdline: "console=tty0 console=ttyS0" },
        services: [{ ...web, binds: ["/d1:/x", "/d2:/x"] }],
      }),
      m({
        kernel: { image: "k:1", cmdline: "console=ttyS0 console=tty0 quiet" },
        services: [{ ...web, binds: ["/d2:/x", "/d1:/x", "/c:/c"] }],
      }),
    );
    assert.deepEqual(d.changes[0]?.fields, [
      {
        field: "cmdline",
        added: ["quiet"],
        reordered: true,
        before: ["console=tty0", "console=ttyS0"],
        after: ["console=ttyS0", "console=tty0", "quiet"],
      },
    ]);
    assert.deepEqual(d.changes[1]?.fields?.[0], {
      field: "binds",
      added: ["/c:/c"],
      reordered: true,
      before: ["/d1:/x", "/d2:/x"],
      after: ["/d2:/x", "/d1:/x", "/c:/c"],
    });
    const lkCapabilities = diffManifests(
      m({ services: [{ ...web, capabilities: ["CAP_KILL", "CAP_CHOWN"] }] }),
      m({ services: [{ ...web, capabilities: ["CAP_CHOWN", "CAP_KILL", "CAP_SYSLOG"] }] }),
    );
    assert.deepEqual(
      lkCapabilities.changes[0]?.fields,
      [{ field: "capabilities", added: ["CAP_SYSLOG"] }],
      "capability order means nothing",
    );
  });
});
