/** Systems on AWS: `oskit.aws.Ami` (an image registered from an artifact) and `oskit.aws.Instance`. */
export { Ami, type AmiArgs } from "./resource";
export type { LaunchPermissions } from "./attributes";
export type { AwsEndpoints } from "./clients";
export type { RegionImage } from "./publish";
export type { BootMode } from "./register";
export { Instance, type InstanceArgs } from "./instance";
