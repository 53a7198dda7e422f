import { strict as assert } from "node:assert";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { hasStackTrace, oskit } from "../../support/cli";
import { linuxkitFixtures } from "../../support/fixtures";
import { FIXTURES, ROOT, TMP } from "../../support/paths";

const hello = "examples/hello/os.ts";

describe("oskit (the command)", () => {
  before(() => mkdirSync(TMP, { recursive: true }));

  describe("synth and validate", () => {
    it("prints the canonical manifest of a TypeScript definition", () => {
      const { code, stdout, stderr } = oskit(["synth", hello]);
      assert.equal(code, 0, stderr);
      const manifest = JSON.parse(stdout) as { services: { name: string }[] };
      assert.deepEqual(
        manifest.services.map((s) => s.name),
        ["web", "getty"],
      );
      assert.deepEqual(Object.keys(manifest), [...Object.keys(manifest)].sort(), "keys are sorted");
    });

    it("gives byte-identical output in separate processes", () => {
      const first = oskit(["synth", hello]);
      const second = oskit(["synth", hello], {
        env: { TZ: "Pacific/Kiritimati", LANG: "tr_TR.UTF-8" },
      });
      assert.equal(first.code, 0);
      assert.equal(second.stdout, first.stdout);
    });

    it("runs as npx oskit in the project", () => {
      const result = spawnSync("npx", ["--no", "oskit", "export", hello], {
        cwd: ROOT,
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      });
      assert.equal(result.status, 0, result.stderr);
      assert.match(result.stdout, /^kernel:\n {2}image: oskit\/kernel:[0-9a-f]{16}\n/);
    });

    it("validates with the manifest digest, the same for the definition and its LinuxKit export", () => {
      const ts = oskit(["validate", hello]);
      assert.equal(ts.code, 0, ts.stderr);
      const out = join(TMP, "hello-export.yml");
      assert.equal(oskit(["export", hello, "-o", out]).code, 0);
      const yml = oskit(["validate", out]);
      assert.equal(
        ts.stdout.match(/sha256:[0-9a-f]{64}/)?.[0],
        yml.stdout.match(/sha256:[0-9a-f]{64}/)?.[0],
      );
    });

    it("merges several LinuxKit files and warns about what it ignores", () => {
      const { code, stdout, stderr } = oskit([
        "synth",
        `${FIXTURES}/merge/base.yml`,
        `${FIXTURES}/merge/extra.yml`,
      ]);
      assert.equal(code, 0);
      assert.equal(
        (JSON.parse(stdout) as { kernel: { image: string } }).kernel.image,
        "linuxkit/kernel:6.6.71",
      );
      assert.match(stderr, /^warning: .*base\.yml: "trust" is accepted and ignored/m);
    });
  });

  describe("the bad-input corpus", () => {
    const dir = join(FIXTURES, "bad");
    const cases = readdirSorted(dir);

    it("has at least 30 cases", () => assert.ok(cases.length >= 30, `${cases.length} cases`));

    for (const name of cases) {
      it(`rejects ${name} with the expected lines and no stack trace`, () => {
        const file = `tests/fixtures/bad/${name}`;
        const expected = readFileSync(join(dir, name), "utf8")
          .split("\n")
          .map((line) => /^(?:#|\/\/) expect: (.*)$/.exec(line)?.[1])
          .filter((line): line is string => line !== undefined)
          .map((line) => line.replaceAll("{file}", file));
        assert.ok(expected.length > 0, "the case names no expected line");
        const { code, stdout, stderr } = oskit(["validate", file]);
        assert.equal(code, 1, stderr);
        assert.equal(stdout, "");
        assert.deepEqual(stderr.trimEnd().split("\n"), expected);
        assert.ok(!hasStackTrace(stderr));
      });
    }
  });

  describe("export and import", () => {
    it("exports the hello example as LinuxKit YAML", () => {
      const { code, stdout } = oskit(["export", hello]);
      assert.equal(code, 0);
      const doc = YAML.parse(stdout) as {
        services: { name: string; binds: string[] }[];
        files: { path: string; mode?: string }[];
      };
      assert.deepEqual(doc.services[0]?.binds, [
        "/etc/web:/srv/www:ro",
        "/run/config:/run/config:ro",
      ]);
      assert.deepEqual(doc.files.find((f) => f.path === "/etc/web/cgi-bin/hello")?.mode, "0755");
    });

    it("takes values for input placeholders and refuses to export without them", () => {
      const file = join(TMP, "with-input.ts");
      writeFileSync(
        file,
        'import * as oskit from "oskit";\nexport default new oskit.Image({ files: [oskit.File.text("/etc/token", oskit.input("apiToken"))] });\n',
      );
      const refused = oskit(["export", file]);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /files\[\/etc\/token\]\.contents: the input "apiToken"/);
      const given = oskit(["export", file, "--input", "apiToken=s3cret=1"]);
      assert.equal(given.code, 0, given.stderr);
      assert.match(given.stdout, /contents: s3cret=1/);
      assert.equal(oskit(["export", file, "--input", "novalue"]).code, 2);
    });

    for (const fixture of linuxkitFixtures()) {
      it(`imports ${fixture.name}.yml into TypeScript that synthesizes the same manifest`, () => {
        const out = join(TMP, `import-${fixture.name}.ts`);
        const imported = oskit(["import", fixture.path, "-o", out]);
        assert.equal(imported.code, 0, imported.stderr);
        assert.match(
          readFileSync(out, "utf8"),
          /^\/\/ Imported from .* by `oskit import`\.\nimport \* as oskit from "oskit";/,
        );
        const fromTs = oskit(["synth", out]);
        const fromYaml = oskit(["synth", fixture.path]);
        assert.equal(fromTs.code, 0, fromTs.stderr);
        assert.equal(fromTs.stdout, fromYaml.stdout);
      });
    }

    it("imports several files merged, to stdout", () => {
      const { code, stdout } = oskit([
        "import",
        `${FIXTURES}/merge/base.yml`,
        `${FIXTURES}/merge/extra.yml`,
      ]);
      assert.equal(code, 0);
      assert.match(stdout, /name: "sshd"/);
    });

    it("resolves oskit for a definition outside any project through its own copy", () => {
      const dir = mkdtempSync("/tmp/oskit-outside-");
      try {
        writeFileSync(
          join(dir, "os.ts"),
          'import { Image, Service } from "oskit";\nexport default new Image({ services: [new Service({ name: "a", image: "a:1" })] });\n',
        );
        const { code, stdout, stderr } = oskit(["synth", "os.ts"], { cwd: dir });
        assert.equal(code, 0, stderr);
        assert.match(stdout, /"name": "a"/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe("diff", () => {
    it("exits 0 for equal systems and 1 for different ones, as diff(1)", () => {
      assert.deepEqual(
        [oskit(["diff", hello, hello]).code, oskit(["diff", hello, hello]).stdout],
        [0, ""],
      );
      const { code, stdout } = oskit([
        "diff",
        `${FIXTURES}/diff/before.ts`,
        `${FIXTURES}/diff/after.yml`,
        "--format",
        "markdown",
      ]);
      assert.equal(code, 1);
      assert.match(stdout, /^\| ➕ \| `services\[web\]\.capabilities` \| \+ `CAP_NET_ADMIN` \|$/m);
    });

    it("colours text for a terminal only when asked or allowed", () => {
      const args = ["diff", `${FIXTURES}/diff/before.ts`, `${FIXTURES}/diff/after.yml`];
      assert.ok(!oskit(args).stdout.includes("\u001b["));
      assert.ok(oskit([...args, "--color", "always"]).stdout.includes("\u001b[32m"));
      assert.ok(
        oskit(args, { env: { FORCE_COLOR: "1", NO_COLOR: undefined } }).stdout.includes("\u001b["),
      );
    });

    it("reads REV:PATH from git, for TypeScript and YAML definitions", function () {
      this.timeout(30000);
      const repo = join(TMP, "git-repo");
      rmSync(repo, { recursive: true, force: true });
      mkdirSync(join(repo, "os"), { recursive: true });
      const git = (...args: string[]) => {
        const r = spawnSync("git", args, { cwd: repo, encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
      };
      const write = (image: string) => {
        writeFileSync(join(repo, "os", "common.ts"), `export const image = "${image}";\n`);
        writeFileSync(
          join(repo, "os", "os.ts"),
          'import * as oskit from "oskit";\nimport { image } from "./common";\nexport default new oskit.Image({ services: [new oskit.Service({ name: "web", image })] });\n',
        );
        writeFileSync(
          join(repo, "os", "os.yml"),
          `services:\n  - name: web\n    image: ${image}\n`,
        );
      };
      git("init", "-q", "-b", "main");
      write("nginx:1.25");
      git("add", ".");
      git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "v1");
      write("nginx:1.27");
      for (const file of ["os/os.ts", "os/os.yml"]) {
        const { code, stdout, stderr } = oskit(["diff", `main:${file}`, file], { cwd: repo });
        assert.equal(code, 1, stderr);
        assert.equal(stdout, "services[web].image: nginx:1.25 → nginx:1.27 (tag 1.25 → 1.27)\n");
      }
      const relative = oskit(["diff", "HEAD:./os.ts", "os.ts"], { cwd: join(repo, "os") });
      assert.equal(relative.code, 1, relative.stderr);
      const missing = oskit(["diff", "main:os/none.ts", "os/os.ts"], { cwd: repo });
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /main:os\/none\.ts does not exist at that revision/);
      assert.deepEqual(
        readdirSorted(join(repo, ".git")).filter((f) => f.startsWith("oskit-rev-")),
        [],
        "temporary checkouts are removed",
      );
    });
  });

  describe("errors", () => {
    it("exits 2 for usage errors and prints help on request", () => {
      assert.equal(oskit(["frobnicate"]).code, 2);
      assert.equal(oskit(["synth"]).code, 2);
      assert.equal(oskit(["diff", hello]).code, 2);
      assert.equal(oskit(["diff", hello, hello, "--format", "html"]).code, 2);
      assert.equal(oskit(["synth", "README.md"]).code, 2);
      assert.equal(oskit(["import", hello]).code, 2);
      const help = oskit(["--help"]);
      assert.equal(help.code, 0);
      for (const command of ["synth", "validate", "export", "import", "diff"])
        assert.match(help.stdout, new RegExp(`^  ${command}`, "m"));
      assert.match(oskit(["--version"]).stdout, /^\d+\.\d+\.\d+\n$/);
    });

    it("reports a missing file plainly, and shows the stack only with OSKIT_DEBUG=1", () => {
      const plain = oskit(["validate", "nope.yml"]);
      assert.deepEqual([plain.code, plain.stderr], [1, "oskit: nope.yml: no such file\n"]);
      const debug = oskit(["validate", "tests/fixtures/bad/throws.ts"], {
        env: { OSKIT_DEBUG: "1" },
      });
      assert.equal(debug.code, 1);
      assert.ok(hasStackTrace(debug.stderr), debug.stderr);
    });

    it("reports unwritable outputs and broken definitions plainly", () => {
      const missingDir = oskit(["synth", hello, "-o", join(TMP, "no-such-dir", "x.json")]);
      assert.equal(missingDir.code, 1);
      assert.match(
        missingDir.stderr,
        /^oskit: cannot write .*x\.json: its directory does not exist\n$/,
      );
      const directory = oskit(["synth", hello, "-o", TMP]);
      assert.match(directory.stderr, /cannot write .*: it is a directory/);
      const fake = join(TMP, "fake-image.ts");
      writeFileSync(
        fake,
        'export default { [Symbol.for("oskit.construct")]: "Image", synth: () => ({ services: [{ name: "x" }] }) };\n',
      );
      const checked = oskit(["validate", fake]);
      assert.deepEqual(
        [checked.code, checked.stderr],
        [1, "services[x].image: required; expected a string\n"],
      );
      const throwing = join(TMP, "throwing-image.ts");
      writeFileSync(
        throwing,
        'export default { [Symbol.for("oskit.construct")]: "Image", synth: () => { throw new Error("boom"); } };\n',
      );
      const thrown = oskit(["validate", throwing]);
      assert.equal(thrown.code, 1);
      assert.match(thrown.stderr, /^oskit: .*throwing-image\.ts: synth failed: boom\n$/);
    });

    it("writes output files whole or not at all", () => {
      const out = join(TMP, "kept.json");
      writeFileSync(out, "previous\n");
      assert.equal(
        oskit(["synth", "tests/fixtures/bad/unknown-capability.yml", "-o", out]).code,
        1,
      );
      assert.equal(readFileSync(out, "utf8"), "previous\n");
    });
  });
});

function readdirSorted(dir: string): string[] {
  return readdirSync(dir).sort();
}
