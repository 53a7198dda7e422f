/**
 * Renderings of an OS diff: text for a terminal (coloured when asked), markdown for a pull
 * request comment, JSON for tools. All three read the same rows, so they say the same things.
 */
import { canonicalJson } from "../canonical";
import type { Change, ContentsSide, FieldChange, ImageChange, OsDiff } from "./compute";

export const DIFF_FORMATS = ["text", "markdown", "json"] as const;
export type DiffFormat = (typeof DIFF_FORMATS)[number];

export interface RenderOptions {
  /** ANSI colours in the text rendering. @default false */
  readonly color?: boolean;
}

/** One line of a rendered diff. */
interface Row {
  readonly sign: "+" | "-" | "~" | "↕";
  readonly path: string;
  /** Description with values marked by the renderer's `code`. */
  readonly text: string;
  /** Unified diff lines of a file's contents. */
  readonly patch?: readonly string[];
}

type Code = (value: unknown) => string;

export function renderDiff(diff: OsDiff, format: DiffFormat, options: RenderOptions = {}): string {
  switch (format) {
    case "text":
      return renderText(diff, options.color ?? false);
    case "markdown":
      return renderMarkdown(diff);
    case "json":
      return `${JSON.stringify(diff, null, 2)}\n`;
    default: {
      const never: never = format;
      throw new Error(`unknown diff format ${String(never)}`);
    }
  }
}

/** A value as one line of plain text: control characters and line separators written as escapes. */
function display(value: unknown): string {
  return visible(typeof value === "string" ? value : canonicalJson(value));
}

/** Text with its control characters (but tab) and Unicode line separators escaped, so output cannot drive a terminal or break a line. */
export function visible(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, (c) => {
    if (c === "\t") return c;
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
  });
}

function rows(diff: OsDiff, code: Code): Row[] {
  const out: Row[] = [];
  for (const change of diff.changes) out.push(...changeRows(change, code));
  return out;
}

function changeRows(change: Change, code: Code): Row[] {
  const { path } = change;
  switch (change.kind) {
    case "added":
      return [{ sign: "+", path, text: `added${addedDetail(change, code)}` }];
    case "removed":
      return [{ sign: "-", path, text: `removed${addedDetail(change, code, "was ")}` }];
    case "moved":
      return [{ sign: "↕", path, text: `moved from ${code(change.from)} to ${code(change.to)}` }];
    case "changed":
      return (change.fields ?? []).flatMap((f) => fieldRows(fieldPath(path, f.field), f, code));
    default: {
      const never: never = change.kind;
      throw new Error(`unknown change ${String(never)}`);
    }
  }
}

function fieldPath(path: string, field: string): string {
  if (field === "") return path;
  return field.startsWith("[") ? `${path}${field}` : `${path}.${field}`;
}

function addedDetail(change: Change, code: Code, prefix = ""): string {
  if (change.summary === undefined) return "";
  if (change.subject === "container" || change.subject === "kernel")
    return ` (${prefix}image ${code(change.summary)})`;
  return ` (${prefix}${code(change.summary)})`;
}

function fieldRows(path: string, f: FieldChange, code: Code): Row[] {
  if (f.image !== undefined) return [{ sign: "~", path, text: imageText(f.image, code) }];
  if (f.contents !== undefined) {
    const { before, after, patch } = f.contents;
    return [{ sign: "~", path, text: contentsText(before, after, code), ...(patch && { patch }) }];
  }
  if (f.reordered === true || f.added !== undefined || f.removed !== undefined) {
    return [
      ...(f.removed ?? []).map((v): Row => ({ sign: "-", path, text: `- ${code(v)}` })),
      ...(f.added ?? []).map((v): Row => ({ sign: "+", path, text: `+ ${code(v)}` })),
      ...(f.reordered === true
        ? [{ sign: "~" as const, path, text: `order: ${code(f.before)} → ${code(f.after)}` }]
        : []),
    ];
  }
  if (f.before === undefined) return [{ sign: "+", path, text: `set to ${code(f.after)}` }];
  if (f.after === undefined) return [{ sign: "-", path, text: `unset (was ${code(f.before)})` }];
  return [{ sign: "~", path, text: `${code(f.before)} → ${code(f.after)}` }];
}

function imageText(image: ImageChange, code: Code): string {
  const parts: string[] = [];
  if (image.repository) parts.push(`repository ${image.repository[0]} → ${image.repository[1]}`);
  if (image.tag) parts.push(`tag ${image.tag[0] || "(none)"} → ${image.tag[1] || "(none)"}`);
  if (image.digest)
    parts.push(`digest ${shortDigest(image.digest[0])} → ${shortDigest(image.digest[1])}`);
  const detail = parts.length > 0 ? ` (${parts.join("; ")})` : "";
  return `${code(image.before)} → ${code(image.after)}${detail}`;
}

