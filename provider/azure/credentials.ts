/**
 * Azure credentials for publishing: ARM tokens (and Storage tokens when no key or SAS is given)
 * from `@azure/identity`'s DefaultAzureCredential — environment service principal, workload
 * identity, managed identity, Azure CLI, Azure Developer CLI, Azure PowerShell, in that order —
 * loaded on first use so programs that never publish to Azure never load it; the subscription
 * from the option or AZURE_SUBSCRIPTION_ID; and the redaction that keeps SAS signatures, keys and
 * tokens out of messages. Tokens are handed to the request that needs them and kept nowhere else.
 */
import { DEFAULT_ARM_ENDPOINT, armClient, type ArmClient, type ArmRetryPolicy } from "./arm";

/**
 * A source of Microsoft Entra ID access tokens: the shape of `@azure/identity`'s credentials
 * (`TokenCredential`), declared here so that naming it loads nothing.
 */
export interface AzureTokenCredential {
  getToken(
    scopes: string | string[],
    options?: object,
  ): Promise<{ readonly token: string; readonly expiresOnTimestamp: number } | null>;
}

/** The scope of Azure Resource Manager in the public cloud. */
export const ARM_SCOPE = "https://management.azure.com/.default";
/** The scope of Azure Storage (any account, any cloud). */
export const STORAGE_SCOPE = "https://storage.azure.com/.default";

/**
 * The scope of the ARM at `endpoint`: ARM_SCOPE for the public cloud, else the endpoint's origin
 * with `/.default` (ARM's audience is its own root in every cloud).
 */
export function armScopeOf(endpoint: string = DEFAULT_ARM_ENDPOINT): string {
  const origin = new URL(endpoint).origin;
  return origin === DEFAULT_ARM_ENDPOINT ? ARM_SCOPE : `${origin}/.default`;
}

/**
 * `@azure/identity`'s DefaultAzureCredential, the SDK loaded by this call. Sign in with
 * `az login`, or set AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET (or a certificate or
 * federated token), or run where a managed identity is.
 */
export async function defaultAzureCredential(): Promise<AzureTokenCredential> {
  const identity = await import("@azure/identity");
  return new identity.DefaultAzureCredential();
}

/**
 * A token source of `scope` over a credential, each token reused until two minutes before it
 * expires. A credential that gives no token is an error that says how to sign in.
 */
export function tokenSource(
  credential: AzureTokenCredential,
  scope: string,
): () => Promise<string> {
  let cached: { token: string; expiresOnTimestamp: number } | undefined;
  return async () => {
    if (cached !== undefined && cached.expiresOnTimestamp - Date.now() > 120_000)
      return cached.token;
    let got: Awaited<ReturnType<AzureTokenCredential["getToken"]>>;
    try {
      got = await credential.getToken(scope);
    } catch (error) {
      throw new Error(
        `no Azure token for ${scope}: ${redactSecrets((error as Error).message)}; sign in with \`az login\`, or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET, or run with a managed identity`,
        { cause: error },
      );
    }
    if (got === null)
      throw new Error(
        `no Azure token for ${scope}: the credential gave none; sign in with \`az login\` or set AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_CLIENT_SECRET`,
      );
    cached = { token: got.token, expiresOnTimestamp: got.expiresOnTimestamp };
    return got.token;
  };
}

/** How to reach ARM: an endpoint (other clouds, tests) and a credential. */
export interface AzureArmOptions {
  /** ARM's root. @default https://management.azure.com */
  readonly endpoint?: string;
  /** @default DefaultAzureCredential */
  readonly credential?: AzureTokenCredential;
  readonly fetch?: typeof fetch;
  readonly retry?: ArmRetryPolicy;
}

/** An ARM client whose tokens come from the credential (DefaultAzureCredential unless given). */
export async function azureArmClient(options: AzureArmOptions = {}): Promise<ArmClient> {
  const credential = options.credential ?? (await defaultAzureCredential());
  return armClient({
    ...(options.endpoint !== undefined && { endpoint: options.endpoint }),
    token: tokenSource(credential, armScopeOf(options.endpoint)),
    ...(options.fetch !== undefined && { fetch: options.fetch }),
    ...(options.retry !== undefined && { retry: options.retry }),
  });
}

/** The subscription: the one given, else AZURE_SUBSCRIPTION_ID; undefined when neither is set. */
export function subscriptionOf(
  given: string | undefined,
  env: Readonly<Record<string, string | undefined>> = process.env,
): string | undefined {
  const value = given ?? env.AZURE_SUBSCRIPTION_ID;
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

/** A subscription id as ARM takes it: a GUID. */
export const SUBSCRIPTION_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * `text` without secrets: SAS signatures (`sig=…`), bearer tokens, SharedKey signatures,
 * `AccountKey=` in connection strings, and each of `secrets` wherever it appears.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[] = []): string {
  let out = text
    .replace(/(^|[?&;\s"'])sig=[^&\s"'<>]+/gim, "$1sig=REDACTED")
    .replace(/(\bBearer\s+)[-\w.~+/]+=*/gi, "$1REDACTED")
    .replace(/(\bSharedKey(?:Lite)?\s+[^:\s]+:)[A-Za-z0-9+/=]+/g, "$1REDACTED")
    .replace(/(AccountKey=)[^;\s"']+/gi, "$1REDACTED");
  for (const secret of secrets)
    if (secret !== undefined && secret.length >= 8) out = out.split(secret).join("REDACTED");
  return out;
}
