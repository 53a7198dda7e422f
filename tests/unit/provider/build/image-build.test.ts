import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  checkImageBuild,
  createImageBuild,
  deleteImageBuild,
  diffImageBuild,
  updateImageBuild,
  type ImageBuildInputs,
  type ImageBuildOutputs,
} from "../../../../provider/build/image-build";
import { osInput } from "../../../../provider/build/os-input";
import { manifestDigest } from "../../../../sdk/manifest/canonical";
import { validateManifest } from "../../../../sdk/manifest/validate";
import { ContentStore } from "../../../../sdk/resolve/store/store";
import { storeImage } from "../../../support/images";
import { tarOf } from "../../../support/tar";

describe("ImageBuild's functions", () => {
  let dir: string;
  let store: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-imagebuild-"));
    store = join(dir, "store");
    const s = await ContentStore.open(store);
    await storeImage(s, { ref: "test/kernel:1", layers: [await tarOf({ kernel: "bzImage" })] });
    await storeImage(s, {
      ref: "test/app:1",
      layers: [await tarOf({ "bin/app": "v1" })],
      entrypoint: ["/bin/app"],
    });
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const inputs = (motd: string, extra: Partial<ImageBuildInputs> = {}): ImageBuildInputs => {
    const manifest = validateManifest({
      kernel: { image: "test/kernel:1", tar: "none" },
      services: [{ name: "app", image: "test/app:1" }],
      files: [
        { path: "/etc/motd", contents: motd },
        { path: "/etc/token", contents: { $input: "token" } },
      ],
    });
    return {
      os: osInput(manifest),
      manifestDigest: manifestDigest(manifest).toString(),
      formats: ["kernel+initrd", "tar"],
      name: "sys",
      outDir: join(dir, "out"),
      baseDir: dir,
      arch: "amd64",
      store,
      inputs: { token: "s3cret" },
      ...extra,
    };
  };

  it("reports each problem at its property path, and recomputes the digest", () => {
    const bad = inputs("hi");
    const os = bad.os as Record<string, Record<string, Record<string, unknown>>>;
    const broken = {
      ...bad,
      manifestDigest: "sha256:wrong",
      os: { ...os, services: { app: { ...os.services!.app, capabilities: ["CAP_FOO"] } } },
      formats: ["kernel+initrd", "floppy"],
      inputs: { tokn: "x" },
    } as unknown as ImageBuildInputs;
    const { failures } = checkImageBuild(broken);
    assert.deepEqual(
      failures.map((f) => f.property),
      ["os.services.app.capabilities[0]", "formats[1]", "inputs.token", "inputs.tokn"],
    );
    assert.match(failures[0]!.reason, /unknown capability "CAP_FOO"/);
    const good = checkImageBuild({ ...bad, manifestDigest: "sha256:wrong" });
    assert.deepEqual(good.failures, []);
    assert.equal(good.inputs.manifestDigest, bad.manifestDigest);
  });

  it("builds, then reports no change until an artifact goes missing or changes, and replaces on a new digest", async () => {
    const first = inputs("hello");
    const { id, outs } = await createImageBuild(first);
    assert.equal(id, outs.dir);
    assert.deepEqual(Object.keys(outs.artifacts), ["kernel+initrd", "tar"]);
    const kernelInitrd = outs.artifacts["kernel+initrd"]!;
    assert.equal(kernelInitrd.path, join(outs.dir, "sys"));
    assert.deepEqual(
      kernelInitrd.files.map((f) => f.name),
      ["sys-kernel", "sys-initrd.img", "sys-cmdline"],
    );
    assert.equal(outs.artifacts.tar!.path, join(outs.dir, "sys.tar"));

    assert.deepEqual(await diffImageBuild(outs, first), {
      changes: false,
      replaces: [],
      changed: [],
    });

    writeFileSync(join(outs.dir, "sys.tar"), "altered");
    assert.deepEqual((await diffImageBuild(outs, first)).changed, ["artifacts"]);
    rmSync(join(outs.dir, "sys.tar"));
    assert.deepEqual((await diffImageBuild(outs, first)).changed, ["artifacts"]);
    const rebuilt = await updateImageBuild(outs, first);
    assert.equal(rebuilt.artifacts.tar!.sha256, outs.artifacts.tar!.sha256, "the same bytes again");
    assert.equal((await diffImageBuild(rebuilt, first)).changes, false);

    assert.deepEqual(
      (await diffImageBuild(rebuilt, { ...first, inputs: { token: "new" } })).changed,
      ["inputs"],
    );
    const second = inputs("hello, world");
    const replace = await diffImageBuild(rebuilt, second);
    assert.deepEqual(replace.replaces, ["os"]);
    const next = await createImageBuild(second);
    assert.notEqual(next.id, id, "a new digest builds beside the old artifacts");
    await deleteImageBuild(rebuilt);
    assert.equal(existsSync(outs.dir), false, "the old directory is gone");
    assert.ok(existsSync(next.outs.artifacts.tar!.path), "the new artifacts stay");
    await deleteImageBuild(next.outs);
    assert.deepEqual(readdirSync(join(dir, "out")), []);
  });

  it("removes the files of a format no longer asked for", async () => {
    const both = inputs("formats");
    const { outs } = await createImageBuild(both);
    const only: ImageBuildInputs = { ...both, formats: ["tar"] };
    assert.deepEqual((await diffImageBuild(outs, only)).changed, ["formats"]);
    const updated: ImageBuildOutputs = await updateImageBuild(outs, only);
    assert.deepEqual(Object.keys(updated.artifacts), ["tar"]);
    assert.deepEqual(readdirSync(updated.dir), ["sys.tar"]);
    await deleteImageBuild(updated);
  });
});
