import { describe, expect, it } from "vitest";
import type { IndexEntry } from "../../../src/core/read-committed.ts";
import { retentionCut } from "../../../src/core/retention.ts";

const entry = (seq: number, state: "C" | "A", bytes: number, maxTs = 0): IndexEntry => ({
  seq,
  toSeq: seq,
  state,
  base: seq,
  count: 1,
  records: state === "C" ? 1 : 0,
  bytes,
  firstTs: maxTs,
  maxTs,
  at: maxTs,
});

describe("retentionCut (Kafka's retention over a partition's decided index)", () => {
  const bySize = (bytes: number) => ({ "retention.ms": -1, "retention.bytes": bytes });

  it("by size keeps what still meets retention.bytes, and never the newest records, an aborted write after them or not", () => {
    const committed = [entry(0, "C", 100), entry(1, "C", 100), entry(2, "C", 100)];
    expect(retentionCut(committed, bySize(0), 0)).toBe(2);
    expect(retentionCut(committed, bySize(150), 0)).toBe(1);
    // A produce that failed after them leaves an aborted entry last: the newest record still stays
    // (it went too, and nothing was left to read).
    expect(retentionCut([...committed, entry(3, "A", 0)], bySize(0), 0)).toBe(2);
    expect(retentionCut([...committed, entry(3, "A", 0), entry(4, "A", 0)], bySize(0), 0)).toBe(2);
    // Nothing but aborted writes: all but the last go, as before.
    expect(retentionCut([entry(0, "A", 0), entry(1, "A", 0)], bySize(0), 0)).toBe(1);
  });

  it("by time drops every entry whose newest record is past retention.ms, the newest included", () => {
    const entries = [entry(0, "C", 100, 1_000), entry(1, "C", 100, 5_000), entry(2, "A", 0, 9_000)];
    expect(retentionCut(entries, { "retention.ms": 3_000, "retention.bytes": -1 }, 7_000)).toBe(1);
    expect(retentionCut(entries, { "retention.ms": 1_000, "retention.bytes": -1 }, 20_000)).toBe(3);
  });
});
