/**
 * The page-blob upload through a fault-injecting proxy in front of a real Azurite: server errors
 * and throttling (503 ServerBusy and 429, with Retry-After) retried with the wait the service
 * asked for, and a connection dropped mid-upload resumed by the next run without rewriting a range
 * Azurite already holds — counted on the wire, range by range — the blob equal to the VHD.
 */
import { strict as assert } from "node:assert";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pageBlobClient } from "../../../provider/azure/blob";
import { blobNameOf, PAGE, uploadVhd } from "../../../provider/azure/upload";
import { tinyVhd } from "../../support/azure-disk";
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  startAzurite,
  type RunningAzurite,
} from "../../support/azurite";
import { startFaultProxy, type FaultProxy } from "../../support/fault-proxy";

const PUT_PAGE = /[?&]comp=page(&|$)/;

function nonZeroBytes(data: Buffer): number {
  const zero = Buffer.alloc(PAGE);
  let n = 0;
  for (let at = 0; at < data.length; at += PAGE)
    if (!data.subarray(at, at + PAGE).equals(zero)) n += PAGE;
  return n;
}

describe("azure upload through faults (Azurite behind a proxy)", function () {
  this.timeout(30_000);
  let azurite: RunningAzurite;
  let proxy: FaultProxy;
  let dir: string;
  let vhd: Awaited<ReturnType<typeof tinyVhd>>;
  let bytes: Buffer;
  let waits: number[];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "oskit-azure-faults-"));
    [azurite, vhd] = await Promise.all([startAzurite(), tinyVhd(dir)]);
    proxy = await startFaultProxy(new URL(azurite.blobEndpoint).origin);
    bytes = readFileSync(vhd.path);
  });
  after(async () => {
    await proxy?.stop();
    await azurite?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.reset();
    waits = [];
  });

  const api = (container: string) =>
    pageBlobClient({
      account: AZURITE_ACCOUNT,
      accountKey: AZURITE_KEY,
      blobEndpoint: `${proxy.url}/${AZURITE_ACCOUNT}`,
      container,
      blob: blobNameOf(vhd.sha256),
    });
  const retry = (attempts?: number) => ({
    ...(attempts !== undefined && { attempts }),
    sleep: (ms: number) => {
      waits.push(ms);
      return Promise.resolve();
    },
  });
  /** Put Page bytes that reached Azurite, per x-ms-range, and the ranges a fault stopped. */
  const wire = () => {
    const written = new Map<string, number>();
    const stopped: string[] = [];
    for (const r of proxy.requests) {
      if (r.method !== "PUT" || !PUT_PAGE.test(r.path) || r.msRange === undefined) continue;
      if (r.fault === undefined || r.fault === "delay")
        written.set(r.msRange, (written.get(r.msRange) ?? 0) + r.bytes);
      else stopped.push(r.msRange);
    }
    return { written, stopped };
  };
  const download = async (container: string) => {
    const sdk = await import("@azure/storage-blob");
    return new sdk.BlobClient(
      `${azurite.blobEndpoint}/${container}/${blobNameOf(vhd.sha256)}`,
      new sdk.StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).downloadToBuffer();
  };

  it("GIVEN 500s, 503 ServerBusy and 429 with Retry-After on Put Page WHEN uploaded THEN each is retried after the asked wait and every range lands once", async () => {
    proxy.inject({
      method: "PUT",
      path: PUT_PAGE,
      fault: { kind: "status", status: 500 },
      times: 2,
    });
    proxy.inject({
      method: "PUT",
      path: PUT_PAGE,
      fault: { kind: "status", status: 503, retryAfter: "2" },
      times: 1,
    });
    proxy.inject({
      method: "PUT",
      path: PUT_PAGE,
      fault: { kind: "status", status: 429, retryAfter: "3" },
      times: 1,
    });
    const result = await uploadVhd(
      { path: vhd.path, digest: vhd.sha256, parallel: 1, retry: retry() },
      await api("throttled"),
    );
    const { written, stopped } = wire();
    console.log(
      `      ${stopped.length} Put Pages refused and retried; waits ${waits.join(", ")} ms; ${result.bytesResent} bytes resent`,
    );
    assert.equal(stopped.length, 4);
    assert.ok(waits.includes(2000), `Retry-After: 2 asked, waits ${waits.join(", ")}`);
    assert.ok(waits.includes(3000), `Retry-After: 3 asked, waits ${waits.join(", ")}`);
    assert.equal(result.bytesWritten, nonZeroBytes(bytes));
    for (const range of stopped) assert.ok(written.has(range), `${range} never landed`);
    for (const [range, n] of written) {
      const [start, end] = /bytes=(\d+)-(\d+)/.exec(range)!.slice(1).map(Number) as [
        number,
        number,
      ];
      assert.equal(n, end - start + 1, `${range} landed ${n} bytes`);
    }
    assert.ok((await download("throttled")).equals(bytes));
  });

  it("GIVEN a connection dropped mid-upload WHEN run again THEN no finished range is rewritten and the blob is the VHD byte for byte", async () => {
    // GIVEN the fifth Put Page's connection is cut and the run gives up on it
    proxy.inject({ method: "PUT", path: PUT_PAGE, fault: { kind: "delay", ms: 0 }, times: 4 });
    proxy.inject({ method: "PUT", path: PUT_PAGE, fault: { kind: "reset" }, times: 1 });
    const first = await api("dropped");
    await assert.rejects(
      uploadVhd(
        {
          path: vhd.path,
          digest: vhd.sha256,
          parallel: 4,
          retry: retry(1),
        },
        first,
      ),
      (error: Error) =>
        /socket hang up|ECONNRESET|other side closed|terminated/i.test(error.message),
    );
    const before = wire();
    assert.equal(before.stopped.length, 1);
    const landedBefore = [...before.written.values()].reduce((a, b) => a + b, 0);
    assert.ok(landedBefore > 0 && landedBefore < nonZeroBytes(bytes));
    // WHEN it runs again
    proxy.reset();
    const result = await uploadVhd(
      { path: vhd.path, digest: vhd.sha256, parallel: 4, retry: retry() },
      await api("dropped"),
    );
    const after = wire();
    console.log(
      `      first run landed ${landedBefore} bytes in ${before.written.size} ranges before the cut; the second skipped ${result.bytesSkipped} and wrote ${result.bytesWritten}`,
    );
    // THEN no range the first run finished is sent again, the cut one is
    for (const range of before.written.keys())
      assert.ok(!after.written.has(range), `${range} was written again`);
    assert.ok(after.written.has(before.stopped[0]!), "the cut range was not written");
    assert.equal(result.resumed, true);
    assert.equal(result.bytesSkipped, landedBefore);
    const landedAfter = [...after.written.values()].reduce((a, b) => a + b, 0);
    assert.equal(landedBefore + landedAfter, nonZeroBytes(bytes));
    assert.ok((await download("dropped")).equals(bytes), "the blob differs from the VHD");
  });
});
