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
import { ownValue, setOwn } from "../objects";
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

/** The largest definition read (16 MiB): LinuxKit manifests are kilobytes, even with files inline. */
export const MAX_DEFINITION_BYTES = 16 * 1024 * 1024;
/** The deepest nesting of lists and mappings read; a LinuxKit manifest needs fewer than ten levels. */
export const MAX_DEFINITION_DEPTH = 64;

/**
 * A definition file's bytes as text: refused when larger than MAX_DEFINITION_BYTES or not UTF-8
 * (LinuxKit's YAML reader refuses such bytes too), with the file and the offset in the message.
 */
export function decodeDefinition(bytes: Uint8Array, filename: string): string {
  if (bytes.length > MAX_DEFINITION_BYTES) throw tooLarge(filename, bytes.length);
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    const at = firstInvalidUtf8(bytes);
    const what =
      at < bytes.length
        ? `invalid byte 0x${bytes[at]!.toString(16).padStart(2, "0")} at offset ${at}`
        : "a character cut off at the end";
    throw new ValidationError([
      { path: filename, message: `not UTF-8 text: ${what}; save the file as UTF-8` },
    ]);
  }
}

/** The refusal of a definition over MAX_DEFINITION_BYTES. */
export function tooLarge(filename: string, bytes: number): ValidationError {
  return new ValidationError([
    {
      path: filename,
      message: `${bytes} bytes is over the ${MAX_DEFINITION_BYTES / 1024 / 1024} MiB limit for a definition; keep large contents in files and name them with source:`,
    },
  ]);
}

/** Offset of the first byte that does not start or continue a valid UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const lead = bytes[i]!;
    const length =
      lead < 0x80 ? 1 : lead < 0xc2 ? 0 : lead < 0xe0 ? 2 : lead < 0xf0 ? 3 : lead < 0xf5 ? 4 : 0;
    if (length === 0) return i;
    // The second byte's range excludes overlong forms, surrogates and code points above U+10FFFF.
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    for (let k = 1; k < length; k++) {
      const next = bytes[i + k];
      if (next === undefined || next < (k === 1 ? low : 0x80) || next > (k === 1 ? high : 0xbf))
        return i + k;
    }
    i += length;
  }
  return bytes.length;
}

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
  const manifest = importLinuxkitData(merged, names.join(", "), problems);
  return { manifest, warnings };
}

/**
 * LinuxKit's manifest as plain data (already parsed and merged) → manifest; `earlier` holds
 * problems found before (they are reported together, and stop the schema check).
 */
export function importLinuxkitData(
  document: unknown,
  source: string,
  earlier: readonly Problem[] = [],
): Manifest {
  const merged =
    typeof document === "object" && document !== null && !Array.isArray(document)
      ? (document as Obj)
      : {};
  const converted: Problem[] = [];
  const raw = toOskit(merged, (path, message) =>
    converted.push({ path: renderPath(path, merged), message }),
  );
  const checked = earlier.length === 0 ? checkManifest(raw, { namer: linuxkitNamer }) : undefined;
  const all = [...earlier, ...converted, ...(checked?.ok === false ? checked.problems : [])];
  if (all.length > 0 || checked?.ok !== true) throw new ValidationError(all, { source });
  return checked.manifest;
}

/**
 * Parses YAML as LinuxKit's Go YAML library reads a manifest (merge keys included), except that
 * numbers written where LinuxKit wants text keep the text written: an unquoted mode (`mode: 0644`,
 * which LinuxKit refuses) is the octal string meant, and a sysctl value `1.10` stays "1.10".
 */
