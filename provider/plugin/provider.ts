/**
 * oskit's resources as a Pulumi provider (`@pulumi/pulumi/provider`'s interface), for programs in
 * other languages: the resource type in the URN picks the schema entry and its work
 * (resources.ts). Secrets come in marked; the work sees plain values, and whatever came from a
 * secret leaves marked again, and never appears in a message.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type * as pulumi from "@pulumi/pulumi/provider";
import { oskitRoot, oskitVersion } from "../../sdk/version";
import { RESOURCES, type ResourceSpec, type ResourceToken } from "../schema";
import { HANDLERS, type PluginResource } from "./resources";
import { conceal, redact, reveal, type Props, type Revealed } from "./wire";

/** The stack, project, type token and name a URN holds (`urn:pulumi:STACK::PROJECT::[PARENT$]TYPE::NAME`). */
export function parseUrn(urn: string): {
  readonly stack: string;
  readonly project: string;
  readonly type: string;
  readonly name: string;
} {
  const parts = urn.split("::");
  return {
    stack: parts[0]?.replace(/^urn:pulumi:/, "") ?? "",
    project: parts[1] ?? "",
    type: parts[2]?.split("$").pop() ?? "",
    name: parts.slice(3).join("::"),
  };
}

interface Resource {
  readonly spec: ResourceSpec;
  readonly work: PluginResource;
  readonly name: string;
  readonly project: string;
  readonly stack: string;
}

function resourceOf(urn: string, handlers: typeof HANDLERS): Resource {
  const { type, name, project, stack } = parseUrn(urn);
  if (!Object.hasOwn(RESOURCES, type))
    throw new Error(
      `unknown resource type "${type}"; oskit has ${Object.keys(RESOURCES).join(", ")}`,
    );
  const token = type as ResourceToken;
  return { spec: RESOURCES[token], work: handlers[token], name, project, stack };
}

/** Names of the properties to mark secret: the schema's secret ones, the inputs that carried one, and what goes with them. */
function secretNames(spec: ResourceSpec, given: ReadonlySet<string>): Set<string> {
  const names = new Set(given);
  for (const [name, property] of Object.entries({ ...spec.inputs, ...spec.outputs }))
    if (property.secret === true) names.add(name);
  for (const [input, outputs] of Object.entries(spec.secretWith ?? {}))
    if (given.has(input)) for (const output of outputs) names.add(output);
  return names;
}

/** A create that left something behind: the engine records its id and properties (ErrorResourceInitFailed). */
interface PartialCreate {
  readonly id: string;
  readonly properties: Props;
  readonly reasons?: readonly string[];
}

const isPartial = (error: unknown): error is PartialCreate =>
  error !== null &&
  typeof error === "object" &&
  typeof (error as { id?: unknown }).id === "string" &&
  typeof (error as { properties?: unknown }).properties === "object";

/**
 * Runs the work; an error leaves with every secret string taken out of its message, and a partial
 * create with its properties marked as outputs are (`conceal`).
 */
async function guarded<T>(
  secrets: readonly string[],
  work: () => Promise<T>,
  concealOuts: (outs: Props) => Props = (outs) => outs,
): Promise<T> {
  try {
    return await work();
  } catch (error) {
    const message = redact(error instanceof Error ? error.message : String(error), secrets);
    // No cause: its message may hold a secret.
    const clean = new Error(message);
    if (isPartial(error))
      Object.assign(clean, {
        id: error.id,
        properties: concealOuts(error.properties),
        reasons: (error.reasons ?? [message]).map((r) => redact(r, secrets)),
      });
    throw clean;
  }
}

const both = (a: Revealed, b: Revealed) => [...a.secrets, ...b.secrets];

export interface ProviderOptions {
  /** The program's directory. @default the process's working directory (Pulumi starts plugins there) */
  readonly cwd?: string;
  /** Each resource's work. @default resources.ts's (tests hand in fakes) */
  readonly handlers?: typeof HANDLERS;
}

/** The provider the plugin serves. */
export function oskitProvider(options: ProviderOptions = {}): pulumi.Provider {
  const cwd = options.cwd ?? process.cwd();
  const handlers = options.handlers ?? HANDLERS;
  return {
    version: oskitVersion(),
    getSchema: () => readFile(join(oskitRoot(), "schema.json"), "utf8"),

    check(urn, _olds, news: Props) {
      const given = reveal(news);
      return guarded(given.secrets, () => {
        const { spec, work, name, project, stack } = resourceOf(urn, handlers);
        const { inputs, failures } = work.check(given.props, { name, project, stack, cwd });
        return Promise.resolve({
          inputs: conceal(inputs, secretNames(spec, given.secret)),
          failures: failures.map((f) => ({ ...f, reason: redact(f.reason, given.secrets) })),
        });
      });
    },

    diff(_id, urn, olds: Props, news: Props) {
      const [old, next] = [reveal(olds), reveal(news)];
      return guarded(both(old, next), async () => {
        const { changes, replaces, deleteBeforeReplace } = await resourceOf(
          urn,
          handlers,
        ).work.diff(old.props, next.props);
        return { changes, replaces, deleteBeforeReplace: deleteBeforeReplace === true };
      });
    },

    create(urn, news: Props) {
      const given = reveal(news);
      const secret = (outs: Props) =>
        conceal(outs, secretNames(resourceOf(urn, handlers).spec, given.secret));
      return guarded(
        given.secrets,
        async () => {
          const { id, outs } = await resourceOf(urn, handlers).work.create(given.props);
          return { id, outs: secret(outs) };
        },
        secret,
      );
    },

    update(_id, urn, olds: Props, news: Props) {
      const [old, next] = [reveal(olds), reveal(news)];
      return guarded(both(old, next), async () => {
        const { spec, work } = resourceOf(urn, handlers);
        const outs = await work.update(old.props, next.props);
        return { outs: conceal(outs, secretNames(spec, next.secret)) };
      });
    },

    delete(_id, urn, olds: Props) {
      const old = reveal(olds);
      return guarded(old.secrets, () => resourceOf(urn, handlers).work.delete(old.props));
    },
  };
}
