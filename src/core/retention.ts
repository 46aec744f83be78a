import type { IndexEntry } from "./read-committed.ts";

/** Index items per Query page where a light maintenance run reads how far retention by time
 * reaches (src/log/maintenance.ts): a page past the log start, most runs. */
export const EXPIRED_PAGE = 16;

/**
 * Kafka's retention over a decided prefix of segments (oldest first): whole segments go while
 * their newest record is older than `retention.ms`, or while what stays after the segment goes
 * still holds at least `retention.bytes`, never the newest (as Kafka keeps the active segment,
 * which a size limit never deletes). Returns how many leading entries to drop (never part of one).
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
  return Math.max(byTime, bySize);
}
