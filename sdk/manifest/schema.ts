/**
 * The manifest schema: the single source of truth for what an oskit system definition may say.
 *
 * The TypeScript types (`Manifest`, `ContainerSpec`, …) and the props the constructs take
 * (`ServiceProps`, …) are both inferred from these zod schemas, so the compiler and the runtime
 * validator cannot drift apart. The input side (what a user may write: modes as numbers or octal
 * strings, relative file paths) is normalized to one output form (modes as `"0644"`, paths as
 * `/etc/motd`, defaults filled in) so that equal systems synthesize to equal manifests.
 *
 * Field names follow LinuxKit's YAML except where a LinuxKit key is not an identifier:
 * `capabilities.add` is `capabilitiesAdd`, `binds.add` is `bindsAdd`, and a mount's
 * `uidmappings`/`gidmappings` are `uidMappings`/`gidMappings` (see `linuxkit/keys.ts`).
 */
import { z } from "zod";
import { CAPABILITY_NAMES, type Capability } from "./capabilities";
import { suggest } from "./issues";
import { FileMode } from "./mode";
import { normalizeImagePath } from "./paths";
import { ImageRef } from "./reference";
import { RLIMIT_TYPES, type RlimitValue } from "./rlimits";

/** Gives a schema a precise TypeScript input type where zod's own inference would be too wide. */
function typed<Out, In>(schema: z.ZodType): z.ZodType<Out, In> {
  return schema as unknown as z.ZodType<Out, In>;
}

function quote(value: unknown): string {
  return typeof value === "string" ? JSON.stringify(value) : String(value);
}

// ---------------------------------------------------------------------------------------------
// Scalars

/** An image reference, `[registry/]repository[:tag][@sha256:…]`, e.g. `linuxkit/init:v1.0`. */
export const imageRefSchema = z.string().check((ctx) => {
  const value = ctx.value;
  if (value.startsWith("@")) {
    ctx.issues.push({
      code: "custom",
      input: value,
      message: value.startsWith("@pkg:")
        ? `${quote(value)} is a LinuxKit package template; oskit does not resolve @pkg: references — build the package and name its image`
        : `${quote(value)} is not an image reference (LinuxKit templates start with @pkg:)`,
    });
    return;
  }
  try {
    ImageRef.parse(value);
  } catch (error) {
    ctx.issues.push({
      code: "custom",
      input: value,
      message: `invalid image reference ${quote(value)}: ${(error as Error).message}`,
    });
  }
});

/** A container name: a containerd id, used as a directory name in the image. */
export const CONTAINER_NAME = /^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$/;
const containerNameSchema = z.string().regex(CONTAINER_NAME, {
  error: (issue) =>
    `invalid container name ${quote(issue.input)}; expected letters and digits separated by single '.', '_' or '-' (e.g. "web", "dhcp-client")`,
});

/** A volume name, as LinuxKit restricts it (and not empty). */
export const VOLUME_NAME = /^[a-z0-9_-]+$/;

/** A capability name, or a single `all` / `none`. */
const capabilitySchema = z.enum(CAPABILITY_NAMES as [Capability, ...Capability[]], {
  error: (issue) => {
    const hint =
      typeof issue.input === "string" ? suggest(issue.input, CAPABILITY_NAMES) : undefined;
    return hint === undefined
      ? `unknown capability ${quote(issue.input)}; expected one of ${CAPABILITY_NAMES.join(", ")}`
      : `unknown capability ${quote(issue.input)}; did you mean "${hint}"?`;
  },
});

const capabilityListSchema = z.array(capabilitySchema).check((ctx) => {
  const list = ctx.value;
  const keyword = list.find((c) => c === "all" || c === "none");
  if (keyword !== undefined && list.length > 1) {
    ctx.issues.push({
      code: "custom",
      input: list,
      message: `"${keyword}" must be the only entry of a capability list`,
    });
  }
});

/** A mode: a number (write `0o644`) or an octal string (`"0644"`), normalized to `"0644"`. */
export type ModeInput = number | string;
const modeSchema = typed<string, ModeInput>(
  z
    .union([z.number(), z.string()], {
      error: (issue) => `expected a mode such as "0644" or 0o644, got ${quote(issue.input)}`,
    })
    .transform((value, ctx) => {
      try {
        return FileMode.parse(value).toString();
      } catch (error) {
        ctx.issues.push({ code: "custom", input: value, message: (error as Error).message });
        return z.NEVER;
      }
    }),
);

