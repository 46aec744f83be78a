import { invalid } from "../core/errors.ts";

/** An option that takes one of a few words: `Invalid`, naming them, for anything else. Checked
 * when the client is made, not at its first call, where a misspelling would fail as something else. */
export function oneOf(name: string, value: unknown, allowed: readonly string[]): void {
  if (!allowed.includes(value as string)) throw invalid(`${name} must be ${allowed.map((a) => JSON.stringify(a)).join(", ")}, not ${JSON.stringify(value)}`);
}
