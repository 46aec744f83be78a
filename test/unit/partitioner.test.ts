import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { murmur2, partitionForKey, toPositive } from "../../src/core/partitioner.ts";
import { kafkajsMurmur2, kafkajsPartition } from "./codec/kafkajs-oracle.ts";

const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("murmur2", () => {
  it("matches the Java client's test vectors", () => {
    // From Kafka's UtilsTest.testMurmur2.
    const cases: [string, number][] = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107],
    ];
    for (const [key, hash] of cases) expect(murmur2(utf8(key))).toBe(hash);
  });

  it("matches kafkajs's Java-compatible murmur2 on 10,000 random keys", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (key) => {
        expect(murmur2(key)).toBe(kafkajsMurmur2(Buffer.from(key)));
      }),
      { numRuns: 10_000, seed: 20240601 },
    );
  });
});

describe("partitionForKey", () => {
  it("matches kafkajs's JavaCompatiblePartitioner on 10,000 random keys", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 48 }), fc.integer({ min: 1, max: 1000 }), (key, partitions) => {
        expect(partitionForKey(key, partitions)).toBe(kafkajsPartition(Buffer.from(key), partitions));
      }),
      { numRuns: 10_000, seed: 7 },
    );
  });

  it("clears the sign bit rather than taking an absolute value", () => {
    expect(toPositive(-2147483648)).toBe(0);
    expect(toPositive(-1)).toBe(0x7fffffff);
    expect(partitionForKey(utf8("21"), 10)).toBe((-973932308 & 0x7fffffff) % 10);
  });

  it("rejects a non-positive partition count", () => {
    expect(() => partitionForKey(utf8("k"), 0)).toThrow(/positive/);
  });
});