/** A user or group: a number, a container's name (its allocated id), or `root`. */
export type Id = number | string;
const idSchema = typed<Id, Id>(
  z.union([z.int().nonnegative(), z.string()], {
    error: (issue) =>
      `expected a numeric id, a container name or "root", got ${quote(issue.input)}`,
  }),
);

/** An absolute path inside a container or the host, e.g. `/etc/web`. */
type AbsolutePath = `/${string}`;
const absolutePathSchema = typed<AbsolutePath, AbsolutePath>(
  z.string().regex(/^\//, {
    error: (issue) => `expected an absolute path (starting with /), got ${quote(issue.input)}`,
  }),
);

/** A namespace: the host's, a new one, or the path of one to join. */
export type Namespace = "host" | "new" | AbsolutePath;
/** The network namespace may also be `none` (a new namespace with only loopback, as LinuxKit). */
export type NetNamespace = Namespace | "none";
function namespaceSchema<T extends string>(values: readonly string[]) {
  return typed<T, T>(
    z.string().check((ctx) => {
      if (!values.includes(ctx.value) && !ctx.value.startsWith("/")) {
        ctx.issues.push({
          code: "custom",
          input: ctx.value,
          message: `unknown namespace ${quote(ctx.value)}; expected ${values.map((v) => `"${v}"`).join(", ")} or an absolute path to join`,
        });
      }
    }),
  );
}

/** Root filesystem mount propagation, as the OCI runtime spec defines it. */
export const ROOTFS_PROPAGATIONS = [
  "private",
  "rprivate",
  "shared",
  "rshared",
  "slave",
  "rslave",
  "unbindable",
  "runbindable",
] as const;

// ---------------------------------------------------------------------------------------------
// Kernel

export const kernelSchema = z
  .strictObject({
    /** Image holding the kernel binary and its modules tarball. */
    image: imageRefSchema,
    /** Kernel command line. @default "" */
    cmdline: z.string().optional(),
    /** Name of the kernel binary in the image. @default "kernel" */
    binary: z.string().min(1).optional(),
    /** Name of the modules tarball unpacked at `/`; `none` (or "") for none. @default "kernel.tar" */
    tar: z.string().optional(),
    /** CPU microcode cpio in the image, prepended to the initrd (e.g. `intel-ucode.cpio`). */
    ucode: z.string().optional(),
  })
  .transform((k) => ({
    ...k,
    binary: k.binary ?? "kernel",
    tar: k.tar === undefined ? "kernel.tar" : k.tar === "" ? "none" : k.tar,
  }));

// ---------------------------------------------------------------------------------------------
// Containers (onboot, onshutdown, services)

const idMappingSchema = z.strictObject({
  /** First id on the host. */
  hostID: z.int().nonnegative(),
  /** First id inside the container. */
  containerID: z.int().nonnegative(),
  /** Number of ids mapped. */
  size: z.int().positive(),
});

export const mountSchema = z.strictObject({
  /** Where the mount appears; defaults to the type's usual mount point (`/proc` for proc, …). */
  destination: absolutePathSchema.optional(),
  /** Filesystem type (`bind`, `tmpfs`, `proc`, …); inferred from the source or destination when absent. */
  type: z.string().min(1).optional(),
  /** What is mounted: a path, a volume name for binds, or the type's name. @default the type */
  source: z.string().optional(),
  /** Mount options, e.g. `["rbind", "ro"]`. */
  options: z.array(z.string().min(1)).optional(),
  /** User id mappings for an idmapped mount. */
  uidMappings: z.array(idMappingSchema).optional(),
  /** Group id mappings for an idmapped mount. */
  gidMappings: z.array(idMappingSchema).optional(),
});

const DEVICE_TYPES = ["b", "c", "u", "p"] as const;
const deviceSchema = z.strictObject({
  /** Device node path (e.g. `/dev/console`), or `all` to allow every device of `type`. */
  path: z.union([z.literal("all"), absolutePathSchema], {
    error: (issue) => `expected "all" or an absolute device path, got ${quote(issue.input)}`,
  }),
  /** Device type: `b` block, `c` character, `u` unbuffered, `p` FIFO. */
  type: z.enum(DEVICE_TYPES, {
    error: (issue) => `unknown device type ${quote(issue.input)}; expected one of b, c, u, p`,
  }),
  /** Major number. */
  major: z.int().nonnegative().optional(),
  /** Minor number. */
  minor: z.int().nonnegative().optional(),
  /** Permission bits of the node, e.g. `"0666"`; required unless `path` is `all`. */
  mode: modeSchema.optional(),
});

