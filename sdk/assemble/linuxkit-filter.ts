/**
 * What LinuxKit does to every image's files before they go into a system: leftovers of image
 * builds are dropped, `/etc/hosts` becomes the standard one, `/etc/resolv.conf` a link to the
 * resolver the DHCP client writes (in the root) or a placeholder (in containers), and the
 * directories and files every root needs exist.
 */
import type { FileTree } from "./tree";
import { FileData } from "./file-data";

const DROPPED = [
  "/.dockerenv",
  "/Dockerfile",
  "/dev/console",
  "/dev/pts",
  "/dev/shm",
  "/etc/hostname",
];

export const HOSTS = [
  "127.0.0.1       localhost",
  "::1     localhost ip6-localhost ip6-loopback",
  "fe00::0 ip6-localnet",
  "ff00::0 ip6-mcastprefix",
  "ff02::1 ip6-allnodes",
  "ff02::2 ip6-allrouters",
  "",
].join("\n");

const ROOT = { uid: 0, gid: 0 };

/** Applies LinuxKit's changes to an image's tree, in place: `root` for init images, `container` otherwise. */
export function applyLinuxkitFilter(tree: FileTree, kind: "root" | "container"): void {
  for (const path of DROPPED) tree.delete(path);
  for (const dir of ["/dev", "/dev/pts", "/dev/shm", "/etc", "/proc", "/sys"]) {
    if (tree.get(dir)?.kind !== "dir") tree.set(dir, { kind: "dir", mode: 0o755, ...ROOT });
  }
  tree.set("/etc/hosts", { kind: "file", mode: 0o644, data: FileData.of(HOSTS), ...ROOT });
  tree.set("/etc/mtab", { kind: "symlink", target: "/proc/mounts", ...ROOT });
  if (kind === "root") {
    tree.set("/etc/resolv.conf", {
      kind: "symlink",
      target: "/run/resolvconf/resolv.conf",
      ...ROOT,
    });
  } else {
    tree.set("/etc/resolv.conf", {
      kind: "file",
      mode: 0o644,
      data: FileData.of("# no resolver: bind /etc/resolv.conf into the container to use DNS\n"),
      ...ROOT,
    });
  }
}
