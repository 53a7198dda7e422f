import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MediaType } from "../../../sdk/resolve/oci";
import { ContentStore } from "../../../sdk/resolve/store/store";
import { oskit } from "../../support/cli";

describe("oskit store and oskit pkg (the commands)", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-cli-store-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("lists, removes and collects", async () => {
    const store = await ContentStore.open(dir);
    const index = await store.putJson({
      schemaVersion: 2,
      mediaType: MediaType.OciIndex,
      manifests: [],
    });
    await store.tag("oskit/demo:v1", {
      mediaType: MediaType.OciIndex,
      digest: index.digest.toString(),
      size: index.size,
    });
    const env = { OSKIT_STORE: dir };
    const ls = oskit(["store", "ls"], { env });
    assert.equal(ls.code, 0, ls.stderr);
    assert.match(
      ls.stdout,
      /^REFERENCE +DIGEST +SIZE\ndocker\.io\/oskit\/demo:v1 +sha256:[0-9a-f]{12} +\d+ B\n$/,
    );
    assert.deepEqual(
      [oskit(["store", "rm", "oskit/demo:v1", "--store", dir]).stdout],
      ["removed docker.io/oskit/demo:v1\n"],
    );
    const again = oskit(["store", "rm", "oskit/demo:v1"], { env });
    assert.deepEqual(
      [again.code, again.stderr],
      [1, "oskit: 1 of the references were not in the store\n"],
    );
    assert.equal(
      oskit(["store", "gc", "--now"], { env }).stdout,
      `removed 1 blob, freed ${index.size} B; 0 kept\n`,
    );
  });

  it("reports a package directory without build.yml, and a bad --arch, as user errors", () => {
    const missing = oskit(["pkg", "build", dir], { env: { OSKIT_STORE: join(dir, "s") } });
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /build\.yml: no build\.yml: a package directory holds build\.yml and its sources/,
    );
    assert.equal(oskit(["pkg", "build", dir, "--arch", "s390x"]).code, 2);
  });
});
