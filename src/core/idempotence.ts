/**
 * The idempotent producer's decisions (docs/idempotent-producer.md), pure: given the producer's
 * state on a partition after a claim was refused, what does this batch do?
 */

/** A claimed batch: epoch, base and last sequence, base offset, index seq. */
export interface ClaimedBatch {
  readonly e: number;
  readonly b: number;
  readonly l: number;
  readonly o: number;
  readonly q: number;
}

export interface ProducerState {
  readonly epoch: number;
  readonly next: number;
  readonly pend: ClaimedBatch | null;
  /** The 5 batches claimed before `pend`, newest first. */
  readonly history: readonly ClaimedBatch[];
}

export interface BatchIdentity {
  readonly producerId: number;
  readonly epoch: number;
  readonly baseSeq: number;
  readonly lastSeq: number;
}

export type Decision =
  /** The state moved on since the claim was tried: try again. */
  | { readonly action: "claim" }
  | { readonly action: "fenced"; readonly epoch: number }
  | { readonly action: "out-of-order"; readonly expected: number }
  /** Same sequence as the latest claim: committed → its offsets; otherwise take it over. */
  | { readonly action: "pending"; readonly of: ClaimedBatch }
  /** Same sequence as an older batch: committed → its offsets; aborted → out of order. */
  | { readonly action: "history"; readonly of: ClaimedBatch };

export const HISTORY_SIZE = 5;

/** Sequences are int32 and wrap to 0 past 2^31 − 1, as Kafka's (`DefaultRecordBatch.incrementSequence`). */
export const nextSequence = (sequence: number, by: number): number => (sequence + by) % 2 ** 31;

/** How many records a claimed batch holds, its sequences perhaps wrapped. */
export const claimedRecords = (c: ClaimedBatch): number => nextSequence(c.l, 2 ** 31 - c.b) + 1;

export function decide(state: ProducerState | undefined, batch: BatchIdentity): Decision {
  if (!state) return batch.baseSeq === 0 ? { action: "claim" } : { action: "out-of-order", expected: 0 };
  if (state.epoch > batch.epoch) return { action: "fenced", epoch: state.epoch };
  if (state.epoch < batch.epoch) {
    return batch.baseSeq === 0 ? { action: "claim" } : { action: "out-of-order", expected: 0 };
  }
  const same = (c: ClaimedBatch | null) => c !== null && c.e === batch.epoch && c.b === batch.baseSeq && c.l === batch.lastSeq;
  if (same(state.pend)) return { action: "pending", of: state.pend as ClaimedBatch };
  const older = state.history.find(same);
  if (older) return { action: "history", of: older };
  if (state.next === batch.baseSeq) return { action: "claim" };
  return { action: "out-of-order", expected: state.next };
}