const deviceCgroupSchema = z.strictObject({
  allow: z.boolean().optional(),
  type: z.string().optional(),
  major: z.int().optional(),
  minor: z.int().optional(),
  access: z.string().optional(),
});
const throttleDeviceSchema = z.strictObject({
  major: z.int().optional(),
  minor: z.int().optional(),
  rate: z.int().nonnegative().optional(),
});
const resourcesSchema = z.strictObject({
  /** Device cgroup rules. */
  devices: z.array(deviceCgroupSchema).optional(),
  /** Memory limits in bytes. */
  memory: z
    .strictObject({
      limit: z.int().optional(),
      reservation: z.int().optional(),
      swap: z.int().optional(),
      kernel: z.int().optional(),
      kernelTCP: z.int().optional(),
      swappiness: z.int().nonnegative().optional(),
      disableOOMKiller: z.boolean().optional(),
    })
    .optional(),
  /** CPU shares, quota and sets. */
  cpu: z
    .strictObject({
      shares: z.int().nonnegative().optional(),
      quota: z.int().optional(),
      period: z.int().nonnegative().optional(),
      realtimeRuntime: z.int().optional(),
      realtimePeriod: z.int().nonnegative().optional(),
      cpus: z.string().optional(),
      mems: z.string().optional(),
    })
    .optional(),
  /** Process count limit. */
  pids: z.strictObject({ limit: z.int().optional() }).optional(),
  /** Block I/O weights and throttles. */
  blockio: z
    .strictObject({
      weight: z.int().nonnegative().optional(),
      leafWeight: z.int().nonnegative().optional(),
      weightDevice: z
        .array(
          z.strictObject({
            major: z.int().optional(),
            minor: z.int().optional(),
            weight: z.int().nonnegative().optional(),
            leafWeight: z.int().nonnegative().optional(),
          }),
        )
        .optional(),
      throttleReadBpsDevice: z.array(throttleDeviceSchema).optional(),
      throttleWriteBpsDevice: z.array(throttleDeviceSchema).optional(),
      throttleReadIOPSDevice: z.array(throttleDeviceSchema).optional(),
      throttleWriteIOPSDevice: z.array(throttleDeviceSchema).optional(),
    })
    .optional(),
  /** Huge page limits (page size as LinuxKit writes it: a number, or OCI's "2MB" form). */
  hugepageLimits: z
    .array(
      z.strictObject({
        pageSize: z.union([z.int().positive(), z.string().min(1)]).optional(),
        limit: z.int().nonnegative().optional(),
      }),
    )
    .optional(),
  /** Network class id and interface priorities. */
  network: z
    .strictObject({
      classID: z.int().nonnegative().optional(),
      priorities: z
        .array(z.strictObject({ name: z.string().optional(), priority: z.int().optional() }))
        .optional(),
    })
    .optional(),
});

const rlimitValueSchema = typed<RlimitValue, RlimitValue>(
  z.union([z.int().nonnegative(), z.literal("unlimited")], {
    error: (issue) => `expected a non-negative integer or "unlimited", got ${quote(issue.input)}`,
  }),
);
/** One resource limit, e.g. `{ type: "nofile", soft: 1024, hard: 4096 }`. */
export const rlimitSchema = z
  .strictObject({
    /** Limit type (as `ulimit`/`setrlimit` name it, without `RLIMIT_`). */
    type: z.enum(RLIMIT_TYPES, {
      error: (issue) =>
        `unknown rlimit ${quote(issue.input)}; expected one of ${RLIMIT_TYPES.join(", ")}`,
    }),
    /** Soft limit. */
    soft: rlimitValueSchema,
    /** Hard limit (at least the soft limit). */
    hard: rlimitValueSchema,
  })
  .check((ctx) => {
    const { soft, hard } = ctx.value;
    const n = (v: RlimitValue): number => (v === "unlimited" ? Infinity : v);
    if (n(soft) > n(hard)) {
      ctx.issues.push({
        code: "custom",
        input: ctx.value,
        message: `soft limit ${soft} is above the hard limit ${hard}`,
      });
    }
  });

