/**
 * The dynamic provider of one area's resource (ImageBuild, QemuVm, Ami, GCP Image). Pulumi
 * serializes it into the stack's state and runs it in its own process, so it captures nothing but
 * the area's name: each method loads oskit's functions by the package's name (`oskit/dynamic`)
 * from the program's node_modules, and those make their clients (with the environment's
 * credentials) when they run.
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as dynamic from "./dynamic";

type Diff = { changes: boolean; replaces: string[]; deleteBeforeReplace?: boolean };

/** What every area of `oskit/dynamic` offers, seen without its own types. */
interface AreaFunctions {
  check(news: unknown): pulumi.dynamic.CheckResult;
  diff(olds: unknown, news: unknown): Diff | Promise<Diff>;
  create(inputs: unknown): Promise<pulumi.dynamic.CreateResult>;
  update(olds: unknown, news: unknown): Promise<unknown>;
  delete(olds: unknown): Promise<void>;
}

/** The provider of `area`'s resource, with its inputs `I` and outputs `O`. */
export function dynamicProvider<I, O>(
  area: keyof typeof dynamic,
): pulumi.dynamic.ResourceProvider<I, O> {
  /** The area's functions, from the copy of oskit the program has installed. */
  const functions = () =>
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved where the provider runs
    (require("oskit/dynamic") as Record<string, unknown>)[area] as AreaFunctions;
  return {
    check(_olds, news) {
      return Promise.resolve(functions().check(news) as pulumi.dynamic.CheckResult<I>);
    },
    async diff(_id, olds, news) {
      const { changes, replaces, deleteBeforeReplace } = await functions().diff(olds, news);
      return { changes, replaces, deleteBeforeReplace: deleteBeforeReplace ?? false };
    },
    async create(inputs) {
      try {
        return (await functions().create(inputs)) as pulumi.dynamic.CreateResult<O>;
      } catch (error) {
        // A partial create is recorded with these properties as the resource's state: they need
        // the serialized provider too, or a later update or delete could not load it.
        const partial = error as { id?: unknown; properties?: Record<string, unknown> };
        if (partial.id !== undefined && partial.properties !== undefined)
          partial.properties = {
            ...partial.properties,
            __provider: (inputs as Record<string, unknown>).__provider,
          };
        throw error;
      }
    },
    async update(_id, olds, news) {
      return { outs: (await functions().update(olds, news)) as O };
    },
    delete(_id, olds) {
      return functions().delete(olds);
    },
  };
}
