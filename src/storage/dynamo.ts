import { SeglogError } from "../core/errors.ts";
import { isConditionFailed, toSeglogError } from "./aws-errors.ts";

/** Runs one SDK call; whatever it throws comes out as a Seglog error kind. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toSeglogError(e);
  }
}

/** Runs one conditional write: true when it took effect, false when its condition did not hold. */
export async function conditional(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (e) {
    if (isConditionFailed(e)) return false;
    throw toSeglogError(e);
  }
}

/** Tries a batch request gets, for what DynamoDB leaves unprocessed (throttled), before `Throttled`. */
export const BATCH_ATTEMPTS = 5;

/**
 * Runs a BatchGetItem or BatchWriteItem until DynamoDB has taken all of it: `send` makes one
 * request of `items` and returns what DynamoDB left unprocessed, sent again after a backoff
 * (100, 200, 400, 800 ms), as AWS advises. After {@link BATCH_ATTEMPTS} requests it is `Throttled`
 * (retriable), naming how many `what` were left.
 */
export async function untilProcessed<T>(items: T[], what: string, send: (items: T[]) => Promise<T[]>): Promise<void> {
  for (let attempt = 0; items.length > 0; attempt++) {
    if (attempt >= BATCH_ATTEMPTS) {
      throw new SeglogError("Throttled", `DynamoDB left ${items.length} ${what} unprocessed, ${BATCH_ATTEMPTS} times`, { retriable: true });
    }
    if (attempt > 0) await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
    items = await send(items);
  }
}
