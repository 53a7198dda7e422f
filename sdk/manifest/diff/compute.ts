/**
 * The semantic OS diff: what changes in the running system between two manifests. Containers
 * are matched by name (across sections, so a container moved from onboot to services is a move,
 * not a removal and an addition), files by path, volumes by name; order changes are reported as
 * moves, because order decides when onboot containers run and which ids containers get.
 */
import { structuredPatch } from "diff";
import { canonicalJson, manifestDigest } from "../canonical";
import { Digest } from "../digest";
import { ImageRef } from "../reference";
import { CONTAINER_SECTIONS, type Manifest } from "../schema";

/** What a change is about. */
export type Subject = "kernel" | "init" | "container" | "file" | "volume";

/** How an image reference changed, part by part. */
export interface ImageChange {
  readonly before: string;
  readonly after: string;
  /** Set when the repository changed. */
  readonly repository?: readonly [string, string];
  /** Set when the tag changed (an empty string for no tag). */
  readonly tag?: readonly [string, string];
  /** Set when the digest changed (an empty string for no digest). */
  readonly digest?: readonly [string, string];
}

/** A file's contents on one side: text, an input placeholder, or binary data (never shown). */
export type ContentsSide =
  | { readonly kind: "text"; readonly size: number }
  | { readonly kind: "binary"; readonly size: number; readonly sha256: string }
  | { readonly kind: "input"; readonly name: string }
  | { readonly kind: "none" };

export interface ContentsChange {
  readonly before: ContentsSide;
  readonly after: ContentsSide;
  /** Unified diff hunks (lines starting with ' ', '+', '-' under '@@' headers) when both sides are text. */
  readonly patch?: readonly string[];
}

/** One field of a container, file, volume or the kernel that changed. */
export interface FieldChange {
  /**
   * Field path relative to the subject: `capabilities`, `resources.memory.limit`,
   * `sysctl[vm.swappiness]`, `[linuxkit/init]` (an init image), or "" for the subject itself.
   */
  readonly field: string;
  readonly before?: unknown;
  readonly after?: unknown;
  /** Entries added to a list whose order does not matter. */
  readonly added?: readonly unknown[];
  /** Entries removed from a list whose order does not matter. */
  readonly removed?: readonly unknown[];
  /** The order changed (of the entries both sides have); `before` and `after` hold the whole lists. */
  readonly reordered?: boolean;
  readonly image?: ImageChange;
  readonly contents?: ContentsChange;
}

export interface Change {
  readonly kind: "added" | "removed" | "changed" | "moved";
  readonly subject: Subject;
  /** Where, in the manifest's vocabulary: `services[web]`, `files[/etc/motd]`, `kernel`, `init`. */
  readonly path: string;
  /** For additions and removals: the image, or what the file is. */
  readonly summary?: string;
  /** For moves: old and new position, e.g. `onboot[0]` → `services[2]`. */
  readonly from?: string;
  readonly to?: string;
  readonly fields?: readonly FieldChange[];
}

export interface OsDiff {
  /** True when the two manifests describe the same system (equal canonical JSON). */
  readonly equal: boolean;
  readonly before: { readonly digest: string };
  readonly after: { readonly digest: string };
  readonly changes: readonly Change[];
}

type Obj = Readonly<Record<string, unknown>>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const same = (a: unknown, b: unknown): boolean => canonicalJson(a) === canonicalJson(b);

/** Lists shown whole, before → after: a command's arguments. */
const ORDERED_LISTS = new Set(["command"]);
/** Lists whose order means nothing (LinuxKit sorts capabilities); other lists report order changes too. */
const ORDERLESS_LISTS = new Set(["capabilities", "capabilitiesAdd", "ambient"]);
/** Maps whose keys render in brackets. */
const MAPS = new Set(["sysctl", "annotations"]);

/** Compares two manifests. */
export function diffManifests(before: Manifest, after: Manifest): OsDiff {
  const changes: Change[] = [];
  diffKernel(before, after, changes);
  diffInit(before.init ?? [], after.init ?? [], changes);
  diffContainers(before, after, changes);
  diffKeyed("volume", "volumes", "name", before.volumes ?? [], after.volumes ?? [], changes);
  diffKeyed("file", "files", "path", before.files ?? [], after.files ?? [], changes);
  return {
    equal: canonicalJson(before) === canonicalJson(after),
    before: { digest: manifestDigest(before).toString() },
    after: { digest: manifestDigest(after).toString() },
    changes,
  };
}

