import { strict as assert } from "node:assert";
import { formatProblem, ValidationError } from "../../../sdk/errors";
import { checkManifest, validateManifest } from "../../../sdk/manifest/validate";

/** The problem lines for a raw definition (fails the test if it is valid). */
function problems(raw: unknown): string[] {
  const result = checkManifest(raw);
  assert.equal(result.ok, false, "expected problems");
  return result.ok ? [] : result.problems.map(formatProblem);
}

const web = { name: "web", image: "nginx:1.27" };

describe("validateManifest", () => {
  describe("GIVEN a valid definition", () => {
    it("THEN it fills in LinuxKit's defaults and normalizes paths and modes", () => {
      const m = validateManifest({
        kernel: { image: "linuxkit/kernel:6.6", tar: "" },
        init: [],
        services: [web],
        files: [
          { path: "etc/motd", contents: "hi" },
          { path: "/var/lib/x/", directory: true, optional: false },
          { path: "etc/key", contents: "k", mode: 0o400, directory: false },
        ],
      });
      assert.deepEqual(m, {
        kernel: { image: "linuxkit/kernel:6.6", binary: "kernel", tar: "none" },
        services: [web],
        files: [
          { path: "/etc/motd", contents: "hi", mode: "0600" },
          { path: "/var/lib/x", directory: true, mode: "0700" },
          { path: "/etc/key", contents: "k", mode: "0400" },
        ],
      });
    });

    it("THEN it is idempotent: validating a manifest again gives the same manifest", () => {
      const m = validateManifest({
        kernel: { image: "k:1" },
        services: [web],
        files: [{ path: "a", contents: "" }],
      });
      assert.deepEqual(validateManifest(m), m);
    });

    it("THEN input placeholders are kept as data", () => {
      const m = validateManifest({
        files: [{ path: "/etc/token", contents: { $input: "apiToken" } }],
      });
      assert.deepEqual(m.files?.[0]?.contents, { $input: "apiToken" });
    });
  });

  describe("GIVEN mistakes", () => {
    it("THEN every problem is reported at once, naming containers by name", () => {
      const lines = problems({
        services: [
          { ...web, capabilities: ["CAP_FOO"], net: "bogus" },
          { name: "db", image: "postgres:16", oomScoreAdj: 2000 },
        ],
      });
      assert.deepEqual(lines, [
        `services[web].capabilities[0]: unknown capability "CAP_FOO"; expected one of ${["CAP_CHOWN", "CAP_DAC_OVERRIDE"].join(", ")}, ${lines[0]!.split("CAP_DAC_OVERRIDE, ")[1]}`,
        'services[web].net: unknown namespace "bogus"; expected "host", "new", "none" or an absolute path to join',
        "services[db].oomScoreAdj: expected at most 1000, got 2000",
      ]);
      assert.match(lines[0]!, /CAP_CHECKPOINT_RESTORE, all, none$/);
    });

    it("THEN a near-miss gets a suggestion", () => {
      assert.deepEqual(
        problems({ services: [{ ...web, capabilites: [], capabilities: ["CAP_NET_ADMN"] }] }),
        [
          'services[web].capabilities[0]: unknown capability "CAP_NET_ADMN"; did you mean "CAP_NET_ADMIN"?',
          'services[web].capabilites: unknown field; did you mean "capabilities"?',
        ],
      );
    });

    it("THEN all and none must stand alone", () => {
      assert.deepEqual(problems({ services: [{ ...web, capabilities: ["all", "CAP_CHOWN"] }] }), [
        'services[web].capabilities: "all" must be the only entry of a capability list',
      ]);
    });

    it("THEN names must be unique across sections and ids must name containers", () => {
      assert.deepEqual(
        problems({
          onboot: [{ name: "web", image: "busybox:1" }],
          services: [{ ...web, uid: "nobody", gid: "100", additionalGids: ["web", "x"] }],
          files: [{ path: "/a", contents: "", uid: "ghost" }],
        }),
        [
          'services[web].name: duplicate container name "web" (also in onboot)',
          'services[web].uid: "nobody" is not the name of a container; expected a number, "root" or one of: web',
          'services[web].gid: "100" is not the name of a container; write the number without quotes; expected a number, "root" or one of: web',
          'services[web].additionalGids[1]: "x" is not the name of a container; expected a number, "root" or one of: web',
          'files[/a].uid: "ghost" is not the name of a container; expected a number, "root" or one of: web',
        ],
      );
    });

    it("THEN a file must say exactly one thing, once, under a directory", () => {
      assert.deepEqual(
        problems({
          files: [
            { path: "/etc", contents: "x" },
            { path: "/etc/motd", contents: "a", symlink: "/b" },
            { path: "etc/motd", source: "/host/motd" },
            { path: "/empty" },
            { path: "/opt", contents: "", optional: true },
          ],
        }),
        [
          "files[/etc/motd]: sets contents and symlink; expected exactly one of contents, source, metadata, symlink, directory",
          'files[etc/motd].path: "/etc/motd" is declared twice (also files[1])',
          "files[/empty]: says nothing about the file; expected one of contents, source, metadata, symlink, directory",
          "files[/opt].optional: applies only to a file with a source",
          "files[/etc/motd].path: its parent /etc is declared as a file (files[0])",
        ],
      );
    });

    it("THEN binds must be well formed and name declared volumes, read-only ones with ro", () => {
      assert.deepEqual(
        problems({
          volumes: [{ name: "cache" }, { name: "assets", readonly: true }],
          services: [
            {
              ...web,
              binds: [
                "cache:/c",
                "assets:/a",
                "assets:/b:ro,rshared",
                "nope:/n",
                "/x",
                "/x:y",
                "/x:/y:",
              ],
            },
          ],
        }),
        [
          'services[web].binds[1]: the volume "assets" is read-only; bind it with the "ro" option ("assets:/a:ro")',
          'services[web].binds[3]: the source "nope" is neither an absolute path nor a volume; declared volumes: cache, assets',
          'services[web].binds[4]: expected "source:/destination[:option,option]", got "/x"',
          'services[web].binds[5]: the destination "y" must be an absolute path',
          "services[web].binds[6]: has an empty option list; drop the trailing ':'",
        ],
      );
    });

    it("THEN mounts need a type and destination LinuxKit can infer, devices a mode", () => {
      assert.deepEqual(
        problems({
          services: [
            {
              ...web,
              mounts: [
                { source: "proc" },
                { destination: "/dev" },
                { source: "/a", destination: "/b" },
                { type: "tmpfs" },
              ],
              devices: [
                { path: "/dev/fuse", type: "c", major: 10, minor: 229 },
                { path: "all", type: "b" },
                { path: "/dev/sda", type: "b", mode: "0660" },
              ],
              tmpfs: ["/tmp:size=1m", "tmp", "/a:b:c"],
            },
          ],
        }),
        [
          'services[web].tmpfs[1]: expected "/destination[:option,option]", got "tmp"',
          'services[web].tmpfs[2]: expected "/destination[:option,option]", got "/a:b:c"',
          "services[web].mounts[2].type: required unless the source is one of mqueue, devpts, proc, sysfs, cgroup or the destination is /dev",
          "services[web].mounts[3].destination: required for a tmpfs mount (only proc, devpts, sysfs, cgroup, mqueue have a default)",
          'services[web].devices[0].mode: required for a device node; e.g. "0666"',
          "services[web].devices[2]: a block device needs major and minor numbers",
        ],
      );
    });

    it("THEN rlimits are typed and soft may not exceed hard", () => {
      assert.deepEqual(
        problems({
          services: [
            {
              ...web,
              rlimits: [
                { type: "nofile", soft: 10, hard: 5 },
                { type: "files", soft: 1, hard: 1 },
                { type: "nproc", soft: "lots", hard: "unlimited" },
              ],
            },
          ],
        }),
        [
          "services[web].rlimits[0]: soft limit 10 is above the hard limit 5",
          `services[web].rlimits[1].type: unknown rlimit "files"; expected one of cpu, fsize, data, stack, core, rss, nproc, nofile, memlock, as, locks, sigpending, msgqueue, nice, rtprio, rttime`,
          'services[web].rlimits[2].soft: expected a non-negative integer or "unlimited", got "lots"',
        ],
      );
    });

    it("THEN placeholders, modes, types and references are checked", () => {
      assert.deepEqual(
        problems({
          kernel: { image: "linuxkit/Kernel" },
          init: [42],
          services: [
            { name: "bad name", image: "nginx", readonly: "yes", env: ["NOVALUE"], uid: true },
          ],
          files: [
            { path: "/t", contents: { $input: "1x" } },
            { path: "/m", contents: "", mode: "rwx" },
            { path: "/n", contents: 5 },
          ],
        }),
        [
          "kernel.image: invalid image reference \"linuxkit/Kernel\": \"Kernel\" is not a valid repository path component (lowercase letters, digits and single '.', '_' or '-' separators)",
          "init[0]: expected a string, got 42",
          "services[bad name].name: invalid container name \"bad name\"; expected letters and digits separated by single '.', '_' or '-' (e.g. \"web\", \"dhcp-client\")",
          'services[bad name].env[0]: expected "NAME=value", got "NOVALUE"',
          'services[bad name].readonly: expected true or false, got "yes"',
          'services[bad name].uid: expected a numeric id, a container name or "root", got true',
          "files[/t].contents.$input: invalid input name \"1x\"; expected a letter followed by letters, digits or '_'",
          'files[/m].mode: mode "rwx" is not octal; expected e.g. "0644" or "0755"',
          'files[/n].contents: expected text or an input placeholder (oskit.input("name")), got 5',
        ],
      );
    });

    it("THEN the error thrown carries every problem and names the source", () => {
      assert.throws(
        () =>
          validateManifest(
            { services: [{ name: "web" }], volumes: [{ name: "a" }, { name: "a" }] },
            { source: "os.yml" },
          ),
        (e: unknown) =>
          e instanceof ValidationError &&
          e.code === "VALIDATION" &&
          e.problems.length === 2 &&
          e.message.startsWith(
            "2 problems in os.yml:\n  services[web].image: required; expected a string",
          ),
      );
    });
  });
});
