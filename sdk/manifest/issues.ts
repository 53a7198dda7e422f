/**
 * Turns zod's issues into oskit's problem lines: a field path that names containers by name
 * (`services[web].capabilities[0]`), the value received, and what is accepted.
 */
import type { z } from "zod";
import type { Problem } from "../errors";
import { ownValue } from "./objects";

/** Renders a key for a path in the user's vocabulary (LinuxKit's names when the input was YAML). */
export type KeyNamer = (parent: readonly PropertyKey[], key: string) => string;

export const identityNamer: KeyNamer = (_parent, key) => key;

/** Array sections whose items are named by a field, so paths say `services[web]` not `services[2]`. */
const ITEM_LABEL: Readonly<Record<string, string>> = {
  onboot: "name",
  onshutdown: "name",
  services: "name",
  volumes: "name",
  files: "path",
};

/** `services[web].capabilities[0]`: item labels from the raw input where it has them. */
export function renderPath(
  segments: readonly PropertyKey[],
  raw: unknown,
  namer: KeyNamer = identityNamer,
): string {
  let out = "";
  let value: unknown = raw;
  let parentKey: PropertyKey | undefined;
  segments.forEach((segment, i) => {
    const container = value;
    if (typeof segment === "number") {
      let label = String(segment);
      if (i === 1 && typeof parentKey === "string" && Array.isArray(container)) {
        const field = ownValue(ITEM_LABEL, parentKey);
        const item: unknown = container[segment];
        const name = field === undefined ? undefined : labelOf(item, field);
        if (name !== undefined) label = name;
      }
      out += `[${label}]`;
    } else {
      const key = namer(segments.slice(0, i), String(segment));
      if (out !== "" && isPlainKey(key) && !isRecordKey(segments, i)) out += `.${key}`;
      else if (out === "") out = key;
      else out += `[${key}]`;
    }
    parentKey = segment;
    value = step(container, segment);
  });
  return out;
}

function labelOf(item: unknown, field: string): string | undefined {
  if (typeof item !== "object" || item === null) return undefined;
  const label = (item as Record<string, unknown>)[field];
  return typeof label === "string" && label !== "" && !/[[\]]/.test(label) ? label : undefined;
}

function step(value: unknown, segment: PropertyKey): unknown {
  if (typeof value !== "object" || value === null) return undefined;
  return (value as Record<PropertyKey, unknown>)[segment];
}

function isPlainKey(key: string): boolean {
  return /^[A-Za-z_$][A-Za-z0-9_$.]*$/.test(key);
}

/** Keys of free-form maps (sysctl, annotations) render in brackets: `sysctl[net.ipv4.ip_forward]`. */
function isRecordKey(segments: readonly PropertyKey[], i: number): boolean {
  const parent = segments[i - 1];
  return parent === "sysctl" || parent === "annotations";
}

/** Describes a received value for a message: `"abc"`, `42`, `true`, `null`, `a list`, `an object`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "string")
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
    return String(value);
  }
  return `a ${typeof value}`;
}

const TYPE_NAMES: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "true or false",
  array: "a list",
  object: "an object",
  record: "a map of names to values",
};

/** Zod's per-parse error map: oskit's wording for the issues schemas do not word themselves. */
export const errorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type": {
      const expected = TYPE_NAMES[issue.expected] ?? issue.expected;
      if (issue.input === undefined) return `required; expected ${expected}`;
      return `expected ${expected}, got ${describeValue(issue.input)}`;
    }
    case "too_small":
      if (issue.origin === "string") return "must not be empty";
      if (issue.origin === "array") return `expected at least ${String(issue.minimum)} entries`;
      return `expected at least ${String(issue.minimum)}, got ${describeValue(issue.input)}`;
    case "too_big":
      if (Number(issue.maximum) === Number.MAX_SAFE_INTEGER) {
        return `${describeValue(issue.input)} is above ${Number.MAX_SAFE_INTEGER}, the largest integer oskit holds exactly`;
      }
      return `expected at most ${String(issue.maximum)}, got ${describeValue(issue.input)}`;
    case "invalid_key":
      return "keys must be non-empty text";
    case "invalid_value":
      return `unknown value ${describeValue(issue.input)}; expected one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_format":
      return `invalid value ${describeValue(issue.input)}`;
    case "not_multiple_of":
      return `expected a whole number, got ${describeValue(issue.input)}`;
    default:
      return undefined;
  }
};

/** The known keys of each object that had unknown ones, recorded by the error map (final issues do not carry the schema). */
export type KnownKeys = Map<string, readonly string[]>;

/** An error map that also records, for unrecognized_keys issues, the keys the object accepts. */
export function recordingErrorMap(known: KnownKeys): z.core.$ZodErrorMap {
  return (issue) => {
    if (issue.code === "unrecognized_keys") {
      const inst = issue.inst as
        { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined;
      known.set(JSON.stringify(issue.path ?? []), Object.keys(inst?._zod?.def?.shape ?? {}));
      return "unknown field";
    }
    return errorMap(issue);
  };
}

/** Closest known key by edit distance, when close enough to be a typo. */
export function suggest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(key.length / 4))
    ? best
    : undefined;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/** One problem per zod issue (one per unknown key), paths rendered against the raw input. */
export function issuesToProblems(
  issues: readonly z.core.$ZodIssue[],
  raw: unknown,
  namer: KeyNamer = identityNamer,
  knownKeys: KnownKeys = new Map(),
): Problem[] {
  const problems: Problem[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      const known = (knownKeys.get(JSON.stringify(issue.path)) ?? []).map((k) =>
        namer(issue.path, k),
      );
      for (const key of issue.keys) {
        const hint = suggest(key, known);
        problems.push({
          path: renderPath([...issue.path, key], raw, (parent, k) =>
            parent.length === issue.path.length ? key : namer(parent, k),
          ),
          message: hint
            ? `unknown field; did you mean "${hint}"?`
            : `unknown field; expected one of ${known.join(", ")}`,
        });
      }
      continue;
    }
    if (
      issue.code === "invalid_union" &&
      issue.errors.length > 0 &&
      issue.message === "Invalid input"
    ) {
      const expected = issue.errors
        .flat()
        .map((e) =>
          e.code === "invalid_type" ? (TYPE_NAMES[e.expected] ?? e.expected) : undefined,
        )
        .filter((e): e is string => e !== undefined);
      problems.push({
        path: renderPath(issue.path, raw, namer),
        message: `expected ${expected.join(" or ")}, got ${describeValue(issue.input)}`,
      });
      continue;
    }
    problems.push({ path: renderPath(issue.path, raw, namer), message: issue.message });
  }
  return problems;
}
