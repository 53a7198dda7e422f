/**
 * The dynamic provider as a user has it: oskit installed from `npm pack` into a fresh project
 * with @pulumi/pulumi, a program there registers an ImageBuild (under Pulumi's mocks, which
 * serialize the provider exactly as `pulumi up` does), and a new Node process loads the
 * serialized text the way Pulumi's dynamic-provider host does (`require-from-string`, in the
 * program's directory) and drives it: check, create, diff, delete.
 */
import { strict as assert } from "node:assert";
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { storeImage } from "../../support/images";
import { ROOT, TMP } from "../../support/paths";
import { tarOf } from "../../support/tar";

const NPM_FLAGS = [
  "--ignore-scripts",
  "--prefer-offline",
  "--no-audit",
  "--no-fund",
  "--loglevel=error",
];

/** Runs a script with Node in `cwd`; returns what it printed on stdout as JSON. */
function runNode(cwd: string, script: string, env: NodeJS.ProcessEnv = {}): unknown {
  const file = join(cwd, `script-${readdirSync(cwd).length}.js`);
  writeFileSync(file, script);
  const result = spawnSync(process.execPath, [file], {
    cwd,
    env: { ...process.env, ...env },
    encoding: "utf8",
  });
  assert.equal(result.status, 0, `${result.stderr}\n${result.stdout}`);
  return JSON.parse(result.stdout.trim().split("\n").pop()!);
}

describe("the ImageBuild provider, serialized and run where Pulumi runs it", function () {
  this.timeout(180000);
  let dir: string;
  let project: string;
  let store: string;

  before(async () => {
    mkdirSync(TMP, { recursive: true });
    dir = mkdtempSync(join(TMP, "serialize-"));
    const npm = "npm";
    const tarball = execFileSync(npm, ["pack", "--pack-destination", dir, "--silent"], {
      cwd: ROOT,
      encoding: "utf8",
    })
      .trim()
      .split("\n")
      .pop()!;
    project = join(dir, "project");
    mkdirSync(project);
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({ name: "program", private: true }),
    );
    const pulumiVersion = (
      JSON.parse(
        readFileSync(join(ROOT, "node_modules", "@pulumi", "pulumi", "package.json"), "utf8"),
      ) as { version: string }
    ).version;
    execFileSync(
      npm,
      ["install", ...NPM_FLAGS, join(dir, tarball), `@pulumi/pulumi@${pulumiVersion}`],
      {
        cwd: project,
        stdio: "pipe",
      },
    );
    store = join(dir, "store");
    const s = await ContentStore.open(store);
    await storeImage(s, { ref: "test/kernel:1", layers: [await tarOf({ kernel: "bzImage" })] });
    await storeImage(s, {
      ref: "test/app:1",
      layers: [await tarOf({ "bin/app": "v1" })],
      entrypoint: ["/bin/app"],
    });
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  it("checks, builds, finds nothing to do, and deletes — with nothing of this checkout", () => {
    // the program, in the user's project: mocks hand back what the engine would be given
    const registered = runNode(
      project,
      `
const pulumi = require("@pulumi/pulumi");
const registered = [];
pulumi.runtime.setMocks({
  newResource: (args) => { registered.push(args.inputs); return { id: "x", state: args.inputs }; },
  call: (args) => args.inputs,
}, "program", "dev", false).then(async () => {
  const oskit = require("oskit");
  const image = new oskit.Image({
    kernel: new oskit.Kernel({ image: "test/kernel:1", tar: "none" }),
    services: [new oskit.Service({ name: "app", image: "test/app:1" })],
    files: [oskit.File.text("/etc/token", oskit.input("token"))],
  });
  const build = new oskit.ImageBuild("sys", {
    image, formats: ["kernel+initrd"], inputs: { token: pulumi.secret("s3cret") },
    store: ${JSON.stringify(store)}, lock: false,
  });
  await new Promise((resolve) => build.manifestDigest.apply(resolve));
  console.log(JSON.stringify(registered[0]));
});
`,
    ) as Record<string, unknown>;
    const provider = registered.__provider as string;
    assert.equal(typeof provider, "string");
    assert.ok(!provider.includes(ROOT), "the serialized provider names nothing of this checkout");
    assert.ok(!provider.includes("s3cret"));
    const { __provider: _serialized, ...recorded } = registered;
    const inputs = { ...recorded, inputs: { token: "s3cret" } };
    writeFileSync(join(project, "provider.txt"), provider);
    writeFileSync(join(project, "inputs.json"), JSON.stringify(inputs));

    // the host: a new process, in the program's directory, loading the text as Pulumi does
    const outcome = runNode(
      project,
      `
const { readFileSync } = require("node:fs");
const { dirname } = require("node:path");
const requireFromString = require(require.resolve("require-from-string", {
  paths: [dirname(require.resolve("@pulumi/pulumi"))],
}));
(async () => {
  const provider = requireFromString(readFileSync("provider.txt", "utf8")).handler();
  const news = JSON.parse(readFileSync("inputs.json", "utf8"));
  const bad = await provider.check({}, { ...news, formats: ["floppy"] });
  const checked = await provider.check({}, news);
  const created = await provider.create(checked.inputs);
  const same = await provider.diff(created.id, created.outs, checked.inputs);
  await provider.delete(created.id, created.outs);
  console.log(JSON.stringify({ bad: bad.failures, failures: checked.failures, created, same }));
})().catch((e) => { console.error(e); process.exit(1); });
`,
      { OSKIT_STORE: store },
    ) as {
      bad: { property: string }[];
      failures: unknown[];
      created: { id: string; outs: { artifacts: Record<string, { files: { path: string }[] }> } };
      same: { changes: boolean };
    };
    assert.deepEqual(
      outcome.bad.map((f) => f.property),
      ["formats[0]"],
    );
    assert.deepEqual(outcome.failures, []);
    const files = outcome.created.outs.artifacts["kernel+initrd"]!.files.map((f) => f.path);
    assert.equal(files.length, 3);
    assert.ok(files.every((f) => f.startsWith(join(project, ".oskit", "build"))));
    assert.equal(outcome.same.changes, false);
    assert.ok(
      files.every((f) => !existsSync(f)),
      "delete removed the artifacts",
    );
    assert.ok(!existsSync(outcome.created.id));
  });
});