function diffKernel(before: Manifest, after: Manifest, changes: Change[]): void {
  const a = before.kernel;
  const b = after.kernel;
  if (a === undefined && b === undefined) return;
  if (a === undefined)
    changes.push({ kind: "added", subject: "kernel", path: "kernel", summary: b!.image });
  else if (b === undefined)
    changes.push({ kind: "removed", subject: "kernel", path: "kernel", summary: a.image });
  else {
    const fields = diffFields(a, b);
    if (fields.length > 0)
      changes.push({ kind: "changed", subject: "kernel", path: "kernel", fields });
  }
}

/** Init images are matched by repository, so a new tag reads as an image change. */
function diffInit(before: readonly string[], after: readonly string[], changes: Change[]): void {
  if (same(before, after)) return;
  const repo = (ref: string) => ImageRef.tryParse(ref)?.repository ?? ref;
  const fields: FieldChange[] = [];
  const afterRepos = after.map(repo);
  const beforeRepos = before.map(repo);
  const added = after.filter((_, i) => !beforeRepos.includes(afterRepos[i]!));
  const removed = before.filter((_, i) => !afterRepos.includes(beforeRepos[i]!));
  for (const [i, ref] of before.entries()) {
    const j = afterRepos.indexOf(beforeRepos[i]!);
    const next = j < 0 ? undefined : after[j];
    if (next !== undefined && next !== ref)
      fields.push({ field: `[${beforeRepos[i]!}]`, image: imageChange(ref, next) });
  }
  if (added.length > 0 || removed.length > 0) fields.push({ field: "", added, removed });
  const common = (list: readonly string[], other: readonly string[]) =>
    list.map(repo).filter((r) => other.map(repo).includes(r));
  if (!same(common(before, after), common(after, before))) {
    fields.push({ field: "", reordered: true, before, after });
  }
  changes.push({ kind: "changed", subject: "init", path: "init", fields });
}

interface Placed {
  readonly section: string;
  readonly index: number;
  readonly spec: Obj;
}

function diffContainers(before: Manifest, after: Manifest, changes: Change[]): void {
  const place = (m: Manifest): Map<string, Placed> => {
    const out = new Map<string, Placed>();
    for (const section of CONTAINER_SECTIONS) {
      (m[section] ?? []).forEach((spec, index) => out.set(spec.name, { section, index, spec }));
    }
    return out;
  };
  const a = place(before);
  const b = place(after);
  for (const section of CONTAINER_SECTIONS) {
    const moved = movedNames(
      (before[section] ?? []).map((c) => c.name).filter((n) => b.get(n)?.section === section),
      (after[section] ?? []).map((c) => c.name).filter((n) => a.get(n)?.section === section),
    );
    for (const c of before[section] ?? []) {
      if (!b.has(c.name))
        changes.push({
          kind: "removed",
          subject: "container",
          path: `${section}[${c.name}]`,
          summary: c.image,
        });
    }
    for (const c of after[section] ?? []) {
      const path = `${section}[${c.name}]`;
      const old = a.get(c.name);
      if (old === undefined) {
        changes.push({ kind: "added", subject: "container", path, summary: c.image });
        continue;
      }
      const now = b.get(c.name)!;
      if (old.section !== section || moved.has(c.name)) {
        changes.push({
          kind: "moved",
          subject: "container",
          path,
          from: `${old.section}[${old.index}]`,
          to: `${now.section}[${now.index}]`,
        });
      }
      const fields = diffFields(old.spec, c);
      if (fields.length > 0) changes.push({ kind: "changed", subject: "container", path, fields });
    }
  }
}

