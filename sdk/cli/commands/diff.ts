import { diffManifests } from "../../manifest/diff/compute";
import { renderDiff, type DiffFormat } from "../../manifest/diff/render";
import { useColor, warn, type Io } from "../io";
import { loadDefinitions } from "../load";

/** `oskit diff A B`: the OS changes from A to B; exit 0 when equal, 1 when different. */
export async function diff(
  io: Io,
  before: string,
  after: string,
  options: { readonly format: DiffFormat; readonly color: "auto" | "always" | "never" },
): Promise<number> {
  const [a, b] = await Promise.all([
    loadDefinitions([before], io.cwd),
    loadDefinitions([after], io.cwd),
  ]);
  warn(io, [...a.warnings, ...b.warnings]);
  const result = diffManifests(a.manifest, b.manifest);
  io.stdout.write(renderDiff(result, options.format, { color: useColor(io, options.color) }));
  return result.equal ? 0 : 1;
}
