/**
 * The shape an OS takes as a Pulumi input: the manifest with its containers keyed by name and its
 * files by path (each keeping its place as `order`), so Pulumi's own `pulumi preview --diff`
 * names what changed in the system — `services.web.capabilities` — rather than an array index.
 * Converting back gives the manifest unchanged.
 */
import type { Problem } from "../../sdk/errors";
import type { Manifest } from "../../sdk/manifest/schema";

type Entry = Readonly<Record<string, unknown>>;
/** A manifest's list keyed by each entry's name (containers, volumes) or path (files). */
type Keyed = Readonly<Record<string, Entry & { readonly order: number }>>;

/** The OS as a Pulumi input: plain JSON. */
export type OsInput = Readonly<Record<string, unknown>>;

const KEYED: Readonly<Record<string, string>> = {
  onboot: "name",
  onshutdown: "name",
  services: "name",
  volumes: "name",
  files: "path",
};

/** The manifest as a Pulumi input. A list whose entries share a key stays a list (check reports it). */
export function osInput(manifest: Manifest): OsInput {
  const out: Record<string, unknown> = {};
  for (const [section, value] of Object.entries(manifest)) {
    const key = KEYED[section];
    if (key === undefined || !Array.isArray(value)) {
      out[section] = value;
      continue;
    }
    const entries = value as readonly Entry[];
    const names = entries.map((e) => e[key]);
    if (names.some((n) => typeof n !== "string") || new Set(names).size !== names.length) {
      out[section] = value;
      continue;
    }
    out[section] = Object.fromEntries(
      entries.map((entry, order) => {
        const { [key]: name, ...rest } = entry;
        return [name as string, { ...rest, order }];
      }),
    );
  }
  return out;
}

/** The manifest (unvalidated) an OS input stands for. */
export function manifestOf(os: OsInput): unknown {
  const out: Record<string, unknown> = {};
  for (const [section, value] of Object.entries(os)) {
    const key = KEYED[section];
    if (key === undefined || value === null || typeof value !== "object" || Array.isArray(value)) {
      out[section] = value;
      continue;
    }
    out[section] = Object.entries(value as Keyed)
      .map(([name, entry]) => ({ name, entry }))
      .sort((a, b) => (Number(a.entry.order) || 0) - (Number(b.entry.order) || 0))
      .map(({ name, entry }) => {
        const { order: _order, ...rest } = entry;
        return { [key]: name, ...rest };
      });
  }
  return out;
}

/**
 * A validation problem's field path (`services[web].capabilities[0]`, `files[/etc/x].mode`) as
 * a property path of the OS input (`os.services.web.capabilities[0]`, `os.files["/etc/x"].mode`).
 */
export function propertyPath(problem: Problem, root = "os"): string {
  const match = /^(onboot|onshutdown|services|volumes|files)\[([^\]]*)\](.*)$/.exec(problem.path);
  if (match === null) return problem.path === "" ? root : `${root}.${problem.path}`;
  const [, section, name, rest] = match as unknown as [string, string, string, string];
  const key = /^[A-Za-z_]\w*$/.test(name) ? `.${name}` : `[${JSON.stringify(name)}]`;
  return `${root}.${section}${key}${rest}`;
}
