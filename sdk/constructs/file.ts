import { FileMode } from "../manifest/mode";
import type { FileInput, Id, InputRef, ModeInput } from "../manifest/schema";
import { CONSTRUCT, copyProps } from "./brand";

/** Props of a File: LinuxKit's `files` entry (exactly one of contents, source, metadata, symlink, directory). */
export type FileProps = FileInput;

/** Ownership and permissions shared by the File factories. */
export interface FileOptions {
  /** Permission bits, e.g. `0o644` or `"0644"`. @default 0o600 for files, 0o700 for directories */
  readonly mode?: ModeInput;
  /** Owner: a number, a container's name, or `root`. @default 0 */
  readonly uid?: Id;
  /** Group: a number, a container's name, or `root`. @default 0 */
  readonly gid?: Id;
}

/**
 * A file, directory or symbolic link added to the image.
 *
 * @example
 * oskit.File.text("/etc/motd", "welcome\n", { mode: 0o644 })
 * oskit.File.directory("/var/lib/web")
 * oskit.File.text("/etc/web/token", oskit.input("apiToken"))
 */
export class File {
  readonly [CONSTRUCT] = "File" as const;
  readonly props: FileProps;
  /** Path in the image, as given. */
  readonly path: string;
  /** Permission bits, with the default for its kind resolved (`0600` files, `0700` directories). */
  readonly mode: string | undefined;

  constructor(props: FileProps) {
    this.props = copyProps(props);
    this.path = props.path;
    this.mode = File.resolveMode(props);
  }

  /** A file with the given text, or an input placeholder the build fills in. */
  static text(path: string, contents: string | InputRef, options: FileOptions = {}): File {
    return new File({ path, contents, ...options });
  }

  /** A directory. */
  static directory(path: string, options: FileOptions = {}): File {
    return new File({ path, directory: true, ...options });
  }

  /** A symbolic link to `target`. */
  static symlink(path: string, target: string, options: FileOptions = {}): File {
    return new File({ path, symlink: target, ...options });
  }

  /** A copy of a file on the build host (`~/` is the home directory); `optional` skips it when missing. */
  static fromHost(
    path: string,
    source: string,
    options: FileOptions & { readonly optional?: boolean } = {},
  ): File {
    return new File({ path, source, ...options });
  }

  /** The resolved manifest written in `yaml` or `json`, as LinuxKit's `metadata` files. */
  static metadata(path: string, format: "yaml" | "json", options: FileOptions = {}): File {
    return new File({ path, metadata: format, ...options });
  }

  private static resolveMode(props: FileProps): string | undefined {
    if (props.mode === undefined) {
      return (
        props.directory === true ? FileMode.DIRECTORY_DEFAULT : FileMode.FILE_DEFAULT
      ).toString();
    }
    try {
      return FileMode.parse(props.mode).toString();
    } catch {
      return undefined; // reported by synth() with the field's path
    }
  }
}
