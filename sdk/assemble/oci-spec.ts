/**
 * A container's OCI runtime spec (`config.json`) and runtime actions (`runtime.json`), as
 * LinuxKit makes them: for every field the manifest, else the image's `org.mobyproject.config`
 * label, else the image config, else LinuxKit's default.
 */
import { AssembleError } from "../errors";
import { LINUX_CAPABILITIES } from "../manifest/capabilities";
import type { ContainerConfig } from "../manifest/linuxkit/label";
import { RLIM_INFINITY } from "../manifest/rlimits";
import type { ContainerSpec, MountSpec } from "../manifest/schema";
import type { ImageConfig } from "../resolve/oci";

/** Where LinuxKit keeps volumes; containers bind a volume's `merged` directory. */
export const VOLUMES_DIR = "/containers/volumes";

/** Ids by container name (100, 101, … in manifest order). */
export type IdMap = ReadonlyMap<string, number>;

export interface SpecInput {
  readonly container: ContainerSpec;
  /** The image's label, parsed. */
  readonly label: ContainerConfig;
  readonly image: ImageConfig;
  readonly ids: IdMap;
}

/** An OCI mount. */
export interface OciMount {
  readonly destination: string;
  readonly type: string;
  readonly source: string;
  readonly options?: readonly string[];
}

/** An rlimit as the OCI spec has it; `unlimited` is 2^64 − 1, beyond JavaScript's numbers. */
export interface OciRlimit {
  readonly type: string;
  readonly hard: number | bigint;
  readonly soft: number | bigint;
}

/** Resolves a uid or gid: a number, `root` / "" (0), or a container's name. */
export function resolveId(value: number | string | undefined, ids: IdMap, what: string): number {
  if (value === undefined || value === "" || value === "root") return 0;
  if (typeof value === "number") return value;
  const id = ids.get(value);
  if (id === undefined)
    throw new AssembleError(`${what}: "${value}" is not the name of a container`);
  return id;
}

/** A capability list with a single `all` or `none` expanded (each list on its own, before lists are joined). */
function expandCapabilities(list: readonly string[]): string[] {
  if (list.length === 1 && list[0] === "all") return [...LINUX_CAPABILITIES];
  if (list.length === 1 && list[0] === "none") return [];
  return [...list];
}

const DEFAULT_MOUNTPOINTS: Readonly<Record<string, string>> = {
  proc: "/proc",
  devpts: "/dev/pts",
  sysfs: "/sys",
  cgroup: "/sys/fs/cgroup",
  mqueue: "/dev/mqueue",
};
const TYPES_FROM_SOURCE = ["mqueue", "devpts", "proc", "sysfs", "cgroup"];

/** A mount with LinuxKit's inference of a missing type, source and destination. */
export function completeMount(mount: MountSpec, what: string): OciMount {
  let type = mount.type;
  if (type === undefined) {
    if (mount.source !== undefined && TYPES_FROM_SOURCE.includes(mount.source)) type = mount.source;
    else if (mount.destination === "/dev") type = "tmpfs";
    else throw new AssembleError(`${what}: a mount has no type`);
  }
  const destination =
    mount.destination ??
    (Object.hasOwn(DEFAULT_MOUNTPOINTS, type) ? DEFAULT_MOUNTPOINTS[type] : undefined);
  if (destination === undefined)
    throw new AssembleError(`${what}: a ${type} mount has no destination`);
  return {
    destination,
    type,
    source: mount.source ?? type,
    ...(mount.options !== undefined && { options: mount.options }),
  };
}

function defaultMounts(readonly: boolean): OciMount[] {
  const ro = readonly ? ["ro"] : [];
  return [
    {
      destination: "/proc",
      type: "proc",
      source: "proc",
      options: ["nosuid", "nodev", "noexec", "relatime"],
    },
    {
      destination: "/dev",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "strictatime", "mode=755", "size=65536k", ...ro],
    },
    {
      destination: "/dev/pts",
      type: "devpts",
      source: "devpts",
      options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"],
    },
    {
      destination: "/sys",
      type: "sysfs",
      source: "sysfs",
      options: ["nosuid", "noexec", "nodev", ...ro],
    },
    {
      destination: "/sys/fs/cgroup",
      type: "cgroup",
      source: "cgroup",
      options: ["nosuid", "noexec", "nodev", "relatime", "ro"],
    },
  ];
}

/** `src:dst[:opts]` → a bind mount; a source that is not a path names a volume. */
function bindMount(bind: string): OciMount {
  const [source = "", destination = "", options] = bind.split(":");
  return {
    destination,
    type: "bind",
    source: source.startsWith("/") ? source : `${VOLUMES_DIR}/${source}/merged`,
    options: options === undefined ? ["rw", "rbind", "rshared"] : [...options.split(","), "rbind"],
  };
}

