import { describe, expect, it } from "vitest";
import { CommittedWalk, type IndexEntry } from "../../../src/core/read-committed.ts";

const c = (seq: number, base: number, count: number, at = 0): IndexEntry => ({
  seq, toSeq: seq, state: "C", base, count, records: count, bytes: 100, firstTs: 0, maxTs: 0, at,
});
const head = (nextSeq: number, nextOffset: number, lastReservedAt = 0, stableSeq = 0) => ({ nextSeq, nextOffset, lastReservedAt, stableSeq });

describe("the read-committed walk", () => {
  it("walks an unbroken run to the tail: the high watermark is its end", () => {
    const w = new CommittedWalk({ seq: 0, base: 0 }, head(3, 6), 1000, 100);
    expect(w.feed([c(0, 0, 2), c(1, 2, 3), c(2, 5, 1)], true)).toBe(true);
    expect(w.stopped).toBe("tail");
    expect(w.end).toBe(6);
    expect(w.aborts).toEqual([]);
  });

  it("stops at a young missing seq (a reservation in flight) and plans nothing", () => {
    const w = new CommittedWalk({ seq: 0, base: 0 }, head(3, 6), 1000, 100);
    w.feed([c(0, 0, 2), c(2, 5, 1, 950)], true);
    expect(w.stopped).toBe("inflight");
    expect(w.end).toBe(2);
    expect(w.nextSeq).toBe(1);
    expect(w.aborts).toEqual([]);
  });

  it("aborts an old missing run, last seq first, the first seq taking the whole gap", () => {
    const w = new CommittedWalk({ seq: 0, base: 0 }, head(5, 10), 1000, 100);
    w.feed([c(0, 0, 2), c(3, 7, 2, 500), c(4, 9, 1, 600)], true);
    expect(w.stopped).toBe("tail");
    expect(w.end).toBe(10);
    expect(w.aborts.map((a) => [a.seq, a.base, a.count, a.state])).toEqual([
      [2, 7, 0, "A"],
      [1, 2, 5, "A"],
    ]);
    expect(w.entries.map((e) => e.seq)).toEqual([0, 1, 2, 3, 4]);
  });

  it("dates a missing tail by the head's last reservation and aborts up to nextOffset", () => {
    const young = new CommittedWalk({ seq: 0, base: 0 }, head(3, 9, 990), 1000, 100);
    young.feed([c(0, 0, 4)], true);
    expect(young.stopped).toBe("inflight");
    const old = new CommittedWalk({ seq: 0, base: 0 }, head(3, 9, 800), 1000, 100);
    old.feed([c(0, 0, 4)], true);
    expect(old.end).toBe(9);
    expect(old.aborts.map((a) => [a.seq, a.base, a.count])).toEqual([[2, 9, 0], [1, 4, 5]]);
  });

  it("steps over aborted entries, including count-0 ones, and ignores seqs past the head snapshot", () => {
    const aborted: IndexEntry = { ...c(1, 2, 3), state: "A" };
    const zero: IndexEntry = { ...c(2, 5, 0), state: "A" };
    const w = new CommittedWalk({ seq: 0, base: 0 }, head(4, 7), 1000, 100);
    w.feed([c(0, 0, 2), aborted, zero, c(3, 5, 2), c(4, 7, 1)], false);
    expect(w.stopped).toBe("tail");
    expect(w.end).toBe(7);
  });

  it("continues across pages and starts mid-log from the stable hint", () => {
    const w = new CommittedWalk({ seq: 10, base: 40 }, head(13, 46), 1000, 100);
    expect(w.feed([c(10, 40, 2)], false)).toBe(false);
    expect(w.feed([c(11, 42, 2), c(12, 44, 2)], true)).toBe(true);
    expect(w.end).toBe(46);
  });

  it("reads a merged entry once and steps over the items it replaced", () => {
    const merged: IndexEntry = { ...c(0, 0, 6), toSeq: 2, objectKey: "m" };
    const w = new CommittedWalk({ seq: 0, base: 0 }, head(4, 8, 0, 3), 1000, 100);
    w.feed([merged, c(1, 2, 2), c(2, 4, 2), c(3, 6, 2)], true);
    expect(w.entries.map((e) => [e.seq, e.toSeq])).toEqual([[0, 2], [3, 3]]);
    expect(w.end).toBe(8);
  });

  it("reads replaced items like any other when it starts among them (a reader that found them just before)", () => {
    const w = new CommittedWalk({ seq: 1, base: 2 }, head(4, 8, 0, 3), 1000, 100);
    w.feed([c(1, 2, 2), c(2, 4, 2), c(3, 6, 2)], true);
    expect(w.entries.map((e) => e.seq)).toEqual([1, 2, 3]);
  });

  it("never aborts a gap below the stable hint: the items moved (retention or a merge cleanup), so it stops", () => {
    const gap = new CommittedWalk({ seq: 1, base: 2 }, head(6, 12, 0, 5), 1000, 100);
    gap.feed([c(4, 8, 2), c(5, 10, 2)], true);
    expect(gap.stopped).toBe("moved");
    expect(gap.aborts).toEqual([]);
    const tail = new CommittedWalk({ seq: 1, base: 2 }, head(6, 12, 0, 5), 1000, 100);
    tail.feed([], true);
    expect(tail.stopped).toBe("moved");
    expect(tail.aborts).toEqual([]);
  });
});
