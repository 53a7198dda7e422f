/** Stable codes for oskit's error family; tools and tests match on these, not on messages. */
export const ErrorCode = {
  Validation: "VALIDATION",
  Import: "IMPORT",
  Export: "EXPORT",
  Load: "LOAD",
  Usage: "USAGE",
  Git: "GIT",
  Format: "FORMAT",
  Resolve: "RESOLVE",
  Package: "PACKAGE",
  Output: "OUTPUT",
  Assemble: "ASSEMBLE",
  Run: "RUN",
  Publish: "PUBLISH",
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Base of every error oskit reports to a user: a message that says what to do, and a stable code. */
export class OskitError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }

  /** True for any OskitError, including one thrown by another copy of oskit (the CLI's and a project's). */
  static is(value: unknown): value is OskitError {
    return (
      value instanceof Error &&
      typeof (value as { code?: unknown }).code === "string" &&
      Object.values(ErrorCode).includes((value as unknown as { code: ErrorCode }).code)
    );
  }
}

/** One thing wrong with a definition: where (a field path such as `services[web].capabilities[0]`) and what. */
export interface Problem {
  readonly path: string;
  readonly message: string;
}

/** Renders a problem as the one line users see: `services[web].capabilities[0]: unknown capability "CAP_FOO"; …`. */
export function formatProblem(problem: Problem): string {
  return problem.path === "" ? problem.message : `${problem.path}: ${problem.message}`;
}

/** Every problem found in a definition, collected and thrown once. */
export class ValidationError extends OskitError {
  readonly problems: readonly Problem[];

  constructor(problems: readonly Problem[], options?: { source?: string }) {
    const lines = problems.map(formatProblem);
    const where = options?.source === undefined ? "" : ` in ${options.source}`;
    const head = `${problems.length} problem${problems.length === 1 ? "" : "s"}${where}:`;
    super(ErrorCode.Validation, [head, ...lines.map((l) => `  ${l}`)].join("\n"));
    this.problems = problems;
  }
}

/** Bytes that do not follow an on-disk format, or values a format cannot hold. */
export class FormatError extends OskitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Format, message, options);
  }
}

/** An image or blob that cannot be found, read or trusted (the store, later registries). */
export class ResolveError extends OskitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Resolve, message, options);
  }
}

/** A component package that cannot be built; the message names the package and what to do. */
export class PackageError extends OskitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Package, message, options);
  }
}

/** An image that cannot be turned into a root filesystem safely; names the image and the entry. */
export class AssembleError extends OskitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Assemble, message, options);
  }
}

/** A system that cannot be started (QEMU missing, a bad option, a VM that did not come up). */
export class RunError extends OskitError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Run, message, options);
  }
}
