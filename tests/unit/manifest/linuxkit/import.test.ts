import { strict as assert } from "node:assert";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ValidationError } from "../../../../sdk/errors";
import { canonicalJson } from "../../../../sdk/manifest/canonical";
import { exportLinuxkit } from "../../../../sdk/manifest/linuxkit/export";
import { importLinuxkit } from "../../../../sdk/manifest/linuxkit/import";
import { CONTAINER_KEYS, MOUNT_KEYS } from "../../../../sdk/manifest/linuxkit/keys";
import { FileMode } from "../../../../sdk/manifest/mode";
import { normalizeImagePath } from "../../../../sdk/manifest/paths";
import { normalizeRlimitType, parseRlimitValue } from "../../../../sdk/manifest/rlimits";
import {
  fixtureData,
  linuxkitFixtures,
  walkScalars,
  type Segment,
} from "../../../support/fixtures";
import { assertGolden } from "../../../support/golden";
import { FIXTURES } from "../../../support/paths";
import { problemLines as checkedProblems } from "../../../support/problems";

function importText(text: string) {
  return importLinuxkit({ text, filename: "test.yml" });
}

function problemLines(text: string): string[] {
  return checkedProblems(() => importText(text));
}

const fromLinuxkitContainer = Object.fromEntries(
  Object.entries(CONTAINER_KEYS).map(([k, v]) => [v, k]),
);
const fromLinuxkitMount = Object.fromEntries(Object.entries(MOUNT_KEYS).map(([k, v]) => [v, k]));

/** Where a LinuxKit YAML scalar lands in the manifest, and the value it must have there. */
function expectedInManifest(
  path: Segment[],
  value: unknown,
): { path: Segment[]; value: unknown }[] {
  const mpath = path.map((seg, i) => {
    if (i === 2 && ["onboot", "onshutdown", "services"].includes(String(path[0])))
      return fromLinuxkitContainer[seg] ?? seg;
    if (path[i - 2] === "mounts") return fromLinuxkitMount[seg] ?? seg;
    return seg;
  });
  const key = mpath.at(-1);
  const parent = mpath.at(-2);
  if (parent === "rlimits") {
    const [type, soft, hard] = String(value).split(",");
    return [
      { path: [...mpath, "type"], value: normalizeRlimitType(type!) },
      { path: [...mpath, "soft"], value: parseRlimitValue(soft!) },
      { path: [...mpath, "hard"], value: parseRlimitValue(hard!) },
    ];
  }
  if (key === "mode") return [{ path: mpath, value: FileMode.parse(String(value)).toString() }];
  if (mpath[0] === "files" && key === "path") {
    const normalized = normalizeImagePath(String(value));
    return [{ path: mpath, value: normalized.ok ? normalized.path : undefined }];
  }
  if (["net", "ipc", "uts", "pid", "userns"].includes(String(key)) && value === "root")
    return [{ path: mpath, value: "host" }];
  if (
    parent !== undefined &&
    ["capabilities", "capabilitiesAdd", "ambient"].includes(String(parent))
  ) {
    return [
      {
        path: mpath,
        value: ["ALL", "NONE"].includes(String(value)) ? String(value).toLowerCase() : value,
      },
    ];
  }
  if (parent === "sysctl" || parent === "annotations")
    return [{ path: mpath, value: String(value) }];
  return [{ path: mpath, value }];
}

function at(value: unknown, path: readonly Segment[]): unknown {
  return path.reduce<unknown>(
    (v, seg) => (v as Record<Segment, unknown> | undefined)?.[seg],
    value,
  );
}

