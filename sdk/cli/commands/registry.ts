import { dirname, join, resolve } from "node:path";
import { ErrorCode, OskitError } from "../../errors";
import { ImageRef } from "../../manifest/reference";
import { createLock, formatLock, LOCK_FILE } from "../../resolve/lock";
import { ociArchitecture } from "../../resolve/oci";
import { pull } from "../../resolve/pull";
import { push } from "../../resolve/push";
import { registryOptionsFromEnv, type RegistryOptions } from "../../resolve/registry/hosts";
import { ContentStore, defaultStoreRoot } from "../../resolve/store/store";
import { writeOutputFile, type Io } from "../io";
import { loadDefinitions } from "../load";

/** Options every command that talks to registries takes. */
export interface RegistryFlags {
  readonly insecureRegistry?: string[];
  readonly mirror?: string[];
  readonly store?: string;
}

/** Registry options from the flags and the environment (OSKIT_INSECURE_REGISTRIES, OSKIT_MIRRORS). */
export function registryOptions(io: Io, flags: RegistryFlags): RegistryOptions {
  const env = registryOptionsFromEnv(io.env);
  const mirrors = { ...env.mirrors };
  for (const entry of flags.mirror ?? []) {
    const eq = entry.indexOf("=");
    if (eq <= 0)
      throw new OskitError(
        ErrorCode.Usage,
        `--mirror ${entry}: expected HOST=URL, e.g. docker.io=http://127.0.0.1:5000`,
      );
    mirrors[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return { insecure: [...env.insecure, ...(flags.insecureRegistry ?? [])], mirrors, env: io.env };
}

export function openStore(io: Io, flags: RegistryFlags): Promise<ContentStore> {
  return ContentStore.open(flags.store ?? defaultStoreRoot(io.env));
}

function platforms(arch: string[] | undefined): { os: string; architecture: string }[] {
  return (arch ?? [ociArchitecture()]).map((architecture) => ({ os: "linux", architecture }));
}

/** `oskit pull REF…`: into the store; prints `REF DIGEST`. */
export async function pullCommand(
  io: Io,
  refs: readonly string[],
  flags: RegistryFlags & { readonly arch?: string[]; readonly allPlatforms?: boolean },
): Promise<number> {
  const store = await openStore(io, flags);
  for (const ref of refs) {
    ImageRef.parse(ref);
    const descriptor = await pull(ref, store, {
      platforms: flags.allPlatforms === true ? undefined : platforms(flags.arch),
      registry: registryOptions(io, flags),
      progress: (m) => io.stderr.write(`${m}\n`),
    });
    io.stdout.write(`${ref} ${descriptor.digest}\n`);
  }
  return 0;
}

/** `oskit push SOURCE [TARGET]`: an image of the store to a registry. */
export async function pushCommand(
  io: Io,
  source: string,
  target: string | undefined,
  flags: RegistryFlags,
): Promise<number> {
  const store = await openStore(io, flags);
  const result = await push(store, source, target ?? source, {
    registry: registryOptions(io, flags),
    progress: (m) => io.stderr.write(`${m}\n`),
  });
  io.stderr.write(
    `${result.ref}: ${result.uploaded} blob${result.uploaded === 1 ? "" : "s"} uploaded, ${result.mounted} mounted, ${result.skipped} already there\n`,
  );
  io.stdout.write(`${result.ref} ${result.digest}\n`);
  return 0;
}

/** `oskit lock FILE…`: writes oskit.lock.json beside the definition. */
export async function lockCommand(
  io: Io,
  files: readonly string[],
  flags: RegistryFlags & { readonly arch?: string[]; readonly pull?: boolean },
): Promise<number> {
  const { manifest, warnings } = await loadDefinitions(files, io.cwd, { lock: "ignore" });
  for (const w of warnings) io.stderr.write(`warning: ${w}\n`);
  const store = await openStore(io, flags);
  const lock = await createLock(manifest, store, platforms(flags.arch), {
    pull: flags.pull === true ? "always" : "missing",
    registry: registryOptions(io, flags),
    progress: (m) => io.stderr.write(`${m}\n`),
  });
  const path = join(dirname(resolve(io.cwd, files[0]!)), LOCK_FILE);
  writeOutputFile(path, formatLock(lock));
  for (const [ref, entry] of Object.entries(lock.images))
    io.stdout.write(`${ref} ${entry.digest}\n`);
  io.stderr.write(`wrote ${path}\n`);
  return 0;
}
