/** `oskit push gcp` as a subprocess against the GCP fake: the token from the environment only. */
import { strict as assert } from "node:assert";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { startGcpFake, type GcpFake } from "../../support/gcp";
import { oskitAsync } from "../../support/cli";
import { tinyGceTarball } from "../../support/gce-disk";

describe("oskit push gcp", function () {
  this.timeout(60_000);
  let fake: GcpFake;
  let dir: string;
  let tarball: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-push-gcp-"));
    tarball = (await tinyGceTarball(dir, { name: "hello" })).path;
    fake = await startGcpFake({ project: "oskit-test", buckets: ["oskit-images"] });
  });
  after(async () => {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const push = (...args: string[]) =>
    oskitAsync(
      [
        "push",
        "gcp",
        ...args,
        "--storage-endpoint",
        fake.storageEndpoint,
        "--compute-endpoint",
        fake.computeEndpoint,
      ],
      { env: { GOOGLE_OAUTH_ACCESS_TOKEN: fake.token, OSKIT_GCP_POLL_MS: "1" } },
    );

  it("GIVEN a gce output WHEN pushed THEN progress is on stderr, the image and self link on stdout, and the token nowhere", async () => {
    const r = await push(
      tarball,
      "--project",
      "oskit-test",
      "--bucket",
      "oskit-images",
      "--family",
      "hello",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /uploading gs:\/\/oskit-images\/oskit\/[0-9a-f]{64}-[0-9a-f]{6}\.tar\.gz: /,
    );
    const name = /^image (hello-[0-9a-f]{12}-[0-9a-f]{6})$/m.exec(r.stdout)?.[1];
    assert.ok(name !== undefined, r.stdout);
    assert.match(r.stdout, new RegExp(`^selfLink .*/global/images/${name}$`, "m"));
    assert.equal(fake.state.image(name).family, "hello");
    assert.doesNotMatch(r.stdout + r.stderr, new RegExp(fake.token));

    const again = await push(tarball, "--project", "oskit-test", "--bucket", "oskit-images");
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already exists .*nothing uploaded/);
  });

  it("GIVEN a tarball GCE would refuse WHEN pushed THEN it is refused before anything is uploaded", async () => {
    const bad = join(dir, "bad.tar.gz");
    writeFileSync(bad, gzipSync(Buffer.alloc(2048)));
    const starts = fake.state.callsOf("uploads.start").length;
    const r = await push(bad, "--project", "oskit-test", "--bucket", "oskit-images");
    assert.notEqual(r.code, 0);
    assert.match(r.stderr, /bad\.tar\.gz: its first member is "", not "disk\.raw"/);
    assert.equal(fake.state.callsOf("uploads.start").length, starts);
  });

  it("GIVEN --no-register WHEN pushed THEN only the object is made", async () => {
    const other = (await tinyGceTarball(join(dir), { seed: 7, name: "other" })).path;
    const images = fake.state.images.size;
    const r = await push(
      other,
      "--project",
      "oskit-test",
      "--bucket",
      "oskit-images",
      "--no-register",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^object gs:\/\/oskit-images\/oskit\//m);
    assert.doesNotMatch(r.stdout, /^image /m);
    assert.equal(fake.state.images.size, images);
  });
});