const interfaceSchema = z.strictObject({
  /** Name of the interface; an existing one is moved into the container's network namespace. */
  name: z.string().min(1).optional(),
  /** Type of interface to create (e.g. `veth`, `wireguard`). */
  add: z.string().min(1).optional(),
  /** Name of the peer end of a `veth`, left in the root namespace. */
  peer: z.string().min(1).optional(),
  /** Create the interface in the root namespace first, then move it (needed for wireguard). */
  createInRoot: z.boolean().optional(),
});

const bindNsSchema = z.strictObject({
  cgroup: absolutePathSchema.optional(),
  ipc: absolutePathSchema.optional(),
  mnt: absolutePathSchema.optional(),
  net: absolutePathSchema.optional(),
  pid: absolutePathSchema.optional(),
  user: absolutePathSchema.optional(),
  uts: absolutePathSchema.optional(),
});

const runtimeSchema = z.strictObject({
  /** Cgroups created before the container starts. */
  cgroups: z.array(z.string().min(1)).optional(),
  /** Mounts made in the root namespace before the container starts. */
  mounts: z.array(mountSchema).optional(),
  /** Directories created in the root namespace before the container starts. */
  mkdir: z.array(absolutePathSchema).optional(),
  /** Network interfaces created or moved into the container's network namespace. */
  interfaces: z.array(interfaceSchema).optional(),
  /** Paths where the container's new namespaces are bound, for other containers to join. */
  bindNS: bindNsSchema.optional(),
  /** containerd namespace for a service. @default "services.linuxkit" */
  namespace: z.string().min(1).optional(),
});

const envEntrySchema = z.string().regex(/^[^=\s][^=]*=/, {
  error: (issue) => `expected "NAME=value", got ${quote(issue.input)}`,
});

export const containerSchema = z.strictObject({
  /** Unique name of the container (across onboot, onshutdown and services). */
  name: containerNameSchema,
  /** Image whose filesystem is the container's root. */
  image: imageRefSchema,
  /** Capabilities, replacing the image label's list; a single `all` or `none` is allowed. */
  capabilities: capabilityListSchema.optional(),
  /** Capabilities added to the image label's list. */
  capabilitiesAdd: capabilityListSchema.optional(),
  /** Ambient capabilities (kept by non-root processes). */
  ambient: capabilityListSchema.optional(),
  /** Full mount entries; one at a default mount's destination replaces it. */
  mounts: z.array(mountSchema).optional(),
  /** Bind mounts `src:dst[:opts]`, replacing the image label's; `src` may name a volume. */
  binds: z.array(z.string()).optional(),
  /** Bind mounts added to the image label's. */
  bindsAdd: z.array(z.string()).optional(),
  /** tmpfs mounts `dst[:opts]`. */
  tmpfs: z.array(z.string()).optional(),
  /** Device nodes created in the container and allowed by its device cgroup. */
  devices: z.array(deviceSchema).optional(),
  /** Command and arguments, replacing the image's entrypoint and cmd. */
  command: z.array(z.string()).optional(),
  /** Environment as `NAME=value`, replacing the image's. */
  env: z.array(envEntrySchema).optional(),
  /** Working directory. @default the image's, else "/" */
  cwd: absolutePathSchema.optional(),
  /** Network namespace. @default "host" */
  net: namespaceSchema<NetNamespace>(["host", "new", "none"]).optional(),
  /** PID namespace. @default "new" */
  pid: namespaceSchema<Namespace>(["host", "new"]).optional(),
  /** IPC namespace. @default "host" */
  ipc: namespaceSchema<Namespace>(["host", "new"]).optional(),
  /** UTS namespace. @default "host" */
  uts: namespaceSchema<Namespace>(["host", "new"]).optional(),
  /** User namespace. @default "host" */
  userns: namespaceSchema<Namespace>(["host", "new"]).optional(),
  /** Hostname inside a new UTS namespace. */
  hostname: z.string().min(1).optional(),
  /** Read-only root filesystem (and read-only /dev and /sys). @default the label's, else false */
  readonly: z.boolean().optional(),
  /** Paths hidden from the container. */
  maskedPaths: z.array(absolutePathSchema).optional(),
  /** Paths made read-only in the container. */
  readonlyPaths: z.array(absolutePathSchema).optional(),
  /** User of the process. @default 0 */
  uid: idSchema.optional(),
  /** Group of the process. @default 0 */
  gid: idSchema.optional(),
  /** Supplementary groups of the process. */
  additionalGids: z.array(idSchema).optional(),
  /** Forbid gaining privileges (setuid binaries, file capabilities). */
  noNewPrivileges: z.boolean().optional(),
  /** OOM score adjustment, −1000 to 1000. */
  oomScoreAdj: z.int().min(-1000).max(1000).optional(),
  /** Mount propagation of the root filesystem. */
  rootfsPropagation: z
    .enum(ROOTFS_PROPAGATIONS, {
      error: (issue) =>
        `unknown propagation ${quote(issue.input)}; expected one of ${ROOTFS_PROPAGATIONS.join(", ")}`,
    })
    .optional(),
  /** Cgroup path of the container. */
  cgroupsPath: z.string().min(1).optional(),
  /** Cgroup resource limits (OCI runtime spec `linux.resources`). */
  resources: resourcesSchema.optional(),
  /** Namespaced sysctls set in the container, e.g. `{ "net.ipv4.ip_forward": "1" }`. */
  sysctl: z.record(z.string().min(1), z.string()).optional(),
  /** Resource limits. */
  rlimits: z.array(rlimitSchema).optional(),
  /** User namespace uid mappings. */
  uidMappings: z.array(idMappingSchema).optional(),
  /** User namespace gid mappings. */
  gidMappings: z.array(idMappingSchema).optional(),
  /** OCI annotations. */
  annotations: z.record(z.string().min(1), z.string()).optional(),
  /** Actions the init takes around the container: cgroups, mounts, directories, interfaces. */
  runtime: runtimeSchema.optional(),
});

