/**
 * What oskit's serialized dynamic providers load (`require("oskit/dynamic")`) in the process
 * Pulumi runs them in: the resources' functions, by area.
 */
import {
  checkImageBuild,
  createImageBuild,
  deleteImageBuild,
  diffImageBuild,
  updateImageBuild,
} from "./build/image-build";

export const imageBuild = {
  check: checkImageBuild,
  diff: diffImageBuild,
  create: (inputs: Parameters<typeof createImageBuild>[0]) => createImageBuild(inputs),
  update: (
    olds: Parameters<typeof updateImageBuild>[0],
    news: Parameters<typeof updateImageBuild>[1],
  ) => updateImageBuild(olds, news),
  delete: deleteImageBuild,
};
