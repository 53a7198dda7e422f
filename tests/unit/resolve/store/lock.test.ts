import { strict as assert } from "node:assert";
import { existsSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { withLock } from "../../../../sdk/resolve/store/lock";

describe("withLock", () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), "oskit-lock-"))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("runs one holder at a time and releases the lock, also on failure", async () => {
    const lock = join(dir, "l");
    const order: string[] = [];
    const hold = (name: string) =>
      withLock(lock, async () => {
        order.push(`${name}+`);
        await new Promise((r) => setTimeout(r, 30));
        order.push(`${name}-`);
      });
    await Promise.all([hold("a"), hold("b"), hold("c")]);
    for (let i = 0; i < order.length; i += 2)
      assert.equal(order[i]!.slice(0, 1), order[i + 1]!.slice(0, 1));
    await assert.rejects(
      withLock(lock, () => Promise.reject(new Error("inside"))),
      /inside/,
    );
    assert.equal(existsSync(lock), false);
  });

  it("takes over a lock whose owner is gone or that is too old, and times out on a live one", async () => {
    const lock = join(dir, "l");
    writeFileSync(lock, `999999999 ${hostname()} then`);
    assert.equal(await withLock(lock, () => Promise.resolve("dead owner")), "dead owner");
    writeFileSync(lock, `1 elsewhere then`);
    utimesSync(lock, new Date(0), new Date(0));
    assert.equal(await withLock(lock, () => Promise.resolve("stale"), { staleMs: 1000 }), "stale");
    writeFileSync(lock, `${process.pid} ${hostname()} now`);
    await assert.rejects(
      withLock(lock, () => Promise.resolve(), { timeoutMs: 200 }),
      /timed out waiting for the lock/,
    );
  });
});
