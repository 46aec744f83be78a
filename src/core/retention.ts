import type { IndexEntry } from "./read-committed.ts";

/** Index items per Query page where a light maintenance run reads how far retention by time
 * reaches (src/log/maintenance.ts): a page past the log start, most runs. */
export const EXPIRED_PAGE = 16;

/**
 * How long an aborted write's entry stays (from its abort), whatever the retention: a retry of
 * its batch (an idempotent producer's, within its delivery timeout, 2 minutes by default) finds
 * it aborted and writes the batch. Gone, the retry could not tell it from a committed batch that
 * retention removed, and is refused (`UnknownBatchOutcome`, src/log/append.ts).
 */
export const ABORTED_KEPT_MS = 15 * 60_000;

/**
 * Kafka's retention over a decided prefix of segments (oldest first): whole segments go while
 * their newest record is older than `retention.ms`, or while what stays after the segment goes
 * still holds at least `retention.bytes`, never the newest (as Kafka keeps the active segment,
 * which a size limit never deletes); and never an aborted write's entry younger than
 * {@link ABORTED_KEPT_MS}, nor what follows it. Returns how many leading entries to drop (never
 * part of one).
 */
export function retentionCut(
  entries: readonly IndexEntry[],
  config: { readonly "retention.ms": number; readonly "retention.bytes": number },
  now: number,
): number {
  let byTime = 0;
  if (config["retention.ms"] >= 0) {
    const cutoff = now - config["retention.ms"];
    while (byTime < entries.length && (entries[byTime] as IndexEntry).maxTs < cutoff) byTime++;
  }
  let bySize = 0;
  if (config["retention.bytes"] >= 0) {
    let total = entries.reduce((n, e) => n + e.bytes, 0);
    // The newest records: an aborted write after them (a gap, no records) is not what is kept.
    const newest = entries.findLastIndex((e) => e.state === "C");
    const keep = newest >= 0 ? newest : entries.length - 1;
    while (bySize < keep && total - (entries[bySize] as IndexEntry).bytes >= config["retention.bytes"]) total -= (entries[bySize++] as IndexEntry).bytes;
  }
  const freshAbort = entries.findIndex((e) => e.state === "A" && e.at > now - ABORTED_KEPT_MS);
  const cut = Math.max(byTime, bySize);
  return freshAbort >= 0 ? Math.min(cut, freshAbort) : cut;
}
