/** Systems on AWS: `oskit.aws.Ami` (an image registered from an artifact) and `oskit.aws.Instance`. */
export { Instance, type InstanceArgs } from "./instance";
