/**
 * LinuxKit YAML → manifest. Several files merge as `linuxkit build a.yml b.yml` merges them:
 * later kernel fields override earlier ones, list sections append. Then LinuxKit's key names and
 * string forms (`capabilities.add`, `"nofile,100,200"`) become oskit's, and the result is
 * validated like any other definition, with problems named in LinuxKit's vocabulary.
 */
import YAML from "yaml";
import { ValidationError, type Problem } from "../../errors";
import { renderPath } from "../issues";
import { normalizeRlimitType, parseRlimitValue, RLIMIT_TYPES } from "../rlimits";
import { CONTAINER_SECTIONS, type Manifest } from "../schema";
import { checkManifest } from "../validate";
import { CONTAINER_KEYS, invert, linuxkitNamer, MOUNT_KEYS } from "./keys";

/** One LinuxKit YAML document and the name to report it by. */
export interface LinuxkitSource {
  readonly text: string;
  /** File name used in messages. @default "<yaml>" */
  readonly filename?: string;
}

export interface ImportResult {
  readonly manifest: Manifest;
  /** Things accepted but not acted on (such as `trust`), one sentence each. */
  readonly warnings: readonly string[];
}

type Obj = Record<string, unknown>;
type Path = PropertyKey[];
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

const LIST_SECTIONS = ["init", ...CONTAINER_SECTIONS, "files", "volumes"] as const;
const KERNEL_STRING_OVERRIDES = ["image", "cmdline", "binary"] as const;
const KERNEL_PRESENT_OVERRIDES = ["tar", "ucode"] as const;
const NAMESPACE_FIELDS = ["net", "pid", "ipc", "uts", "userns"] as const;
const CONTAINER_KEYS_FROM_LINUXKIT = invert(CONTAINER_KEYS);
const MOUNT_KEYS_FROM_LINUXKIT = invert(MOUNT_KEYS);

/** Imports one or more LinuxKit YAML documents; throws a ValidationError listing every problem. */
export function importLinuxkit(sources: LinuxkitSource | readonly LinuxkitSource[]): ImportResult {
  const list = Array.isArray(sources)
    ? (sources as readonly LinuxkitSource[])
    : [sources as LinuxkitSource];
  const names = list.map((s) => s.filename ?? "<yaml>");
  const problems: Problem[] = [];
  const warnings: string[] = [];
  const documents = list.map((source, i) => parseYaml(source.text, names[i]!, problems));
  const merged = mergeDocuments(documents, names, problems, warnings);
  const converted: Problem[] = [];
  const raw = toOskit(merged, (path, message) =>
    converted.push({ path: renderPath(path, merged), message }),
  );
  const checked = problems.length === 0 ? checkManifest(raw, { namer: linuxkitNamer }) : undefined;
  const all = [...problems, ...converted, ...(checked?.ok === false ? checked.problems : [])];
  if (all.length > 0 || checked?.ok !== true) {
    throw new ValidationError(all, { source: names.join(", ") });
  }
  return { manifest: checked.manifest, warnings };
}

/**
 * Parses YAML as LinuxKit's Go YAML library reads it for a manifest, except that an unquoted mode
 * (`mode: 0644`, which LinuxKit refuses) is read as the octal string it was meant to be.
 */
