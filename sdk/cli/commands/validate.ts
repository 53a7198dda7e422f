import { manifestDigest } from "../../manifest/canonical";
import { warn, type Io } from "../io";
import { loadDefinitions } from "../load";

/** `oskit validate FILE…`: exit 0 with the manifest digest, or 1 with one line per problem. */
export async function validate(io: Io, files: readonly string[]): Promise<number> {
  const { manifest, warnings } = await loadDefinitions(files, io.cwd);
  warn(io, warnings);
  io.stdout.write(`${files.join(" ")}: valid (${manifestDigest(manifest).toString()})\n`);
  return 0;
}