function tmpfsMount(entry: string): OciMount {
  const [destination = "", options] = entry.split(":");
  return {
    destination,
    type: "tmpfs",
    source: "tmpfs",
    ...(options !== undefined && { options: options.split(",") }),
  };
}

function namespace(
  type: string,
  value: string | undefined,
  defaultNew: boolean,
): Record<string, string> | undefined {
  if (value === undefined) return defaultNew ? { type } : undefined;
  if (value === "host" || value === "root") return undefined;
  if (value === "new" || value === "none") return { type };
  return { type, path: value };
}

/** The `config.json` of a container. */
export function ociSpec(input: SpecInput): Record<string, unknown> {
  const { container: c, label: l, image, ids } = input;
  const what = `container ${c.name}`;
  const imageConfig = image.config ?? {};
  const args = c.command ??
    l.command ?? [...(imageConfig.Entrypoint ?? []), ...(imageConfig.Cmd ?? [])];
  if (args.length === 0) {
    throw new AssembleError(
      `${what}: nothing to run — the image ${c.image} has no entrypoint or cmd; set command`,
    );
  }
  const capabilities =
    c.capabilities !== undefined
      ? expandCapabilities(c.capabilities)
      : [
          ...new Set([
            ...expandCapabilities(l.capabilities ?? []),
            ...expandCapabilities(c.capabilitiesAdd ?? []),
          ]),
        ];
  const ambient = expandCapabilities(c.ambient ?? l.ambient ?? []);
  const allCaps = [...new Set([...capabilities, ...ambient])].sort();
  const readonly = c.readonly ?? l.readonly ?? false;

  const mounts = new Map<string, OciMount>();
  const put = (m: OciMount) => mounts.set(m.destination, m);
  defaultMounts(readonly).forEach(put);
  (c.tmpfs ?? l.tmpfs ?? []).map(tmpfsMount).forEach(put);
  (c.binds ?? [...(l.binds ?? []), ...(c.bindsAdd ?? [])]).map(bindMount).forEach(put);
  (c.mounts ?? l.mounts ?? []).map((m) => completeMount(m, what)).forEach(put);
  const sortedMounts = [...mounts.values()].sort((a, b) =>
    a.destination < b.destination ? -1 : a.destination > b.destination ? 1 : 0,
  );

  const namespaces = [
    namespace("pid", c.pid ?? l.pid, true),
    namespace("network", c.net ?? l.net, false),
    { type: "mount" },
    namespace("ipc", c.ipc ?? l.ipc, false),
    namespace("uts", c.uts ?? l.uts, false),
    namespace("user", c.userns ?? l.userns, false),
    { type: "cgroup" },
  ].filter((n): n is Record<string, string> => n !== undefined);

  const rlimits: OciRlimit[] = (c.rlimits ?? l.rlimits ?? []).map((r) => ({
    type: `RLIMIT_${r.type.toUpperCase()}`,
    hard: r.hard === "unlimited" ? BigInt(RLIM_INFINITY) : r.hard,
    soft: r.soft === "unlimited" ? BigInt(RLIM_INFINITY) : r.soft,
  }));

  const devices: Record<string, unknown>[] = [];
  const deviceRules: Record<string, unknown>[] = [...((c.resources ?? l.resources)?.devices ?? [])];
  for (const device of c.devices ?? l.devices ?? []) {
    if (device.path === "all") {
      deviceRules.push({ allow: true, type: device.type, access: "rwm" });
      continue;
    }
    devices.push({
      path: device.path,
      type: device.type,
      major: device.major ?? 0,
      minor: device.minor ?? 0,
      fileMode: parseInt(device.mode ?? "0600", 8),
      uid: 0,
      gid: 0,
    });
    deviceRules.push({
      allow: true,
      type: device.type,
      major: device.major ?? 0,
      minor: device.minor ?? 0,
      access: "rwm",
    });
  }
  const resources = {
    ...(c.resources ?? l.resources ?? {}),
    ...(deviceRules.length > 0 && { devices: deviceRules }),
  };

  const optional = <T>(key: string, value: T | undefined) =>
    value === undefined ? {} : { [key]: value };
  const hostname = c.hostname ?? l.hostname;
  const oomScoreAdj = c.oomScoreAdj ?? l.oomScoreAdj;
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: false,
      user: {
        uid: resolveId(c.uid ?? l.uid, ids, `${what}: uid`),
        gid: resolveId(c.gid ?? l.gid, ids, `${what}: gid`),
        ...(() => {
          const extra = (c.additionalGids ?? l.additionalGids ?? []).map((g) =>
            resolveId(g, ids, `${what}: additionalGids`),
          );
          return extra.length > 0 ? { additionalGids: extra } : {};
        })(),
      },
      args,
      env: c.env ?? l.env ?? imageConfig.Env ?? [],
      cwd: c.cwd ?? l.cwd ?? (imageConfig.WorkingDir || "/"),
      capabilities: {
        bounding: allCaps,
        effective: capabilities,
        inheritable: allCaps,
        permitted: allCaps,
        ambient,
      },
      ...(rlimits.length > 0 && { rlimits }),
      noNewPrivileges: c.noNewPrivileges ?? l.noNewPrivileges ?? false,
      ...optional("oomScoreAdj", oomScoreAdj),
    },
    root: { path: "rootfs", readonly },
    ...optional("hostname", hostname),
    mounts: sortedMounts,
    linux: {
      ...optional("uidMappings", c.uidMappings ?? l.uidMappings),
      ...optional("gidMappings", c.gidMappings ?? l.gidMappings),
      ...optional("sysctl", c.sysctl ?? l.sysctl),
      ...(Object.keys(resources).length > 0 && { resources }),
      ...optional("cgroupsPath", c.cgroupsPath ?? l.cgroupsPath),
      namespaces,
      ...(devices.length > 0 && { devices }),
      ...optional("rootfsPropagation", c.rootfsPropagation ?? l.rootfsPropagation),
      ...optional("maskedPaths", c.maskedPaths ?? l.maskedPaths),
      ...optional("readonlyPaths", c.readonlyPaths ?? l.readonlyPaths),
    },
    ...optional("annotations", c.annotations ?? l.annotations),
  };
}

