import { isSeglogError } from "../core/errors.ts";

/** Thrown for bad command lines: printed with the usage hint, exit code 2. */
export class UsageError extends Error {}

/** One clear line on stderr, never a stack trace; the exit code tells usage (2) from failure (1). */
export function reportError(e: unknown): number {
  if (e instanceof UsageError) {
    process.stderr.write(`seglog: ${e.message}\nRun 'seglog --help' for usage.\n`);
    return 2;
  }
  if (isSeglogError(e)) {
    process.stderr.write(`Error: ${e.message} (${e.kind}${e.code ? `/${e.code}` : ""})\n`);
    return 1;
  }
  process.stderr.write(`Error: ${e instanceof Error ? e.message : String(e)}\n`);
  return 1;
}
