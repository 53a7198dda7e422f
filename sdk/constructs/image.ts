import { readFileSync } from "node:fs";
import { ValidationError, type Problem } from "../errors";
import { canonicalJson, manifestDigest } from "../manifest/canonical";
import { exportLinuxkit, type ExportOptions } from "../manifest/linuxkit/export";
import { decodeDefinition, importLinuxkit, type LinuxkitSource } from "../manifest/linuxkit/import";
import type { Manifest } from "../manifest/schema";
import { checkManifest, validateManifest } from "../manifest/validate";
import { CONSTRUCT, isConstruct, type ConstructKind } from "./brand";
import { File } from "./file";
import { Kernel } from "./kernel";
import { Service } from "./service";
import { Volume } from "./volume";

/** Props of an Image: the whole system, as LinuxKit's manifest sections. */
export interface ImageProps {
  /** The kernel; required to boot, optional for a root filesystem only. */
  readonly kernel?: Kernel;
  /** Images flattened in order into `/`: the init system. */
  readonly init?: readonly string[];
  /** Containers run to completion, in order, at boot. */
  readonly onboot?: readonly Service[];
  /** Containers run, in order, at shutdown. */
  readonly onshutdown?: readonly Service[];
  /** Long-running containers. */
  readonly services?: readonly Service[];
  /** Files, directories and links added to the image. */
  readonly files?: readonly File[];
  /** Named volumes containers can bind. */
  readonly volumes?: readonly Volume[];
}

/**
 * An operating system: a kernel, an init and containers. `synth()` checks everything and returns
 * the manifest; nothing is built until a later phase takes the manifest.
 *
 * @example
 * export default new oskit.Image({
 *   kernel: new oskit.Kernel({ image: "linuxkit/kernel:6.6.71", cmdline: "console=ttyS0" }),
 *   init: ["linuxkit/init:v1.1.0", "linuxkit/runc:v1.1.0"],
 *   services: [new oskit.Service({ name: "web", image: "nginx:1.27-alpine" })],
 * });
 */
export class Image {
  readonly [CONSTRUCT] = "Image" as const;
  readonly props: ImageProps;

  constructor(props: ImageProps) {
    this.props = { ...props };
  }

  /** Checks the whole definition and returns its normalized manifest; throws one ValidationError listing every problem. */
  synth(): Manifest {
    const problems: Problem[] = [];
    const covered: string[] = [];
    const raw: Record<string, unknown> = {};
    const { kernel, init } = this.props;
    if (kernel !== undefined) {
      if (isConstruct(kernel, "Kernel")) raw.kernel = kernel.props;
      else problems.push({ path: "kernel", message: notA("Kernel", kernel) });
    }
    if (init !== undefined) raw.init = init;
    const lists = [
      ["onboot", "Service"],
      ["onshutdown", "Service"],
      ["services", "Service"],
      ["files", "File"],
      ["volumes", "Volume"],
    ] as const satisfies readonly (readonly [keyof ImageProps, ConstructKind])[];
    for (const [section, kind] of lists) {
      const list: unknown = this.props[section];
      if (list === undefined) continue;
      if (!Array.isArray(list)) {
        problems.push({
          path: section,
          message: `expected a list of oskit.${kind}, got ${describe(list)}`,
        });
        continue;
      }
      raw[section] = list.map((item: unknown, i) => {
        if (isConstruct(item, kind)) return item.props;
        problems.push({ path: `${section}[${i}]`, message: notA(kind, item) });
        covered.push(`${section}[${i}]`);
        return null;
      });
    }
    const checked = checkManifest(raw);
    if (!checked.ok) {
      const mentions = (path: string) =>
        covered.some((c) => path === c || path.startsWith(`${c}.`) || path.startsWith(`${c}[`));
      problems.push(...checked.problems.filter((p) => !mentions(p.path)));
    }
    if (problems.length > 0 || !checked.ok) throw new ValidationError(problems);
    return checked.manifest;
  }

  /** The sha256 digest of the manifest's canonical JSON: equal systems have equal digests. */
  digest(): string {
    return manifestDigest(this.synth()).toString();
  }

  /** The manifest as canonical JSON (sorted keys), as `oskit synth` prints it. */
  toJson(): string {
    return `${canonicalJson(this.synth(), 2)}\n`;
  }

  /** The system as LinuxKit YAML. */
  toYaml(options?: ExportOptions): string {
    return exportLinuxkit(this.synth(), options);
  }

  /** An Image holding a manifest's definition, as constructs. */
  static fromManifest(manifest: Manifest): Image {
    const m = validateManifest(manifest);
    return new Image({
      kernel: m.kernel && new Kernel(m.kernel),
      init: m.init,
      onboot: m.onboot?.map((c) => new Service(c)),
      onshutdown: m.onshutdown?.map((c) => new Service(c)),
      services: m.services?.map((c) => new Service(c)),
      files: m.files?.map((f) => new File(f)),
      volumes: m.volumes?.map((v) => new Volume(v)),
    });
  }

  /**
   * An Image from LinuxKit YAML; several documents merge as `linuxkit build a.yml b.yml` merges
   * them. Ignored sections (such as `trust`) are reported as process warnings.
   */
  static fromYaml(
    text: string | readonly LinuxkitSource[],
    options: { readonly filename?: string } = {},
  ): Image {
    const sources = typeof text === "string" ? [{ text, filename: options.filename }] : text;
    const { manifest, warnings } = importLinuxkit(sources);
    for (const warning of warnings) process.emitWarning(warning, { code: "OSKIT_IMPORT" });
    return Image.fromManifest(manifest);
  }

  /** An Image from one or more LinuxKit YAML files, merged in order. */
  static fromFile(...paths: readonly string[]): Image {
    return Image.fromYaml(
      paths.map((path) => ({ text: decodeDefinition(readFileSync(path), path), filename: path })),
    );
  }

  /** True for an Image from any copy of oskit (the CLI's or a project's). */
  static isImage(value: unknown): value is Image {
    return isConstruct(value, "Image");
  }
}

function notA(kind: ConstructKind, value: unknown): string {
  return `expected an oskit.${kind} (new oskit.${kind}({ … })), got ${describe(value)}`;
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  for (const kind of ["Kernel", "Service", "File", "Volume", "Image"] as const) {
    if (isConstruct(value, kind)) return `an oskit.${kind}`;
  }
  return typeof value === "object" ? "a plain object" : typeof value;
}
