import { ErrorCode, OskitError } from "../../errors";
import { exportLinuxkit } from "../../manifest/linuxkit/export";
import { emit, warn, type Io } from "../io";
import { loadDefinitions } from "../load";

/** `oskit export FILE…`: LinuxKit YAML. */
export async function exportYaml(
  io: Io,
  files: readonly string[],
  options: { readonly out?: string; readonly input?: readonly string[] },
): Promise<number> {
  const { manifest, warnings } = await loadDefinitions(files, io.cwd);
  warn(io, warnings);
  emit(io, exportLinuxkit(manifest, { inputs: parseInputs(options.input ?? []) }), options.out);
  return 0;
}

/** `NAME=VALUE` pairs from repeated `--input` options. */
function parseInputs(pairs: readonly string[]): Record<string, string> {
  const inputs: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new OskitError(ErrorCode.Usage, `--input ${pair}: expected NAME=VALUE`);
    inputs[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return inputs;
}