function parseYaml(text: string, filename: string, problems: Problem[]): unknown {
  if (text.length > MAX_DEFINITION_BYTES || Buffer.byteLength(text) > MAX_DEFINITION_BYTES) {
    problems.push(tooLarge(filename, Buffer.byteLength(text)).problems[0]!);
    return undefined;
  }
  const tooDeep = nestingBeyond(text, MAX_DEFINITION_DEPTH);
  if (tooDeep !== undefined) {
    problems.push({
      path: `${filename}:${tooDeep.line}:${tooDeep.col}`,
      message: `YAML: lists and mappings nested more than ${MAX_DEFINITION_DEPTH} levels deep; a LinuxKit manifest needs fewer than ten`,
    });
    return undefined;
  }
  const lineCounter = new YAML.LineCounter();
  const doc = YAML.parseDocument(text, {
    keepSourceTokens: true,
    prettyErrors: true,
    merge: true,
    lineCounter,
  });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return filename;
    const pos = lineCounter.linePos(offset);
    return `${filename}:${pos.line}:${pos.col}`;
  };
  for (const error of doc.errors) {
    const message = (error.message.split("\n")[0] ?? "").replace(/ at line \d+, column \d+:?$/, "");
    problems.push({ path: at(error.pos[0]), message: `YAML: ${message}` });
  }
  if (doc.errors.length > 0) return undefined;
  let complexKeys = false;
  YAML.visit(doc, {
    Pair(_, pair) {
      if (pair.key !== null && !YAML.isScalar(pair.key)) {
        problems.push({
          path: at(YAML.isNode(pair.key) ? pair.key.range?.[0] : undefined),
          message: "YAML: mapping keys must be plain text, not lists or mappings",
        });
        complexKeys = true;
        return;
      }
      const key = YAML.isScalar(pair.key) ? pair.key.value : undefined;
      if (key === "mode") keepSourceText(pair.value);
      if ((key === "sysctl" || key === "annotations") && YAML.isMap(pair.value)) {
        for (const item of pair.value.items) keepSourceText(item.value);
      }
    },
  });
  if (complexKeys) return undefined;
  try {
    return doc.toJS({ maxAliasCount: 100 }) as unknown;
  } catch (error) {
    problems.push({ path: filename, message: `YAML: ${(error as Error).message}` });
    return undefined;
  }
}

/**
 * Where the YAML nests collections deeper than `limit`, found on the parser's syntax tree with
 * an explicit stack: the document composer recurses once per level, and would overflow the stack.
 */
function nestingBeyond(text: string, limit: number): { line: number; col: number } | undefined {
  const lineCounter = new YAML.LineCounter();
  const stack: { token: unknown; depth: number }[] = [];
  for (const token of new YAML.Parser(lineCounter.addNewLine).parse(text))
    stack.push({ token, depth: 0 });
  while (stack.length > 0) {
    const { token, depth } = stack.pop()!;
    if (typeof token !== "object" || token === null) continue;
    const t = token as {
      type?: string;
      offset?: number;
      value?: unknown;
      items?: { key?: unknown; value?: unknown }[];
    };
    if (t.type === "document") {
      stack.push({ token: t.value, depth });
      continue;
    }
    if (t.items === undefined) continue;
    if (depth >= limit) return lineCounter.linePos(t.offset ?? 0);
    for (const item of t.items) {
      stack.push({ token: item.key, depth: depth + 1 });
      stack.push({ token: item.value, depth: depth + 1 });
    }
  }
  return undefined;
}

/** A number or boolean scalar becomes the text it was written as. */
function keepSourceText(node: unknown): void {
  if (!YAML.isScalar(node) || (typeof node.value !== "number" && typeof node.value !== "boolean"))
    return;
  const source = node.srcToken;
  node.value = source !== undefined && "source" in source ? source.source : String(node.value);
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
            : (KERNEL_PRESENT_OVERRIDES as readonly string[]).includes(field) ||
              !Object.hasOwn(kernel, field);
          if (overrides) setOwn(kernel, field, v);
        }
      } else if ((LIST_SECTIONS as readonly string[]).includes(key)) {
        if (value === null) continue;
        const previous = merged[key];
        if (Array.isArray(previous) && Array.isArray(value))
          setOwn(merged, key, [...(previous as unknown[]), ...(value as unknown[])]);
        else setOwn(merged, key, value);
      } else {
        setOwn(merged, key, value);
      }
    }
  });
  return merged;
}

/** LinuxKit's key names and string forms → oskit's, reporting what cannot be converted. */
function toOskit(lk: Obj, report: (path: Path, message: string) => void): Obj {
  const out: Obj = { ...lk };
  if (isObj(lk.kernel)) out.kernel = withoutEmpty(lk.kernel, ["binary", "ucode"]);
  for (const section of CONTAINER_SECTIONS) {
    const list = lk[section];
    if (!Array.isArray(list)) continue;
    out[section] = list.map((entry, i) =>
      isObj(entry) ? convertContainer(entry, [section, i], report) : (entry as unknown),
    );
  }
  if (Array.isArray(lk.files)) {
    out.files = lk.files.map((file: unknown, i) => {
      if (!isObj(file)) return file;
      if (typeof file.contents === "object" && file.contents !== null) {
        report(
          ["files", i, "contents"],
          "expected text; input placeholders exist only in TypeScript definitions (oskit.input)",
        );
      }
      return withoutEmpty(file, ["source", "symlink", "metadata"]);
    });
  }
  if (Array.isArray(lk.volumes)) {
    out.volumes = lk.volumes.map((v: unknown) =>
      isObj(v) ? withoutEmpty(v, ["image", "format"]) : v,
    );
  }
  return out;
}