describe("importLinuxkit", () => {
  for (const fixture of linuxkitFixtures()) {
    describe(`GIVEN the fixture ${fixture.name}.yml`, () => {
      const { manifest } = importText(fixture.text);

      it("THEN every scalar of the YAML is in the manifest, at its place", () => {
        let checked = 0;
        walkScalars(fixtureData(fixture), (path, value) => {
          if (path[0] === "trust") return;
          for (const expected of expectedInManifest(path, value)) {
            assert.deepEqual(
              at(manifest, expected.path),
              expected.value,
              `${path.join(".")} → ${expected.path.join(".")}`,
            );
            checked++;
          }
        });
        assert.ok(checked > 5, `only ${checked} scalars checked`);
      });

      it("THEN the manifest matches its golden JSON", () => {
        assertGolden(`manifests/${fixture.name}.json`, `${canonicalJson(manifest, 2)}\n`);
      });

      it("THEN import(export(m)) equals m", () => {
        const again = importText(exportLinuxkit(manifest)).manifest;
        assert.equal(canonicalJson(again), canonicalJson(manifest));
      });
    });
  }

  describe("GIVEN several files", () => {
    const read = (name: string) => ({
      text: readFileSync(join(FIXTURES, "merge", name), "utf8"),
      filename: name,
    });

    it("THEN later kernel fields override, lists append, and trust is ignored with a warning", () => {
      const { manifest, warnings } = importLinuxkit([read("base.yml"), read("extra.yml")]);
      assert.deepEqual(manifest.kernel, {
        image: "linuxkit/kernel:6.6.71",
        cmdline: "console=ttyS0",
        binary: "bzImage",
        tar: "kernel.tar",
      });
      assert.deepEqual(manifest.init, ["linuxkit/init:v1.2.0", "linuxkit/runc:v1.1.12"]);
      assert.deepEqual(
        manifest.services?.map((s) => s.name),
        ["getty", "sshd"],
      );
      assert.deepEqual(
        manifest.files?.map((f) => f.path),
        ["/etc/motd", "/etc/issue"],
      );
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /^base\.yml: "trust" is accepted and ignored/);
    });

    it("THEN a container name repeated across files is refused", () => {
      assert.throws(
        () => importLinuxkit([read("base.yml"), read("base.yml")]),
        (e: unknown) =>
          e instanceof ValidationError &&
          e.problems.some(
            (p) => p.message === 'duplicate container name "sysctl" (also in onboot)',
          ),
      );
    });

    it("THEN an empty kernel field does not override", () => {
      const { manifest } = importLinuxkit([
        { text: "kernel:\n  image: k:1\n  cmdline: a\n" },
        { text: "kernel:\n  image: ''\n  cmdline: ''\n  tar: none\n" },
      ]);
      assert.deepEqual(manifest.kernel, {
        image: "k:1",
        cmdline: "a",
        binary: "kernel",
        tar: "none",
      });
    });
  });

  describe("GIVEN LinuxKit's own forms", () => {
    it("THEN rlimit strings become typed limits", () => {
      const { manifest } = importText(
        "services:\n  - name: a\n    image: a:1\n    rlimits: ['nofile,100,200', 'RLIMIT_NPROC, unlimited, 18446744073709551615', 'Core,0,0']\n",
      );
      assert.deepEqual(manifest.services?.[0]?.rlimits, [
        { type: "nofile", soft: 100, hard: 200 },
        { type: "nproc", soft: "unlimited", hard: "unlimited" },
        { type: "core", soft: 0, hard: 0 },
      ]);
    });

    it("THEN an unquoted mode means the octal digits written (LinuxKit refuses it; oskit reads what was meant)", () => {
      const { manifest } = importText(
        "files:\n  - path: a\n    contents: x\n    mode: 0644\n  - path: b\n    contents: y\n    mode: 755\n",
      );
      assert.deepEqual(
        manifest.files?.map((f) => f.mode),
        ["0644", "0755"],
      );
    });

    it("THEN string maps take numbers, root means host, and ALL means all", () => {
      const { manifest } = importText(
        "services:\n  - name: a\n    image: a:1\n    sysctl: {vm.swappiness: 10}\n    net: root\n    capabilities: [ALL]\n",
      );
      const service = manifest.services?.[0];
      assert.deepEqual(
        [service?.sysctl, service?.net, service?.capabilities],
        [{ "vm.swappiness": "10" }, "host", ["all"]],
      );
    });

    it("THEN problems use LinuxKit's key names, and oskit's names are not LinuxKit keys", () => {
      assert.deepEqual(
        problemLines(
          "services:\n  - name: a\n    image: a:1\n    capabilities.add: [CAP_BOGUS]\n    capabilitiesAdd: []\n    mounts:\n      - type: bind\n        source: /a\n        destination: /b\n        uidMappings: []\n",
        ),
        [
          'services[a].capabilitiesAdd: unknown field; did you mean "capabilities.add"?',
          'services[a].mounts[0].uidMappings: unknown field; did you mean "uidmappings"?',
          'services[a].capabilities.add[0]: unknown capability "CAP_BOGUS"; expected one of ' +
            problemLines("services:\n  - {name: a, image: a, capabilities: [X]}\n")[0]!.split(
              "expected one of ",
            )[1],
        ],
      );
    });

    it("THEN bad rlimit strings are reported without a second complaint", () => {
      assert.deepEqual(
        problemLines(
          "services:\n  - name: a\n    image: a:1\n    rlimits: ['nofile,1', 'files,1,2', 'nproc,x,1', 7]\n",
        ),
        [
          'services[a].rlimits[0]: expected "type,soft,hard" (e.g. "nofile,1024,4096"), got "nofile,1"',
          'services[a].rlimits[1]: unknown rlimit "files"; expected one of cpu, fsize, data, stack, core, rss, nproc, nofile, memlock, as, locks, sigpending, msgqueue, nice, rtprio, rttime',
          'services[a].rlimits[2]: expected non-negative integer limits or "unlimited", got "nproc,x,1"',
          'services[a].rlimits[3]: expected "type,soft,hard" (e.g. "nofile,1024,4096"), got a number',
        ],
      );
    });

    it("THEN YAML syntax errors name the line and column", () => {
      assert.deepEqual(problemLines("kernel:\n  image: a\n  image: b\n"), [
        "test.yml:3:3: YAML: Map keys must be unique",
      ]);
      const [unclosed] = problemLines("services:\n  - name: a\n    image: [unclosed\n");
      assert.match(
        unclosed!,
        /^test\.yml:\d+:\d+: YAML: Flow sequence in block collection must be sufficiently indented and end with a \]$/,
      );
    });

    it("THEN a document that is not a mapping is refused, and an empty one is an empty system", () => {
      assert.deepEqual(problemLines("- a\n- b\n"), [
        "test.yml: expected a mapping of sections (kernel, init, onboot, …) at the top level",
      ]);
      assert.deepEqual(importText("# nothing\n").manifest, {});
    });
  });

  describe("GIVEN more of LinuxKit's YAML", () => {
    it("THEN merge keys work as in LinuxKit's Go YAML", () => {
      const { manifest } = importText(
        "onboot:\n  - &base { name: a, image: busybox:1, net: host }\n  - <<: *base\n    name: b\n",
      );
      assert.deepEqual(manifest.onboot?.[1], { name: "b", image: "busybox:1", net: "host" });
    });

    it("THEN empty strings mean unset where LinuxKit's Go structs read them so", () => {
      const { manifest } = importText(
        "kernel: { image: k:1, binary: '', ucode: '' }\nservices:\n  - { name: a, image: a:1, cwd: '', hostname: '', cgroupsPath: '' }\nfiles:\n  - { path: /d, directory: true, source: '', symlink: '' }\nvolumes:\n  - { name: v, image: '', format: '' }\n",
      );
      assert.deepEqual(manifest, {
        kernel: { image: "k:1", binary: "kernel", tar: "kernel.tar" },
        services: [{ name: "a", image: "a:1" }],
        files: [{ path: "/d", directory: true, mode: "0700" }],
        volumes: [{ name: "v" }],
      });
    });

    it("THEN sysctl and annotation values keep the text written", () => {
      const { manifest } = importText(
        "services:\n  - name: a\n    image: a:1\n    sysctl: { a: 1.10, b: 0x10, c: 0755, d: 18446744073709551615, e: yes }\n",
      );
      assert.deepEqual(manifest.services?.[0]?.sysctl, {
        a: "1.10",
        b: "0x10",
        c: "0755",
        d: "18446744073709551615",
        e: "yes",
      });
    });

    it("THEN placeholders, complex keys and too-large numbers are refused plainly", () => {
      assert.deepEqual(problemLines("files:\n  - path: /t\n    contents: { $input: token }\n"), [
        "files[/t].contents: expected text; input placeholders exist only in TypeScript definitions (oskit.input)",
      ]);
      assert.deepEqual(
        problemLines(
          "services:\n  - name: a\n    image: a:1\n    sysctl:\n      ? [x]\n      : y\n",
        ),
        ["test.yml:5:9: YAML: mapping keys must be plain text, not lists or mappings"],
      );
      assert.deepEqual(
        problemLines(
          "services:\n  - name: a\n    image: a:1\n    resources: { memory: { limit: 9223372036854775807 } }\n    sysctl: { '': x }\n",
        ),
        [
          "services[a].resources.memory.limit: 9223372036854776000 is above 9007199254740991, the largest integer oskit holds exactly",
          "services[a].sysctl[]: keys must be non-empty text",
        ],
      );
    });

    it("THEN every bad rlimit is reported, and the good ones are still checked", () => {
      assert.deepEqual(
        problemLines(
          "services:\n  - name: a\n    image: a:1\n    rlimits: ['nofile,1', 'nproc,9,1', 'core,9007199254740993,unlimited']\n",
        ),
        [
          'services[a].rlimits[0]: expected "type,soft,hard" (e.g. "nofile,1024,4096"), got "nofile,1"',
          'services[a].rlimits[2]: the limit 9007199254740993 is above 9007199254740991, the largest oskit holds exactly; use "unlimited" for no limit',
          "services[a].rlimits[1]: soft limit 9 is above the hard limit 1",
        ],
      );
    });
  });
});
