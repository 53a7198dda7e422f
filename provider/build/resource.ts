/** `oskit.ImageBuild`: an OS built as part of a Pulumi stack. */
import { resolve } from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { isConstruct } from "../../sdk/constructs/brand";
import type { Image } from "../../sdk/constructs/image";
import { manifestDigest } from "../../sdk/manifest/canonical";
import type { Format } from "../../sdk/formats/writers";
import type { Manifest } from "../../sdk/manifest/schema";
import { validateManifest } from "../../sdk/manifest/validate";
import { applyLock, readLock } from "../../sdk/resolve/lock";
import { ociArchitecture } from "../../sdk/resolve/oci";
import type { Artifact } from "./image-build";
import { osInput } from "./os-input";
import { dynamicProvider } from "../dynamic-provider";

/** Serialized into the state with each resource: the area's name and nothing else. */
const provider = dynamicProvider("imageBuild");

export interface ImageBuildArgs {
  /** The system: an `oskit.Image`, or a manifest it synthesized. */
  readonly image: Image | Manifest;
  /** The formats to write (`kernel+initrd`, `raw-efi`, `vhd`, `gce`, …). */
  readonly formats: readonly Format[];
  /** Values of the OS's input placeholders (`oskit.input("name")`); secrets stay secret. */
  readonly inputs?: Readonly<Record<string, pulumi.Input<string>>>;
  /** The outputs' file name prefix. @default the resource's name */
  readonly name?: string;
  /** Where artifacts go, one directory per manifest digest. @default `.oskit/build` in the program's directory */
  readonly outDir?: string;
  /** OCI architecture of the images. @default this machine's */
  readonly arch?: string;
  /** Disk size in bytes for the disk formats. @default the smallest that fits, plus a margin */
  readonly diskSize?: number;
  /** The image holding systemd's EFI stub. @default oskit's boot package */
  readonly bootImage?: string;
  /** The content store. @default OSKIT_STORE, else ~/.cache/oskit */
  readonly store?: string;
  /** Pin images by the program directory's `oskit.lock.json` when there is one. @default true */
  readonly lock?: boolean;
}

/**
 * Builds an OS as part of the stack. `pulumi preview --diff` shows what changes in the OS
 * (`os.services.web.capabilities`); nothing is built again when the manifest digest, the options
 * and the input values are the same and every artifact is on disk with its recorded sha256.
 *
 * @example
 * const build = new oskit.ImageBuild("web", { image: os, formats: ["raw-efi"] });
 * export const disk = build.artifacts["raw-efi"].path;
 */
export class ImageBuild extends pulumi.dynamic.Resource {
  /** sha256 of the canonical manifest: the OS's identity. */
  declare readonly manifestDigest: pulumi.Output<string>;
  /** The directory holding the artifacts. */
  declare readonly dir: pulumi.Output<string>;
  /** Each format's artifact: its path, sha256, size and files. */
  declare readonly artifacts: pulumi.Output<Readonly<Record<string, Artifact>>>;

  constructor(name: string, args: ImageBuildArgs, opts: pulumi.CustomResourceOptions = {}) {
    const cwd = process.cwd();
    const synthesized = isConstruct(args.image, "Image")
      ? args.image.synth()
      : validateManifest(args.image);
    const manifest =
      args.lock === false ? synthesized : applyLock(synthesized, readLock(cwd)).manifest;
    const secretInputs = Object.values(args.inputs ?? {}).some((v) => pulumi.Output.isInstance(v));
    super(
      provider,
      name,
      {
        os: osInput(manifest),
        manifestDigest: manifestDigest(manifest).toString(),
        formats: [...args.formats],
        name: args.name ?? name,
        outDir: resolve(cwd, args.outDir ?? ".oskit/build"),
        baseDir: cwd,
        arch: args.arch ?? ociArchitecture(),
        ...(args.inputs !== undefined && { inputs: args.inputs }),
        ...(args.diskSize !== undefined && { diskSize: args.diskSize }),
        ...(args.bootImage !== undefined && { bootImage: args.bootImage }),
        ...(args.store !== undefined && { store: args.store }),
        dir: undefined,
        artifacts: undefined,
      },
      {
        ...opts,
        additionalSecretOutputs: [
          ...(opts.additionalSecretOutputs ?? []),
          ...(args.inputs !== undefined ? ["inputs"] : []),
          ...(secretInputs ? ["artifacts", "dir"] : []),
        ],
      },
      "oskit",
      "ImageBuild",
    );
  }
}
