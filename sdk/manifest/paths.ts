/** Normalization of the paths a manifest names inside the image. */

/** Why a path was refused, or its normalized form. */
export type PathResult =
  { readonly ok: true; readonly path: string } | { readonly ok: false; readonly reason: string };

/**
 * Normalizes a path in the image's root: LinuxKit accepts `etc/motd` and `/etc/motd` alike, so both
 * become `/etc/motd`; `.` and empty components are dropped; `..` is refused (it could climb out of
 * the root), as are NUL bytes and the root itself.
 */
export function normalizeImagePath(path: string): PathResult {
  if (path.includes("\0")) return { ok: false, reason: "contains a NUL byte" };
  const parts: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") return { ok: false, reason: `contains ".."; paths stay inside the image` };
    parts.push(part);
  }
  if (parts.length === 0)
    return { ok: false, reason: "names the root; expected a path such as /etc/motd" };
  return { ok: true, path: `/${parts.join("/")}` };
}

/** True for an absolute path inside a container or the host (`/…`) without `..` components. */
export function isAbsoluteCleanPath(path: string): boolean {
  return path.startsWith("/") && !path.includes("\0") && !path.split("/").includes("..");
}
