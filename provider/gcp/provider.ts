/**
 * The dynamic provider of `oskit.gcp.Image`. Like the Ami's, it is serialized into the stack's
 * state and captures nothing: each method loads oskit's functions by the package's name
 * (`oskit/dynamic`) from the program's node_modules, and those get a token
 * (GOOGLE_OAUTH_ACCESS_TOKEN, else Application Default Credentials) when they run.
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as dynamic from "../dynamic";
import type { ImageInputs, ImageOutputs } from "./image";

/** oskit's functions, from the copy the program has installed. */
function oskit(): typeof dynamic {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved where the provider runs
  return require("oskit/dynamic") as typeof dynamic;
}

export const imageProvider: pulumi.dynamic.ResourceProvider<ImageInputs, ImageOutputs> = {
  check(_olds, news) {
    return Promise.resolve(oskit().gcpImage.check(news));
  },
  diff(_id, olds, news) {
    const { changes, replaces, deleteBeforeReplace } = oskit().gcpImage.diff(olds, news);
    return Promise.resolve({ changes, replaces, deleteBeforeReplace });
  },
  async create(inputs) {
    try {
      return await oskit().gcpImage.create(inputs);
    } catch (error) {
      // A partial create is recorded with these properties as the resource's state: they need
      // the serialized provider too, or a later update or delete could not load it.
      const partial = error as { id?: unknown; properties?: Record<string, unknown> };
      if (partial.id !== undefined && partial.properties !== undefined)
        partial.properties = {
          ...partial.properties,
          __provider: (inputs as unknown as Record<string, unknown>).__provider,
        };
      throw error;
    }
  },
  async update(_id, olds, news) {
    return { outs: await oskit().gcpImage.update(olds, news) };
  },
  delete(_id, olds) {
    return oskit().gcpImage.delete(olds);
  },
};