// ---------------------------------------------------------------------------------------------
// Files

/** A value that a later phase (the Pulumi build) substitutes: `{ $input: "sshKey" }`. */
export interface InputRef {
  readonly $input: string;
}
export const INPUT_NAME = /^[A-Za-z][A-Za-z0-9_]*$/;
export const inputRefSchema = z.strictObject({
  $input: z.string().regex(INPUT_NAME, {
    error: (issue) =>
      `invalid input name ${quote(issue.input)}; expected a letter followed by letters, digits or '_'`,
  }),
});

const filePathSchema = z.string().transform((value, ctx) => {
  const result = normalizeImagePath(value);
  if (result.ok) return result.path;
  ctx.issues.push({
    code: "custom",
    input: value,
    message: `invalid path ${quote(value)}: ${result.reason}`,
  });
  return z.NEVER;
});

export const METADATA_FORMATS = ["yaml", "json"] as const;

export const fileSchema = z
  .strictObject({
    /** Path in the image; `etc/motd` and `/etc/motd` are the same file. */
    path: filePathSchema,
    /** Create a directory. */
    directory: z.boolean().optional(),
    /** Create a symbolic link to this target. */
    symlink: z.string().min(1).optional(),
    /** File contents, or an input placeholder the build fills in (`oskit.input("name")`). */
    contents: z
      .union([z.string(), inputRefSchema], {
        error: (issue) =>
          `expected text or an input placeholder (oskit.input("name")), got ${quote(issue.input)}`,
      })
      .optional(),
    /** Path of a file on the build host to copy (`~/` is the home directory). */
    source: z.string().min(1).optional(),
    /** Write the resolved manifest in this format. */
    metadata: z
      .enum(METADATA_FORMATS, {
        error: (issue) =>
          `unknown metadata format ${quote(issue.input)}; expected "yaml" or "json"`,
      })
      .optional(),
    /** Skip the file when `source` does not exist. @default false */
    optional: z.boolean().optional(),
    /** Permission bits. @default "0600" for files, "0700" for directories */
    mode: modeSchema.optional(),
    /** Owner: a number, a container's name, or `root`. @default 0 */
    uid: idSchema.optional(),
    /** Group: a number, a container's name, or `root`. @default 0 */
    gid: idSchema.optional(),
  })
  .transform(({ directory, optional, ...f }) => ({
    ...f,
    ...(directory === true ? { directory } : {}),
    ...(optional === true ? { optional } : {}),
    mode:
      f.mode ??
      (directory === true ? FileMode.DIRECTORY_DEFAULT : FileMode.FILE_DEFAULT).toString(),
  }));