/** Volumes and files: matched by a key field; a changed relative order is a move. */
function diffKeyed(
  subject: Subject,
  section: "volumes" | "files",
  key: "name" | "path",
  before: readonly Obj[],
  after: readonly Obj[],
  changes: Change[],
): void {
  const keyOf = (o: Obj) => String(o[key]);
  const a = new Map(before.map((o, i) => [keyOf(o), { o, i }]));
  const b = new Map(after.map((o, i) => [keyOf(o), { o, i }]));
  const moved = movedNames(
    before.map(keyOf).filter((k) => b.has(k)),
    after.map(keyOf).filter((k) => a.has(k)),
  );
  for (const o of before) {
    if (!b.has(keyOf(o)))
      changes.push({
        kind: "removed",
        subject,
        path: `${section}[${keyOf(o)}]`,
        summary: summarize(subject, o),
      });
  }
  for (const o of after) {
    const path = `${section}[${keyOf(o)}]`;
    const old = a.get(keyOf(o));
    if (old === undefined) {
      changes.push({ kind: "added", subject, path, summary: summarize(subject, o) });
      continue;
    }
    if (moved.has(keyOf(o))) {
      changes.push({
        kind: "moved",
        subject,
        path,
        from: `${section}[${old.i}]`,
        to: `${section}[${b.get(keyOf(o))!.i}]`,
      });
    }
    const fields = subject === "file" ? diffFile(old.o, o) : diffFields(old.o, o);
    if (fields.length > 0) changes.push({ kind: "changed", subject, path, fields });
  }
}

function summarize(subject: Subject, o: Obj): string {
  if (subject === "volume") return typeof o.image === "string" ? `image ${o.image}` : "blank";
  if (o.directory === true) return `directory, mode ${String(o.mode)}`;
  if (typeof o.symlink === "string") return `symlink to ${o.symlink}`;
  if (typeof o.source === "string") return `copy of ${o.source}, mode ${String(o.mode)}`;
  if (typeof o.metadata === "string") return `manifest as ${o.metadata}, mode ${String(o.mode)}`;
  const side = contentsSide(o.contents);
  const what =
    side.kind === "input"
      ? `the input "${side.name}"`
      : side.kind === "binary"
        ? `${side.size} bytes of binary data`
        : side.kind === "text"
          ? `${side.size} bytes of text`
          : "empty";
  return `${what}, mode ${String(o.mode)}`;
}

/**
 * The names whose relative order changed: everything outside a longest common subsequence of
 * the two orders (both lists hold the same names).
 */
function movedNames(before: readonly string[], after: readonly string[]): Set<string> {
  const n = before.length;
  const m = after.length;
  const table = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      table[i]![j] =
        before[i] === after[j]
          ? table[i + 1]![j + 1]! + 1
          : Math.max(table[i + 1]![j]!, table[i]![j + 1]!);
    }
  }
  const kept = new Set<string>();
  for (let i = 0, j = 0; i < n && j < m;) {
    if (before[i] === after[j]) {
      kept.add(before[i]!);
      i++;
      j++;
    } else if (table[i + 1]![j]! >= table[i]![j + 1]!) i++;
    else j++;
  }
  return new Set(after.filter((name) => !kept.has(name)));
}

/** Field-level changes between two objects of the same kind. */
function diffFields(before: Obj, after: Obj, prefix = ""): FieldChange[] {
  const out: FieldChange[] = [];
  const keys = [...Object.keys(before), ...Object.keys(after).filter((k) => !(k in before))];
  for (const key of keys) {
    const a = before[key];
    const b = after[key];
    if (same(a, b)) continue;
    const field =
      prefix === ""
        ? key
        : MAPS.has(prefix.split(".").pop() ?? "")
          ? `${prefix}[${key}]`
          : `${prefix}.${key}`;
    if (key === "image" && typeof a === "string" && typeof b === "string") {
      out.push({ field, image: imageChange(a, b) });
    } else if (key === "cmdline" && typeof a === "string" && typeof b === "string") {
      out.push(
        listChange(field, a.split(/\s+/).filter(Boolean), b.split(/\s+/).filter(Boolean), false),
      );
    } else if (Array.isArray(a) && Array.isArray(b) && !ORDERED_LISTS.has(key)) {
      out.push(listChange(field, a, b, ORDERLESS_LISTS.has(key)));
    } else if (isObj(a) && isObj(b)) {
      out.push(...diffFields(a, b, field));
    } else {
      out.push({
        field,
        ...(a === undefined ? {} : { before: a }),
        ...(b === undefined ? {} : { after: b }),
      });
    }
  }
  return out;
}

