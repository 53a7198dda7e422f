/**
 * Systems on Azure: `oskit.azure.Image` (a managed image, and optionally a gallery image version,
 * from a `vhd` artifact) and `oskit.azure.VirtualMachine` (a VM booting it).
 */
export { Image, type ImageArgs, type ImageGalleryArgs } from "./resource";
export type { AzureEndpoints } from "./image";
export type { TargetRegion } from "./gallery";
export type { HyperVGeneration, StorageAccountType } from "./register";
export { VirtualMachine, type VirtualMachineArgs } from "./virtual-machine";
