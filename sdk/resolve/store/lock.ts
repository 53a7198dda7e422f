/**
 * A lock file for short critical sections across processes: created with O_EXCL, holding the
 * owner's pid, host and a random token. The holder refreshes its mtime while it runs and removes
 * the file only if it still holds its token. A lock whose owner is gone (or that has not been
 * refreshed for `staleMs`) is taken over by one process only (see `takeOver`).
 */
import { createHash, randomBytes } from "node:crypto";
import { open, readFile, rm, stat, utimes } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { ResolveError } from "../../errors";

export interface LockOptions {
  /** Give up after this long. @default 60000 */
  readonly timeoutMs?: number;
  /** A lock not refreshed for this long is abandoned; holders refresh it four times as often. @default 120000 */
  readonly staleMs?: number;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The lock file's contents when its owner is gone or it is stale; undefined when it is held. */
async function abandoned(path: string, staleMs: number): Promise<string | undefined> {
  try {
    const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    const [pid, host] = text.split(" ");
    const ownerGone =
      host === hostname() && pid !== undefined && /^\d+$/.test(pid) && !alive(Number(pid));
    return ownerGone || Date.now() - info.mtimeMs > staleMs ? text : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Removes the abandoned lock whose contents were `seen`. Only the process that creates the claim
 * file named after those contents may remove it, and only while the lock still holds them, so a
 * lock created since (by whoever took over first) is never removed. False when another process
 * holds the claim.
 */
async function takeOver(path: string, seen: string, staleMs: number): Promise<boolean> {
  const claim = `${path}.${createHash("sha256").update(seen).digest("hex").slice(0, 16)}.takeover`;
  if (!(await create(claim, `${process.pid} ${hostname()}`))) {
    if ((await abandoned(claim, staleMs)) !== undefined) await rm(claim, { force: true });
    return false;
  }
  try {
    if ((await readFile(path, "utf8").catch(() => undefined)) === seen)
      await rm(path, { force: true });
    return true;
  } finally {
    await rm(claim, { force: true });
  }
}

/** Creates the lock file holding `contents`; false when it exists. */
async function create(path: string, contents: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(path, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw error;
  }
  try {
    await handle.writeFile(contents);
  } finally {
    await handle.close();
  }
  return true;
}

/** True while the lock file still holds `contents`. */
async function holds(path: string, contents: string): Promise<boolean> {
  return (await readFile(path, "utf8").catch(() => undefined)) === contents;
}

/** Runs `fn` while holding the lock at `path`. */
export async function withLock<T>(
  path: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const staleMs = options.staleMs ?? 120_000;
  const deadline = Date.now() + timeoutMs;
  const contents = `${process.pid} ${hostname()} ${randomBytes(12).toString("hex")} ${new Date().toISOString()}`;
  for (let attempt = 0; !(await create(path, contents)); attempt++) {
    const seen = await abandoned(path, staleMs);
    if (seen !== undefined && (await takeOver(path, seen, staleMs))) continue;
    if (Date.now() > deadline) {
      const owner = await readFile(path, "utf8").catch(() => "unknown");
      throw new ResolveError(
        `timed out waiting for the lock ${path} (held by ${owner}); remove it if no oskit process is running`,
      );
    }
    await sleep(Math.min(200, 10 * 2 ** Math.min(attempt, 4)) + Math.random() * 20);
  }
  const refresh = setInterval(() => {
    void (async () => {
      if (await holds(path, contents)) {
        const now = new Date();
        await utimes(path, now, now);
      }
    })().catch(() => undefined);
  }, staleMs / 4);
  refresh.unref();
  try {
    return await fn();
  } finally {
    clearInterval(refresh);
    if (await holds(path, contents)) await rm(path, { force: true });
  }
}
