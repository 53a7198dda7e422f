/**
 * Definitions read from git (`REV:PATH`, as `git show` takes them), so `oskit diff main:os.ts os.ts`
 * compares a branch's system with the working copy's.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { isAbsolute, join, relative, resolve } from "node:path";
import { ErrorCode, OskitError } from "../errors";

export interface GitSpec {
  readonly rev: string;
  /** Path relative to the repository's top level. */
  readonly path: string;
  /** The repository's top level. */
  readonly top: string;
}

function git(args: readonly string[], cwd: string): string {
  const result = spawnSync("git", args, { cwd, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (result.error !== undefined) {
    throw new OskitError(
      ErrorCode.Git,
      `git is not available (${result.error.message}); install git to read REV:PATH`,
    );
  }
  if (result.status !== 0) {
    throw new OskitError(
      ErrorCode.Git,
      `git ${args.join(" ")}: ${result.stderr.trim() || `exit ${String(result.status)}`}`,
    );
  }
  return result.stdout;
}

/**
 * Recognizes `REV:PATH` when no file of that name exists. A path starting with `./` or `../` is
 * relative to the working directory, otherwise to the repository's top level (as in git).
 */
export function parseGitSpec(spec: string, cwd: string): GitSpec | undefined {
  const colon = spec.indexOf(":");
  if (colon <= 0 || existsSync(resolve(cwd, spec))) return undefined;
  const rev = spec.slice(0, colon);
  const rawPath = spec.slice(colon + 1);
  if (rawPath === "") return undefined;
  const top = git(["rev-parse", "--show-toplevel"], cwd).trim();
  const path = /^\.\.?\//.test(rawPath) ? relative(top, resolve(cwd, rawPath)) : rawPath;
  if (isAbsolute(path) || path.startsWith("..")) {
    throw new OskitError(ErrorCode.Git, `${spec}: the path is outside the repository at ${top}`);
  }
  git(["rev-parse", "--verify", "--quiet", `${rev}^{commit}`], top);
  return { rev, path, top };
}

/** The text of a file at a revision, or undefined when it has none there. */
export function readAtRevisionIfExists(spec: GitSpec): string | undefined {
  const result = spawnSync("git", ["cat-file", "-e", `${spec.rev}:${spec.path}`], {
    cwd: spec.top,
  });
  return result.status === 0 ? readAtRevision(spec) : undefined;
}

/** The text of a file at a revision. */
export function readAtRevision(spec: GitSpec): string {
  return git(["show", `${spec.rev}:${spec.path}`], spec.top);
}

/**
 * Checks the whole tree of a revision out into a temporary directory inside the repository's git
 * directory (so that packages resolve from the repository's node_modules), runs `use` on the
 * definition's path there, and removes the directory afterwards.
 */
export async function withTreeAtRevision<T>(
  spec: GitSpec,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const gitDir = resolve(spec.top, git(["rev-parse", "--git-dir"], spec.top).trim());
  const dir = mkdtempSync(join(gitDir, "oskit-rev-"));
  try {
    await extractTree(spec, dir);
    const path = join(dir, spec.path);
    if (!existsSync(path)) {
      throw new OskitError(
        ErrorCode.Git,
        `${spec.rev}:${spec.path} does not exist at that revision`,
      );
    }
    return await use(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function extractTree(spec: GitSpec, dir: string): Promise<void> {
  const archive = spawn("git", ["archive", "--format=tar", spec.rev], {
    cwd: spec.top,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const tar = spawn("tar", ["-x", "-C", dir], { stdio: ["pipe", "ignore", "pipe"] });
  let errors = "";
  archive.stderr.on("data", (d: Buffer) => (errors += d.toString()));
  tar.stderr.on("data", (d: Buffer) => (errors += d.toString()));
  archive.stdout.pipe(tar.stdin);
  const exit = (child: typeof archive | typeof tar) =>
    new Promise<number | null>((done, fail) => {
      child.on("error", fail);
      child.on("close", done);
    });
  const [archiveCode, tarCode] = await Promise.all([exit(archive), exit(tar)]);
  if (archiveCode !== 0 || tarCode !== 0) {
    throw new OskitError(
      ErrorCode.Git,
      `could not check out ${spec.rev}: ${errors.trim() || "git archive or tar failed"}`,
    );
  }
}
