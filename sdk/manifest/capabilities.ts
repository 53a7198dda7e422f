/** Every Linux capability, in the kernel's numbering order (include/uapi/linux/capability.h, 0–40). */
export const LINUX_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE",
] as const;

/** A real Linux capability name, e.g. `CAP_NET_ADMIN`. */
export type LinuxCapability = (typeof LINUX_CAPABILITIES)[number];

/** `all` (every capability) and `none` (no capability), each accepted only as the single entry of a list. */
export const CAPABILITY_KEYWORDS = ["all", "none"] as const;

/** What a capability list may hold: real capability names, or a single `all` / `none`. */
export type Capability = LinuxCapability | (typeof CAPABILITY_KEYWORDS)[number];

export const CAPABILITY_NAMES: readonly Capability[] = [
  ...LINUX_CAPABILITIES,
  ...CAPABILITY_KEYWORDS,
];
