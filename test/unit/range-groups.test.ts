import { describe, expect, it } from "vitest";
import { groupRanges } from "../../src/core/range-groups.ts";

const spans = (groups: ReturnType<typeof groupRanges>) => groups.map((g) => [g.start, g.end, g.members.length]);

describe("which ranges of one object a GET reads together", () => {
  it("reads ranges back to back, given in any order, as one GET", () => {
    expect(spans(groupRanges([{ start: 200, end: 300 }, { start: 0, end: 100 }, { start: 100, end: 200 }], 2))).toEqual([[0, 300, 3]]);
  });

  it("reads the stretch between two ranges while the GET spans at most the ratio times what they want, and leaves it unread beyond", () => {
    // 100 + 100 wanted: a span of up to 400 at a ratio of 2, 300 at 1.5.
    expect(spans(groupRanges([{ start: 0, end: 100 }, { start: 300, end: 400 }], 2))).toEqual([[0, 400, 2]]);
    expect(spans(groupRanges([{ start: 0, end: 100 }, { start: 300, end: 400 }], 1.5))).toEqual([[0, 100, 1], [300, 400, 1]]);
    expect(spans(groupRanges([{ start: 0, end: 100 }, { start: 200, end: 300 }], 1.5))).toEqual([[0, 300, 2]]);
  });

  it("starts a new GET past a large stretch, which the ranges after it join", () => {
    const ranges = [0, 100, 5_000, 5_100, 5_200].map((start) => ({ start, end: start + 100 }));
    const groups = groupRanges(ranges, 2);
    expect(spans(groups)).toEqual([[0, 200, 2], [5_000, 5_300, 3]]);
    expect(groups[1]?.members).toEqual(ranges.slice(2));
  });

  it("reads nothing for no ranges", () => {
    expect(groupRanges([], 2)).toEqual([]);
  });
});
