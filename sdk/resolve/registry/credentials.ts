/**
 * Registry credentials as Docker keeps them: `~/.docker/config.json` (or `$DOCKER_CONFIG`) with
 * `auths` entries, and `credHelpers` / `credsStore` answered by `docker-credential-NAME` helpers
 * (`get`, the server on standard input, JSON on standard output).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { ResolveError } from "../../errors";

export interface Credentials {
  readonly username?: string;
  readonly password?: string;
  /** An OAuth refresh token (what `docker login` stores for some registries). */
  readonly identityToken?: string;
}

interface DockerConfig {
  auths?: Record<
    string,
    { auth?: string; username?: string; password?: string; identitytoken?: string }
  >;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** The names a registry may be filed under in Docker's config. */
function keysFor(host: string): string[] {
  if (host === "docker.io")
    return ["https://index.docker.io/v1/", "index.docker.io", "docker.io", "registry-1.docker.io"];
  return [host, `https://${host}`, `http://${host}`, `https://${host}/v1/`, `https://${host}/v2/`];
}

function readConfig(env: NodeJS.ProcessEnv): DockerConfig | undefined {
  const dir = env.DOCKER_CONFIG ?? join(env.HOME ?? homedir(), ".docker");
  try {
    return JSON.parse(readFileSync(join(dir, "config.json"), "utf8")) as DockerConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw new ResolveError(`cannot read ${join(dir, "config.json")}: ${(error as Error).message}`);
  }
}

function fromHelper(
  helper: string,
  server: string,
  env: NodeJS.ProcessEnv,
): Credentials | undefined {
  const program = `docker-credential-${helper}`;
  const result = spawnSync(program, ["get"], {
    input: server,
    encoding: "utf8",
    env,
    timeout: 30000,
  });
  if (result.error !== undefined) {
    throw new ResolveError(
      `the credential helper ${program} (for ${server}) cannot run: ${result.error.message}`,
    );
  }
  if (result.status !== 0) {
    if (/credentials not found/i.test(result.stdout + result.stderr)) return undefined;
    throw new ResolveError(
      `the credential helper ${program} failed for ${server}: ${(result.stderr || result.stdout).trim()}`,
    );
  }
  const answer = JSON.parse(result.stdout) as { Username?: string; Secret?: string };
  if (answer.Username === "<token>") return { identityToken: answer.Secret };
  return { username: answer.Username, password: answer.Secret };
}

/** The credentials for a registry host, or undefined for anonymous access. */
export function credentialsFor(
  host: string,
  env: NodeJS.ProcessEnv = process.env,
): Credentials | undefined {
  const config = readConfig(env);
  if (config === undefined) return undefined;
  const keys = keysFor(host);
  const helper = keys.map((k) => config.credHelpers?.[k]).find((h) => h !== undefined);
  if (helper !== undefined) return fromHelper(helper, keys[0]!, env);
  if (config.credsStore !== undefined) {
    const stored = fromHelper(config.credsStore, keys[0]!, env);
    if (stored !== undefined) return stored;
  }
  for (const key of keys) {
    const entry = config.auths?.[key];
    if (entry === undefined) continue;
    if (entry.identitytoken) return { identityToken: entry.identitytoken };
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon < 0)
        throw new ResolveError(
          `the auth entry for ${key} in the Docker config is not base64 of user:password`,
        );
      return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username !== undefined) return { username: entry.username, password: entry.password };
  }
  return undefined;
}
