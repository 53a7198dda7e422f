/**
 * Manifest → LinuxKit YAML that LinuxKit's schema accepts: oskit's names become LinuxKit's keys,
 * rlimits become `"type,soft,hard"` strings, and defaults LinuxKit would fill in are left out.
 */
import YAML from "yaml";
import { ErrorCode, OskitError } from "../../errors";
import { renderPath } from "../issues";
import { FileMode } from "../mode";
import { CONTAINER_SECTIONS, type Manifest } from "../schema";
import { validateManifest } from "../validate";
import { CONTAINER_KEYS, MOUNT_KEYS } from "./keys";

export interface ExportOptions {
  /** Values for input placeholders; LinuxKit YAML has no placeholders, so each one needs a value. */
  readonly inputs?: Readonly<Record<string, string>>;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

/** Section order of LinuxKit's documentation. */
const SECTION_ORDER = [
  "kernel",
  "init",
  "volumes",
  "onboot",
  "onshutdown",
  "services",
  "files",
] as const;

/** Renders a manifest as LinuxKit YAML; throws when an input placeholder has no value. */
export function exportLinuxkit(manifest: Manifest, options: ExportOptions = {}): string {
  const normalized = validateManifest(manifest);
  const doc: Obj = {};
  for (const section of SECTION_ORDER) {
    const value = normalized[section];
    if (value === undefined) continue;
    if (section === "kernel") doc.kernel = exportKernel(value as Obj);
    else if (section === "files") doc.files = exportFiles(normalized, options);
    else if ((CONTAINER_SECTIONS as readonly string[]).includes(section)) {
      doc[section] = (value as readonly Obj[]).map(exportContainer);
    } else doc[section] = value;
  }
  // YAML 1.1's resolution rules quote every string that LinuxKit's Go YAML reader (which reads
  // 1_000, 0b101 or 0644 as numbers) could take for something else.
  const document = new YAML.Document(doc, { aliasDuplicateObjects: false, version: "1.1" });
  YAML.visit(document, {
    Seq(_, seq) {
      const scalars = seq.items.filter((item) => YAML.isScalar(item));
      if (scalars.length === seq.items.length && flowLength(scalars) <= FLOW_MAX) seq.flow = true;
    },
    Scalar(_, scalar) {
      if (typeof scalar.value !== "string") return;
      if (LINE_SEPARATORS.test(scalar.value) || YAML_12_SCALAR.test(scalar.value))
        scalar.type = "QUOTE_DOUBLE";
    },
  });
  return document
    .toString({ lineWidth: 0, flowCollectionPadding: false })
    .replace(/[\u0085\u2028\u2029]/g, (c) => LINE_SEPARATOR_ESCAPES[c]!);
}

/** Plain scalars YAML 1.2's core schema reads as numbers, booleans or null (`0o17`, `.inf`, `~`). */
const YAML_12_SCALAR =
  /^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|true|True|TRUE|false|False|FALSE|null|Null|NULL|~)$/;

/** Characters YAML readers take for line breaks; written as escapes inside double quotes. */
const LINE_SEPARATORS = /[\u0085\u2028\u2029]/;
const LINE_SEPARATOR_ESCAPES: Readonly<Record<string, string>> = {
  "\u0085": "\\N",
  "\u2028": "\\L",
  "\u2029": "\\P",
};

/** Lists of short scalars are written on one line (`command: [sh, -c, "…"]`), as LinuxKit's examples do. */
const FLOW_MAX = 72;

function flowLength(items: readonly YAML.Scalar[]): number {
  return items.reduce((n, item) => n + JSON.stringify(item.value).length + 2, 2);
}

function exportKernel(kernel: Obj): Obj {
  const out: Obj = { ...kernel };
  if (out.binary === "kernel") delete out.binary;
  if (out.tar === "kernel.tar") delete out.tar;
  return out;
}

/** A container's fields with LinuxKit's keys and string forms. */
export function exportContainer(container: Obj): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(container)) {
    if (key === "rlimits") {
      out.rlimits = (value as readonly Obj[]).map(
        (r) => `${String(r.type)},${String(r.soft)},${String(r.hard)}`,
      );
    } else if (key === "mounts") {
      out.mounts = exportMounts(value as readonly Obj[]);
    } else if (key === "runtime" && isObj(value) && Array.isArray(value.mounts)) {
      out.runtime = { ...value, mounts: exportMounts(value.mounts as readonly Obj[]) };
    } else {
      out[CONTAINER_KEYS[key] ?? key] = value;
    }
  }
  return out;
}

function exportMounts(mounts: readonly Obj[]): Obj[] {
  return mounts.map((m) =>
    Object.fromEntries(Object.entries(m).map(([k, v]) => [MOUNT_KEYS[k] ?? k, v])),
  );
}

function exportFiles(manifest: Manifest, options: ExportOptions): Obj[] {
  const missing: string[] = [];
  const files = (manifest.files ?? []).map((file, i) => {
    const out: Obj = { ...file };
    const defaultMode = (
      file.directory === true ? FileMode.DIRECTORY_DEFAULT : FileMode.FILE_DEFAULT
    ).toString();
    if (out.mode === defaultMode) delete out.mode;
    const contents = file.contents;
    if (typeof contents === "object") {
      const inputs = options.inputs ?? {};
      const value = Object.hasOwn(inputs, contents.$input) ? inputs[contents.$input] : undefined;
      if (value === undefined)
        missing.push(
          `${renderPath(["files", i, "contents"], manifest)}: the input "${contents.$input}"`,
        );
      else out.contents = value;
    }
    return out;
  });
  if (missing.length > 0) {
    throw new OskitError(
      ErrorCode.Export,
      [
        "LinuxKit YAML cannot hold input placeholders; give each a value (oskit export --input NAME=VALUE):",
        ...missing.map((m) => `  ${m}`),
      ].join("\n"),
    );
  }
  return files;
}
