/** Systems on Azure: `oskit.azure.VirtualMachine` (a VM booting an oskit image). */
export { VirtualMachine, type VirtualMachineArgs } from "./virtual-machine";
