import { strict as assert } from "node:assert";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import YAML from "yaml";
import { loadDefinitions } from "../../sdk/cli/load";
import { OskitError, ValidationError, formatProblem } from "../../sdk/errors";
import {
  importLinuxkit,
  importLinuxkitData,
  MAX_DEFINITION_BYTES,
} from "../../sdk/manifest/linuxkit/import";
import { LOCK_FILE } from "../../sdk/resolve/lock";
import { oskit, hasStackTrace } from "../support/cli";
import { fixtureData, linuxkitFixtures, type Segment } from "../support/fixtures";
import { TMP } from "../support/paths";

/** What `fn` threw, failing the test when it threw nothing. */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return assert.fail("expected an error");
}

async function rejected(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return assert.fail("expected an error");
}

/** The problem lines of a ValidationError (fails when `error` is anything else). */
function lines(error: unknown): string[] {
  assert.ok(error instanceof ValidationError, `expected a ValidationError, got ${String(error)}`);
  return error.problems.map(formatProblem);
}

/** Runs `fn`, asserting it takes at most `ms` and grows the heap by at most `mb` MiB. */
function bounded<T>(fn: () => T, limits: { ms: number; mb: number }): T {
  global.gc?.();
  const heap = process.memoryUsage().heapUsed;
  const started = Date.now();
  const result = fn();
  const took = Date.now() - started;
  const grew = (process.memoryUsage().heapUsed - heap) / 1024 / 1024;
  assert.ok(took <= limits.ms, `took ${took} ms, more than ${limits.ms}`);
  assert.ok(grew <= limits.mb, `the heap grew by ${grew.toFixed(0)} MiB, more than ${limits.mb}`);
  return result;
}

const importYaml = (text: string) => importLinuxkit({ text, filename: "hostile.yml" });