/** LinuxKit's Go structs read an empty string as "not set" for these fields; so does the import. */
function withoutEmpty(entry: Obj, fields: readonly string[]): Obj {
  const out: Obj = { ...entry };
  for (const field of fields) if (out[field] === "") delete out[field];
  return out;
}

function convertContainer(
  entry: Obj,
  at: Path,
  report: (path: Path, message: string) => void,
): Obj {
  const out: Obj = {};
  for (const [key, value] of Object.entries(entry)) {
    const linuxkitName = ownValue(CONTAINER_KEYS, key);
    if (linuxkitName !== undefined) {
      report([...at, key], `unknown field; did you mean "${linuxkitName}"?`);
      continue;
    }
    setOwn(out, ownValue(CONTAINER_KEYS_FROM_LINUXKIT, key) ?? key, value);
  }
  if (Array.isArray(out.rlimits))
    out.rlimits = parseRlimits(out.rlimits, [...at, "rlimits"], report);
  for (const field of ["sysctl", "annotations"] as const) {
    if (isObj(out[field])) out[field] = stringValues(out[field]);
  }
  for (const field of NAMESPACE_FIELDS) if (out[field] === "root") out[field] = "host";
  for (const field of [...NAMESPACE_FIELDS, "cwd", "hostname", "cgroupsPath"])
    if (out[field] === "") delete out[field];
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
      const linuxkitName = ownValue(MOUNT_KEYS, key);
      if (linuxkitName !== undefined) {
        report([...at, i, key], `unknown field; did you mean "${linuxkitName}"?`);
        continue;
      }
      setOwn(out, ownValue(MOUNT_KEYS_FROM_LINUXKIT, key) ?? key, value);
    }
    return out;
  });
}

/** `"nofile,100,200"` → `{ type: "nofile", soft: 100, hard: 200 }`; undefined if any entry is bad. */
function parseRlimits(
  list: unknown[],
  at: Path,
  report: (path: Path, message: string) => void,
): Obj[] {
  return list.map((entry, i) => {
    const parsed = parseRlimit(entry);
    if (typeof parsed === "string") {
      report([...at, i], parsed);
      return { ...RLIMIT_STAND_IN };
    }
    return parsed;
  });
}

/** Stands in for an rlimit that could not be read, so the other entries are still checked at their places. */
const RLIMIT_STAND_IN = { type: "nofile", soft: 0, hard: 0 };

/** `"nofile,100,200"` → `{ type, soft, hard }`, or what is wrong with it. */
function parseRlimit(entry: unknown): Obj | string {
  const form = `expected "type,soft,hard" (e.g. "nofile,1024,4096")`;
  if (typeof entry !== "string")
    return `${form}, got ${Array.isArray(entry) ? "a list" : `a ${typeof entry}`}`;
  const parts = entry.split(",");
  if (parts.length !== 3) return `${form}, got "${entry}"`;
  const type = normalizeRlimitType(parts[0]!);
  if (type === undefined)
    return `unknown rlimit "${parts[0]!.trim()}"; expected one of ${RLIMIT_TYPES.join(", ")}`;
  const values = [parts[1]!, parts[2]!].map((text) => {
    const value = parseRlimitValue(text);
    if (value !== undefined) return value;
    return /^\s*\d+\s*$/.test(text)
      ? `the limit ${text.trim()} is above ${Number.MAX_SAFE_INTEGER}, the largest oskit holds exactly; use "unlimited" for no limit`
      : `expected non-negative integer limits or "unlimited", got "${entry}"`;
  });
  const problem = values.find((v) => typeof v === "string" && v !== "unlimited");
  if (problem !== undefined) return problem as string;
  return { type, soft: values[0], hard: values[1] };
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
