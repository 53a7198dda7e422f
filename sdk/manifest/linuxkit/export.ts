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
  const document = new YAML.Document(doc, { aliasDuplicateObjects: false });
  YAML.visit(document, {
    Seq(_, seq) {
      const scalars = seq.items.filter((item) => YAML.isScalar(item));
      if (scalars.length === seq.items.length && flowLength(scalars) <= FLOW_MAX) seq.flow = true;
    },
  });
  return document.toString({ lineWidth: 0, flowCollectionPadding: false });
}

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

function exportContainer(container: Obj): Obj {
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
      const value = options.inputs?.[contents.$input];
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