function parseYaml(text: string, filename: string, problems: Problem[]): unknown {
  const doc = YAML.parseDocument(text, { keepSourceTokens: true, prettyErrors: true });
  for (const error of doc.errors) {
    const pos = error.linePos?.[0];
    const where = pos === undefined ? filename : `${filename}:${pos.line}:${pos.col}`;
    const message = (error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    problems.push({ path: where, message: `YAML: ${message}` });
  }
  if (doc.errors.length > 0) return undefined;
  YAML.visit(doc, {
    Pair(_, pair) {
      if (
        YAML.isScalar(pair.key) &&
        pair.key.value === "mode" &&
        YAML.isScalar(pair.value) &&
        typeof pair.value.value === "number"
      ) {
        const source = pair.value.srcToken;
        pair.value.value =
          source !== undefined && "source" in source ? source.source : String(pair.value.value);
      }
    },
  });
  return doc.toJS({ maxAliasCount: 100 }) as unknown;
}

/** LinuxKit's AppendConfig: kernel fields override when set, list sections append, trust is dropped. */
function mergeDocuments(
  documents: readonly unknown[],
  names: readonly string[],
  problems: Problem[],
  warnings: string[],
): Obj {
  const merged: Obj = {};
  documents.forEach((doc, i) => {
    const name = names[i]!;
    if (doc === undefined || doc === null) return;
    if (!isObj(doc)) {
      problems.push({
        path: name,
        message: "expected a mapping of sections (kernel, init, onboot, …) at the top level",
      });
      return;
    }
    for (const [key, value] of Object.entries(doc)) {
      if (key === "trust") {
        warnings.push(
          `${name}: "trust" is accepted and ignored; oskit verifies every blob by its digest — pin images with @sha256:… for the same guarantee`,
        );
      } else if (key === "kernel" && isObj(value) && isObj(merged.kernel)) {
        const kernel = merged.kernel;
        for (const [field, v] of Object.entries(value)) {
          const overrides = (KERNEL_STRING_OVERRIDES as readonly string[]).includes(field)
            ? v !== "" && v !== null && v !== undefined
            : (KERNEL_PRESENT_OVERRIDES as readonly string[]).includes(field) || !(field in kernel);
          if (overrides) kernel[field] = v;
        }
      } else if ((LIST_SECTIONS as readonly string[]).includes(key)) {
        if (value === null) continue;
        const previous = merged[key];
        if (Array.isArray(previous) && Array.isArray(value))
          merged[key] = [...(previous as unknown[]), ...(value as unknown[])];
        else merged[key] = value;
      } else {
        merged[key] = value;
      }
    }
  });
  return merged;
}

/** LinuxKit's key names and string forms → oskit's, reporting what cannot be converted. */
function toOskit(lk: Obj, report: (path: Path, message: string) => void): Obj {
  const out: Obj = { ...lk };
  for (const section of CONTAINER_SECTIONS) {
    const list = lk[section];
    if (!Array.isArray(list)) continue;
    out[section] = list.map((entry, i) =>
      isObj(entry) ? convertContainer(entry, [section, i], report) : (entry as unknown),
    );
  }
  return out;
}

function convertContainer(
  entry: Obj,
  at: Path,
  report: (path: Path, message: string) => void,
): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(entry)) {
    if (key in CONTAINER_KEYS) {
      report([...at, key], `unknown field; did you mean "${CONTAINER_KEYS[key]}"?`);
      continue;
    }
    const name = CONTAINER_KEYS_FROM_LINUXKIT[key] ?? key;
    out[name] = value;
  }
  if (Array.isArray(out.rlimits)) {
    const parsed = parseRlimits(out.rlimits, [...at, "rlimits"], report);
    if (parsed === undefined) delete out.rlimits;
    else out.rlimits = parsed;
  }
  for (const field of ["sysctl", "annotations"] as const) {
    if (isObj(out[field])) out[field] = stringValues(out[field]);
  }
  for (const field of NAMESPACE_FIELDS) {
    if (out[field] === "root") out[field] = "host";
    if (out[field] === "") delete out[field];
  }
  for (const field of ["capabilities", "capabilitiesAdd", "ambient"] as const) {
    const list = out[field];
    if (Array.isArray(list) && list.length === 1 && typeof list[0] === "string") {
      const lower = list[0].toLowerCase();
      if (lower === "all" || lower === "none") out[field] = [lower];
    }
  }
  if (Array.isArray(out.mounts)) {
    out.mounts = convertMounts(out.mounts, [...at, "mounts"], report);
  }
  if (isObj(out.runtime) && Array.isArray(out.runtime.mounts)) {
    out.runtime = {
      ...out.runtime,
      mounts: convertMounts(out.runtime.mounts, [...at, "runtime", "mounts"], report),
    };
  }
  return out;
}

function convertMounts(
  mounts: unknown[],
  at: Path,
  report: (path: Path, message: string) => void,
): unknown[] {
  return mounts.map((mount, i) => {
    if (!isObj(mount)) return mount;
    const out: Obj = {};
    for (const [key, value] of Object.entries(mount)) {
      if (key in MOUNT_KEYS) {
        report([...at, i, key], `unknown field; did you mean "${MOUNT_KEYS[key]}"?`);
        continue;
      }
      out[MOUNT_KEYS_FROM_LINUXKIT[key] ?? key] = value;
    }
    return out;
  });
}

/** `"nofile,100,200"` → `{ type: "nofile", soft: 100, hard: 200 }`; undefined if any entry is bad. */
function parseRlimits(
  list: unknown[],
  at: Path,
  report: (path: Path, message: string) => void,
): Obj[] | undefined {
  const out: Obj[] = [];
  let ok = true;
  list.forEach((entry, i) => {
    const fail = (message: string) => {
      report([...at, i], message);
      ok = false;
    };
    if (typeof entry !== "string")
      return fail(
        `expected "type,soft,hard" (e.g. "nofile,1024,4096"), got a ${Array.isArray(entry) ? "list" : typeof entry}`,
      );
    const parts = entry.split(",");
    if (parts.length !== 3)
      return fail(`expected "type,soft,hard" (e.g. "nofile,1024,4096"), got "${entry}"`);
    const type = normalizeRlimitType(parts[0]!);
    if (type === undefined)
      return fail(
        `unknown rlimit "${parts[0]!.trim()}"; expected one of ${RLIMIT_TYPES.join(", ")}`,
      );
    const soft = parseRlimitValue(parts[1]!);
    const hard = parseRlimitValue(parts[2]!);
    if (soft === undefined || hard === undefined) {
      return fail(`expected non-negative integer limits or "unlimited", got "${entry}"`);
    }
    out.push({ type, soft, hard });
  });
  return ok ? out : undefined;
}

/** LinuxKit's string maps (sysctl, annotations): YAML numbers and booleans become their text. */
function stringValues(map: Obj): Obj {
  return Object.fromEntries(
    Object.entries(map).map(([k, v]) => [
      k,
      typeof v === "number" || typeof v === "boolean" ? String(v) : v,
    ]),
  );
}
