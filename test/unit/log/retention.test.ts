import { describe, expect, it } from "vitest";
import type { IndexEntry } from "../../../src/core/read-committed.ts";
import { ABORTED_KEPT_MS, retentionCut } from "../../../src/core/retention.ts";

const entry = (seq: number, state: "C" | "A", bytes: number, maxTs = 0, at = maxTs): IndexEntry => ({
  seq,
  toSeq: seq,
  state,
  base: seq,
  count: 1,
  records: state === "C" ? 1 : 0,
  bytes,
  firstTs: maxTs,
  maxTs,
  at,
});

const LATER = ABORTED_KEPT_MS + 1; // every aborted entry below older than ABORTED_KEPT_MS

describe("retentionCut (Kafka's retention over a partition's decided index)", () => {
  const bySize = (bytes: number) => ({ "retention.ms": -1, "retention.bytes": bytes });

  it("by size keeps what still meets retention.bytes, and never the newest records, an aborted write after them or not", () => {
    const committed = [entry(0, "C", 100), entry(1, "C", 100), entry(2, "C", 100)];
    expect(retentionCut(committed, bySize(0), LATER)).toBe(2);
    expect(retentionCut(committed, bySize(150), LATER)).toBe(1);
    // A produce that failed after them leaves an aborted entry last: the newest record still stays
    // (it went too, and nothing was left to read).
    expect(retentionCut([...committed, entry(3, "A", 0)], bySize(0), LATER)).toBe(2);
    expect(retentionCut([...committed, entry(3, "A", 0), entry(4, "A", 0)], bySize(0), LATER)).toBe(2);
    // Nothing but aborted writes: all but the last go, as before.
    expect(retentionCut([entry(0, "A", 0), entry(1, "A", 0)], bySize(0), LATER)).toBe(1);
  });

  it("by time drops every entry whose newest record is past retention.ms, the newest included", () => {
    const entries = [entry(0, "C", 100, 1_000), entry(1, "C", 100, 5_000), entry(2, "A", 0, 0, 9_000)];
    expect(retentionCut(entries, { "retention.ms": 3_000, "retention.bytes": -1 }, 7_000)).toBe(1);
    expect(retentionCut(entries, { "retention.ms": 1_000, "retention.bytes": -1 }, 9_000 + LATER)).toBe(3);
  });

  it("keeps an aborted write's entry, and what follows it, for ABORTED_KEPT_MS from its abort: a retry of its batch finds it aborted", () => {
    // An aborted entry holds no record (maxTs 0): by time alone it goes at once.
    const entries = [entry(0, "A", 0, 0, 100_000), entry(1, "C", 100, 1_000)];
    const now = 100_000 + ABORTED_KEPT_MS - 1;
    expect(retentionCut(entries, { "retention.ms": 0, "retention.bytes": -1 }, now)).toBe(0);
    expect(retentionCut(entries, { "retention.ms": -1, "retention.bytes": 0 }, now)).toBe(0);
    expect(retentionCut(entries, { "retention.ms": 0, "retention.bytes": -1 }, now + 1)).toBe(2);
  });
});
