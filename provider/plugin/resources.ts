/**
 * What the plugin does for each resource of schema.json, by token: fill in the defaults the
 * TypeScript classes fill in, then call the same plain functions their dynamic providers call.
 */
import { resolve } from "node:path";
import {
  checkImageBuild,
  createImageBuild,
  deleteImageBuild,
  diffImageBuild,
  UNKNOWN,
  updateImageBuild,
  type CheckFailure,
  type ImageBuildInputs,
  type ImageBuildOutputs,
} from "../build/image-build";
import { manifestOf, osInput } from "../build/os-input";
import {
  checkQemuVm,
  createQemuVm,
  deleteQemuVm,
  diffQemuVm,
  updateQemuVm,
  type QemuVmInputs,
  type QemuVmOutputs,
} from "../local/qemu-vm";
import {
  checkAmi,
  createAmi,
  deleteAmi,
  diffAmi,
  updateAmi,
  type AmiInputs,
  type AmiOutputs,
} from "../aws/ami";
import {
  checkImage as checkGcpImage,
  createImage as createGcpImage,
  deleteImageResource as deleteGcpImage,
  diffImage as diffGcpImage,
  updateImage as updateGcpImage,
  type ImageInputs as GcpImageInputs,
  type ImageOutputs as GcpImageOutputs,
} from "../gcp/image";
import {
  checkImage as checkAzureImage,
  createImage as createAzureImage,
  deleteImageResource as deleteAzureImage,
  diffImage as diffAzureImage,
  updateImage as updateAzureImage,
  type ImageInputs as AzureImageInputs,
  type ImageOutputs as AzureImageOutputs,
} from "../azure/image";
import type { Manifest } from "../../sdk/manifest/schema";
import { ociArchitecture } from "../../sdk/resolve/oci";
import type { ResourceToken } from "../schema";
import type { Props } from "./wire";

/** What Check knows besides the inputs. */
export interface CheckContext {
  /** The resource's name (from its URN). */
  readonly name: string;
  /** The Pulumi project (from the URN). */
  readonly project: string;
  /** The stack (from the URN). */
  readonly stack: string;
  /** The program's directory (the plugin runs in it). */
  readonly cwd: string;
}

/** One resource's work, on plain (revealed) properties. */
export interface PluginResource {
  check(news: Props, context: CheckContext): { inputs: Props; failures: CheckFailure[] };
  diff(
    olds: Props,
    news: Props,
  ): Promise<{
    changes: boolean;
    replaces: string[];
    changed: string[];
    deleteBeforeReplace?: boolean;
  }>;
  create(inputs: Props): Promise<{ id: string; outs: Props }>;
  update(olds: Props, news: Props): Promise<Props>;
  delete(olds: Props): Promise<void>;
}

const isObject = (value: unknown): value is Props =>
  value !== null && typeof value === "object" && !Array.isArray(value);
const given = (value: unknown): value is string => typeof value === "string" && value !== UNKNOWN;

const imageBuild: PluginResource = {
  check(news, { name, cwd }) {
    const filled = {
      ...news,
      // Lists or keyed sections alike become the keyed form, so diffs name the container.
      os: isObject(news.os) ? osInput(manifestOf(news.os) as Manifest) : news.os,
      name: news.name ?? name,
      outDir: given(news.outDir)
        ? resolve(cwd, news.outDir)
        : (news.outDir ?? resolve(cwd, ".oskit/build")),
      baseDir: given(news.baseDir) ? resolve(cwd, news.baseDir) : (news.baseDir ?? cwd),
      arch: news.arch ?? ociArchitecture(),
    };
    const { inputs, failures } = checkImageBuild(filled as unknown as ImageBuildInputs);
    return { inputs: inputs as unknown as Props, failures };
  },
  diff: (olds, news) =>
    diffImageBuild(olds as unknown as ImageBuildOutputs, news as unknown as ImageBuildInputs),
  async create(inputs) {
    const { id, outs } = await createImageBuild(inputs as unknown as ImageBuildInputs);
    return { id, outs: outs as unknown as Props };
  },
  async update(olds, news) {
    const outs = await updateImageBuild(
      olds as unknown as ImageBuildOutputs,
      news as unknown as ImageBuildInputs,
    );
    return outs as unknown as Props;
  },
  delete: (olds) => deleteImageBuild(olds as unknown as ImageBuildOutputs),
};

const qemuVm: PluginResource = {
  check(news, { name, cwd }) {
    const filled = {
      ...news,
      publish: news.publish ?? [],
      mem: news.mem ?? 1024,
      cpus: news.cpus ?? 1,
      stateDir: given(news.stateDir)
        ? resolve(cwd, news.stateDir)
        : (news.stateDir ?? resolve(cwd, ".oskit/vms", name)),
    };
    const { inputs, failures } = checkQemuVm(filled as unknown as QemuVmInputs);
    return { inputs: inputs as unknown as Props, failures };
  },
  diff: (olds, news) =>
    Promise.resolve(diffQemuVm(olds as unknown as QemuVmOutputs, news as unknown as QemuVmInputs)),
  async create(inputs) {
    const { id, outs } = await createQemuVm(inputs as unknown as QemuVmInputs);
    return { id, outs: outs as unknown as Props };
  },
  async update(olds, news) {
    const outs = await updateQemuVm(
      olds as unknown as QemuVmOutputs,
      news as unknown as QemuVmInputs,
    );
    return outs as unknown as Props;
  },
  delete: (olds) => deleteQemuVm(olds as unknown as QemuVmOutputs),
};

