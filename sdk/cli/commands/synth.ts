import { canonicalJson } from "../../manifest/canonical";
import { emit, warn, type Io } from "../io";
import { loadDefinitions } from "../load";

/** `oskit synth FILE…`: the canonical manifest JSON. */
export async function synth(
  io: Io,
  files: readonly string[],
  options: { readonly out?: string },
): Promise<number> {
  const { manifest, warnings } = await loadDefinitions(files, io.cwd);
  warn(io, warnings);
  emit(io, `${canonicalJson(manifest, 2)}\n`, options.out);
  return 0;
}
