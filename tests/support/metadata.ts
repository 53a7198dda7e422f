import { strict as assert } from "node:assert";
import { execFile, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Digest } from "../../sdk/manifest/digest";
import { packageRef } from "../../sdk/pkg/build";
import { indexSchema, manifestSchema } from "../../sdk/resolve/oci";
import { ensurePackages } from "./packages";
import { ROOT } from "./paths";

/** Extracts the metadata package's amd64 layer from the store into a directory. */
export async function unpackMetadata(into: string): Promise<void> {
  const store = await ensurePackages([join(ROOT, "pkg", "metadata")]);
  const descriptor = (await store.resolve(packageRef(join(ROOT, "pkg", "metadata"))))!;
  const index = indexSchema.parse(await store.readJson(Digest.parse(descriptor.digest)));
  const manifest = manifestSchema.parse(
    await store.readJson(Digest.parse(index.manifests[0]!.digest)),
  );
  mkdirSync(into, { recursive: true });
  const layer = await store.blobPath(Digest.parse(manifest.layers[0]!.digest));
  const tar = spawnSync("tar", ["-xzf", layer, "-C", into]);
  assert.equal(tar.status, 0, tar.stderr.toString());
}

export interface MetadataRun {
  readonly stdout: string;
  readonly seconds: number;
  /** A file under /run/config, or undefined when it was not written. */
  readonly config: (path: string) => string | undefined;
  /** What /run/config holds, sorted (temporary files included, to show none are left). */
  readonly listing: () => string[];
}

/**
 * Runs /usr/bin/metadata in a chroot of the tree (its own UTS namespace: it sets the hostname),
 * with these DMI files and environment (the scripts' test hooks: OSKIT_METADATA_IMDS, …).
 */
export function runMetadata(
  tree: string,
  dmi: Record<string, string>,
  env: Record<string, string>,
): Promise<MetadataRun> {
  const dmiDir = join(tree, "sys", "class", "dmi", "id");
  for (const dir of ["sys", "run", "mnt"])
    rmSync(join(tree, dir), { recursive: true, force: true });
  mkdirSync(dmiDir, { recursive: true });
  mkdirSync(join(tree, "run", "config"), { recursive: true });
  mkdirSync(join(tree, "dev"), { recursive: true });
  mkdirSync(join(tree, "mnt"), { recursive: true });
  for (const [name, value] of Object.entries(dmi)) writeFileSync(join(dmiDir, name), `${value}\n`);
  const started = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    execFile(
      "unshare",
      ["--uts", "chroot", tree, "/usr/bin/metadata"],
      { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", ...env }, timeout: 150000 },
      (error, stdout, stderr) => {
        if (error) return reject(new Error(`${error.message}\n${stdout}\n${stderr}`));
        const config = (path: string) => {
          const file = join(tree, "run", "config", path);
          return existsSync(file) ? readFileSync(file, "utf8") : undefined;
        };
        const listing = () =>
          spawnSync("ls", ["-A", join(tree, "run", "config")], { encoding: "utf8" })
            .stdout.split("\n")
            .filter((n) => n !== "");
        resolve({
          stdout,
          seconds: Number(process.hrtime.bigint() - started) / 1e9,
          config,
          listing,
        });
      },
    );
  });
}
