import { strict as assert } from "node:assert";
import { spawn } from "node:child_process";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { withLock } from "../../../../sdk/resolve/store/lock";
import { ROOT } from "../../../support/paths";

/** Runs tests/support/lock-worker.js; resolves with its exit code. */
function worker(
  lock: string,
  log: string,
  options: { holdMs: number; staleMs: number; crash?: boolean },
): Promise<number | null> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(ROOT, "tests/support/lock-worker.js"),
        ROOT,
        lock,
        log,
        String(options.holdMs),
        String(options.staleMs),
        options.crash === true ? "crash" : "release",
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    child.on("error", reject);
    child.on("close", resolve);
  });
}

/** The most holders a worker log shows at one time, and how many entered. */
function holders(log: string): { most: number; entered: number } {
  let now = 0;
  let most = 0;
  let entered = 0;
  for (const line of readFileSync(log, "utf8").split("\n")) {
    if (line.startsWith("enter")) {
      entered++;
      most = Math.max(most, ++now);
    } else if (line.startsWith("leave")) now--;
  }
  return { most, entered };
}

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

  it("removes the lock file on release only while it still holds its own token", async () => {
    const lock = join(dir, "l");
    await withLock(lock, () => {
      writeFileSync(lock, `1 elsewhere another-holder`);
      return Promise.resolve();
    });
    assert.equal(readFileSync(lock, "utf8"), "1 elsewhere another-holder");
  });

  it("lets one process at a time take over locks whose holders died", async function () {
    this.timeout(60000);
    const lock = join(dir, "l");
    const log = join(dir, "log");
    writeFileSync(lock, `999999999 ${hostname()} dead-owner`);
    const codes = await Promise.all(
      Array.from({ length: 16 }, () =>
        worker(lock, log, { holdMs: 30, staleMs: 120000, crash: true }),
      ),
    );
    assert.deepEqual(codes, Array(16).fill(0));
    assert.deepEqual(holders(log), { most: 1, entered: 16 });
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".takeover")),
      [],
    );
  });

  it("keeps a lock its holder refreshes, however long it holds it", async function () {
    this.timeout(60000);
    const lock = join(dir, "l");
    const log = join(dir, "log");
    const first = worker(lock, log, { holdMs: 1500, staleMs: 400 });
    while (!existsSync(log)) await new Promise((r) => setTimeout(r, 20));
    const second = worker(lock, log, { holdMs: 10, staleMs: 400 });
    assert.deepEqual(await Promise.all([first, second]), [0, 0]);
    assert.deepEqual(holders(log), { most: 1, entered: 2 });
  });
});