describe("hostile manifests", function () {
  this.timeout(30000);
  let dir: string;
  beforeEach(() => {
    mkdirSync(TMP, { recursive: true });
    dir = mkdtempSync(join(TMP, "hostile-manifest-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe("GIVEN YAML that expands through anchors and aliases", () => {
    it("WHEN merge keys fan out ten ways per level THEN it is refused quickly, naming the file", () => {
      const levels = ["a0: &a0 {x: 1, y: 2}"];
      for (let i = 1; i < 12; i++)
        levels.push(
          `a${i}: &a${i} {<<: [${Array(10)
            .fill(`*a${i - 1}`)
            .join(", ")}]}`,
        );
      const error = bounded(() => thrown(() => importYaml(`${levels.join("\n")}\n`)), {
        ms: 2000,
        mb: 64,
      });
      assert.ok(
        lines(error).some((l) => /^hostile\.yml: YAML: .*alias/i.test(l)),
        lines(error).join("\n"),
      );
    });

    it("WHEN a 1 MiB scalar is aliased thousands of times inside a section THEN it is refused before the copies exist", () => {
      const big = "x".repeat(1024 * 1024);
      const text = [
        `x-big: &big "${big}"`,
        "services:",
        ...Array.from({ length: 5000 }, (_, i) => `  - {name: s${i}, image: "a:1", env: [*big]}`),
        "",
      ].join("\n");
      const error = bounded(() => thrown(() => importYaml(text)), { ms: 5000, mb: 256 });
      assert.ok(
        lines(error).some((l) => /^hostile\.yml: YAML: .*alias/i.test(l)),
        lines(error).join("\n"),
      );
    });
  });

  describe("GIVEN collections nested 100 000 levels deep", () => {
    for (const [name, head, level, close] of [
      ["flow lists", "init: ", "[", "]"],
      ["flow mappings", "init: ", "{a: ", "}"],
      ["block lists", "init:\n  ", "- ", ""],
    ] as const) {
      it(`WHEN the YAML nests ${name} THEN it is refused with the limit, not a stack overflow`, () => {
        const text = `${head}${level.repeat(100000)}x${close.repeat(100000)}\n`;
        const error = bounded(() => thrown(() => importYaml(text)), { ms: 5000, mb: 512 });
        const found = lines(error);
        assert.equal(found.length, 1, found.join("\n"));
        assert.match(found[0]!, /^hostile\.yml:[12]:\d+: YAML: .*nested more than 64 levels/);
        assert.doesNotMatch(found[0]!, /call stack/i);
      });
    }

    it("WHEN the lock file beside a definition nests JSON lists 100 000 deep THEN loading names the lock file", async () => {
      writeFileSync(join(dir, "os.yml"), "init: [alpine:3.20]\n");
      writeFileSync(
        join(dir, LOCK_FILE),
        `{"version":1,"images":${"[".repeat(100000)}${"]".repeat(100000)}}`,
      );
      const error = await rejected(loadDefinitions(["os.yml"], dir));
      assert.ok(OskitError.is(error), String(error));
      assert.match(
        (error as Error).message,
        new RegExp(`${LOCK_FILE} is not an oskit lock file .*\\(at images\\)`),
      );
    });

    it("WHEN the lock file has a wrong type in an entry THEN the message names the entry", async () => {
      writeFileSync(join(dir, "os.yml"), "init: [alpine:3.20]\n");
      writeFileSync(
        join(dir, LOCK_FILE),
        JSON.stringify({ version: 1, images: { "alpine:3.20": { digest: 5, platforms: {} } } }),
      );
      const error = await rejected(loadDefinitions(["os.yml"], dir));
      assert.match((error as Error).message, /\(at images\.alpine:3\.20\.digest\)/);
    });
  });

  describe("GIVEN definitions too large, not text, or not files", () => {
    it("WHEN a file holds a 64 MiB scalar THEN it is refused from its size, naming the limit, without reading it", async () => {
      const file = join(dir, "huge.yml");
      writeFileSync(file, "kernel:\n  image: a:1\n  cmdline: ");
      execFileSync("truncate", ["-s", String(64 * 1024 * 1024), file]);
      const started = Date.now();
      const error = await rejected(loadDefinitions(["huge.yml"], dir, { lock: "ignore" }));
      assert.ok(Date.now() - started < 1000);
      assert.deepEqual(lines(error), [
        `huge.yml: 67108864 bytes is over the 16 MiB limit for a definition; keep large contents in files and name them with source:`,
      ]);
    });

    it("WHEN a library caller passes text over the limit THEN importLinuxkit refuses it the same way", () => {
      const text = `kernel:\n  image: a:1\n  cmdline: "${"a".repeat(MAX_DEFINITION_BYTES)}"\n`;
      const found = lines(bounded(() => thrown(() => importYaml(text)), { ms: 2000, mb: 64 }));
      assert.equal(found.length, 1);
      assert.match(found[0]!, /^hostile\.yml: \d+ bytes is over the 16 MiB limit/);
    });

    it("WHEN the bytes are not UTF-8 THEN the file and the offset of the bad byte are named", async () => {
      writeFileSync(
        join(dir, "latin1.yml"),
        Buffer.concat([Buffer.from("kernel:\n  cmdline: caf"), Buffer.from([0xe9, 0x0a])]),
      );
      writeFileSync(join(dir, "cut.yml"), Buffer.from([0x69, 0x3a, 0x20, 0xe2, 0x82]));
      assert.deepEqual(lines(await rejected(loadDefinitions(["latin1.yml"], dir))), [
        "latin1.yml: not UTF-8 text: invalid byte 0x0a at offset 23; save the file as UTF-8",
      ]);
      assert.deepEqual(lines(await rejected(loadDefinitions(["cut.yml"], dir))), [
        "cut.yml: not UTF-8 text: a character cut off at the end; save the file as UTF-8",
      ]);
    });

    it("WHEN the definition is a FIFO or /dev/zero THEN it is refused at once instead of read forever", async () => {
      execFileSync("mkfifo", [join(dir, "fifo.yml")]);
      const { symlinkSync } = await import("node:fs");
      symlinkSync("/dev/zero", join(dir, "zero.yml"));
      for (const name of ["fifo.yml", "zero.yml"]) {
        const error = await rejected(loadDefinitions([name], dir));
        assert.ok(OskitError.is(error));
        assert.equal(
          (error as Error).message,
          `${name}: not a regular file; give a definition file`,
        );
      }
    });

    it("WHEN oskit import is given them THEN it exits 1 with the message, no stack trace and no output file", () => {
      writeFileSync(join(dir, "bad.yml"), Buffer.from([0x6b, 0x3a, 0x20, 0xff, 0x0a]));
      writeFileSync(join(dir, "deep.yml"), `init: ${"[".repeat(100000)}${"]".repeat(100000)}\n`);
      for (const file of ["bad.yml", "deep.yml"]) {
        const result = oskit(["import", file, "-o", "out.ts"], { cwd: dir });
        assert.equal(result.code, 1, result.stderr);
        assert.match(result.stderr, file === "bad.yml" ? /not UTF-8/ : /nested more than 64/);
        assert.equal(hasStackTrace(result.stderr), false, result.stderr);
      }
      assert.deepEqual(readdirSync(dir).sort(), ["bad.yml", "deep.yml"]);
    });
  });

  describe("GIVEN a complete manifest with one field at a time of the wrong type", () => {
    const everything = linuxkitFixtures().find((f) => f.name === "everything")!;
    const original = fixtureData(everything);
    const WRONG: readonly { readonly label: string; readonly value: unknown }[] = [
      { label: "a number", value: 42 },
      { label: "a string", value: "text" },
      { label: "a boolean", value: true },
      { label: "an object", value: { x: 1 } },
      { label: "a list", value: [1] },
      { label: "null", value: null },
    ];
    /**
     * Replacements the schema accepts by design: modes as numbers, ids as numbers or names,
     * string maps of numbers and booleans (LinuxKit's YAML reads them as text), page sizes, and
     * null for a whole section (an empty section in YAML).
     */
    const accepted = (path: Segment[], label: string): boolean => {
      const key = String(path[path.length - 1]);
      const parent = String(path[path.length - 2]);
      if (path.length === 1 && label === "null") return true;
      if (key === "mode" && label === "a number") return true;
      if (["uid", "gid"].includes(key) && ["a number", "a string"].includes(label)) return true;
      if (parent === "additionalGids" && ["a number", "a string"].includes(label)) return true;
      if (["sysctl", "annotations"].includes(parent) && ["a number", "a boolean"].includes(label))
        return true;
      if (key === "pageSize" && ["a number", "a string"].includes(label)) return true;
      return false;
    };

    /** Every field and item path of the fixture, parents before children. */
    const paths: Segment[][] = [];
    const walk = (value: unknown, path: Segment[]) => {
      if (path.length > 0) paths.push(path);
      if (Array.isArray(value)) value.forEach((v, i) => walk(v, [...path, i]));
      else if (typeof value === "object" && value !== null)
        for (const [k, v] of Object.entries(value)) walk(v, [...path, k]);
    };
    walk(original, []);

    /** `services[app].capabilities.add[0]`, as the import names a field (items by name or path). */
    const render = (path: Segment[], doc: unknown): string => {
      let out = "";
      let node: unknown = doc;
      path.forEach((segment, i) => {
        if (typeof segment === "number") {
          const item = (node as unknown[])[segment] as Record<string, unknown> | undefined;
          const field = path[0] === "files" ? "path" : "name";
          const label = i === 1 && path[0] !== "init" ? item?.[field] : undefined;
          out += `[${typeof label === "string" ? label : segment}]`;
        } else if (out === "") out = segment;
        else if (["sysctl", "annotations"].includes(String(path[i - 1]))) out += `[${segment}]`;
        else out += `.${segment}`;
        node = (node as Record<string, unknown>)[segment];
      });
      return out;
    };

    const set = (doc: unknown, path: Segment[], value: unknown): void => {
      let node = doc as Record<Segment, unknown>;
      for (const segment of path.slice(0, -1)) node = node[segment] as Record<Segment, unknown>;
      node[path[path.length - 1]!] = value;
    };

    it(`WHEN each of its fields is replaced in turn THEN each is refused with a ValidationError naming that field`, () => {
      const failures: string[] = [];
      let checked = 0;
      for (const path of paths) {
        for (const wrong of WRONG) {
          const doc = structuredClone(original);
          const before = path.reduce<unknown>((n, s) => (n as Record<Segment, unknown>)[s], doc);
          const same =
            (wrong.value === null && before === null) ||
            (Array.isArray(wrong.value) && Array.isArray(before)) ||
            (typeof wrong.value === typeof before &&
              !Array.isArray(before) &&
              (wrong.value === null) === (before === null) &&
              !(typeof before === "object" && Array.isArray(wrong.value)));
          if (same || accepted(path, wrong.label)) continue;
          set(doc, path, wrong.value);
          const where = render(path, doc);
          const error = thrown(() => importLinuxkitData(doc, "everything.yml"));
          checked++;
          if (!(error instanceof ValidationError)) {
            failures.push(`${where} = ${wrong.label}: ${String(error)}`);
            continue;
          }
          const found = error.problems.map(formatProblem);
          if (!error.problems.some((p) => p.path === where || p.path.startsWith(`${where}.`)))
            failures.push(`${where} = ${wrong.label}: ${found.join(" | ")}`);
        }
      }
      assert.deepEqual(failures, [], `${failures.length} of ${checked} cases`);
      assert.ok(checked > 500, `only ${checked} cases`);
    });

    it("WHEN the replacement comes through YAML text THEN the problem names the field in LinuxKit's words", () => {
      const doc = structuredClone(original);
      set(doc, ["services", 0, "capabilities.add"], { CAP_SYS_TIME: true });
      set(doc, ["onboot", 0, "runtime", "mounts", 0, "uidmappings", 0, "size"], "one");
      const found = lines(thrown(() => importYaml(YAML.stringify(doc))));
      assert.deepEqual(found, [
        'onboot[netns].runtime.mounts[0].uidmappings[0].size: expected a number, got "one"',
        "services[app].capabilities.add: expected a list, got an object",
      ]);
    });
  });

  describe("GIVEN values that would be dangerous later", () => {
    const container = (extra: string) =>
      `services:\n  - name: web\n    image: alpine:3.20\n    ${extra}\n`;
    const cases: readonly { text: string; path: string; message: RegExp }[] = [
      {
        text: 'files:\n  - path: "etc/\\0passwd"\n    contents: x\n',
        path: "files[etc/\0passwd].path",
        message: /NUL byte/,
      },
      {
        text: "files:\n  - path: /\n    directory: true\n",
        path: "files[/].path",
        message: /names the root/,
      },
      {
        text: container('binds: ["/etc:../../../etc"]'),
        path: "services[web].binds[0]",
        message: /absolute/,
      },
      {
        text: container('tmpfs: ["relative/tmp"]'),
        path: "services[web].tmpfs[0]",
        message: /expected "\/destination/,
      },
      {
        text: container('env: ["=/bin/sh"]'),
        path: "services[web].env[0]",
        message: /NAME=value/,
      },
      {
        text: "volumes:\n  - name: ../../etc\n",
        path: "volumes[../../etc].name",
        message: /invalid volume name/,
      },
    ];
    for (const c of cases) {
      it(`WHEN ${JSON.stringify(c.path)} holds a value that could escape THEN it is refused there`, () => {
        const found = lines(thrown(() => importYaml(c.text)));
        const line = found.find((l) => l.startsWith(`${c.path}: `));
        assert.ok(line !== undefined, found.join("\n"));
        assert.match(line, c.message);
      });
    }
  });
});
