/**
 * oskit without Pulumi (`oskit/core`): what the CLI gives definitions as `oskit`.
 *
 * Constructs (`Image`, `Kernel`, `Service`, `File`, `Volume`) describe a LinuxKit-style system;
 * `image.synth()` validates it and returns the plain, canonical `Manifest` every later phase takes.
 */
export { Image, type ImageProps } from "./constructs/image";
export { Kernel, type KernelProps } from "./constructs/kernel";
export { Service, type ServiceProps } from "./constructs/service";
export { File, type FileOptions, type FileProps } from "./constructs/file";
export { Volume, type VolumeProps } from "./constructs/volume";
export { input, isInputRef, type InputRef } from "./constructs/input";
export { emitTypescript } from "./constructs/emit";

export type {
  ContainerSpec,
  FileSpec,
  Id,
  KernelSpec,
  Manifest,
  ModeInput,
  MountSpec,
  Namespace,
  NetNamespace,
  RlimitSpec,
  VolumeSpec,
} from "./manifest/schema";
export { LINUX_CAPABILITIES, type Capability, type LinuxCapability } from "./manifest/capabilities";
export { RLIMIT_TYPES, type RlimitType, type RlimitValue } from "./manifest/rlimits";
export { canonicalJson, manifestDigest } from "./manifest/canonical";
export { checkManifest, validateManifest, type CheckResult } from "./manifest/validate";
export { Digest } from "./manifest/digest";
export { FileMode } from "./manifest/mode";
export { ImageRef } from "./manifest/reference";
export { importLinuxkit, type ImportResult, type LinuxkitSource } from "./manifest/linuxkit/import";
export { exportLinuxkit, type ExportOptions } from "./manifest/linuxkit/export";
export { diffManifests, type OsDiff, type Change } from "./manifest/diff/compute";
export { renderDiff, DIFF_FORMATS, type DiffFormat } from "./manifest/diff/render";
export { packageRef } from "./pkg/build";
export { ErrorCode, OskitError, ValidationError, formatProblem, type Problem } from "./errors";
