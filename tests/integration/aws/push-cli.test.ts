/**
 * `oskit push aws` as a user runs it, against the AWS fake: credentials from the environment (the
 * SDK's default chain), the progress line on stderr, the snapshot and AMI ids on stdout.
 */
import { strict as assert } from "node:assert";
import {
  closeSync,
  ftruncateSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAwsFake, type AwsFake } from "../../support/aws";
import { oskitAsync } from "../../support/cli";
import { testPe } from "../../support/pe";

describe("oskit push aws", function () {
  this.timeout(60_000);
  let fake: AwsFake;
  let dir: string;
  let disk: string;
  before(async () => {
    fake = await startAwsFake({ region: "eu-west-1" });
    dir = mkdtempSync(join(tmpdir(), "oskit-push-aws-"));
    // Any raw disk: 1 GiB, an arm64 EFI binary at 1 MiB, data at 600 MiB.
    disk = join(dir, "any disk:v1.img");
    const fd = openSync(disk, "w");
    ftruncateSync(fd, 1 << 30);
    writeSync(fd, testPe({ machine: 0xaa64 }), 0, undefined, 1 << 20);
    writeSync(fd, Buffer.alloc(4096, 7), 0, undefined, 600 << 20);
    closeSync(fd);
  });
  after(async () => {
    await fake?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const env = () => ({
    AWS_ACCESS_KEY_ID: fake.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: fake.credentials.secretAccessKey,
    AWS_SESSION_TOKEN: undefined,
    AWS_PROFILE: undefined,
    AWS_REGION: "eu-west-1",
    OSKIT_AWS_POLL_MS: "10",
  });

  it("GIVEN any raw disk WHEN pushed with --boot-mode THEN the snapshot holds it, the AMI is arm64, ids are printed", async () => {
    const result = await oskitAsync(
      ["push", "aws", disk, "--endpoint", fake.endpoint, "--boot-mode", "uefi"],
      { env: env() },
    );
    assert.equal(result.code, 0, result.stderr);
    const [, snapshotId] = /^snapshot (snap-[0-9a-f]+)$/m.exec(result.stdout) ?? [];
    const [, imageId] = /^image (ami-[0-9a-f]+)$/m.exec(result.stdout) ?? [];
    assert.ok(snapshotId !== undefined && imageId !== undefined, result.stdout);
    assert.match(result.stderr, /2048\/2048 blocks \(2 written, 2046 skipped\)/);
    assert.match(result.stderr, /MiB\/s/);
    const bytes = readFileSync(disk);
    assert.ok(fake.state.disk(snapshotId, bytes.length).equals(bytes));
    const image = fake.state.image(imageId);
    assert.equal(image.name, "any disk-v1");
    const register = fake.state.callsOf("RegisterImage").at(-1)!.params!;
    assert.equal(register.Architecture, "arm64");
    assert.doesNotMatch(
      result.stdout + result.stderr,
      new RegExp(fake.credentials.secretAccessKey),
    );
  });

  it("--no-register uploads the snapshot only; a raw disk without --boot-mode is refused with what to say", async () => {
    const only = await oskitAsync(
      [
        "push",
        "aws",
        disk,
        "--endpoint",
        fake.endpoint,
        "--boot-mode",
        "uefi",
        "--name",
        "other",
        "--no-register",
      ],
      { env: env() },
    );
    assert.equal(only.code, 0, only.stderr);
    assert.match(only.stdout, /^snapshot snap-/m);
    assert.doesNotMatch(only.stdout, /^image/m);
    const refused = await oskitAsync(["push", "aws", disk, "--endpoint", fake.endpoint], {
      env: env(),
    });
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /give --boot-mode uefi/);
  });
});
