"use strict";
// A process for lock tests: holds the lock at LOCK for HOLD_MS, logging "enter PID" and
// "leave PID" to LOG. With MODE "crash" it exits while holding the lock, as a killed process would.
// Usage: node lock-worker.js ROOT LOCK LOG HOLD_MS STALE_MS MODE
const { appendFileSync } = require("node:fs");
const { join } = require("node:path");
const { setTimeout: sleep } = require("node:timers/promises");
const [root, lock, log, holdMs, staleMs, mode] = process.argv.slice(2);
const { withLock } = require(join(root, "dist/sdk/resolve/store/lock.js"));

withLock(
  lock,
  async () => {
    appendFileSync(log, `enter ${process.pid}\n`);
    await sleep(Number(holdMs));
    appendFileSync(log, `leave ${process.pid}\n`);
    if (mode === "crash") process.exit(0);
  },
  { staleMs: Number(staleMs), timeoutMs: 30000 },
).catch((error) => {
  process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
