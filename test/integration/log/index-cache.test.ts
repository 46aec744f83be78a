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
