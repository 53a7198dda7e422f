/**
 * A lock file for short critical sections across processes: created with O_EXCL, holding the
 * owner's pid, host and time; a lock whose owner is gone (or that is older than `staleMs`) is
 * taken over.
 */
import { open, readFile, rm, stat } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { ResolveError } from "../../errors";

export interface LockOptions {
  /** Give up after this long. @default 60000 */
  readonly timeoutMs?: number;
  /** A lock older than this is abandoned. @default 120000 */
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

async function abandoned(path: string, staleMs: number): Promise<boolean> {
  try {
    const [text, info] = await Promise.all([readFile(path, "utf8"), stat(path)]);
    const [pid, host] = text.split(" ");
    if (host === hostname() && pid !== undefined && /^\d+$/.test(pid) && !alive(Number(pid)))
      return true;
    return Date.now() - info.mtimeMs > staleMs;
  } catch {
    return false;
  }
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
  for (let attempt = 0; ; attempt++) {
    try {
      const handle = await open(path, "wx");
      try {
        await handle.writeFile(`${process.pid} ${hostname()} ${new Date().toISOString()}`);
      } finally {
        await handle.close();
      }
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (await abandoned(path, staleMs)) {
        await rm(path, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        const owner = await readFile(path, "utf8").catch(() => "unknown");
        throw new ResolveError(
          `timed out waiting for the lock ${path} (held by ${owner}); remove it if no oskit process is running`,
        );
      }
      await sleep(Math.min(200, 10 * 2 ** Math.min(attempt, 4)) + Math.random() * 20);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}
