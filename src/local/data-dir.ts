import { accessSync, constants, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LocalStackError } from "./errors.ts";
import { isAlive } from "./processes.ts";

const LOCK_FILE = "seglog.lock";

/** What a failed mkdir or access says about a directory, for a user who picked it. */
const WHY: Readonly<Record<string, string>> = {
  EACCES: "permission denied",
  EPERM: "permission denied",
  EROFS: "the file system is read-only",
  ENOTDIR: "a part of its path is a file, not a directory",
  EEXIST: "it is a file, not a directory",
  ENOENT: "a parent directory cannot be created",
};

/**
 * Creates `dir` and its parents if need be, and checks that this process may write there: before
 * any emulator starts, so that a bad data directory is named as such rather than surfacing as an
 * emulator's own failure.
 */
export function writableDir(dir: string): void {
  try {
    mkdirSync(dir, { recursive: true });
    accessSync(dir, constants.W_OK);
  } catch (error) {
    throw notWritable(dir, error);
  }
}

/** The error for a directory that cannot be written to, from the fs error that said so. */
export function notWritable(dir: string, error: unknown): LocalStackError {
  const code = (error as NodeJS.ErrnoException).code;
  const why = (code === undefined ? undefined : WHY[code]) ?? (error as Error).message;
  return new LocalStackError("DataDirNotWritable", `the data directory ${dir} is not writable: ${why}${code ? ` (${code})` : ""}`, { cause: error });
}

/**
 * Takes `dir` for this process, or refuses (DataDirLocked) while another live process holds it:
 * two stacks on one data directory share one DynamoDB Local database, which then answers both
 * with errors. The lock is `dir/seglog.lock`, created only if absent ('wx', atomic) and holding
 * the pid. A lock whose pid is gone (a run that was killed) is taken over. Returns the release,
 * which removes the lock while it is still this process's.
 */
export function lockDataDir(dir: string): () => void {
  const file = join(dir, LOCK_FILE);
  const mine = String(process.pid);
  for (;;) {
    try {
      writeFileSync(file, mine, { flag: "wx" });
      return () => {
        if (readLock(file) === mine) rmSync(file, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw notWritable(dir, error);
    }
    const holder = readLock(file);
    if (holder === undefined) continue; // released meanwhile
    const pid = Number(holder);
    if (Number.isSafeInteger(pid) && pid > 0 && isAlive(pid)) {
      throw new LocalStackError(
        "DataDirLocked",
        `the data directory ${dir} is in use by another local stack, pid ${pid} (lock file ${file}): stop it first, or use another data directory`,
      );
    }
    // The holder is gone (text that is no pid: a run killed between creating and writing it).
    // Remove its lock only if that is still the one there, since another start may have taken
    // it over meanwhile; whichever start then creates the lock first holds it.
    if (readLock(file) === holder) rmSync(file, { force: true });
  }
}

/** The lock's text, or undefined when there is no lock. */
function readLock(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}
