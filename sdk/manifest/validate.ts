import { ValidationError, type Problem } from "../errors";
import {
  identityNamer,
  issuesToProblems,
  recordingErrorMap,
  renderPath,
  type KeyNamer,
  type KnownKeys,
} from "./issues";
import { checkRules } from "./rules";
import { manifestSchema, type Manifest } from "./schema";

export interface ValidateOptions {
  /** Where the definition came from (a file name), for the error's heading. */
  readonly source?: string;
  /** Renders field names in the user's vocabulary (LinuxKit's, for YAML). */
  readonly namer?: KeyNamer;
}

/** The outcome of checking a raw definition: the manifest when there were no problems. */
export type CheckResult =
  | { readonly ok: true; readonly manifest: Manifest }
  | { readonly ok: false; readonly problems: readonly Problem[] };

/**
 * Checks a raw definition (plain data from constructs or YAML) against the schema and the rules
 * between fields, collecting every problem; on success returns the normalized manifest.
 */
export function checkManifest(raw: unknown, options: ValidateOptions = {}): CheckResult {
  const namer = options.namer ?? identityNamer;
  const known: KnownKeys = new Map();
  const parsed = manifestSchema.safeParse(raw, {
    error: recordingErrorMap(known),
    reportInput: true,
  });
  const problems: Problem[] = parsed.success
    ? []
    : issuesToProblems(parsed.error.issues, raw, namer, known);
  for (const p of checkRules(raw)) {
    problems.push({ path: renderPath(p.path, raw, namer), message: p.message });
  }
  const unique = dedupe(problems);
  if (unique.length > 0 || !parsed.success) return { ok: false, problems: unique };
  return { ok: true, manifest: parsed.data };
}

/** Like checkManifest, but throws one ValidationError listing every problem. */
export function validateManifest(raw: unknown, options: ValidateOptions = {}): Manifest {
  const result = checkManifest(raw, options);
  if (!result.ok) throw new ValidationError(result.problems, { source: options.source });
  return result.manifest;
}

function dedupe(problems: readonly Problem[]): Problem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.path}\0${p.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
