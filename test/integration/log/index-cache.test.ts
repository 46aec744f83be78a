import { describe, expect, it } from "vitest";
import { decodeStored } from "../../../src/log/read.ts";
import { countCalls, testLog } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

describe("the index cache", () => {
  it("lets a consumer catching up read 300 segments with one index Query per 100 segments", async () => {
    const { log } = testLog();
    const topic = uniqueName("cache");
    await log.createTopic({ name: topic, partitions: 1 });
    for (let i = 0; i < 300; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => log.produceRecords(topic, [{ key: null, value: Buffer.from(`r${i + j}`) }])));
    }
    const reader = testLog();
    const calls = countCalls(reader.dynamo);
    const offsets: number[] = [];
    for (let offset = 0; offset < 300; ) {
      const r = await reader.log.fetch(topic, 0, { offset, maxBytes: 700, maxWaitMs: 0 }); // ≈ 10 segments per fetch
      for (const b of r.batches) for (const rec of decodeStored(b.bytes)) offsets.push(rec.offset);
      offset = r.nextOffset;
    }
    expect(offsets).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(calls.get("QueryCommand")).toBeLessThanOrEqual(3);
  });

  it("keeps a consumer catching up to about one index Query per 100 segments while the log's end moves past the stable hint", async () => {
    const { log } = testLog();
    const topic = uniqueName("cache-tail");
    await log.createTopic({ name: topic, partitions: 1 });
    const produce = (n: number, from: number) => Promise.all(Array.from({ length: n }, (_, j) => log.produceRecords(topic, [{ key: null, value: Buffer.from(`r${from + j}`) }])));
    for (let i = 0; i < 300; i += 25) await produce(25, i);
    await log.offsetFor(topic, 0, "latest"); // the stable hint at the end: 300
    await produce(5, 300); // and the end a few past it, as producers keep it
    // The reader's clock moves 100 ms a fetch, however slow this machine runs them.
    let clock = Date.now();
    const reader = testLog({ now: () => clock });
    const calls = countCalls(reader.dynamo);
    let end = 305;
    const offsets: number[] = [];
    for (let offset = 0; offset < end; ) {
      const r = await reader.log.fetch(topic, 0, { offset, maxBytes: 700, maxWaitMs: 0 });
      for (const b of r.batches) for (const rec of decodeStored(b.bytes)) offsets.push(rec.offset);
      expect(r.highWatermark, `fetch at ${offset}`).toBeGreaterThanOrEqual(Math.min(end, 305));
      offset = r.nextOffset;
      clock += 100;
      if (end < 320) await produce(1, end++); // a producer writing while it catches up
    }
    expect(offsets).toEqual(Array.from({ length: end }, (_, i) => i));
    // Its own stretch (about 4), and a walk past the hint for the high watermark at most once a
    // second: 4 in its 3.2 s; 8 in all here. A walk each fetch made 27.
    expect(calls.get("QueryCommand")).toBeLessThanOrEqual(10);
  });

  it("is dropped when an object it names is gone (a merge replaced it), and the fetch reads the index again", async () => {
    const { log } = testLog();
    const topic = uniqueName("cache-gone");
    await log.createTopic({ name: topic, partitions: 1, config: { "segment.bytes": 65_536 } });
    for (let i = 0; i < 20; i++) await log.produceRecords(topic, [{ key: null, value: Buffer.from(`r${i}`) }]);
    const reader = testLog();
    const keys: string[] = [];
    reader.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "GetObjectCommand") keys.push(String((args.input as { Key?: string }).Key));
        return next(args);
      },
      { step: "initialize", name: "keys" },
    );
    expect((await reader.log.fetch(topic, 0, { offset: 0, maxBytes: 1, maxWaitMs: 0 })).nextOffset).toBe(1); // caches seqs 0..19
    // merged, and (with no grace period) the replaced objects deleted at once: the cache names gone objects
    for (let i = 0; i < 2; i++) await log.runMaintenance({ topics: [topic], mergeAfterMs: 0, mergeGraceMs: 0 });
    const r = await reader.log.fetch(topic, 0, { offset: 3, maxWaitMs: 0 });
    expect(r.batches.flatMap((b) => [...decodeStored(b.bytes)].filter((x) => x.offset >= 3).map((x) => Buffer.from(x.value ?? []).toString()))).toEqual(
      Array.from({ length: 17 }, (_, i) => `r${i + 3}`),
    );
    expect(keys.filter((k) => k.endsWith("/00000000000000000003.log"))).toHaveLength(1); // the cached original: gone
    expect(keys.filter((k) => /-\d{20}\.log$/.test(k))).toHaveLength(1); // then the merged segment
  });
});