// ---------------------------------------------------------------------------------------------
// Volumes

export const VOLUME_FORMATS = ["filesystem", "oci"] as const;
const PLATFORM = /^[a-z0-9]+\/[a-z0-9_]+(?:\/[a-z0-9]+)?$/;

export const volumeSchema = z.strictObject({
  /** Name containers use as a bind source (`data:/var/lib/data`). */
  name: z.string().regex(VOLUME_NAME, {
    error: (issue) =>
      `invalid volume name ${quote(issue.input)}; expected lowercase letters, digits, '-' and '_'`,
  }),
  /** Image whose contents fill the volume; a blank directory when absent. */
  image: imageRefSchema.optional(),
  /** Mount the volume read-only (binds must then say `ro`). @default false */
  readonly: z.boolean().optional(),
  /** How the image lands in the volume: its filesystem, or an OCI image layout. @default "filesystem" */
  format: z
    .enum(VOLUME_FORMATS, {
      error: (issue) =>
        `unknown volume format ${quote(issue.input)}; expected "filesystem" or "oci"`,
    })
    .optional(),
  /** Platforms kept in an `oci` volume, e.g. `linux/amd64`. */
  platforms: z
    .array(
      z.string().regex(PLATFORM, {
        error: (issue) =>
          `invalid platform ${quote(issue.input)}; expected os/arch[/variant], e.g. "linux/arm64/v8"`,
      }),
    )
    .optional(),
});

// ---------------------------------------------------------------------------------------------
// Manifest

const imageRefListSchema = z.array(imageRefSchema);

export const manifestSchema = z
  .strictObject({
    /** The kernel; required to boot, optional for a root filesystem only. */
    kernel: kernelSchema.optional(),
    /** Images flattened in order into `/`: the init system. */
    init: imageRefListSchema.optional(),
    /** Containers run to completion, in order, at boot. */
    onboot: z.array(containerSchema).optional(),
    /** Containers run, in order, at shutdown. */
    onshutdown: z.array(containerSchema).optional(),
    /** Long-running containers. */
    services: z.array(containerSchema).optional(),
    /** Files, directories and links added to the image. */
    files: z.array(fileSchema).optional(),
    /** Named volumes containers can bind. */
    volumes: z.array(volumeSchema).optional(),
  })
  .transform((m) => {
    const out: Partial<typeof m> = {};
    for (const key of Object.keys(m) as (keyof typeof m)[]) {
      const value = m[key];
      if (value === undefined || (Array.isArray(value) && value.length === 0)) continue;
      (out as Record<string, unknown>)[key] = value;
    }
    return out;
  });

// ---------------------------------------------------------------------------------------------
// Types

/** Makes every property and array of a type readonly, for props and manifests users hold. */
export type DeepReadonly<T> = T extends (infer E)[]
  ? readonly DeepReadonly<E>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

/** The synthesized, normalized system definition: plain JSON. */
export type Manifest = DeepReadonly<z.output<typeof manifestSchema>>;
export type KernelSpec = DeepReadonly<z.output<typeof kernelSchema>>;
export type ContainerSpec = DeepReadonly<z.output<typeof containerSchema>>;
export type FileSpec = DeepReadonly<z.output<typeof fileSchema>>;
export type VolumeSpec = DeepReadonly<z.output<typeof volumeSchema>>;
export type MountSpec = DeepReadonly<z.output<typeof mountSchema>>;
export type RlimitSpec = DeepReadonly<z.output<typeof rlimitSchema>>;

/** What a definition may say, before normalization (the constructs' props). */
export type KernelInput = DeepReadonly<z.input<typeof kernelSchema>>;
export type ContainerInput = DeepReadonly<z.input<typeof containerSchema>>;
export type FileInput = DeepReadonly<z.input<typeof fileSchema>>;
export type VolumeInput = DeepReadonly<z.input<typeof volumeSchema>>;

/** The sections holding containers, in the order their containers get ids. */
export const CONTAINER_SECTIONS = ["onboot", "onshutdown", "services"] as const;
export type ContainerSection = (typeof CONTAINER_SECTIONS)[number];
