/**
 * A small token service for the registry's bearer flow, as Docker Hub's auth.docker.io works:
 * `GET /token?service=…&scope=…` with optional basic auth (or `POST /token` with a refresh token)
 * answers a JWT signed with ES256 whose `x5c` certificate the registry trusts. It grants what the
 * user may do: named users everything they ask for, anonymous callers pull only when allowed.
 */
import { spawnSync } from "node:child_process";
import { createPrivateKey, randomUUID, sign, X509Certificate, type KeyObject } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { join } from "node:path";
import { TMP } from "./paths";

export interface TokenRequest {
  readonly method: string;
  readonly user: string | undefined;
  readonly scopes: readonly string[];
  /** What was granted, `repository:NAME:ACTIONS` per scope. */
  readonly granted: readonly string[];
}

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** The PEM certificate the registry trusts (`rootcertbundle`). */
  readonly certificate: string;
  readonly requests: TokenRequest[];
  stop(): Promise<void>;
}

export interface TokenServerOptions {
  readonly users: Readonly<Record<string, string>>;
  /** Refresh tokens (as `docker login` keeps them as identity tokens) and the user each stands for. */
  readonly refreshTokens?: Readonly<Record<string, string>>;
  readonly anonymousPull?: boolean;
}

const base64url = (data: Buffer | string) => Buffer.from(data).toString("base64url");

function jwt(claims: object, key: KeyObject, certificate: X509Certificate): string {
  const header = { typ: "JWT", alg: "ES256", x5c: [certificate.raw.toString("base64")] };
  const signed = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign("sha256", Buffer.from(signed), { key, dsaEncoding: "ieee-p1363" });
  return `${signed}.${base64url(signature)}`;
}

async function body(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export async function startTokenServer(options: TokenServerOptions): Promise<TokenServer> {
  const dir = mkdtempSync(join(TMP, "token-"));
  const keyFile = join(dir, "key.pem");
  const certificate = join(dir, "cert.pem");
  const made = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-keyout",
      keyFile,
      "-out",
      certificate,
      "-subj",
      "/CN=oskit-test-token",
      "-days",
      "2",
    ],
    { encoding: "utf8" },
  );
  if (made.status !== 0) throw new Error(`openssl failed: ${made.stderr}`);
  const key = createPrivateKey(readFileSync(keyFile));
  const cert = new X509Certificate(readFileSync(certificate));
  const service = "oskit-test-registry";
  const issuer = "oskit-test-issuer";
  const requests: TokenRequest[] = [];

  const handle = async (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? "/", "http://token");
    let user: string | undefined;
    let scopes = url.searchParams.getAll("scope");
    let refused = false;
    if (request.method === "POST") {
      const form = new URLSearchParams(await body(request));
      scopes = form.getAll("scope").flatMap((s) => s.split(" "));
      const refresh = form.get("refresh_token");
      user = refresh === null ? undefined : options.refreshTokens?.[refresh];
      refused = user === undefined;
    } else {
      const auth = request.headers.authorization;
      if (auth !== undefined) {
        const [name, password] = Buffer.from(auth.replace(/^Basic /, ""), "base64")
          .toString("utf8")
          .split(":");
        if (name !== undefined && options.users[name] === password) user = name;
        else refused = true;
      }
    }
    if (refused) {
      requests.push({ method: request.method ?? "GET", user, scopes, granted: [] });
      response.writeHead(401, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ details: "incorrect username or password" }));
      return;
    }
    const access = scopes.flatMap((scope) => {
      const [type, name, actions] = scope.split(":");
      if (type !== "repository" || name === undefined || actions === undefined) return [];
      const wanted = actions.split(",");
      const granted =
        user !== undefined
          ? wanted
          : options.anonymousPull === true
            ? wanted.filter((a) => a === "pull")
            : [];
      return [{ type, name, actions: granted }];
    });
    requests.push({
      method: request.method ?? "GET",
      user,
      scopes,
      granted: access.map((a) => `${a.type}:${a.name}:${a.actions.join(",")}`),
    });
    const now = Math.floor(Date.now() / 1000);
    const token = jwt(
      {
        iss: issuer,
        sub: user ?? "",
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      },
      key,
      cert,
    );
    response.writeHead(200, { "Content-Type": "application/json" });
    response.end(JSON.stringify({ token, expires_in: 300, issued_at: new Date().toISOString() }));
  };

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      response.writeHead(500);
      response.end(String(error));
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    certificate,
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
