/**
 * A strict local fake of Azure Resource Manager for `Microsoft.Compute/images`, gallery image
 * definitions (read) and versions, and Compute's operation status resources, for tests only: one HTTP server on 127.0.0.1 serves them under
 * their real paths, so a client given its endpoint works against it unchanged.
 *
 *     const arm = await startArmFake({ resourceGroups: ["oskit"], operationDelayMs: 200 });
 *     // arm → { endpoint, token, subscription, state, faults, close() }
 *     const auth = { authorization: `Bearer ${arm.token}` };
 *     PUT ${arm.endpoint}/subscriptions/${arm.subscription}/resourceGroups/oskit/providers/Microsoft.Compute/images/N?api-version=2024-03-01
 *       { location, tags, properties: { storageProfile: { osDisk: { osType, osState, blobUri, … } }, hyperVGeneration } }
 *       → 201, the image (provisioningState Creating), Azure-AsyncOperation and Location headers
 *     GET the Azure-AsyncOperation URL → { status: InProgress | Succeeded | Failed, error? }
 *     GET the Location URL → 202 while in progress; then 200 (the image), 204 (a delete) or the error
 *     GET/DELETE …/images/N (DELETE: 202 and an operation; 204 when there is none) ; GET …/images
 *     arm.addDefinition({ resourceGroup: "oskit", gallery: "G", name: "D", hyperVGeneration: "V2" });
 *     GET …/galleries/G/images/D ; PUT/GET/DELETE …/galleries/G/images/D/versions/1.0.0?api-version=2024-03-03
 *       { location, tags, properties: { publishingProfile: { targetRegions }, storageProfile: { source: { id: IMAGE } } } }
 *     arm.state.image("oskit", "N")?.provisioningState;                  // what the fake holds
 *     arm.state.settings.retryAfterSeconds = 1;                         // Retry-After on LROs
 *     arm.faults.add({ operation: "images.put", fault: { kind: "fail", code: "X", message: "…" } });
 *     await arm.close();
 *
 * What it checks, as ARM does:
 * - Auth: `Authorization: Bearer TOKEN` with the fake's token on every call, else 401
 *   AuthenticationFailed (missing) or InvalidAuthenticationToken (wrong) with WWW-Authenticate.
 * - `api-version`: missing → 400 MissingApiVersionParameter; not a date → 400
 *   InvalidApiVersionParameter; a date Compute does not serve (COMPUTE_API_VERSIONS) → 400
 *   NoRegisteredProviderFound naming the supported ones.
 * - The subscription (404 SubscriptionNotFound), the resource group (404 ResourceGroupNotFound),
 *   the image name (400 InvalidResourceName: 1–80 letters, digits, `_-.`, a letter or digit
 *   first, a letter, digit or `_` last), the body (images.ts: location among LOCATIONS, tags
 *   ≤ 50 with names ≤ 512 without `<>%&\?/` and values ≤ 256, osType Linux|Windows, osState
 *   Generalized|Specialized, blobUri `https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB`,
 *   storageAccountType, diskSizeGB 1–4095, hyperVGeneration V1|V2), a PUT on an existing image
 *   changing more than its tags (409 PropertyChangeNotAllowed) or its location (400).
 * - Names are case-insensitive; errors are `{ error: { code, message, target?, details } }`.
 * - Gallery versions (galleries.ts): api-versions of galleries (GALLERY_API_VERSIONS), the
 *   version name MAJOR.MINOR.PATCH of 32-bit integers, the location the gallery's, the source a
 *   Succeeded managed image of the definition's Hyper-V generation and OS state, target regions
 *   that include the gallery's, a changed source refused (409 PropertyChangeNotAllowed).
 * - Operations are InProgress for `operationDelayMs`, then Succeeded (the image Succeeded, or gone
 *   after a delete) or Failed (a `fail` fault: the image Failed, the error in the status).
 *
 * Faults (`arm.faults.add({ operation?, fault, times? })`; operations images.put, images.get,
 * images.list, images.delete, definitions.get, versions.put, versions.get, versions.delete,
 * operations.get): `throttle` 429 TooManyRequests with Retry-After
 * (`retryAfterSeconds`, default 1), `error` 500 InternalServerError (or `status`), and on
 * the puts and deletes `fail` (the operation ends Failed with that code and message).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { Socket } from "node:net";
import {
  ArmError,
  ArmFakeState,
  COMPUTE_API_VERSIONS,
  deleteImage,
  errorReply,
  getImage,
  getOperation,
  listImages,
  putImage,
  type OperationFailure,
  type Reply,
} from "./images";
import {
  addDefinition,
  deleteVersion,
  getDefinition,
  getVersion,
  GALLERY_API_VERSIONS,
  putVersion,
  type FakeDefinition,
  type GalleryPath,
} from "./galleries";

export { ArmFakeState, COMPUTE_API_VERSIONS, IMAGE_NAME, LOCATIONS } from "./images";
export type { ArmFakeSettings, FakeCall, FakeImage, FakeOperation } from "./images";
export { GALLERY_API_VERSIONS } from "./galleries";
export type { FakeDefinition, FakeVersion } from "./galleries";

export type ArmOperation =
  | "images.put"
  | "images.get"
  | "images.list"
  | "images.delete"
  | "definitions.get"
  | "versions.put"
  | "versions.get"
  | "versions.delete"
  | "operations.get";

export type ArmFault =
  | { readonly kind: "throttle"; readonly retryAfterSeconds?: number }
  | { readonly kind: "error"; readonly status?: number }
  | ({ readonly kind: "fail" } & OperationFailure);

export interface ArmFaultRule {
  /** Any operation when not given. */
  readonly operation?: ArmOperation;
  readonly fault: ArmFault;
  /** @default 1 */
  readonly times?: number;
}

