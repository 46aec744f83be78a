/**
 * Why the local stack would not start, or stopped by itself. `code` tells the user what to do:
 * - `DataDirNotWritable`: pick a data directory this user may write to.
 * - `DataDirLocked`: another process runs a stack on the data directory; stop it, or pick another.
 */
export type LocalStackErrorCode = "DataDirNotWritable" | "DataDirLocked";

export class LocalStackError extends Error {
  readonly code: LocalStackErrorCode;

  constructor(code: LocalStackErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LocalStackError";
    this.code = code;
  }
}
