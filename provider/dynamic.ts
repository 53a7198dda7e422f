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
import { checkAmi, createAmi, deleteAmi, diffAmi, updateAmi } from "./aws/ami";
import {
  checkImage as checkGcpImage,
  createImage as createGcpImage,
  deleteImageResource as deleteGcpImage,
  diffImage as diffGcpImage,
  updateImage as updateGcpImage,
} from "./gcp/image";
import {
  checkImage as checkAzureImage,
  createImage as createAzureImage,
  deleteImageResource as deleteAzureImage,
  diffImage as diffAzureImage,
  updateImage as updateAzureImage,
} from "./azure/image";
import { checkQemuVm, createQemuVm, deleteQemuVm, diffQemuVm, updateQemuVm } from "./local/qemu-vm";

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

export const qemuVm = {
  check: checkQemuVm,
  diff: (olds: Parameters<typeof diffQemuVm>[0], news: Parameters<typeof diffQemuVm>[1]) =>
    diffQemuVm(olds, news),
  create: (inputs: Parameters<typeof createQemuVm>[0]) => createQemuVm(inputs),
  update: (olds: Parameters<typeof updateQemuVm>[0], news: Parameters<typeof updateQemuVm>[1]) =>
    updateQemuVm(olds, news),
  delete: (olds: Parameters<typeof deleteQemuVm>[0]) => deleteQemuVm(olds),
};

export const ami = {
  check: checkAmi,
  diff: (olds: Parameters<typeof diffAmi>[0], news: Parameters<typeof diffAmi>[1]) =>
    diffAmi(olds, news),
  create: (inputs: Parameters<typeof createAmi>[0]) => createAmi(inputs),
  update: (olds: Parameters<typeof updateAmi>[0], news: Parameters<typeof updateAmi>[1]) =>
    updateAmi(olds, news),
  delete: (olds: Parameters<typeof deleteAmi>[0]) => deleteAmi(olds),
};

export const gcpImage = {
  check: checkGcpImage,
  diff: (olds: Parameters<typeof diffGcpImage>[0], news: Parameters<typeof diffGcpImage>[1]) =>
    diffGcpImage(olds, news),
  create: (inputs: Parameters<typeof createGcpImage>[0]) => createGcpImage(inputs),
  update: (
    olds: Parameters<typeof updateGcpImage>[0],
    news: Parameters<typeof updateGcpImage>[1],
  ) => updateGcpImage(olds, news),
  delete: (olds: Parameters<typeof deleteGcpImage>[0]) => deleteGcpImage(olds),
};

export const azureImage = {
  check: checkAzureImage,
  diff: (olds: Parameters<typeof diffAzureImage>[0], news: Parameters<typeof diffAzureImage>[1]) =>
    diffAzureImage(olds, news),
  create: (inputs: Parameters<typeof createAzureImage>[0]) => createAzureImage(inputs),
  update: (
    olds: Parameters<typeof updateAzureImage>[0],
    news: Parameters<typeof updateAzureImage>[1],
  ) => updateAzureImage(olds, news),
  delete: (olds: Parameters<typeof deleteAzureImage>[0]) => deleteAzureImage(olds),
};