/** Faults served in the order added, each `times` times. */
export class ArmFaults {
  private readonly rules: { rule: ArmFaultRule; left: number }[] = [];

  add(rule: ArmFaultRule): void {
    this.rules.push({ rule, left: rule.times ?? 1 });
  }

  clear(): void {
    this.rules.length = 0;
  }

  /** The next fault for this operation, counted down. */
  take(operation: string): ArmFault | undefined {
    const found = this.rules.find(
      (r) => r.left > 0 && (r.rule.operation === undefined || r.rule.operation === operation),
    );
    if (found === undefined) return undefined;
    found.left--;
    return found.rule.fault;
  }
}

export interface ArmFakeOptions {
  /** The one subscription served. @default a fresh UUID */
  readonly subscription?: string;
  /** Resource groups that exist (in westeurope). @default ["oskit"] */
  readonly resourceGroups?: readonly string[];
  /** The bearer token every call must carry. @default a fresh random one */
  readonly token?: string;
  /** From a PUT or DELETE to its operation's end. @default 0 */
  readonly operationDelayMs?: number;
  /** Retry-After sent with 201/202 answers and in-progress polls. @default none */
  readonly retryAfterSeconds?: number;
}

export interface ArmFake {
  /** `http://127.0.0.1:PORT`, ARM's root. */
  readonly endpoint: string;
  readonly token: string;
  readonly subscription: string;
  readonly state: ArmFakeState;
  readonly faults: ArmFaults;
  /** Makes a gallery (in the resource group's location) with this image definition. */
  addDefinition(
    definition: Omit<FakeDefinition, "osType" | "osState"> &
      Partial<Pick<FakeDefinition, "osType" | "osState">>,
  ): void;
  close(): Promise<void>;
}

type Route =
  | {
      operation: "images.put" | "images.get" | "images.delete";
      resourceGroup: string;
      name: string;
    }
  | { operation: "images.list"; resourceGroup: string }
  | ({ operation: "definitions.get" } & GalleryPath)
  | ({
      operation: "versions.put" | "versions.get" | "versions.delete";
      version: string;
    } & GalleryPath)
  | { operation: "operations.get"; id: string };

