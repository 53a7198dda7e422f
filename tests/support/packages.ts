import { existsSync } from "node:fs";
import { join } from "node:path";
import { buildPackage, packageRef } from "../../sdk/pkg/build";
import { ContentStore } from "../../sdk/resolve/store/store";
import { ROOT, TMP } from "./paths";

/** The store the end-to-end tests share: packages are built into it once. */
export const SHARED_STORE = join(TMP, "store");

/** Builds the package directories the store does not have yet; returns the store. */
export async function ensurePackages(dirs: readonly string[]): Promise<ContentStore> {
  const store = await ContentStore.open(SHARED_STORE);
  for (const dir of dirs) {
    if (!existsSync(join(dir, "build.yml"))) throw new Error(`${dir} is not a package`);
    if ((await store.resolve(packageRef(dir))) === undefined) await buildPackage(dir, { store });
  }
  return store;
}

/** oskit's own package directories. */
export const OSKIT_PACKAGES = [
  "kernel",
  "init",
  "metadata",
  "dhcpcd",
  "httpd",
  "getty",
  "sshd",
  "sysctl",
  "boot",
].map((p) => join(ROOT, "pkg", p));
