/** `oskit.local.QemuVm`: a system running under QEMU on this machine, as part of a Pulumi stack. */
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import type { Artifact } from "../build/image-build";
import type { PortForward } from "./qemu-vm";
import { dynamicProvider } from "../dynamic-provider";

/** Serialized into the state with each resource: the area's name and nothing else. */
const provider = dynamicProvider("qemuVm");

export interface QemuVmArgs {
  /**
   * The artifact to boot: an ImageBuild's `artifacts["kernel+initrd"]`, `["raw-efi"]`, … (typed to
   * take that lookup as it is under `noUncheckedIndexedAccess`; a missing artifact fails `check`).
   */
  readonly artifact: pulumi.Input<Artifact> | undefined;
  /** Port forwards `HOST:GUEST` (or `HOST:GUEST/udp`), bound to 127.0.0.1. @default none */
  readonly publish?: pulumi.Input<readonly string[]>;
  /** Memory in MiB. @default 1024 */
  readonly mem?: pulumi.Input<number>;
  /** Virtual processors. @default 1 */
  readonly cpus?: pulumi.Input<number>;
  /** User data for the metadata package (`/run/config/userdata` in the guest); may be a secret. @default none */
  readonly data?: pulumi.Input<string>;
  /** Where QEMU's pid, console log and QMP socket live. @default `.oskit/vms/NAME` in the program's directory */
  readonly stateDir?: string;
}

/**
 * Runs a built system under QEMU (TCG), detached, with port forwards: the embedded default
 * target, no cloud account needed. Any change restarts the VM (a replacement, stopped before
 * its successor starts); a VM whose QEMU has gone away is started again by `pulumi up`;
 * `pulumi destroy` powers it off.
 *
 * @example
 * const build = new oskit.ImageBuild("hello", { image: os, formats: ["kernel+initrd"] });
 * const vm = new oskit.local.QemuVm("hello", {
 *   artifact: build.artifacts["kernel+initrd"],
 *   publish: ["8080:80"],
 * });
 * export const url = vm.ports.apply((p) => `http://127.0.0.1:${p[0]!.host}/`);
 */
export class QemuVm extends pulumi.dynamic.Resource {
  /** QEMU's process id. */
  declare readonly pid: pulumi.Output<number>;
  /** The port forwards, bound to 127.0.0.1. */
  declare readonly ports: pulumi.Output<readonly PortForward[]>;
  /** The guest's serial console log. */
  declare readonly consoleLog: pulumi.Output<string>;
  /** The VM's state directory. */
  declare readonly stateDir: pulumi.Output<string>;
  /** The artifact it boots. */
  declare readonly artifact: pulumi.Output<Artifact>;

  constructor(name: string, args: QemuVmArgs, opts: pulumi.CustomResourceOptions = {}) {
    super(
      provider,
      name,
      {
        artifact: args.artifact,
        publish: args.publish ?? [],
        mem: args.mem ?? 1024,
        cpus: args.cpus ?? 1,
        ...(args.data !== undefined && { data: args.data }),
        stateDir: resolve(process.cwd(), args.stateDir ?? `.oskit/vms/${name}`),
        pid: undefined,
        ports: undefined,
        consoleLog: undefined,
      },
      {
        ...opts,
        additionalSecretOutputs: [
          ...(opts.additionalSecretOutputs ?? []),
          ...(args.data !== undefined ? ["data"] : []),
        ],
      },
      "oskit/local",
      "QemuVm",
    );
  }
}
