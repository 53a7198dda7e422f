/**
 * A fault-injecting HTTP proxy in front of a registry: it forwards every request and records it,
 * and on the requests a rule matches it answers with an error status, resets the connection,
 * truncates, corrupts or stalls the body, delays the answer, or redirects to another origin.
 * Also here: that other origin, a stand-in for the blob storage registries redirect to.
 */
import { request as httpRequest, createServer, type IncomingMessage, type Server } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";

export type Fault =
  | { readonly kind: "status"; readonly status: number; readonly retryAfter?: string }
  | { readonly kind: "reset" }
  | { readonly kind: "truncate" }
  | { readonly kind: "corrupt" }
  | { readonly kind: "delay"; readonly ms: number }
  | { readonly kind: "stall"; readonly ms: number }
  | { readonly kind: "redirect"; readonly to: string };

export interface FaultRule {
  readonly method?: string;
  readonly path: RegExp;
  readonly fault: Fault;
  /** How many matching requests get the fault. @default Infinity */
  readonly times?: number;
}

export interface SeenRequest {
  /** Milliseconds since the proxy started. */
  readonly at: number;
  readonly method: string;
  readonly path: string;
  readonly range: string | undefined;
  readonly authorization: boolean;
  /** Azure Storage's `x-ms-range` (Put Page's byte range), if any. */
  readonly msRange: string | undefined;
  /** The request body's length. */
  readonly bytes: number;
  /** The fault injected, if any. */
  readonly fault: Fault["kind"] | undefined;
}

export interface FaultProxy {
  readonly host: string;
  readonly url: string;
  readonly requests: SeenRequest[];
  inject(rule: FaultRule): void;
  /** Forgets the rules and the recorded requests. */
  reset(): void;
  stop(): Promise<void>;
}

interface Upstream {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

async function readBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Sends a request on to `upstream` as it came (the Host header too, so Location URLs name the proxy). */
async function forward(
  upstream: URL,
  request: IncomingMessage,
  body: Buffer,
  headers: Record<string, string | string[] | undefined> = request.headers,
): Promise<Upstream> {
  return new Promise((ok, fail) => {
    const out = httpRequest(
      new URL(request.url ?? "/", upstream),
      { method: request.method, headers },
      (response) => {
        readBody(response).then(
          (data) =>
            ok({ status: response.statusCode ?? 502, headers: response.headers, body: data }),
          fail,
        );
      },
    );
    out.on("error", fail);
    out.end(body);
  });
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((ok) => server.close(ok));
}

export async function startFaultProxy(upstreamUrl: string): Promise<FaultProxy> {
  const upstream = new URL(upstreamUrl);
  const started = Date.now();
  const rules: { rule: FaultRule; left: number }[] = [];
  const requests: SeenRequest[] = [];

  const take = (method: string, path: string): Fault | undefined => {
    const match = rules.find(
      (r) =>
        r.left > 0 &&
        (r.rule.method === undefined || r.rule.method === method) &&
        r.rule.path.test(path),
    );
    if (match === undefined) return undefined;
    match.left--;
    return match.rule.fault;
  };

  const server = createServer((request, response) => {
    void (async () => {
      const method = request.method ?? "GET";
      const path = request.url ?? "/";
      const fault = take(method, path);
      const msRange = request.headers["x-ms-range"];
      const seen = {
        at: Date.now() - started,
        method,
        path,
        range: request.headers.range,
        authorization: request.headers.authorization !== undefined,
        msRange: typeof msRange === "string" ? msRange : undefined,
        bytes: 0,
        fault: fault?.kind,
      };
      requests.push(seen);
      const body = await readBody(request);
      seen.bytes = body.length;
      if (fault?.kind === "reset") {
        request.socket.destroy();
        return;
      }
      if (fault?.kind === "status") {
        response.writeHead(fault.status, {
          "Content-Type": "application/json",
          ...(fault.retryAfter !== undefined && { "Retry-After": fault.retryAfter }),
        });
        response.end(JSON.stringify({ errors: [{ code: "INJECTED", message: "injected fault" }] }));
        return;
      }
      if (fault?.kind === "redirect") {
        response.writeHead(307, { Location: new URL(path, fault.to).href });
        response.end();
        return;
      }
      if (fault?.kind === "delay") await sleep(fault.ms);
      const answer = await forward(upstream, request, body);
      response.writeHead(answer.status, answer.headers);
      const data = Buffer.from(answer.body);
      if (fault?.kind === "corrupt" && data.length > 0) data[data.length >> 1]! ^= 0xff;
      if (fault?.kind === "truncate") {
        response.write(data.subarray(0, data.length >> 1));
        await sleep(20);
        request.socket.destroy();
        return;
      }
      if (fault?.kind === "stall") {
        response.write(data.subarray(0, data.length >> 1));
        await sleep(fault.ms);
        if (request.socket.destroyed) return;
        response.end(data.subarray(data.length >> 1));
        return;
      }
      response.end(method === "HEAD" ? undefined : data);
    })().catch(() => request.socket.destroy());
  });
  const host = await listen(server);
  return {
    host,
    url: `http://${host}`,
    requests,
    inject: (rule) => rules.push({ rule, left: rule.times ?? Infinity }),
    reset: () => {
      rules.length = 0;
      requests.length = 0;
    },
    stop: () => close(server),
  };
}

export interface BlobStorage {
  readonly url: string;
  /** Requests that arrived, and whether each carried an Authorization header. */
  readonly requests: { path: string; authorization: boolean }[];
  stop(): Promise<void>;
}

/**
 * Another origin serving the registry's blobs, as S3 or GCS do behind a registry's redirect: it
 * fetches from the registry with its own basic credentials (when given), never the caller's.
 */
export async function startBlobStorage(
  registryUrl: string,
  credentials?: { user: string; password: string },
): Promise<BlobStorage> {
  const upstream = new URL(registryUrl);
  const requests: { path: string; authorization: boolean }[] = [];
  const server = createServer((request, response) => {
    void (async () => {
      requests.push({
        path: request.url ?? "/",
        authorization: request.headers.authorization !== undefined,
      });
      const headers: Record<string, string> = {};
      if (request.headers.range !== undefined) headers.range = request.headers.range;
      if (credentials !== undefined)
        headers.authorization = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString("base64")}`;
      const answer = await forward(upstream, request, Buffer.alloc(0), headers);
      response.writeHead(answer.status, {
        "Content-Type": "application/octet-stream",
        "Content-Length": String(answer.body.length),
      });
      response.end(answer.body);
    })().catch(() => request.socket.destroy());
  });
  const host = await listen(server);
  return { url: `http://${host}`, requests, stop: () => close(server) };
}
