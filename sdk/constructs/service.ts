import type { ContainerInput } from "../manifest/schema";
import { CONSTRUCT, copyProps } from "./brand";

/** Props of a container: every field of a LinuxKit `onboot`/`onshutdown`/`services` entry. */
export type ServiceProps = ContainerInput;

/**
 * A container: used for onboot, onshutdown and services alike. Fields left out fall back to the
 * image's `org.mobyproject.config` label, then to the image config, then to LinuxKit's defaults.
 *
 * @example
 * new oskit.Service({ name: "web", image: "nginx:1.27-alpine", capabilities: ["CAP_NET_BIND_SERVICE"] })
 */
export class Service {
  readonly [CONSTRUCT] = "Service" as const;
  readonly props: ServiceProps;
  /** Unique name of the container. */
  readonly name: string;
  /** Image of the container's root filesystem. */
  readonly image: string;

  constructor(props: ServiceProps) {
    this.props = copyProps(props);
    this.name = props.name;
    this.image = props.image;
  }
}