function shortDigest(digest: string): string {
  if (digest === "") return "(none)";
  const [algorithm, hex = ""] = digest.split(":");
  return `${algorithm}:${hex.slice(0, 12)}…`;
}

function side(s: ContentsSide, code: Code): string {
  switch (s.kind) {
    case "none":
      return "no contents";
    case "input":
      return `the input ${code(s.name)}`;
    case "binary":
      return `binary, ${s.size} bytes, ${code(s.sha256)}`;
    case "text":
      return `text, ${s.size} bytes`;
    default: {
      const never: never = s;
      throw new Error(`unknown contents ${String(never)}`);
    }
  }
}

function contentsText(before: ContentsSide, after: ContentsSide, code: Code): string {
  if (before.kind === "text" && after.kind === "text") {
    return `text changed (${before.size} → ${after.size} bytes)`;
  }
  // An input's value is never shown or hashed here: a hash of a short secret gives it away.
  if (before.kind === "input" || after.kind === "input") {
    return `changed: ${side(before, code)} → ${side(after, code)}`;
  }
  return `${side(before, code)} → ${side(after, code)}`;
}

function summaryCounts(diff: OsDiff): string {
  const count = (kind: Change["kind"]) => diff.changes.filter((c) => c.kind === kind).length;
  const parts = (["added", "removed", "changed", "moved"] as const)
    .map((k) => [k, count(k)] as const)
    .filter(([, n]) => n > 0)
    .map(([k, n]) => `${n} ${k}`);
  return parts.join(", ");
}

// --- text ----------------------------------------------------------------------------------

const ANSI = { red: 31, green: 32, yellow: 33, cyan: 36, bold: 1, dim: 2 } as const;

function renderText(diff: OsDiff, color: boolean): string {
  if (diff.equal) return "";
  const paint = (c: keyof typeof ANSI, s: string) =>
    color ? `\u001b[${ANSI[c]}m${s}\u001b[0m` : s;
  const signColor = { "+": "green", "-": "red", "~": "yellow", "↕": "cyan" } as const;
  const lines: string[] = [];
  for (const row of rows(diff, display)) {
    lines.push(`${paint("bold", visible(row.path))}: ${paint(signColor[row.sign], row.text)}`);
    for (const line of row.patch ?? []) {
      const c = line.startsWith("+")
        ? "green"
        : line.startsWith("-")
          ? "red"
          : line.startsWith("@@")
            ? "cyan"
            : "dim";
      lines.push(`    ${paint(c, visible(line))}`);
    }
  }
  return `${lines.join("\n")}\n`;
}

// --- markdown ------------------------------------------------------------------------------

const MD_SIGN = { "+": "➕", "-": "➖", "~": "✏️", "↕": "↕️" } as const;

/** A code span safe in a table cell: no line breaks, pipes escaped, fenced past any backticks. */
function mdCode(value: unknown): string {
  const text = display(value).replace(/\|/g, "\\|");
  const longest = Math.max(0, ...(text.match(/`+/g) ?? []).map((m) => m.length));
  const fence = "`".repeat(longest + 1);
  const pad = text.startsWith("`") || text.endsWith("`") ? " " : "";
  return `${fence}${pad}${text}${pad}${fence}`;
}

function renderMarkdown(diff: OsDiff): string {
  const heading = "### OS diff";
  const digests = `${mdCode(shortDigest(diff.before.digest))} → ${mdCode(shortDigest(diff.after.digest))}`;
  if (diff.equal)
    return `${heading}\n\nNo changes to the operating system (${mdCode(shortDigest(diff.after.digest))}).\n`;
  const table = rows(diff, mdCode);
  const out = [
    heading,
    "",
    `${digests}: ${summaryCounts(diff)}`,
    "",
    "| | Where | Change |",
    "| --- | --- | --- |",
  ];
  for (const row of table) out.push(`| ${MD_SIGN[row.sign]} | ${mdCode(row.path)} | ${row.text} |`);
  for (const row of table.filter((r) => r.patch !== undefined)) {
    const body = row.patch!.map(visible).join("\n");
    const fence = "`".repeat(Math.max(3, ...(body.match(/`{3,}/g) ?? []).map((m) => m.length + 1)));
    out.push(
      "",
      `<details><summary><code>${escapeHtml(visible(row.path))}</code></summary>`,
      "",
      `${fence}diff`,
      body,
      fence,
      "",
      "</details>",
    );
  }
  return `${out.join("\n")}\n`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
