import { readdirSync, readFileSync } from "node:fs";
import { basename, join } from "node:path";
import YAML from "yaml";
import { FIXTURES } from "./paths";

export interface Fixture {
  readonly name: string;
  readonly path: string;
  readonly text: string;
}

/** The LinuxKit-style manifests of the fixture corpus (one system per file). */
export function linuxkitFixtures(): Fixture[] {
  const dir = join(FIXTURES, "linuxkit");
  return readdirSync(dir)
    .filter((f) => f.endsWith(".yml"))
    .sort()
    .map((f) => ({
      name: basename(f, ".yml"),
      path: join(dir, f),
      text: readFileSync(join(dir, f), "utf8"),
    }));
}

/** A fixture's YAML as plain data (for walking its keys and scalars). */
export function fixtureData(fixture: Fixture): Record<string, unknown> {
  return YAML.parse(fixture.text) as Record<string, unknown>;
}

export type Segment = string | number;

/** Calls `visit` for every scalar leaf with its path. */
export function walkScalars(
  value: unknown,
  visit: (path: Segment[], value: unknown) => void,
  path: Segment[] = [],
): void {
  if (Array.isArray(value)) value.forEach((v, i) => walkScalars(v, visit, [...path, i]));
  else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) walkScalars(v, visit, [...path, k]);
  } else visit(path, value);
}

/** Every key path of a value, with array indices written as "[]": `services.[].capabilities.add`. */
export function keyPaths(value: unknown, path: string[] = []): Set<string> {
  const out = new Set<string>();
  if (Array.isArray(value)) {
    for (const v of value) for (const p of keyPaths(v, [...path, "[]"])) out.add(p);
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.add(JSON.stringify([...path, k]));
      for (const p of keyPaths(v, [...path, k])) out.add(p);
    }
  }
  return out;
}
