import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { pickStickyPartition } from "../../../src/client/producer.ts";

/** How often each partition is picked over an even spread of random draws. */
function shares(depths: number[], draws = 10_000): number[] {
  const counts = depths.map(() => 0);
  for (let i = 0; i < draws; i++) counts[pickStickyPartition(depths, (i + 0.5) / draws)]!++;
  return counts.map((c) => c / draws);
}

describe("the adaptive sticky partitioner (KIP-794)", () => {
  it("spreads evenly over partitions with equal queues", () => {
    for (const share of shares([2, 2, 2, 2])) expect(share).toBeCloseTo(0.25, 2);
  });

  it("sends new records where the queue is shortest: weight deepest + 1 − depth", () => {
    // Weights 1, 4, 6 of 11.
    const [deep, middle, idle] = shares([5, 2, 0]);
    expect(deep).toBeCloseTo(1 / 11, 2);
    expect(middle).toBeCloseTo(4 / 11, 2);
    expect(idle).toBeCloseTo(6 / 11, 2);
  });

  it("always answers a partition of the topic", () => {
    fc.assert(
      fc.property(fc.array(fc.nat(100), { minLength: 1, maxLength: 64 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (depths, r) => {
        const p = pickStickyPartition(depths, r);
        expect(Number.isInteger(p) && p >= 0 && p < depths.length).toBe(true);
      }),
    );
  });
});
