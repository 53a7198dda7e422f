/**
 * Boot time to the first HTTP answer: hello started detached under QEMU (TCG) with a fresh nonce
 * as its configuration; the clock runs from QEMU's start to the page that shows the nonce.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runQemu } from "../sdk/run/qemu";
import { stopVm } from "../sdk/run/stop";

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no free port")),
      );
    });
  });
}

/** Seconds from QEMU's start to hello's page, for any target `oskit run qemu` boots. */
export async function secondsToFirstAnswer(path: string, limitSeconds = 180): Promise<number> {
  const nonce = randomBytes(8).toString("hex");
  const port = await freePort();
  const started = process.hrtime.bigint();
  const elapsed = () => Number(process.hrtime.bigint() - started) / 1e9;
  const state = mkdtempSync(join(tmpdir(), "oskit-bench-vm-"));
  const vm = await runQemu({
    path,
    detach: true,
    state,
    data: Buffer.from(nonce),
    publish: [`${port}:80`],
  });
  try {
    // A try starts every 100 ms whatever the earlier ones are doing: before the guest has its
    // address, QEMU's user network holds an accepted connection open, and waiting for it would
    // add its timeout to the figure.
    let answered: number | undefined;
    const attempt = async () => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/cgi-bin/hello`, {
          signal: AbortSignal.timeout(3000),
        });
        if ((await response.text()).includes(nonce)) answered ??= elapsed();
      } catch {
        // not serving yet
      }
    };
    const tries: Promise<void>[] = [];
    while (answered === undefined && elapsed() < limitSeconds) {
      tries.push(attempt());
      await new Promise((r) => setTimeout(r, 100));
    }
    await Promise.all(tries);
    if (answered !== undefined) return answered;
    throw new Error(
      `${path}: no answer within ${limitSeconds} s; its console:\n${readFileSync(join(state, "console.log"), "utf8").slice(-2000)}`,
    );
  } finally {
    await stopVm(vm.state, 30).catch(() => stopVm(vm.state, 5));
    rmSync(state, { recursive: true, force: true });
  }
}
