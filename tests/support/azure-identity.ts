/**
 * A managed identity endpoint as App Service serves it (`IDENTITY_ENDPOINT`, `IDENTITY_HEADER`):
 * `GET ?api-version=2019-08-01&resource=R` with the `X-IDENTITY-HEADER` answers a token for R.
 * With its two variables set, `@azure/identity`'s DefaultAzureCredential gets its tokens here, so
 * tests run the real credential chain against the ARM fake without a test-only option.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";

export interface ManagedIdentityEndpoint {
  /** IDENTITY_ENDPOINT and IDENTITY_HEADER, for a child process's environment. */
  readonly env: { readonly IDENTITY_ENDPOINT: string; readonly IDENTITY_HEADER: string };
  /** The resources tokens were asked for, in order. */
  readonly requests: string[];
  stop(): Promise<void>;
}

/** Serves `tokens[resource]` (the resource without a trailing slash); other resources get 400. */
export async function startManagedIdentity(
  tokens: Readonly<Record<string, string>>,
): Promise<ManagedIdentityEndpoint> {
  const header = randomBytes(12).toString("hex");
  const requests: string[] = [];
  const server = createServer((request, response) => {
    const url = new URL(request.url ?? "/", "http://identity");
    const resource = (url.searchParams.get("resource") ?? "").replace(/\/+$/, "");
    requests.push(resource);
    const token = tokens[resource];
    const refuse = (status: number, message: string) => {
      response.writeHead(status, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: "invalid_request", error_description: message }));
    };
    if (request.headers["x-identity-header"] !== header) return refuse(401, "bad identity header");
    if (url.searchParams.get("api-version") !== "2019-08-01")
      return refuse(400, "api-version 2019-08-01 expected");
    if (token === undefined) return refuse(400, `no token for resource ${resource}`);
    response.writeHead(200, { "content-type": "application/json" });
    response.end(
      JSON.stringify({
        access_token: token,
        expires_on: String(Math.floor(Date.now() / 1000) + 3600),
        resource,
        token_type: "Bearer",
      }),
    );
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const { port } = server.address() as { port: number };
  return {
    env: { IDENTITY_ENDPOINT: `http://127.0.0.1:${port}/msi/token`, IDENTITY_HEADER: header },
    requests,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((ok) => server.close(ok));
    },
  };
}
