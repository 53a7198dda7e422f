/** A real Azurite blob service on a free loopback port, in memory, for the page-blob tests. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ROOT } from "./paths";
import { freePort } from "./registry";

/** Azurite's well-known development account and key (public, in Azure's documentation). */
export const AZURITE_ACCOUNT = "devstoreaccount1";
export const AZURITE_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

export interface RunningAzurite {
  /** The blob endpoint, account included (`http://127.0.0.1:PORT/devstoreaccount1`). */
  readonly blobEndpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts `azurite-blob --inMemoryPersistence --disableTelemetry` (and `--skipApiVersionCheck`)
 * and waits until it answers.
 */
export async function startAzurite(): Promise<RunningAzurite> {
  const port = await freePort();
  const child = spawn(
    join(ROOT, "node_modules", ".bin", "azurite-blob"),
    [
      "--inMemoryPersistence",
      "--disableTelemetry",
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      "--silent",
      // @azure/storage-blob speaks a newer service version than Azurite 3.37.0 knows.
      "--skipApiVersionCheck",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((ok) => child.once("exit", () => ok()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await Promise.race([exited, sleep(3000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  };
  const blobEndpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`azurite-blob exited: ${output}`);
    try {
      await fetch(`${blobEndpoint}?comp=list`);
      return { blobEndpoint, stop };
    } catch {
      if (Date.now() > deadline) {
        await stop();
        throw new Error(`azurite-blob did not answer on port ${port}: ${output}`);
      }
      await sleep(100);
    }
  }
}
