/** oskit's Pulumi resources. */
export { ImageBuild, type ImageBuildArgs } from "./build/resource";
export type { Artifact, ArtifactFile } from "./build/image-build";
export * as local from "./local";
export * as aws from "./aws";
export * as gcp from "./gcp";
export * as azure from "./azure";
