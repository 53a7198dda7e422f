import { emitTypescript } from "../../constructs/emit";
import { ErrorCode, OskitError } from "../../errors";
import { emit, warn, type Io } from "../io";
import { definitionKind, loadDefinitions } from "../load";

/** `oskit import FILE.yml…`: TypeScript that builds the same system with oskit's constructs. */
export async function importYaml(
  io: Io,
  files: readonly string[],
  options: { readonly out?: string },
): Promise<number> {
  for (const file of files) {
    if (definitionKind(file) !== "yaml") {
      throw new OskitError(
        ErrorCode.Usage,
        `${file}: oskit import reads LinuxKit .yml/.yaml files`,
      );
    }
  }
  const { manifest, warnings } = await loadDefinitions(files, io.cwd, { lock: "ignore" });
  warn(io, warnings);
  emit(io, emitTypescript(manifest, { source: files.join(", ") }), options.out);
  return 0;
}
