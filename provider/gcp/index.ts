/** Systems on GCP: `oskit.gcp.Image` (a GCE image registered from a `gce` artifact). */
export { Image, type ImageArgs } from "./resource";
export type { GcpEndpoints } from "./http";
export type { GceArchitecture } from "./tarball";
export { Instance, type InstanceArgs } from "./instance";
