/**
 * Why the local stack would not start, or stopped by itself. `code` tells the user what to do:
 * - `DataDirNotWritable`: pick a data directory this user may write to.
 */
export type LocalStackErrorCode = "DataDirNotWritable";

export class LocalStackError extends Error {
  readonly code: LocalStackErrorCode;

  constructor(code: LocalStackErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LocalStackError";
    this.code = code;
  }
}
