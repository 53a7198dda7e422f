import { strict as assert } from "node:assert";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadPkgSpec } from "../../../sdk/pkg/spec";
import { problemLines as checkedProblems } from "../../support/problems";

function withSpec(yaml: string) {
  const dir = mkdtempSync(join(tmpdir(), "oskit-spec-"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "build.yml"), yaml);
  try {
    return loadPkgSpec(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function problems(yaml: string): string[] {
  return checkedProblems(() => withSpec(yaml));
}

describe("build.yml", () => {
  it("fills in defaults and turns the label config into oskit's fields", () => {
    const spec = withSpec(
      "image: oskit/x\ndebian: [busybox-static, { name: runc, include: [/usr/sbin/runc] }]\nconfig: { capabilities.add: [CAP_NET_ADMIN], net: host }\ncontents: [{ from: rootfs, to: /, mode: '0755' }]\n",
    );
    assert.equal(spec.tag, "{hash}");
    assert.deepEqual(spec.arches, ["amd64"]);
    assert.deepEqual(spec.debian, [
      { name: "busybox-static", depends: false },
      { name: "runc", include: ["/usr/sbin/runc"], depends: false },
    ]);
    assert.deepEqual(spec.config, { capabilitiesAdd: ["CAP_NET_ADMIN"], net: "host" });
    assert.deepEqual(spec.contents, [{ from: "rootfs", to: "/", mode: 0o755 }]);
  });

  it("reports every problem with its path, label fields in LinuxKit's words", () => {
    assert.deepEqual(
      problems(
        "image: oskit/x:v1\ntag: 'bad tag'\narches: [s390x]\ndebian: [Busybox]\nconfig: { capabilities: [CAP_FOO], name: x }\nextra: 1\n",
      ),
      [
        'image: expected a repository without tag or digest, e.g. "oskit/httpd", got "oskit/x:v1"',
        'tag: expected a tag template such as "{hash}" or "v1-{hash}", got "bad tag"',
        'arches[0]: unknown value "s390x"; expected one of "amd64", "arm64"',
        'debian[0]: invalid Debian package name "Busybox"',
        "extra: unknown field; expected one of image, tag, arches, debian, contents, steps, pack, keep, config, entrypoint, cmd, env, workdir, labels",
      ],
    );
    assert.deepEqual(problems("image: oskit/x\nconfig: { capabilities: [CAP_FOO], name: x }\n"), [
      "config.name: cannot be set in the org.mobyproject.config label",
    ]);
    const [capability] = problems("image: oskit/x\nconfig: { capabilities: [CAP_FOO] }\n");
    assert.match(capability!, /^config\.capabilities\[0\]: unknown capability "CAP_FOO"/);
  });

  it("says so when build.yml is missing", () => {
    const dir = mkdtempSync(join(tmpdir(), "oskit-spec-"));
    try {
      assert.throws(() => loadPkgSpec(dir), /no build\.yml/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
