import { accessSync, constants, mkdirSync } from "node:fs";
import { LocalStackError } from "./errors.ts";

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
