/**
 * The dynamic provider of `oskit.ImageBuild`. Pulumi serializes it into the stack's state and
 * runs it in its own process, so its methods capture nothing: each loads oskit's functions by
 * the package's name (`oskit/dynamic`) from the program's node_modules.
 */
import type * as pulumi from "@pulumi/pulumi";
import type * as dynamic from "../dynamic";
import type { ImageBuildInputs, ImageBuildOutputs } from "./image-build";

/** oskit's functions, from the copy the program has installed. */
function oskit(): typeof dynamic {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- resolved where the provider runs
  return require("oskit/dynamic") as typeof dynamic;
}

export const imageBuildProvider: pulumi.dynamic.ResourceProvider<
  ImageBuildInputs,
  ImageBuildOutputs
> = {
  check(_olds, news) {
    return Promise.resolve(oskit().imageBuild.check(news));
  },
  async diff(_id, olds, news) {
    const { changes, replaces } = await oskit().imageBuild.diff(olds, news);
    return { changes, replaces, deleteBeforeReplace: false };
  },
  create(inputs) {
    return oskit().imageBuild.create(inputs);
  },
  async update(_id, olds, news) {
    return { outs: await oskit().imageBuild.update(olds, news) };
  },
  delete(_id, olds) {
    return oskit().imageBuild.delete(olds);
  },
};
