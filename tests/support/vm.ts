import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { runQemu, type RunOptions } from "../../sdk/run/qemu";
import { stopVm } from "../../sdk/run/stop";
import { freePort } from "./registry";

export interface Served {
  /** The page the guest's web service answered with. */
  readonly page: string;
  readonly nonce: string;
  /** Seconds from QEMU's start to the page. */
  readonly seconds: number;
  readonly stopped: string;
}

/**
 * Boots a hello system (any target `oskit run qemu` takes) detached, with a fresh nonce as its
 * configuration, waits for /cgi-bin/hello to show the nonce, and powers it off. `how` picks the
 * firmware or attaches an ISO as a disk.
 */
export async function bootAndFetch(
  path: string,
  limitSeconds = 240,
  how: Pick<RunOptions, "uefi" | "isoAsDisk"> = {},
): Promise<Served> {
  const nonce = randomBytes(8).toString("hex");
  const port = await freePort();
  const started = Date.now();
  const vm = await runQemu({
    ...how,
    path,
    detach: true,
    data: Buffer.from(nonce),
    publish: [`${port}:80`],
  });
  const log = () => readFileSync(join(vm.state, "console.log"), "utf8");
  try {
    const deadline = started + limitSeconds * 1000;
    // A new attempt every 250 ms, without waiting for the last one: before the guest has its
    // address, QEMU's user network holds a connection while it retries the guest (a second, then
    // more), and waiting for it would add up to that to the seconds measured.
    const attempt = async (): Promise<string | undefined> => {
      try {
        const response = await fetch(`http://127.0.0.1:${port}/cgi-bin/hello`, {
          signal: AbortSignal.timeout(3000),
        });
        const page = await response.text();
        return page.includes(nonce) ? page : undefined;
      } catch {
        return undefined; // not serving yet
      }
    };
    let served: { page: string; seconds: number } | undefined;
    while (served === undefined && Date.now() < deadline) {
      void attempt().then((page) => {
        if (page !== undefined) served ??= { page, seconds: (Date.now() - started) / 1000 };
      });
      await new Promise((r) => setTimeout(r, 250));
    }
    if (served !== undefined) {
      const stopped = await stopVm(vm.state, 60);
      return { page: served.page, nonce, seconds: served.seconds, stopped: stopped.how };
    }
    throw new Error(
      `${path}: no page with the nonce within ${limitSeconds} s; console:\n${log().slice(-3000)}`,
    );
  } catch (error) {
    await stopVm(vm.state, 10).catch(() => undefined);
    throw error;
  }
}
