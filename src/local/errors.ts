/**
 * Why the local stack would not start, or stopped by itself. `code` tells the user what to do:
 * - `DataDirNotWritable`: pick a data directory this user may write to.
 * - `DataDirLocked`: another process runs a stack on the data directory; stop it, or pick another.
 * - `DynamoDbLocalUnavailable`: DynamoDB Local was asked for, or holds the data directory's tables,
 *   and cannot run (no Java 17+, or no jar): install Java 17+.
 * - `ComponentExited`: DynamoDB Local exited while the stack ran (its output says why): start again.
 */
export type LocalStackErrorCode = "DataDirNotWritable" | "DataDirLocked" | "DynamoDbLocalUnavailable" | "ComponentExited";

export class LocalStackError extends Error {
  readonly code: LocalStackErrorCode;

  constructor(code: LocalStackErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LocalStackError";
    this.code = code;
  }
}
