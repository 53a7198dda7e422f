import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build, type BuildOptions } from "../../../sdk/build/build";
import { ErrorCode, OskitError } from "../../../sdk/errors";
import { TarType } from "../../../sdk/formats/tar/header";
import { readTar } from "../../../sdk/formats/tar/reader";
import { TarWriter } from "../../../sdk/formats/tar/writer";
import { validateManifest } from "../../../sdk/manifest/validate";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { oskitVersion } from "../../../sdk/version";
import { storeImage } from "../../support/images";

async function layer(files: Record<string, string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  const writer = new TarWriter((c) => void chunks.push(c));
  for (const [path, text] of Object.entries(files))
    await writer.add({ path, type: TarType.File, mode: 0o755 }, Buffer.from(text));
  await writer.finish();
  return Buffer.concat(chunks);
}

describe("build", () => {
  let dir: string;
  let options: BuildOptions;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-build-"));
    const store = await ContentStore.open(join(dir, "store"));
    await storeImage(store, {
      ref: "test/kernel:1",
      layers: [await layer({ kernel: "bzImage", "kernel.tar": "" })],
    });
    await storeImage(store, {
      ref: "test/app:1",
      layers: [await layer({ "bin/app": "v1" })],
      entrypoint: ["/bin/app"],
    });
    writeFileSync(join(dir, "motd"), "one\n");
    options = {
      store,
      formats: ["kernel+initrd", "tar"],
      outDir: join(dir, "out"),
      name: "sys",
      platform: { os: "linux", architecture: "amd64" },
      baseDir: dir,
    };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const manifest = (image = "test/app:1") =>
    validateManifest({
      kernel: { image: "test/kernel:1", tar: "none" },
      services: [{ name: "app", image }],
      files: [{ path: "/etc/motd", source: "motd" }],
    });

  it("writes nothing when nothing changed, and rebuilds when a source file, the manifest or an image does", async () => {
    const first = await build(manifest(), options);
    assert.deepEqual(
      first.results.map((r) => [r.format, r.cached]),
      [
        ["kernel+initrd", false],
        ["tar", false],
      ],
    );
    const stamp = statSync(join(options.outDir, "sys.tar")).mtimeMs;
    const again = await build(manifest(), options);
    assert.deepEqual(
      again.results.map((r) => r.cached),
      [true, true],
    );
    assert.equal(statSync(join(options.outDir, "sys.tar")).mtimeMs, stamp);
    assert.deepEqual(
      again.results.map((r) => r.files),
      first.results.map((r) => r.files),
    );

    writeFileSync(join(dir, "motd"), "two\n");
    assert.deepEqual(
      (await build(manifest(), options)).results.map((r) => r.cached),
      [false, false],
      "a changed source file",
    );
    assert.deepEqual(
      (await build(manifest(), { ...options, formats: ["tar"], force: true })).results.map(
        (r) => r.cached,
      ),
      [false],
      "--force",
    );
    await storeImage(options.store, {
      ref: "test/app:1",
      layers: [await layer({ "bin/app": "v2" })],
      entrypoint: ["/bin/app"],
    });
    assert.deepEqual(
      (await build(manifest(), options)).results.map((r) => r.cached),
      [false, false],
      "the same tag, another image",
    );
    rmSync(join(options.outDir, "sys-cmdline"));
    assert.deepEqual(
      (await build(manifest(), options)).results.map((r) => r.cached),
      [false, true],
      "a missing output",
    );
  });

  it("writes the outputs again for another oskit version, and uses package.json's by default", async () => {
    const out = { ...options, formats: ["tar" as const], outDir: join(dir, "versions") };
    await build(manifest(), out);
    const cachedWith = async (oskitVersion?: string) =>
      (await build(manifest(), { ...out, oskitVersion })).results[0]!.cached;
    assert.equal(await cachedWith(oskitVersion()), true);
    assert.equal(await cachedWith("999.0.0"), false);
    assert.equal(await cachedWith(), false);
  });

  it("refuses an output name that is not a single file name", async () => {
    for (const name of ["", ".", "..", "../escaped", "a/b"]) {
      await assert.rejects(
        build(manifest(), { ...options, name, outDir: join(dir, "names", "out") }),
        (e: unknown) =>
          e instanceof OskitError &&
          e.code === ErrorCode.Usage &&
          e.message.startsWith(`the output name ${JSON.stringify(name)}: expected a file name`),
      );
    }
    assert.equal(existsSync(join(dir, "names")), false);
  });

  it("writes tar-kernel-initrd as a tar of the kernel, initrd and command line", async () => {
    const result = await build(manifest(), {
      ...options,
      formats: ["tar-kernel-initrd"],
      outDir: join(dir, "tki"),
    });
    assert.deepEqual(
      result.results[0]!.files.map((f) => f.name),
      ["sys-initrd.tar"],
    );
    const names: string[] = [];
    for await (const entry of readTar([readFileSync(join(dir, "tki", "sys-initrd.tar"))]))
      names.push(entry.header.path);
    assert.deepEqual(names, ["kernel", "initrd.img", "cmdline"]);
  });

  it("never caches builds with input values, and records the content digest of compressed outputs", async () => {
    const withInput = validateManifest({
      kernel: { image: "test/kernel:1", tar: "none" },
      files: [{ path: "/t", contents: { $input: "token" } }],
    });
    const out = { ...options, outDir: join(dir, "inputs"), inputs: { token: "secret" } };
    await build(withInput, out);
    assert.deepEqual(
      (await build(withInput, out)).results.map((r) => r.cached),
      [false, false],
    );
    assert.ok(
      !existsSync(join(dir, "inputs", ".oskit-build.json")),
      "nothing of a build with input values is recorded",
    );
    const initrd = (await build(manifest(), options)).results[0]!.files.find(
      (f) => f.name === "sys-initrd.img",
    )!;
    assert.notEqual(initrd.contentSha256, initrd.sha256);
  });
});
