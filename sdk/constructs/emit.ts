/**
 * Manifest → readable TypeScript that builds the same system with oskit's constructs; what
 * `oskit import linuxkit.yml` prints. Synthesizing the emitted program gives the same manifest.
 */
import { FileMode } from "../manifest/mode";
import type { ContainerSpec, FileSpec, Manifest } from "../manifest/schema";

const WIDTH = 100;
const INDENT = "  ";

/**
 * A piece of code: a plain value (printed as a literal), Raw code or a Call. Raw and Call are
 * classes of this module, so no value from a manifest can pass for code.
 */
type Code = unknown;
class Raw {
  constructor(readonly code: string) {}
}
class Call {
  constructor(
    readonly callee: string,
    readonly args: readonly Code[],
  ) {}
}
const isCall = (v: unknown): v is Call => v instanceof Call;
const isRaw = (v: unknown): v is Raw => v instanceof Raw;

export interface EmitOptions {
  /** Where the definition came from, named in a comment at the top. */
  readonly source?: string;
  /** Module to import oskit from. @default "oskit" */
  readonly moduleName?: string;
}

/** TypeScript source whose default export is an `oskit.Image` equal to the manifest. */
export function emitTypescript(manifest: Manifest, options: EmitOptions = {}): string {
  const props: Record<string, Code> = {};
  if (manifest.kernel) {
    const { image, cmdline, binary, tar, ucode } = manifest.kernel;
    props.kernel = new Call("new oskit.Kernel", [
      {
        image,
        ...(cmdline !== undefined && { cmdline }),
        ...(binary !== "kernel" && { binary }),
        ...(tar !== "kernel.tar" && { tar }),
        ...(ucode !== undefined && { ucode }),
      },
    ]);
  }
  if (manifest.init) props.init = manifest.init;
  if (manifest.volumes)
    props.volumes = manifest.volumes.map((v) => new Call("new oskit.Volume", [v]));
  for (const section of ["onboot", "onshutdown", "services"] as const) {
    const list = manifest[section];
    if (list) props[section] = list.map((c) => new Call("new oskit.Service", [serviceProps(c)]));
  }
  if (manifest.files) props.files = manifest.files.map(fileCode);
  const header = [
    ...(options.source === undefined
      ? []
      : [
          `// Imported from ${options.source.replace(/[\p{Cc}\u2028\u2029]/gu, "?")} by \`oskit import\`.`,
        ]),
    `import * as oskit from ${JSON.stringify(options.moduleName ?? "oskit")};`,
    "",
  ];
  const body = `export default ${print(new Call("new oskit.Image", [props]), 0, "export default ".length)};`;
  return `${[...header, body].join("\n")}\n`;
}

function serviceProps(c: ContainerSpec): Record<string, Code> {
  const { name, image, ...rest } = c;
  const out: Record<string, Code> = { name, image };
  for (const [key, value] of Object.entries(rest)) {
    out[key] =
      key === "devices" ? (value as readonly Record<string, unknown>[]).map(withOctalMode) : value;
  }
  return out;
}

function withOctalMode(o: Readonly<Record<string, unknown>>): Record<string, Code> {
  return typeof o.mode === "string" ? { ...o, mode: octal(o.mode) } : { ...o };
}

function octal(mode: string): Code {
  return new Raw(`0o${FileMode.parse(mode).bits.toString(8)}`);
}