/** Added and removed entries of a list whose order does not matter (as multisets). */
function listChange(
  field: string,
  before: readonly unknown[],
  after: readonly unknown[],
  orderless: boolean,
): FieldChange {
  const keys = (list: readonly unknown[]) => list.map((v) => canonicalJson(v));
  const beforeKeys = keys(before);
  const afterKeys = keys(after);
  const unmatched = [...beforeKeys];
  const addedAt = new Set<number>();
  afterKeys.forEach((k, i) => {
    const j = unmatched.indexOf(k);
    if (j >= 0) unmatched.splice(j, 1);
    else addedAt.add(i);
  });
  const removedAt = new Set<number>();
  beforeKeys.forEach((k, i) => {
    const j = unmatched.indexOf(k);
    if (j >= 0) {
      unmatched.splice(j, 1);
      removedAt.add(i);
    }
  });
  const added = after.filter((_, i) => addedAt.has(i));
  const removed = before.filter((_, i) => removedAt.has(i));
  const keptBefore = beforeKeys.filter((_, i) => !removedAt.has(i));
  const keptAfter = afterKeys.filter((_, i) => !addedAt.has(i));
  const reordered = !orderless && keptBefore.join("\0") !== keptAfter.join("\0");
  return {
    field,
    ...(added.length > 0 && { added }),
    ...(removed.length > 0 && { removed }),
    ...((reordered || (added.length === 0 && removed.length === 0)) && {
      reordered: true,
      before,
      after,
    }),
  };
}

function imageChange(before: string, after: string): ImageChange {
  const a = ImageRef.tryParse(before);
  const b = ImageRef.tryParse(after);
  if (a === undefined || b === undefined) return { before, after };
  const pair = (
    x: string | undefined,
    y: string | undefined,
  ): readonly [string, string] | undefined =>
    (x ?? "") === (y ?? "") ? undefined : [x ?? "", y ?? ""];
  const repository = pair(a.repository, b.repository);
  const tag = pair(a.tag, b.tag);
  const digest = pair(a.digest, b.digest);
  return {
    before,
    after,
    ...(repository && { repository }),
    ...(tag && { tag }),
    ...(digest && { digest }),
  };
}

function diffFile(before: Obj, after: Obj): FieldChange[] {
  const out = diffFields(
    Object.fromEntries(Object.entries(before).filter(([k]) => k !== "contents")),
    Object.fromEntries(Object.entries(after).filter(([k]) => k !== "contents")),
  );
  if (!same(before.contents, after.contents)) {
    out.push({ field: "contents", contents: contentsChange(before.contents, after.contents) });
  }
  return out;
}

function contentsSide(value: unknown): ContentsSide {
  if (value === undefined) return { kind: "none" };
  if (isObj(value) && typeof value.$input === "string")
    return { kind: "input", name: value.$input };
  const text = typeof value === "string" ? value : canonicalJson(value);
  const size = Buffer.byteLength(text, "utf8");
  return isBinary(text)
    ? { kind: "binary", size, sha256: Digest.sha256(text).toString() }
    : { kind: "text", size };
}

/** Control characters that plain text has: tab, newline, form feed, carriage return, escape. */
const TEXT_CONTROLS = new Set(["\t", "\n", "\f", "\r", "\u001b"]);

/** Text with NUL or another control character is shown as binary (size and digest), not as lines. */
function isBinary(text: string): boolean {
  for (const c of text.matchAll(/\p{Cc}/gu)) {
    if (!TEXT_CONTROLS.has(c[0])) return true;
  }
  return false;
}

function contentsChange(before: unknown, after: unknown): ContentsChange {
  const a = contentsSide(before);
  const b = contentsSide(after);
  if (a.kind !== "text" || b.kind !== "text") return { before: a, after: b };
  const patch = structuredPatch("before", "after", before as string, after as string, "", "", {
    context: 3,
  });
  const lines: string[] = [];
  for (const hunk of patch.hunks) {
    lines.push(
      `@@ -${hunk.oldStart},${hunk.oldLines} +${hunk.newStart},${hunk.newLines} @@`,
      ...hunk.lines,
    );
  }
  return { before: a, after: b, patch: lines };
}