function route(
  method: string,
  path: string,
): { subscription: string; route: Route | undefined } | undefined {
  const parts = path.split("/").map((p) => decodeURIComponent(p));
  if (parts[1]?.toLowerCase() !== "subscriptions" || parts[2] === undefined) return undefined;
  const subscription = parts[2];
  const rest = parts.slice(3);
  const lower = rest.map((p) => p.toLowerCase());
  if (
    lower.length === 6 &&
    lower[0] === "providers" &&
    lower[1] === "microsoft.compute" &&
    lower[2] === "locations" &&
    lower[4] === "operations" &&
    method === "GET"
  )
    return { subscription, route: { operation: "operations.get", id: rest[5]! } };
  if (
    lower[0] === "resourcegroups" &&
    lower[2] === "providers" &&
    lower[3] === "microsoft.compute" &&
    lower[4] === "galleries" &&
    lower[6] === "images"
  ) {
    const path = { resourceGroup: rest[1]!, gallery: rest[5]!, definition: rest[7]! };
    if (lower.length === 8 && method === "GET")
      return { subscription, route: { operation: "definitions.get", ...path } };
    if (lower.length === 10 && lower[8] === "versions") {
      const version = rest[9]!;
      const operation =
        method === "PUT"
          ? "versions.put"
          : method === "GET"
            ? "versions.get"
            : method === "DELETE"
              ? "versions.delete"
              : undefined;
      if (operation !== undefined) return { subscription, route: { operation, ...path, version } };
    }
  }
  if (
    lower[0] === "resourcegroups" &&
    lower[2] === "providers" &&
    lower[3] === "microsoft.compute" &&
    lower[4] === "images"
  ) {
    const resourceGroup = rest[1]!;
    if (lower.length === 5 && method === "GET")
      return { subscription, route: { operation: "images.list", resourceGroup } };
    if (lower.length === 6) {
      const name = rest[5]!;
      if (method === "PUT")
        return { subscription, route: { operation: "images.put", resourceGroup, name } };
      if (method === "GET")
        return { subscription, route: { operation: "images.get", resourceGroup, name } };
      if (method === "DELETE")
        return { subscription, route: { operation: "images.delete", resourceGroup, name } };
    }
  }
  return { subscription, route: undefined };
}

function checkAuth(req: IncomingMessage, token: string): ArmError | undefined {
  const header = req.headers.authorization;
  const challenge = (description: string) => ({
    "www-authenticate": `Bearer authorization_uri="https://login.microsoftonline.com/common", error="invalid_token", error_description="${description}"`,
  });
  if (header === undefined)
    return new ArmError(
      401,
      "AuthenticationFailed",
      "Authentication failed. The 'Authorization' header is missing.",
      undefined,
      challenge("The authentication failed because of missing 'Authorization' header."),
    );
  const m = /^Bearer (\S+)$/.exec(header);
  if (!m || m[1] !== token)
    return new ArmError(
      401,
      "InvalidAuthenticationToken",
      "The access token is invalid.",
      undefined,
      challenge("The access token is invalid."),
    );
  return undefined;
}

function checkApiVersion(
  version: string | null,
  supported: readonly string[],
  type: string,
): ArmError | undefined {
  if (version === null || version === "")
    return new ArmError(
      400,
      "MissingApiVersionParameter",
      "The api-version query parameter (?api-version=) is required for all requests.",
    );
  if (!/^\d{4}-\d{2}-\d{2}(-preview)?$/.test(version))
    return new ArmError(
      400,
      "InvalidApiVersionParameter",
      `The api-version '${version}' is invalid. The supported versions are '${supported.join(",")}'.`,
    );
  if (!supported.includes(version))
    return new ArmError(
      400,
      "NoRegisteredProviderFound",
      `No registered resource provider found for location 'westeurope' and API version '${version}' for type '${type}'. The supported api-versions are '${supported.join(", ")}'.`,
    );
  return undefined;
}

function faultError(fault: ArmFault): ArmError | undefined {
  if (fault.kind === "throttle")
    return new ArmError(
      429,
      "TooManyRequests",
      "The request is being throttled; retry after the number of seconds in Retry-After.",
      undefined,
      { "retry-after": String(fault.retryAfterSeconds ?? 1) },
    );
  if (fault.kind === "error")
    return new ArmError(
      fault.status ?? 500,
      "InternalServerError",
      "Encountered internal server error.",
    );
  return undefined;
}

