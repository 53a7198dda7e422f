/**
 * Rules that span fields or entries (unique names, references between containers, files and
 * volumes, bind syntax), checked on the raw definition so that they are reported together with
 * the per-field problems of the schema, not only once those are fixed.
 */
import { normalizeImagePath } from "./paths";
import { CONTAINER_SECTIONS } from "./schema";

type Path = PropertyKey[];
/** A problem found by a rule, with its path still as segments (rendered by the validator). */
export interface RawProblem {
  readonly path: Path;
  readonly message: string;
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const items = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/** Mount types LinuxKit infers from a mount's source when the type is missing. */
const TYPES_FROM_SOURCE = ["mqueue", "devpts", "proc", "sysfs", "cgroup"];
/** Where LinuxKit mounts a type when the destination is missing. */
const DEFAULT_MOUNTPOINTS: Readonly<Record<string, string>> = {
  proc: "/proc",
  devpts: "/dev/pts",
  sysfs: "/sys",
  cgroup: "/sys/fs/cgroup",
  mqueue: "/dev/mqueue",
};

/** The exclusive ways of saying what a file is. */
const FILE_KINDS = ["contents", "source", "metadata", "symlink", "directory"] as const;

export function checkRules(raw: unknown): RawProblem[] {
  const problems: RawProblem[] = [];
  if (!isObj(raw)) return problems;
  const add = (path: Path, message: string) => problems.push({ path, message });
  findPrototypeKeys(raw, [], add);

  // Container names: unique across onboot, onshutdown and services.
  const containers = new Map<string, string>();
  for (const section of CONTAINER_SECTIONS) {
    items(raw[section]).forEach((c, i) => {
      const name = isObj(c) ? str(c.name) : undefined;
      if (name === undefined) return;
      const first = containers.get(name);
      if (first !== undefined) {
        add([section, i, "name"], `duplicate container name "${name}" (also in ${first})`);
      } else {
        containers.set(name, section);
      }
    });
  }

  // Volumes: unique names; readonly ones must be bound read-only.
  const volumes = new Map<string, { readonly: boolean }>();
  items(raw.volumes).forEach((v, i) => {
    const name = isObj(v) ? str(v.name) : undefined;
    if (name === undefined || !isObj(v)) return;
    if (volumes.has(name)) add(["volumes", i, "name"], `duplicate volume name "${name}"`);
    volumes.set(name, { readonly: v.readonly === true });
  });

  const checkId = (path: Path, value: unknown) => {
    if (typeof value !== "string" || value === "" || value === "root") return;
    if (!containers.has(value)) {
      const hint = /^\d+$/.test(value) ? `; write the number without quotes` : "";
      add(
        path,
        `"${value}" is not the name of a container${hint}; expected a number, "root" or one of: ${[...containers.keys()].join(", ") || "(no containers)"}`,
      );
    }
  };

  for (const section of CONTAINER_SECTIONS) {
    items(raw[section]).forEach((c, i) => {
      if (!isObj(c)) return;
      const at = (...rest: PropertyKey[]): Path => [section, i, ...rest];
      checkId(at("uid"), c.uid);
      checkId(at("gid"), c.gid);
      items(c.additionalGids).forEach((g, j) => checkId(at("additionalGids", j), g));
      for (const field of ["binds", "bindsAdd"] as const) {
        items(c[field]).forEach((b, j) => checkBind(at(field, j), b, volumes, add));
      }
      items(c.tmpfs).forEach((t, j) => {
        if (typeof t !== "string") return;
        const parts = t.split(":");
        if (parts.length > 2 || !parts[0]?.startsWith("/")) {
          add(at("tmpfs", j), `expected "/destination[:option,option]", got "${t}"`);
        }
      });
      items(c.mounts).forEach((m, j) => checkMount(at("mounts", j), m, add));
      items(c.devices).forEach((d, j) => {
        if (!isObj(d) || d.path === "all") return;
        if (d.mode === undefined)
          add(at("devices", j, "mode"), `required for a device node; e.g. "0666"`);
        if (
          (d.type === "b" || d.type === "c") &&
          (d.major === undefined || d.minor === undefined)
        ) {
          add(
            at("devices", j),
            `a ${d.type === "b" ? "block" : "character"} device needs major and minor numbers`,
          );
        }
      });
    });
  }

  // Files: one kind each, no path twice, no parent that is not a directory.
  const kinds = new Map<string, { index: number; kind: string }>();
  items(raw.files).forEach((f, i) => {
    if (!isObj(f)) return;
    const given = FILE_KINDS.filter((k) =>
      k === "directory" ? f[k] === true : f[k] !== undefined,
    );
    if (given.length === 0) {
      add(["files", i], `says nothing about the file; expected one of ${FILE_KINDS.join(", ")}`);
    } else if (given.length > 1) {
      add(
        ["files", i],
        `sets ${given.join(" and ")}; expected exactly one of ${FILE_KINDS.join(", ")}`,
      );
    }
    if (f.optional === true && f.source === undefined) {
      add(["files", i, "optional"], "applies only to a file with a source");
    }
    checkId(["files", i, "uid"], f.uid);
    checkId(["files", i, "gid"], f.gid);
    const path = typeof f.path === "string" ? normalizeImagePath(f.path) : undefined;
    if (path?.ok !== true) return;
    const previous = kinds.get(path.path);
    if (previous !== undefined) {
      add(["files", i, "path"], `"${path.path}" is declared twice (also files[${previous.index}])`);
      return;
    }
    kinds.set(path.path, { index: i, kind: given[0] ?? "contents" });
  });
  for (const [path, { index }] of kinds) {
    for (let p = path.lastIndexOf("/"); p > 0; p = path.lastIndexOf("/", p - 1)) {
      const parent = kinds.get(path.slice(0, p));
      if (parent !== undefined && parent.kind !== "directory") {
        add(
          ["files", index, "path"],
          `its parent ${path.slice(0, p)} is declared as a ${parent.kind === "symlink" ? "symlink" : "file"} (files[${parent.index}])`,
        );
        break;
      }
    }
  }
  return problems;
}

function checkBind(
  path: Path,
  bind: unknown,
  volumes: ReadonlyMap<string, { readonly: boolean }>,
  add: (path: Path, message: string) => void,
): void {
  if (typeof bind !== "string") return;
  const parts = bind.split(":");
  const [source, destination, options] = parts;
  if (parts.length < 2 || parts.length > 3 || !source || !destination) {
    add(path, `expected "source:/destination[:option,option]", got "${bind}"`);
    return;
  }
  if (!destination.startsWith("/")) {
    add(path, `the destination "${destination}" must be an absolute path`);
  }
  if (options === "") add(path, `has an empty option list; drop the trailing ':'`);
  if (source.startsWith("/")) return;
  const volume = volumes.get(source);
  if (volume === undefined) {
    add(
      path,
      `the source "${source}" is neither an absolute path nor a volume; declared volumes: ${[...volumes.keys()].join(", ") || "(none)"}`,
    );
  } else if (volume.readonly && !(options ?? "").split(",").includes("ro")) {
    add(
      path,
      `the volume "${source}" is read-only; bind it with the "ro" option ("${source}:${destination}:ro")`,
    );
  }
}

function checkMount(path: Path, mount: unknown, add: (path: Path, message: string) => void): void {
  if (!isObj(mount)) return;
  const type = str(mount.type);
  const source = str(mount.source);
  const destination = str(mount.destination);
  let inferred = type;
  if (inferred === undefined) {
    if (source !== undefined && TYPES_FROM_SOURCE.includes(source)) inferred = source;
    else if (destination === "/dev") inferred = "tmpfs";
    else {
      add(
        [...path, "type"],
        `required unless the source is one of ${TYPES_FROM_SOURCE.join(", ")} or the destination is /dev`,
      );
      return;
    }
  }
  if (destination === undefined && !Object.hasOwn(DEFAULT_MOUNTPOINTS, inferred)) {
    add(
      [...path, "destination"],
      `required for a ${inferred} mount (only ${Object.keys(DEFAULT_MOUNTPOINTS).join(", ")} have a default)`,
    );
  }
}

/**
 * `__proto__` as a key: JavaScript would take it for the object's prototype (and a map field
 * would silently lose it), so it is refused wherever it appears.
 */
function findPrototypeKeys(
  value: unknown,
  path: Path,
  add: (path: Path, message: string) => void,
): void {
  if (Array.isArray(value)) value.forEach((v, i) => findPrototypeKeys(v, [...path, i], add));
  else if (isObj(value)) {
    for (const key of Object.keys(value)) {
      if (key === "__proto__") add([...path, key], 'the key "__proto__" is not allowed');
      else findPrototypeKeys(value[key], [...path, key], add);
    }
  }
}
