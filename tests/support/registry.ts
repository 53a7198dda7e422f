/**
 * A real OCI registry for tests: Debian's `docker-registry` (distribution 2.8) on 127.0.0.1 with
 * its storage in a temporary directory — without auth, with htpasswd basic auth, or trusting a
 * token server for the bearer flow.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { TMP } from "./paths";

export interface RunningRegistry {
  /** `127.0.0.1:PORT`, the host part of references. */
  readonly host: string;
  readonly url: string;
  /** The registry's storage directory (blobs under docker/registry/v2/blobs). */
  readonly storage: string;
  /** The path of a blob's data file in the storage. */
  blobFile(digest: string): string;
  stop(): Promise<void>;
}

export type RegistryAuth =
  | { readonly kind: "htpasswd"; readonly users: Readonly<Record<string, string>> }
  | {
      readonly kind: "token";
      readonly realm: string;
      readonly service: string;
      readonly issuer: string;
      readonly certificate: string;
    };

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  await new Promise((ok) => server.close(ok));
  return port;
}

function authConfig(auth: RegistryAuth | undefined, dir: string): string {
  if (auth === undefined) return "";
  if (auth.kind === "htpasswd") {
    const lines = Object.entries(auth.users).map(([user, password]) => {
      const result = spawnSync("htpasswd", ["-Bbn", user, password], { encoding: "utf8" });
      if (result.status !== 0) throw new Error(`htpasswd failed: ${result.stderr}`);
      return result.stdout.trim();
    });
    const file = join(dir, "htpasswd");
    writeFileSync(file, `${lines.join("\n")}\n`);
    return `auth:\n  htpasswd:\n    realm: oskit-test\n    path: ${file}\n`;
  }
  return [
    "auth:",
    "  token:",
    `    realm: ${auth.realm}`,
    `    service: ${auth.service}`,
    `    issuer: ${auth.issuer}`,
    `    rootcertbundle: ${auth.certificate}`,
    "",
  ].join("\n");
}

/** Starts a registry and waits until it answers. */
export async function startRegistry(
  options: { auth?: RegistryAuth } = {},
): Promise<RunningRegistry> {
  mkdirSync(TMP, { recursive: true });
  const dir = mkdtempSync(join(TMP, "registry-"));
  const storage = join(dir, "storage");
  mkdirSync(storage);
  const port = await freePort();
  const config = join(dir, "config.yml");
  writeFileSync(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${storage}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: 127.0.0.1:${port}`,
      authConfig(options.auth, dir),
    ].join("\n"),
  );
  if (spawnSync("docker-registry", ["--version"]).status !== 0)
    throw new Error("docker-registry is not installed: run make deps (Debian's docker-registry)");
  let log = "";
  const child: ChildProcess = spawn("docker-registry", ["serve", config], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d: Buffer) => (log += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (log += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`docker-registry exited with ${child.exitCode}:\n${log}`);
    try {
      const response = await fetch(`${url}/v2/`);
      if (response.status === 200 || response.status === 401) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`docker-registry did not answer on ${url} within 15 s:\n${log}`);
    }
    await sleep(50);
  }
  return {
    host: `127.0.0.1:${port}`,
    url,
    storage,
    blobFile: (digest) =>
      join(storage, "docker/registry/v2/blobs/sha256", digest.slice(7, 9), digest.slice(7), "data"),
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((ok) => child.once("exit", ok));
        child.kill("SIGTERM");
        await Promise.race([exited, sleep(5000)]);
        if (child.exitCode === null) child.kill("SIGKILL");
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every file under a directory with its size, for "the store is unchanged" checks. */
export function treeSnapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, prefix: string) => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const name of names) {
      const path = join(d, name);
      const st = statSync(path);
      if (st.isDirectory()) walk(path, `${prefix}${name}/`);
      else out.push(`${prefix}${name} ${st.size}`);
    }
  };
  walk(dir, "");
  return out;
}

/** Problems with a store's blobs: files whose bytes do not hash to their name, and leftovers. */
export function storeProblems(root: string): string[] {
  const dir = join(root, "blobs", "sha256");
  const problems: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return problems;
  }
  for (const name of names) {
    if (!/^[a-f0-9]{64}$/.test(name)) {
      problems.push(`${name}: not a blob`);
      continue;
    }
    const hash = createHash("sha256")
      .update(readFileSync(join(dir, name)))
      .digest("hex");
    if (hash !== name) problems.push(`${name}: hashes to ${hash}`);
  }
  return problems;
}

/** Empty store directories under tests/.tmp, removed together by `cleanup`. */
export function scratchStores(): { make(): string; cleanup(): void } {
  const dirs: string[] = [];
  return {
    make: () => {
      mkdirSync(TMP, { recursive: true });
      const dir = mkdtempSync(join(TMP, "store-"));
      dirs.push(dir);
      return dir;
    },
    cleanup: () => {
      for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