export async function startArmFake(options: ArmFakeOptions = {}): Promise<ArmFake> {
  const subscription = options.subscription ?? randomUUID();
  const token = options.token ?? `eyJ0eXAi.fake-${randomBytes(18).toString("base64url")}`;
  const state = new ArmFakeState({
    operationDelayMs: options.operationDelayMs ?? 0,
    retryAfterSeconds: options.retryAfterSeconds,
  });
  for (const rg of options.resourceGroups ?? ["oskit"]) state.addResourceGroup(rg);
  const faults = new ArmFaults();
  const sockets = new Set<Socket>();
  let endpoint = "";

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://fake");
    const method = req.method ?? "GET";
    const apiVersion = url.searchParams.get("api-version");
    const found = route(method, url.pathname);
    const operation = found?.route?.operation ?? "unknown";
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    let fault: ArmFault | undefined;
    const send = (reply: Reply) => {
      const payload = reply.body === undefined ? "" : JSON.stringify(reply.body);
      const code =
        reply.status >= 400
          ? (reply.body as { error?: { code?: string } } | undefined)?.error?.code
          : undefined;
      state.calls.push({
        at: Date.now() - state.startedAt,
        method,
        path: url.pathname,
        operation,
        apiVersion: apiVersion ?? undefined,
        status: reply.status,
        ...(code !== undefined && { code }),
        ...(fault !== undefined && { fault: fault.kind }),
      });
      res.writeHead(reply.status, {
        "x-ms-request-id": randomUUID(),
        ...(payload !== "" && { "content-type": "application/json; charset=utf-8" }),
        ...reply.headers,
      });
      res.end(payload);
    };
    try {
      const authError = checkAuth(req, token);
      if (authError) throw authError;
      // Operations are polled with the api-version of the call that started them.
      const gallery = /^(definitions|versions)\./.test(operation);
      const versionError = checkApiVersion(
        apiVersion,
        operation === "operations.get"
          ? [...COMPUTE_API_VERSIONS, ...GALLERY_API_VERSIONS]
          : gallery
            ? GALLERY_API_VERSIONS
            : COMPUTE_API_VERSIONS,
        gallery ? "galleries/images" : "images",
      );
      if (versionError) throw versionError;
      if (found?.route === undefined)
        throw new ArmError(
          404,
          "InvalidResourceType",
          `The resource type could not be found for ${method} ${url.pathname} (the fake serves Microsoft.Compute/images, galleries' images and versions, and their operations).`,
        );
      if (found.subscription.toLowerCase() !== subscription.toLowerCase())
        throw new ArmError(
          404,
          "SubscriptionNotFound",
          `The subscription '${found.subscription}' could not be found.`,
        );
      fault = faults.take(operation);
      const refused = fault !== undefined ? faultError(fault) : undefined;
      if (refused) throw refused;
      const failure = fault?.kind === "fail" ? fault : undefined;
      const ctx = { state, endpoint, subscription, apiVersion: apiVersion! };
      const r = found.route;
      switch (r.operation) {
        case "images.put":
          return send(putImage(ctx, r.resourceGroup, r.name, body, failure));
        case "images.get":
          return send(getImage(ctx, r.resourceGroup, r.name));
        case "images.list":
          return send(listImages(ctx, r.resourceGroup));
        case "images.delete":
          return send(deleteImage(ctx, r.resourceGroup, r.name, failure));
        case "definitions.get":
          return send(getDefinition(ctx, r));
        case "versions.put":
          return send(putVersion(ctx, r, r.version, body, failure));
        case "versions.get":
          return send(getVersion(ctx, r, r.version));
        case "versions.delete":
          return send(deleteVersion(ctx, r, r.version, failure));
        case "operations.get":
          return send(getOperation(ctx, r.id, url.searchParams.get("monitor") === "true"));
      }
    } catch (error) {
      if (!(error instanceof ArmError)) throw error;
      send(errorReply(error));
    }
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end(String(error));
      }
    });
  });
  server.on("connection", (socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    token,
    subscription,
    state,
    faults,
    addDefinition: (definition) => addDefinition(state, definition),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
