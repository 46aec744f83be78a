import { describe, expect, it } from "vitest";
import { entryChunks, expiredReplacements, liveEntries, mergedEntry, planMerges, planReads, rangeFor } from "../../../src/core/merge.ts";
import type { IndexEntry } from "../../../src/core/read-committed.ts";
import { ABORTED_KEPT_MS } from "../../../src/core/retention.ts";

/** Committed seq `seq` at `base`, `count` offsets, `bytes` long, decided at `at`. */
const c = (seq: number, base: number, count: number, bytes: number, at = 0): IndexEntry => ({
  seq, toSeq: seq, state: "C", base, count, records: count, bytes, firstTs: 100 + seq, maxTs: 200 + seq, at,
});
const a = (seq: number, base: number, count: number): IndexEntry => ({ ...c(seq, base, count, 0), state: "A", records: 0 });
/** `n` segments of `bytes` each, `count` offsets each, from seq 0. */
const run = (n: number, bytes: number, count = 1, at = 0) => Array.from({ length: n }, (_, i) => c(i, i * count, count, bytes, at));

const policy = { targetBytes: 1000, mergeAfterMs: 100, now: 1000 };

describe("planning merges", () => {
  it("cuts runs of small segments at the target size, oldest first", () => {
    const runs = planMerges(run(10, 300), policy);
    expect(runs.map((r) => r.map((e) => e.seq))).toEqual([[0, 1, 2], [3, 4, 5], [6, 7, 8]]);
  });

  it("waits for the last run while it is young or not full; merges it once old", () => {
    expect(planMerges(run(4, 300, 1, 950), policy).map((r) => r.length)).toEqual([3]);
    expect(planMerges(run(4, 300, 1, 950).slice(0, 2), policy)).toEqual([]);
    expect(planMerges(run(2, 300, 1, 800), policy).map((r) => r.length)).toEqual([2]);
  });

  it("leaves large and merged segments alone and merges the runs between them", () => {
    const big = c(2, 2, 1, 600);
    const merged: IndexEntry = { ...c(5, 5, 3, 900), toSeq: 7, objectKey: "k" };
    const entries = [c(0, 0, 1, 100), c(1, 1, 1, 100), big, c(3, 3, 1, 100), c(4, 4, 1, 100), merged, c(8, 8, 1, 100)];
    expect(planMerges(entries, { ...policy, now: 50 }).map((r) => r.map((e) => e.seq))).toEqual([[0, 1], [3, 4]]);
  });

  it("takes aborted entries inside a run, trims them at its ends, and needs two committed segments", () => {
    const later = { ...policy, now: ABORTED_KEPT_MS + 1000 };
    const entries = [a(0, 0, 2), c(1, 2, 1, 100), a(2, 3, 4), c(3, 7, 1, 100), a(4, 8, 1)];
    expect(planMerges(entries, later).map((r) => r.map((e) => e.seq))).toEqual([[1, 2, 3]]);
    expect(planMerges([c(0, 0, 1, 100), a(1, 1, 1)], later)).toEqual([]);
  });

  it("leaves an abort younger than retention keeps it out of every run, so that retention still sees it (a retry of its batch must find it aborted)", () => {
    const entries = [c(0, 0, 1, 100), c(1, 1, 1, 100), { ...a(2, 2, 1), at: 900 }, c(3, 3, 1, 100), c(4, 4, 1, 100)];
    expect(planMerges(entries, policy).map((r) => r.map((e) => e.seq))).toEqual([[0, 1], [3, 4]]);
  });

  it("merges the old part of the newest run under steady traffic, where its newest segment is never old and it waited until it filled the target", () => {
    const steady = [800, 850, 900, 950, 990].map((at, i) => c(i, i, 1, 100, at));
    expect(planMerges(steady, policy).map((r) => r.map((e) => e.seq))).toEqual([[0, 1, 2]]);
  });
});

describe("the merged entry", () => {
  it("covers the run's seqs and offsets, sums records and bytes, and indexes batch starts", () => {
    const entries = [c(4, 10, 2, 40_000), a(5, 12, 3), c(6, 15, 5, 40_000), c(7, 20, 1, 40_000)];
    const m = mergedEntry(entries, "key", 5000);
    expect(m).toMatchObject({ seq: 4, toSeq: 7, state: "C", base: 10, count: 11, records: 8, bytes: 120_000, firstTs: 104, maxTs: 207, at: 5000, objectKey: "key" });
    // a point at the first batch, then at the first batch start ≥ 64 KiB past the last point
    expect(m.sparse).toEqual([{ offset: 10, position: 0 }, { offset: 20, position: 80_000 }]);
  });
});