/**
 * An AMI: the region from the plugin's environment when not given (Pulumi's `aws:region` is
 * another provider's configuration), the owner from the URN. The AWS clients take their
 * credentials from the SDK's default chain in the plugin's environment, as the dynamic provider's
 * do in the program's.
 */
const ami: PluginResource = {
  check(news, { name, project, stack }) {
    const region = news.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
    const filled = {
      ...news,
      ...(region !== undefined && { region }),
      name: news.name ?? name,
      copyRegions: news.copyRegions ?? [],
      tags: news.tags ?? {},
      owner: { project, stack, resource: name },
    };
    const { inputs, failures } = checkAmi(filled as unknown as AmiInputs);
    return {
      inputs: inputs as unknown as Props,
      failures:
        region === undefined
          ? [
              { property: "region", reason: "give region, or set AWS_REGION where Pulumi runs" },
              ...failures.filter((f) => f.property !== "region"),
            ]
          : failures,
    };
  },
  diff: (olds, news) =>
    Promise.resolve(diffAmi(olds as unknown as AmiOutputs, news as unknown as AmiInputs)),
  async create(inputs) {
    const { id, outs } = await createAmi(inputs as unknown as AmiInputs);
    return { id, outs: outs as unknown as Props };
  },
  async update(olds, news) {
    const outs = await updateAmi(olds as unknown as AmiOutputs, news as unknown as AmiInputs);
    return outs as unknown as Props;
  },
  delete: (olds) => deleteAmi(olds as unknown as AmiOutputs),
};

/**
 * A GCE image: the project from the plugin's environment when not given (Pulumi's `gcp:project`
 * is another provider's configuration), the owner from the URN. The token comes from
 * GOOGLE_OAUTH_ACCESS_TOKEN or Application Default Credentials where the plugin runs.
 */
const gcpImage: PluginResource = {
  check(news, { name, project, stack }) {
    const gcpProject =
      news.project ?? process.env.GOOGLE_CLOUD_PROJECT ?? process.env.GOOGLE_PROJECT;
    const filled = {
      ...news,
      ...(gcpProject !== undefined && { project: gcpProject }),
      name: news.name ?? name,
      labels: news.labels ?? {},
      owner: { project, stack, resource: name },
    };
    const { inputs, failures } = checkGcpImage(filled as unknown as GcpImageInputs);
    return {
      inputs: inputs as unknown as Props,
      failures:
        gcpProject === undefined
          ? [
              {
                property: "project",
                reason: "give project, or set GOOGLE_CLOUD_PROJECT where Pulumi runs",
              },
              ...failures.filter((f) => f.property !== "project"),
            ]
          : failures,
    };
  },
  diff: (olds, news) =>
    Promise.resolve(
      diffGcpImage(olds as unknown as GcpImageOutputs, news as unknown as GcpImageInputs),
    ),
  async create(inputs) {
    const { id, outs } = await createGcpImage(inputs as unknown as GcpImageInputs);
    return { id, outs: outs as unknown as Props };
  },
  async update(olds, news) {
    const outs = await updateGcpImage(
      olds as unknown as GcpImageOutputs,
      news as unknown as GcpImageInputs,
    );
    return outs as unknown as Props;
  },
  delete: (olds) => deleteGcpImage(olds as unknown as GcpImageOutputs),
};

/**
 * An Azure image: the subscription from the plugin's environment when not given (Pulumi's
 * `azure-native:subscriptionId` is another provider's configuration), the owner from the URN.
 * ARM tokens come from DefaultAzureCredential and the blob's key or SAS from AZURE_STORAGE_KEY or
 * AZURE_STORAGE_SAS_TOKEN where the plugin runs.
 */
const azureImage: PluginResource = {
  check(news, { name, project, stack }) {
    const subscriptionId =
      news.subscriptionId ?? process.env.AZURE_SUBSCRIPTION_ID ?? process.env.ARM_SUBSCRIPTION_ID;
    const filled = {
      ...news,
      ...(subscriptionId !== undefined && { subscriptionId }),
      name: news.name ?? name,
      tags: news.tags ?? {},
      owner: { project, stack, resource: name },
    };
    const { inputs, failures } = checkAzureImage(filled as unknown as AzureImageInputs);
    return {
      inputs: inputs as unknown as Props,
      failures:
        subscriptionId === undefined
          ? [
              {
                property: "subscriptionId",
                reason: "give subscriptionId, or set AZURE_SUBSCRIPTION_ID where Pulumi runs",
              },
              ...failures.filter((f) => f.property !== "subscriptionId"),
            ]
          : failures,
    };
  },
  diff: (olds, news) =>
    Promise.resolve(
      diffAzureImage(olds as unknown as AzureImageOutputs, news as unknown as AzureImageInputs),
    ),
  async create(inputs) {
    const { id, outs } = await createAzureImage(inputs as unknown as AzureImageInputs);
    return { id, outs: outs as unknown as Props };
  },
  async update(olds, news) {
    const outs = await updateAzureImage(
      olds as unknown as AzureImageOutputs,
      news as unknown as AzureImageInputs,
    );
    return outs as unknown as Props;
  },
  delete: (olds) => deleteAzureImage(olds as unknown as AzureImageOutputs),
};

/** Every resource of the schema has its work here (a token without one does not compile). */
export const HANDLERS: { readonly [T in ResourceToken]: PluginResource } = {
  "oskit:index:ImageBuild": imageBuild,
  "oskit:local:QemuVm": qemuVm,
  "oskit:aws:Ami": ami,
  "oskit:gcp:Image": gcpImage,
  "oskit:azure:Image": azureImage,
};
