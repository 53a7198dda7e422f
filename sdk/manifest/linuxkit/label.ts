/**
 * The `org.mobyproject.config` image label: LinuxKit's per-container fields (without name and
 * image) as JSON, read and written with the same schema as a manifest's containers.
 */
import { ValidationError, type Problem } from "../../errors";
import { canonicalJson } from "../canonical";
import type { ContainerSpec } from "../schema";
import { exportContainer } from "./export";
import { importLinuxkitData } from "./import";

export const MOBY_CONFIG_LABEL = "org.mobyproject.config";

/** A container's fields as an image label gives them. */
export type ContainerConfig = Omit<ContainerSpec, "name" | "image">;

const PLACEHOLDER = "label";

/** Validates label fields in LinuxKit's vocabulary; problems are reported under `at` (e.g. `config`). */
export function importLabelConfig(raw: unknown, source: string, at = "config"): ContainerConfig {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new ValidationError(
      [{ path: at, message: "expected a mapping of container fields (capabilities, binds, …)" }],
      { source },
    );
  }
  const problems: Problem[] = [];
  for (const key of ["name", "image"]) {
    if (key in raw)
      problems.push({
        path: `${at}.${key}`,
        message: "cannot be set in the org.mobyproject.config label",
      });
  }
  if (problems.length > 0) throw new ValidationError(problems, { source });
  try {
    const manifest = importLinuxkitData(
      { services: [{ ...raw, name: PLACEHOLDER, image: PLACEHOLDER }] },
      source,
    );
    const { name: _name, image: _image, ...config } = manifest.services![0]!;
    return config;
  } catch (error) {
    if (!(error instanceof ValidationError)) throw error;
    const prefix = `services[${PLACEHOLDER}]`;
    throw new ValidationError(
      error.problems.map((p) => ({
        ...p,
        path: p.path.startsWith(prefix) ? `${at}${p.path.slice(prefix.length)}` : p.path,
      })),
      { source },
    );
  }
}

/** The label's JSON text: LinuxKit's keys, sorted. */
export function exportLabelConfig(config: ContainerConfig): string {
  const {
    name: _name,
    image: _image,
    ...fields
  } = exportContainer({ ...config, name: PLACEHOLDER, image: PLACEHOLDER });
  return canonicalJson(fields);
}
