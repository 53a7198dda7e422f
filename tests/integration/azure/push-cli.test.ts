/**
 * `oskit push azure` as a subprocess against a real Azurite and the ARM fake, the ARM token from
 * DefaultAzureCredential (a managed identity endpoint on loopback, as App Service serves it), the
 * storage key from AZURE_STORAGE_KEY: an oskit vhd output pushed (the generation from its format),
 * adopted the second time, uploaded only, and bad input refused before anything is sent.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { writeCache } from "../../../sdk/build/cache";
import { startArmFake, type ArmFake } from "../../support/azure-arm";
import { tinyVhd } from "../../support/azure-disk";
import { startManagedIdentity, type ManagedIdentityEndpoint } from "../../support/azure-identity";
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  startAzurite,
  type RunningAzurite,
} from "../../support/azurite";
import { oskitAsync } from "../../support/cli";

describe("oskit push azure", function () {
  this.timeout(60_000);
  let azurite: RunningAzurite;
  let arm: ArmFake;
  let identity: ManagedIdentityEndpoint;
  let dir: string;
  let vhd: Awaited<ReturnType<typeof tinyVhd>>;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-push-azure-"));
    [azurite, arm, vhd] = await Promise.all([
      startAzurite(),
      startArmFake({ resourceGroups: ["oskit"], operationDelayMs: 50 }),
      tinyVhd(dir),
    ]);
    identity = await startManagedIdentity({ [arm.endpoint]: arm.token });
    // The build's record beside the file makes it an oskit vhd output.
    const { path: _path, ...output } = vhd;
    await writeCache(dir, {
      vhd: { key: "test", files: [{ output, mtimeMs: statSync(vhd.path).mtimeMs }] },
    });
  });
  after(async () => {
    await Promise.all([azurite?.stop(), arm?.close(), identity?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  const push = (...args: string[]) =>
    oskitAsync(
      [
        "push",
        "azure",
        ...args,
        "--blob-endpoint",
        azurite.blobEndpoint,
        "--arm-endpoint",
        arm.endpoint,
      ],
      {
        env: {
          ...identity.env,
          AZURE_STORAGE_KEY: AZURITE_KEY,
          AZURE_SUBSCRIPTION_ID: arm.subscription,
          OSKIT_AZURE_POLL_MS: "1",
        },
      },
    );
  const where = ["--account", AZURITE_ACCOUNT, "--resource-group", "oskit"];

  it("GIVEN an oskit vhd output WHEN pushed THEN progress is on stderr, the blob, name and image id on stdout, and no secret anywhere", async () => {
    const started = performance.now();
    const r = await push(vhd.path, ...where, "--container", "cli", "--location", "westeurope");
    console.log(
      `      pushed in ${(performance.now() - started).toFixed(0)} ms: ${r.stderr.trim().split("\n").at(-1)}`,
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /uploading http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/cli\/oskit-[0-9a-f]{64}-[0-9a-f]{6}\.vhd: /,
    );
    assert.match(r.stderr, /uploaded 6\.0 MiB of a 10\.0 MiB VHD in \d+ Put Page calls/);
    assert.match(r.stdout, /^blob http:\/\/127\.0\.0\.1:\d+\/devstoreaccount1\/cli\/oskit-/m);
    const name = /^name (tiny-[0-9a-f]{12}-[0-9a-f]{6})$/m.exec(r.stdout)?.[1];
    assert.ok(name !== undefined, r.stdout);
    assert.match(
      r.stdout,
      new RegExp(
        `^image /subscriptions/${arm.subscription}/resourceGroups/oskit/providers/Microsoft\\.Compute/images/${name}$`,
        "m",
      ),
    );
    const image = arm.state.image("oskit", name);
    assert.equal(image?.properties.hyperVGeneration, "V2", "the generation from the vhd format");
    assert.equal(image?.tags["oskit-owner"], "cli/tiny");
    assert.equal(image?.tags["oskit-format"], "vhd");
    assert.ok(identity.requests.includes(arm.endpoint), "the token came from the credential");
    for (const secret of [arm.token, AZURITE_KEY])
      assert.ok(!(r.stdout + r.stderr).includes(secret), "a secret was printed");

    const again = await push(vhd.path, ...where, "--container", "cli", "--location", "westeurope");
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /already exists \(tiny-.*\): nothing uploaded/);
  });

  it("GIVEN --no-register WHEN pushed THEN only the blob is made", async () => {
    const images = arm.state.images.size;
    const r = await push(
      vhd.path,
      "--account",
      AZURITE_ACCOUNT,
      "--container",
      "only",
      "--no-register",
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^blob .*\/only\/oskit-[0-9a-f]{64}-[0-9a-f]{6}\.vhd$/m);
    assert.doesNotMatch(r.stdout, /^(name|image) /m);
    assert.equal(arm.state.images.size, images);
  });

  it("GIVEN a SAS the account refuses WHEN pushed THEN exit 1 says what to check, and the SAS is nowhere", async () => {
    const sas = "sv=2022-11-02&sr=c&sp=rcwl&sig=bm90IGEgc2lnbmF0dXJl";
    const r = await oskitAsync(
      [
        "push",
        "azure",
        vhd.path,
        ...where,
        "--container",
        "refused",
        "--name",
        "refused",
        "--location",
        "westeurope",
        "--blob-endpoint",
        azurite.blobEndpoint,
        "--arm-endpoint",
        arm.endpoint,
      ],
      {
        env: {
          ...identity.env,
          AZURE_STORAGE_SAS_TOKEN: sas,
          AZURE_STORAGE_KEY: undefined,
          AZURE_SUBSCRIPTION_ID: arm.subscription,
        },
      },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /HTTP 403: the storage account refused the key, SAS or token; check it/);
    assert.ok(!(r.stdout + r.stderr).includes("bm90IGEgc2lnbmF0dXJl"), r.stderr);
  });

  it("GIVEN bad input WHEN pushed THEN exit 2 with what to do, and nothing sent", async () => {
    const calls = arm.state.calls.length;
    // a raw disk, not a VHD
    const raw = join(dir, "disk.img");
    writeFileSync(raw, Buffer.alloc(1 << 20, 1));
    const notVhd = await push(raw, ...where, "--container", "bad", "--location", "westeurope");
    assert.equal(notVhd.code, 2, notVhd.stderr);
    assert.match(notVhd.stderr, /disk\.img: not a VHD \(no "conectix" footer.*qemu-img convert/);
    // a VHD oskit did not write: its generation must be given
    const other = mkdtempSync(join(tmpdir(), "oskit-push-azure-other-"));
    try {
      const foreign = join(other, "foreign.vhd");
      writeFileSync(foreign, readFileSync(vhd.path));
      const unknown = await push(
        foreign,
        ...where,
        "--container",
        "bad",
        "--location",
        "westeurope",
      );
      assert.equal(unknown.code, 2, unknown.stderr);
      assert.match(
        unknown.stderr,
        /cannot tell how .*foreign\.vhd boots \(not an oskit output.*give --hyperv-generation V2 \(UEFI\) or V1 \(BIOS\)/,
      );
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
    // an unknown generation, no location, a key and a SAS, a subscription that is not a GUID
    const many = await push(
      vhd.path,
      ...where,
      "--container",
      "bad",
      "--hyperv-generation",
      "V3",
      "--account-key",
      "a2V5",
      "--sas",
      "sv=1&sig=c2ln",
      "--subscription",
      "mine",
    );
    assert.equal(many.code, 2, many.stderr);
    assert.match(many.stderr, /subscription mine: expected a GUID/);
    assert.match(many.stderr, /no location: give --location/);
    assert.match(many.stderr, /--hyperv-generation V3: expected V1 \(BIOS\) or V2 \(UEFI\)/);
    assert.match(many.stderr, /give --account-key or --sas, not both/);
    assert.equal(arm.state.calls.length, calls, "ARM was called");
  });
});
