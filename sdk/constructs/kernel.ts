import type { KernelInput } from "../manifest/schema";
import { CONSTRUCT, copyProps } from "./brand";

/** Props of a Kernel: LinuxKit's `kernel` section. */
export type KernelProps = KernelInput;

/**
 * The kernel: an image holding the kernel binary and its modules.
 *
 * @example
 * new oskit.Kernel({ image: "linuxkit/kernel:6.6.71", cmdline: "console=ttyS0" })
 */
export class Kernel {
  readonly [CONSTRUCT] = "Kernel" as const;
  readonly props: KernelProps;
  /** Image holding the kernel. */
  readonly image: string;
  /** Kernel command line. */
  readonly cmdline: string;
  /** Name of the kernel binary in the image. */
  readonly binary: string;
  /** Name of the modules tarball in the image, or `none`. */
  readonly tar: string;

  constructor(props: KernelProps) {
    this.props = copyProps(props);
    this.image = props.image;
    this.cmdline = props.cmdline ?? "";
    this.binary = props.binary ?? "kernel";
    this.tar = props.tar === undefined ? "kernel.tar" : props.tar === "" ? "none" : props.tar;
  }
}
