import { invalid } from "../core/errors.ts";

/** An option that takes one of a few words: `Invalid`, naming them, for anything else. Checked
 * when the client is made, not at its first call, where a misspelling would fail as something else. */
export function oneOf(name: string, value: unknown, allowed: readonly string[]): void {
  if (!allowed.includes(value as string)) throw invalid(`${name} must be ${allowed.map((a) => JSON.stringify(a)).join(", ")}, not ${JSON.stringify(value)}`);
}

/** The most a timer can wait (2^31 − 1 ms): a longer one fires at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** A numeric option, when given, as a whole number from `min` to `max`: `Invalid`, naming it, for
 * anything else (NaN, a fraction, a string), where it would turn the client's loops and timers odd. */
export function wholeNumber(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER, unit = name.endsWith("Ms") ? "ms" : ""): void {
  if (value === undefined) return;
  if (!(Number.isSafeInteger(value) && (value as number) >= min && (value as number) <= max)) {
    const range = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`;
    throw invalid(`${name} must be a whole number${unit === "" ? "" : ` of ${unit}`} ${range}, not ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
  }
}
