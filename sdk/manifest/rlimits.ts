/** Resource limit types, as LinuxKit and the OCI runtime spec name them (without the `RLIMIT_` prefix). */
export const RLIMIT_TYPES = [
  "cpu",
  "fsize",
  "data",
  "stack",
  "core",
  "rss",
  "nproc",
  "nofile",
  "memlock",
  "as",
  "locks",
  "sigpending",
  "msgqueue",
  "nice",
  "rtprio",
  "rttime",
] as const;
export type RlimitType = (typeof RLIMIT_TYPES)[number];

/** A limit value: a count, or `unlimited` (RLIM_INFINITY, 2^64 − 1). */
export type RlimitValue = number | "unlimited";

/** The largest value LinuxKit's string form can carry: RLIM_INFINITY, written out. */
export const RLIM_INFINITY = "18446744073709551615";

/** Normalizes `NOFILE`, `RLIMIT_NOFILE` or `nofile` to `nofile`; returns undefined for an unknown type. */
export function normalizeRlimitType(name: string): RlimitType | undefined {
  const short = name
    .trim()
    .toLowerCase()
    .replace(/^rlimit_/, "");
  return (RLIMIT_TYPES as readonly string[]).includes(short) ? (short as RlimitType) : undefined;
}

/** Parses one limit value of LinuxKit's string form; undefined when it is not a count or `unlimited`. */
export function parseRlimitValue(text: string): RlimitValue | undefined {
  const t = text.trim().toLowerCase();
  if (t === "unlimited" || t === RLIM_INFINITY) return "unlimited";
  if (!/^\d+$/.test(t)) return undefined;
  const n = Number(t);
  return Number.isSafeInteger(n) ? n : undefined;
}
