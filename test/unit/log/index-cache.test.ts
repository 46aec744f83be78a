import { describe, expect, it } from "vitest";
import type { IndexEntry } from "../../../src/core/read-committed.ts";
import { IndexCache } from "../../../src/log/index-cache.ts";

const e = (seq: number, base: number, count: number, toSeq = seq): IndexEntry => ({
  seq, toSeq, state: "C", base, count, records: count, bytes: 10, firstTs: 0, maxTs: 0, at: 0,
});

describe("the index cache", () => {
  let now = 0;
  const cache = new IndexCache(1000, () => now, 2);
  cache.remember("p0", [e(3, 10, 5), e(4, 15, 20, 9), e(10, 35, 1)]);

  it("finds the entry holding an offset, and pages from an entry's seq", () => {
    expect(cache.startFor("p0", 9)).toBeUndefined();
    expect(cache.startFor("p0", 12)).toEqual({ seq: 3, base: 10 });
    expect(cache.startFor("p0", 34)).toEqual({ seq: 4, base: 15 });
    expect(cache.startFor("p0", 36)).toBeUndefined();
    expect(cache.from("p0", 4, 10)?.entries.map((x) => x.seq)).toEqual([4, 10]);
    expect(cache.from("p0", 5, 10)).toBeUndefined(); // inside a merged entry: not a place to start
    expect(cache.from("p1", 3, 10)).toBeUndefined();
  });

  it("forgets entries after its time to live, and the oldest partition beyond its size", () => {
    cache.remember("p1", [e(0, 0, 1)]);
    cache.remember("p2", [e(0, 0, 1)]);
    expect(cache.from("p0", 3, 1)).toBeUndefined();
    expect(cache.from("p2", 0, 1)?.entries).toHaveLength(1);
    now = 1000;
    expect(cache.from("p2", 0, 1)).toBeUndefined();
  });

  it("keeps the age of entries walked again from the cache: none is trusted past its time to live", () => {
    const aging = new IndexCache(1000, () => now, 2);
    now = 5000;
    aging.remember("p0", [e(0, 0, 1), e(1, 1, 1)]);
    now = 5900;
    const hit = aging.from("p0", 0, 10);
    expect(hit?.readAt).toBe(5000);
    // A fetch walked them again (and one more entry it read now): the chain is as old as its oldest.
    aging.remember("p0", [...(hit?.entries ?? []), e(2, 2, 1)], hit?.readAt);
    now = 6000;
    expect(aging.from("p0", 0, 10)).toBeUndefined();
  });

  it("keeps the rest of a chain a fetch walked part of, and what it read past it, as old as its oldest part; entries that do not join it replace it", () => {
    const chains = new IndexCache(1000, () => now, 2);
    now = 7000;
    chains.remember("p0", [e(0, 0, 1), e(1, 1, 1), e(2, 2, 1), e(3, 3, 1)]);
    now = 7100;
    chains.remember("p0", [e(1, 1, 1), e(2, 2, 1)]); // a fetch of a part of it
    expect(chains.from("p0", 0, 10)?.entries.map((x) => x.seq)).toEqual([0, 1, 2, 3]);
    chains.remember("p0", [e(3, 3, 1), e(4, 4, 1)], 7100); // on past its end
    expect(chains.from("p0", 0, 10)).toMatchObject({ readAt: 7000 });
    expect(chains.from("p0", 0, 10)?.entries.map((x) => x.seq)).toEqual([0, 1, 2, 3, 4]);
    chains.remember("p0", [e(1, 1, 3, 3)]); // a merge replaced 1..3: its neighbours still join it
    expect(chains.from("p0", 0, 10)?.entries.map((x) => x.seq)).toEqual([0, 1, 4]);
    chains.remember("p0", [e(9, 9, 1)]); // past a gap: replaces the chain
    expect(chains.from("p0", 0, 10)).toBeUndefined();
    expect(chains.from("p0", 9, 10)).toMatchObject({ readAt: 7100 });
  });
});