/** The container's runtime actions, merged field by field (the manifest's over the label's). */
export function runtimeConfig(c: ContainerSpec, l: ContainerConfig): Record<string, unknown> {
  const m = c.runtime ?? {};
  const b = l.runtime ?? {};
  const bindNS = { ...(b.bindNS ?? {}), ...(m.bindNS ?? {}) };
  const pick = <K extends keyof typeof m>(key: K) => m[key] ?? b[key];
  const out: Record<string, unknown> = {};
  for (const key of ["cgroups", "mounts", "mkdir", "interfaces"] as const) {
    const value = pick(key);
    if (value !== undefined) out[key] = value;
  }
  if (Object.keys(bindNS).length > 0) out.bindNS = bindNS;
  const namespace = pick("namespace");
  if (namespace !== undefined) out.namespace = namespace;
  return out;
}

/**
 * The same actions as `runtime.steps`, the line format oskit's init reads (docs/runtime.md):
 * tab-separated fields, `-` for an empty one.
 */
export function runtimeSteps(runtime: Record<string, unknown>, what: string): string {
  const lines: string[][] = [];
  const field = (value: string | undefined) => {
    if (value === undefined || value === "") return "-";
    if (/[\t\n\r]/.test(value))
      throw new AssembleError(
        `${what}: runtime values may not hold tabs or line breaks (${JSON.stringify(value)})`,
      );
    return value;
  };
  const r = runtime as {
    mkdir?: string[];
    mounts?: MountSpec[];
    cgroups?: string[];
    interfaces?: { name?: string; add?: string; peer?: string; createInRoot?: boolean }[];
    bindNS?: Record<string, string>;
  };
  for (const dir of r.mkdir ?? []) lines.push(["mkdir", field(dir)]);
  for (const mount of r.mounts ?? []) {
    const m = completeMount(mount, what);
    lines.push([
      "mount",
      field(m.type),
      field(m.source),
      field(m.destination),
      field(m.options?.join(",")),
    ]);
  }
  for (const cgroup of r.cgroups ?? []) lines.push(["cgroup", field(cgroup)]);
  for (const i of r.interfaces ?? [])
    lines.push([
      "interface",
      field(i.name),
      field(i.add),
      field(i.peer),
      i.createInRoot === true ? "1" : "0",
    ]);
  for (const ns of Object.keys(r.bindNS ?? {}).sort())
    lines.push(["bindns", field(ns), field(r.bindNS![ns])]);
  return lines.map((l) => `${l.join("\t")}\n`).join("");
}

/** JSON with bigints written as numbers (OCI's unlimited rlimit is 2^64 − 1). */
export function jsonWithBigInts(value: unknown): string {
  const marker = "\u0000bigint:";
  const text = JSON.stringify(
    value,
    (_key, v: unknown) => (typeof v === "bigint" ? `${marker}${v.toString()}` : v),
    2,
  );
  return `${text.replace(/"\\u0000bigint:(\d+)"/g, "$1")}\n`;
}
