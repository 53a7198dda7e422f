import { canonicalJson } from "../../manifest/canonical";
import { emit, warn, type Io } from "../io";
import { loadDefinitions } from "../load";

/** `oskit synth FILE…`: the canonical manifest JSON (images pinned by oskit.lock.json when there is one). */
export async function synth(
  io: Io,
  files: readonly string[],
  options: { readonly out?: string; readonly frozen?: boolean; readonly lock?: boolean },
): Promise<number> {
  const { manifest, warnings } = await loadDefinitions(files, io.cwd, {
    lock: options.lock === false ? "ignore" : options.frozen === true ? "frozen" : "apply",
  });
  warn(io, warnings);
  emit(io, `${canonicalJson(manifest, 2)}\n`, options.out);
  return 0;
}