/** A file as the shortest factory call that says it. */
function fileCode(f: FileSpec): Code {
  const { path, mode, uid, gid, contents, source, optional, metadata, symlink, directory } = f;
  const defaultMode = (
    directory === true ? FileMode.DIRECTORY_DEFAULT : FileMode.FILE_DEFAULT
  ).toString();
  const options: Record<string, Code> = {
    ...(mode !== defaultMode && { mode: octal(mode) }),
    ...(uid !== undefined && { uid }),
    ...(gid !== undefined && { gid }),
    ...(optional === true && { optional }),
  };
  const tail = Object.keys(options).length > 0 ? [options] : [];
  if (directory === true) return new Call("oskit.File.directory", [path, ...tail]);
  if (symlink !== undefined) return new Call("oskit.File.symlink", [path, symlink, ...tail]);
  if (source !== undefined) return new Call("oskit.File.fromHost", [path, source, ...tail]);
  if (metadata !== undefined) return new Call("oskit.File.metadata", [path, metadata, ...tail]);
  const text: Code =
    typeof contents === "object" ? new Call("oskit.input", [contents.$input]) : (contents ?? "");
  return new Call("oskit.File.text", [path, text, ...tail]);
}

// --- printing ------------------------------------------------------------------------------

/** Prints code at an indentation level; `used` is how much of the first line is taken already. */
function print(value: Code, level: number, used = 0): string {
  const flat = printFlat(value);
  if (flat !== undefined && level * INDENT.length + used + flat.length <= WIDTH) return flat;
  const pad = INDENT.repeat(level + 1);
  const close = INDENT.repeat(level);
  if (isCall(value)) {
    const [only] = value.args;
    if (
      value.args.length === 1 &&
      typeof only === "object" &&
      only !== null &&
      !isRaw(only) &&
      !isCall(only)
    ) {
      return `${value.callee}(${print(only, level, value.callee.length + 1)})`;
    }
    const args = value.args.map((a) => `${pad}${print(a, level + 1)},`);
    return `${value.callee}(\n${args.join("\n")}\n${close})`;
  }
  if (Array.isArray(value)) {
    const items = value.map((item: Code) => `${pad}${print(item, level + 1)},`);
    return `[\n${items.join("\n")}\n${close}]`;
  }
  if (isObject(value)) {
    const entries = Object.entries(value).map(([k, v]) => {
      const key = propertyKey(k);
      return `${pad}${key}: ${print(v, level + 1, key.length + 2)},`;
    });
    return `{\n${entries.join("\n")}\n${close}}`;
  }
  return literal(value);
}

/** The one-line form, or undefined when the value cannot be written on one line. */
function printFlat(value: Code): string | undefined {
  if (isRaw(value)) return value.code;
  if (isCall(value)) {
    const args = value.args.map(printFlat);
    return args.includes(undefined) ? undefined : `${value.callee}(${args.join(", ")})`;
  }
  if (Array.isArray(value)) {
    const items = value.map((v: Code) => printFlat(v));
    return items.includes(undefined) ? undefined : `[${items.join(", ")}]`;
  }
  if (isObject(value)) {
    const entries = Object.entries(value).map(([k, v]) => {
      const flat = printFlat(v);
      return flat === undefined ? undefined : `${propertyKey(k)}: ${flat}`;
    });
    if (entries.includes(undefined)) return undefined;
    return entries.length === 0 ? "{}" : `{ ${entries.join(", ")} }`;
  }
  if (typeof value === "string" && value.includes("\n")) return undefined;
  return literal(value);
}

function isObject(value: unknown): value is Record<string, Code> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    !isRaw(value) &&
    !isCall(value)
  );
}

function literal(value: unknown): string {
  if (isRaw(value)) return value.code;
  if (typeof value === "string") {
    if (value.includes("\n")) return templateLiteral(value);
    return JSON.stringify(value);
  }
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "null";
  throw new Error(`cannot write ${typeof value} as TypeScript`);
}

/** A multi-line string as a template literal: backslashes, backticks, `${` and control characters escaped. */
function templateLiteral(text: string): string {
  const body = text
    .replace(/\\/g, "\\\\")
    .replace(/`/g, "\\`")
    .replace(/\$\{/g, "\\${")
    .replace(
      /[^\t\n\P{Cc}]|\p{Cs}/gu,
      (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
    );
  return `\`${body}\``;
}

function propertyKey(key: string): string {
  return /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key) ? key : JSON.stringify(key);
}
