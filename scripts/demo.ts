/**
 * `make demo`, the main job: builds oskit's packages if the store lacks them, builds
 * examples/hello, boots it under QEMU with a fresh nonce as its configuration, fetches the page
 * through the forwarded port — it shows the nonce and the guest's uptime, which only the running
 * guest knows — prints it with the build and boot times, and powers the VM off.
 */
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { build } from "../sdk/build/build";
import { loadDefinitions } from "../sdk/cli/load";
import { buildPackage, packageRef } from "../sdk/pkg/build";
import { runQemu } from "../sdk/run/qemu";
import { stopVm } from "../sdk/run/stop";
import { ociArchitecture } from "../sdk/resolve/oci";
import { ContentStore } from "../sdk/resolve/store/store";

const ROOT = join(__dirname, "..", "..");
const say = (line: string) => process.stdout.write(`${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() =>
        typeof address === "object" && address !== null
          ? resolve(address.port)
          : reject(new Error("no port")),
      );
    });
  });
}

async function fetchPage(url: string, nonce: string, deadline: number): Promise<string> {
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
      last = await response.text();
      if (last.includes(nonce)) return last;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `no page with the nonce from ${url} within the time limit${last ? `; last answer:\n${last}` : ""}`,
  );
}

async function main(): Promise<void> {
  const store = await ContentStore.open();
  const pkgDir = join(ROOT, "pkg");
  for (const name of readdirSync(pkgDir).sort()) {
    const dir = join(pkgDir, name);
    if (!existsSync(join(dir, "build.yml")) || (await store.resolve(packageRef(dir))) !== undefined)
      continue;
    say(`building the package ${name} (it is not in the store yet)`);
    await buildPackage(dir, { store, progress: (m) => say(`  ${m}`) });
  }

  const started = Date.now();
  const { manifest } = await loadDefinitions([join(ROOT, "examples", "hello", "os.ts")]);
  const out = join(ROOT, "out", "hello");
  const result = await build(manifest, {
    store,
    formats: ["kernel+initrd"],
    outDir: out,
    name: "hello",
    platform: { os: "linux", architecture: ociArchitecture() },
    baseDir: join(ROOT, "examples", "hello"),
  });
  const built = Date.now() - started;
  const files = result.results.flatMap((r) => r.files);
  say(
    `built hello in ${seconds(built)}: ${files.map((f) => `${f.name} (${(f.size / 1024 / 1024).toFixed(1)} MiB)`).join(", ")}`,
  );

  const nonce = randomBytes(8).toString("hex");
  const port = await freePort();
  const booted = Date.now();
  const vm = await runQemu({
    path: join(out, "hello"),
    detach: true,
    data: Buffer.from(nonce),
    publish: [`${port}:80`],
  });
  say(
    `booting under QEMU (TCG), console in ${vm.state}/console.log; waiting for http://127.0.0.1:${port}/cgi-bin/hello`,
  );
  try {
    const page = await fetchPage(
      `http://127.0.0.1:${port}/cgi-bin/hello`,
      nonce,
      Date.now() + 180_000,
    );
    const answered = Date.now() - booted;
    say("");
    for (const line of page.trimEnd().split("\n")) say(`  ${line}`);
    say("");
    say(
      `the page came from inside the VM ${seconds(answered)} after QEMU started, with the nonce ${nonce} sent at boot`,
    );
  } finally {
    const stopped = await stopVm(vm.state, 60);
    say(`${stopped.how} in ${seconds(stopped.seconds * 1000)}`);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`demo failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
