import { ErrorCode, OskitError } from "../../errors";
import { buildPackage, packageRef } from "../../pkg/build";
import { ARCHES, type Arch } from "../../pkg/spec";
import { ContentStore, defaultStoreRoot } from "../../resolve/store/store";
import { push } from "../../resolve/push";
import type { Io } from "../io";
import { registryOptions } from "./registry";

/** `oskit pkg build DIR…`: builds each package into the store; prints `REF DIGEST` per package. */
export async function pkgBuild(
  io: Io,
  dirs: readonly string[],
  options: {
    readonly arch?: string[];
    readonly store?: string;
    readonly push?: string;
    readonly insecureRegistry?: string[];
  },
): Promise<number> {
  if (options.push !== undefined && dirs.length !== 1) {
    throw new OskitError(ErrorCode.Usage, "--push takes one package directory");
  }
  const arches = options.arch?.map((a) => {
    if (!(ARCHES as readonly string[]).includes(a))
      throw new OskitError(ErrorCode.Usage, `--arch ${a}: expected one of ${ARCHES.join(", ")}`);
    return a as Arch;
  });
  const store = await ContentStore.open(options.store ?? defaultStoreRoot(io.env));
  for (const dir of dirs) {
    const started = Date.now();
    const result = await buildPackage(dir, {
      store,
      arches,
      progress: (m) => io.stderr.write(`${m}\n`),
    });
    io.stderr.write(`${result.ref}: built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    io.stdout.write(`${result.ref} ${result.index.digest}\n`);
    if (options.push !== undefined) {
      const pushed = await push(store, result.ref, options.push, {
        registry: registryOptions(io, options),
        progress: (m) => io.stderr.write(`${m}\n`),
      });
      io.stdout.write(`${pushed.ref} ${pushed.digest}\n`);
    }
  }
  return 0;
}

/** `oskit pkg show-tag DIR…`: the reference each package builds to. */
export function pkgShowTag(io: Io, dirs: readonly string[]): Promise<number> {
  for (const dir of dirs) io.stdout.write(`${packageRef(dir)}\n`);
  return Promise.resolve(0);
}
