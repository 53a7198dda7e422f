import { exportLinuxkit } from "../../manifest/linuxkit/export";
import { emit, parseInputs, warn, type Io } from "../io";
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
