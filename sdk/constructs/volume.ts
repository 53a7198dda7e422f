import type { VolumeInput } from "../manifest/schema";
import { CONSTRUCT, copyProps } from "./brand";

/** Props of a Volume: LinuxKit's `volumes` entry. */
export type VolumeProps = VolumeInput;

/**
 * A named volume containers bind by name (`binds: ["cache:/var/cache"]`): a blank directory or
 * the contents of an image.
 */
export class Volume {
  readonly [CONSTRUCT] = "Volume" as const;
  readonly props: VolumeProps;
  /** Name containers bind. */
  readonly name: string;
  /** Whether binds must be read-only. */
  readonly readonly: boolean;

  constructor(props: VolumeProps) {
    this.props = copyProps(props);
    this.name = props.name;
    this.readonly = props.readonly ?? false;
  }
}
