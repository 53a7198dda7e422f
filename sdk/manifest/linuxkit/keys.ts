/**
 * Where oskit's field names differ from LinuxKit's YAML keys: LinuxKit's `capabilities.add` and
 * `binds.add` are not identifiers (and could not be property names in Pulumi's schema), and a
 * mount's id mappings are lower-case in LinuxKit because its Go types carry no YAML tags.
 */
import type { KeyNamer } from "../issues";
import { CONTAINER_SECTIONS } from "../schema";

/** oskit name → LinuxKit key, on a container entry. */
export const CONTAINER_KEYS: Readonly<Record<string, string>> = {
  capabilitiesAdd: "capabilities.add",
  bindsAdd: "binds.add",
};

/** oskit name → LinuxKit key, on a mount entry (container `mounts` and `runtime.mounts`). */
export const MOUNT_KEYS: Readonly<Record<string, string>> = {
  uidMappings: "uidmappings",
  gidMappings: "gidmappings",
};

/** True when a path (of segments) points at a container entry: `services[3]`. */
export function isContainerPath(path: readonly PropertyKey[]): boolean {
  return (
    path.length === 2 &&
    (CONTAINER_SECTIONS as readonly PropertyKey[]).includes(path[0]!) &&
    typeof path[1] === "number"
  );
}

/** True when a path points at a mount entry: `services[3].mounts[0]`, `services[3].runtime.mounts[1]`. */
export function isMountPath(path: readonly PropertyKey[]): boolean {
  return (
    path.length >= 4 &&
    path[path.length - 2] === "mounts" &&
    typeof path[path.length - 1] === "number"
  );
}

/** Renders oskit field names as LinuxKit's, for problems found in YAML. */
export const linuxkitNamer: KeyNamer = (parent, key) => {
  if (isContainerPath(parent)) return CONTAINER_KEYS[key] ?? key;
  if (isMountPath(parent)) return MOUNT_KEYS[key] ?? key;
  return key;
};

/** Inverts a key table. */
export function invert(table: Readonly<Record<string, string>>): Readonly<Record<string, string>> {
  return Object.fromEntries(Object.entries(table).map(([k, v]) => [v, k]));
}