describe("the byte range a fetch reads", () => {
  const m = mergedEntry(run(64, 16 * 1024, 10), "key", 0); // points every 4 batches (64 KiB)

  it("reads a whole unmerged object, past the budget only as the fetch's first read", () => {
    expect(rangeFor(c(0, 0, 5, 300), 3, 10, true)).toEqual({ start: 0, end: 300, base: 0, nextOffset: 5 });
    expect(rangeFor(c(0, 0, 5, 300), 3, 10, false)).toBeUndefined();
    expect(rangeFor(c(0, 0, 5, 300), 3, 300, false)).toEqual({ start: 0, end: 300, base: 0, nextOffset: 5 });
  });

  it("starts at the last point at or below the offset and stops at the farthest point within the budget", () => {
    expect(rangeFor(m, 95, 100 * 1024, false)).toEqual({ start: 8 * 16 * 1024, end: 12 * 16 * 1024, base: 80, nextOffset: 120 });
    expect(rangeFor(m, 95, 128 * 1024, false)).toEqual({ start: 8 * 16 * 1024, end: 16 * 16 * 1024, base: 80, nextOffset: 160 });
  });

  it("cuts a merged segment into ranges of about a chunk at its points, for a lookup that reads one at a time", () => {
    // 1 MiB of 16 KiB batches, points every 64 KiB: chunks of 256 KiB, the last to the end.
    expect(entryChunks(m, 256 * 1024)).toEqual([0, 1, 2, 3].map((i) => ({ start: i * 256 * 1024, end: (i + 1) * 256 * 1024 })));
    expect(entryChunks(m, 200 * 1024)).toEqual([0, 1, 2, 3].map((i) => ({ start: i * 256 * 1024, end: (i + 1) * 256 * 1024 })));
    expect(entryChunks(m, 2 * 1024 * 1024)).toEqual([{ start: 0, end: 1024 * 1024 }]);
    // Inside a shared object, from its position; an unmerged segment whole.
    expect(entryChunks({ ...m, position: 100 }, 512 * 1024)).toEqual([{ start: 100, end: 100 + 512 * 1024 }, { start: 100 + 512 * 1024, end: 100 + 1024 * 1024 }]);
    expect(entryChunks(c(0, 0, 5, 300), 10)).toEqual([undefined]);
  });

  it("reads one step on a budget too small only as the fetch's first read, and to the end when the budget reaches it", () => {
    expect(rangeFor(m, 0, 1, true)).toEqual({ start: 0, end: 64 * 1024, base: 0, nextOffset: 40 });
    expect(rangeFor(m, 0, 1, false)).toBeUndefined();
    expect(rangeFor(m, 600, 10 * 1024 * 1024, false)).toEqual({ start: 60 * 16 * 1024, end: 64 * 16 * 1024, base: 600, nextOffset: 640 });
  });

  it("names bytes until they reach the budget when the answer names segments (fill), past it by one step at most", () => {
    expect(rangeFor(c(0, 0, 5, 300), 3, 10, false, "fill")).toEqual({ start: 0, end: 300, base: 0, nextOffset: 5 });
    expect(rangeFor(m, 95, 100 * 1024, false, "fill")).toEqual({ start: 8 * 16 * 1024, end: 16 * 16 * 1024, base: 80, nextOffset: 160 });
    expect(rangeFor(m, 0, 1, false, "fill")).toEqual({ start: 0, end: 64 * 1024, base: 0, nextOffset: 40 });
  });
});

describe("replaced items", () => {
  const merged: IndexEntry = { ...c(1, 1, 3, 300, 500), toSeq: 3, objectKey: "k" };
  const entries = [c(0, 0, 1, 100), merged, c(2, 2, 1, 100), c(3, 3, 1, 100), c(4, 4, 1, 100)];

  it("are not part of the live log", () => {
    expect(liveEntries(entries).map((e) => e.seq)).toEqual([0, 1, 4]);
  });

  it("expire only a grace period after the merge", () => {
    expect(expiredReplacements(entries, 1000, 600)).toEqual([]);
    expect(expiredReplacements(entries, 1100, 600)).toEqual([{ merged, replaced: [entries[2], entries[3]] }]);
  });
});

describe("reading a merge round", () => {
  it("reads an object that several runs want ranges of once, from the first wanted byte to the last, and an object of its own whole", () => {
    const shared = (start: number) => ({ key: "shared-1", range: { start, end: start + 100 }, bytes: 100 });
    const reads = planReads([
      [shared(0), { key: "own-7", range: undefined, bytes: 50 }, { key: "shared-2", range: { start: 300, end: 400 }, bytes: 100 }],
      [shared(100)],
      [shared(300)],
    ]);
    expect(reads).toEqual([
      { key: "own-7", range: undefined, length: 50, pieces: [{ run: 0, index: 1, at: 0, length: 50 }] },
      {
        key: "shared-1",
        range: { start: 0, end: 400 },
        length: 400,
        pieces: [
          { run: 0, index: 0, at: 0, length: 100 },
          { run: 1, index: 0, at: 100, length: 100 },
          { run: 2, index: 0, at: 300, length: 100 },
        ],
      },
      { key: "shared-2", range: { start: 300, end: 400 }, length: 100, pieces: [{ run: 0, index: 2, at: 0, length: 100 }] },
    ]);
  });

  it("leaves a stretch no run wants unread when it is larger than what the GET would read for the runs", () => {
    const piece = (start: number) => ({ key: "shared-1", range: { start, end: start + 100 }, bytes: 100 });
    expect(planReads([[piece(1000)], [piece(0)], [piece(100)]]).map((r) => [r.range, r.pieces.map((p) => p.run)])).toEqual([
      [{ start: 0, end: 200 }, [1, 2]],
      [{ start: 1000, end: 1100 }, [0]],
    ]);
  });
});
