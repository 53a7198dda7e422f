/** Systems run on this machine: `oskit.local.QemuVm`, the default target (no cloud account). */
export { QemuVm, type QemuVmArgs } from "./resource";
export type { PortForward } from "./qemu-vm";
