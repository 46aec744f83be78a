import { describe, expect, it } from "vitest";
import { crc32c } from "../../../src/core/codec/crc32c.ts";
import { encodeRecordBatch } from "../../../src/core/codec/record-batch.ts";
import { SeglogError } from "../../../src/core/errors.ts";
import type { Log } from "../../../src/log/log.ts";
import { decodeStored } from "../../../src/log/read.ts";
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import { partitionPk } from "../../../src/core/keys.ts";
import { OFFSET_INDEX } from "../../../src/storage/table.ts";
import { injectFaults } from "../../helpers/faults.ts";
import { countCalls, readLocated, testLog } from "../../helpers/log.ts";
import { rangeHeader, type ByteSpan, type SegmentLocation, type SharedObject } from "../../../src/core/segment-locations.ts";
import { testEnv, uniqueName } from "../../helpers/stack.ts";

const { log } = testLog();
const b = (s: string) => Buffer.from(s, "utf8");
const text = (u: Uint8Array | null) => (u === null ? null : Buffer.from(u).toString("utf8"));

async function readAll(l: Log, topic: string, partition: number, from = 0) {
  const out: { offset: number; value: string | null; key: string | null; timestamp: number }[] = [];
  let offset = from;
  for (;;) {
    const r = await l.fetch(topic, partition, { offset, maxWaitMs: 0 });
    for (const batch of r.batches) {
      for (const rec of decodeStored(batch.bytes)) {
        if (rec.offset >= offset) out.push({ offset: rec.offset, value: text(rec.value), key: text(rec.key), timestamp: rec.timestamp });
      }
    }
    if (r.nextOffset === offset) return out;
    offset = r.nextOffset;
  }
}

async function errorOf(p: Promise<unknown>): Promise<SeglogError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SeglogError) return e;
    throw e;
  }
  throw new Error("expected a SeglogError");
}

describe("produce and fetch", () => {
  it("gives 8 concurrent producers on one partition unique, contiguous offsets and loses nothing", async () => {
    const topic = uniqueName("contend");
    await log.createTopic({ name: topic, partitions: 1 });
    const acks = await Promise.all(
      Array.from({ length: 8 }, async (_, producer) => {
        const mine = [];
        for (let i = 0; i < 20; i++) {
          const records = [0, 1, 2].map((j) => ({ key: null, value: b(`p${producer}-${i}-${j}`) }));
          const [r] = await log.produceRecords(topic, records);
          if (!r || "error" in r) throw r?.error ?? new Error("no result");
          mine.push(r);
        }
        return mine;
      }),
    );
    const ranges = acks.flat().map((a) => [a.baseOffset, a.lastOffset] as const).sort((x, y) => x[0] - y[0]);
    expect(ranges).toHaveLength(160);
    ranges.forEach(([base, last], i) => {
      expect(base).toBe(i * 3);
      expect(last).toBe(i * 3 + 2);
    });
    const records = await readAll(log, topic, 0);
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: 480 }, (_, i) => i));
    expect(new Set(records.map((r) => r.value)).size).toBe(480);
    for (let p = 0; p < 8; p++) {
      const mine = records.filter((r) => r.value?.startsWith(`p${p}-`)).map((r) => r.value);
      expect(mine).toEqual(Array.from({ length: 60 }, (_, k) => `p${p}-${Math.floor(k / 3)}-${k % 3}`));
    }
    expect((await log.describeTopic(topic)).partitions[0]?.highWatermark).toBe(480);
  });

  it("partitions keyed records by murmur2 and sends a request's null-key records to one partition", async () => {
    const topic = uniqueName("keys");
    await log.createTopic({ name: topic, partitions: 4 });
    const keyed = await log.produceRecords(topic, [
      { key: b("21"), value: b("a") },
      { key: b("abc"), value: b("b") },
    ]);
    // Kafka's vectors: murmur2("21") = -973932308 → 0x7fffffff & → 1173551340 % 4 = 0; murmur2("abc") = 479470107 % 4 = 3.
    expect(keyed.map((r) => r.partition).sort()).toEqual([0, 3]);
    const nulls = await log.produceRecords(topic, Array.from({ length: 10 }, (_, i) => ({ key: null, value: b(`n${i}`) })));
    expect(nulls).toHaveLength(1);
    expect(nulls[0]).toMatchObject({ count: 10 });
    const explicit = await log.produceRecords(topic, [{ key: b("21"), value: b("x"), partition: 2 }]);
    expect(explicit[0]).toMatchObject({ partition: 2 });
  });

  it("keeps keys, null values, headers and timestamps", async () => {
    const topic = uniqueName("fields");
    await log.createTopic({ name: topic, partitions: 1 });
    await log.produceRecords(topic, [
      { key: b("k"), value: null, headers: [{ key: "h", value: b("v") }, { key: "n", value: null }], partition: 0, timestamp: 1_700_000_000_000 },
      { key: b(""), value: b(""), partition: 0, timestamp: 1_700_000_000_005 },
    ]);
    const r = await log.fetch(topic, 0, { offset: 0 });
    const recs = [...decodeStored(r.batches[0]?.bytes ?? new Uint8Array())];
    expect(recs[0]).toMatchObject({ offset: 0, timestamp: 1_700_000_000_000, value: null });
    expect(text(recs[0]?.key ?? null)).toBe("k");
    expect(recs[0]?.headers.map((h) => [h.key, text(h.value)])).toEqual([["h", "v"], ["n", null]]);
    expect(text(recs[1]?.key ?? null)).toBe("");
    expect(text(recs[1]?.value ?? null)).toBe("");
  });

  it("honours maxBytes (at least one batch), and reads from the middle of the log through the offset index", async () => {
    const topic = uniqueName("pages");
    await log.createTopic({ name: topic, partitions: 1 });
    for (let i = 0; i < 50; i++) await log.produceRecords(topic, [0, 1].map((j) => ({ key: null, value: b(`v${i * 2 + j}`) })));
    const one = await log.fetch(topic, 0, { offset: 0, maxBytes: 1 });
    expect(one.batches).toHaveLength(1);
    expect(one.nextOffset).toBe(2);
    // Past the first batch, only whole batches that fit: a fetch never goes over maxBytes by a
    // batch (on AWS, a fetch's answer must fit Lambda's 6 MB once in base64).
    const size = one.batches[0]?.bytes.byteLength ?? 0;
    for (const maxBytes of [size, 2 * size - 1, 2 * size, 5 * size + 3]) {
      const r = await log.fetch(topic, 0, { offset: 0, maxBytes });
      expect(r.batches.reduce((n, x) => n + x.bytes.byteLength, 0), `maxBytes ${maxBytes}`).toBeLessThanOrEqual(maxBytes);
      expect(r.batches).toHaveLength(Math.floor(maxBytes / size));
      expect(r.nextOffset).toBe(2 * r.batches.length);
    }
    expect((await readAll(log, topic, 0)).length).toBe(100); // walks the log and moves the stable hint
    const fromMiddle = await readAll(testLog().log, topic, 0, 37);
    expect(fromMiddle[0]).toMatchObject({ offset: 37, value: "v37" });
    expect(fromMiddle).toHaveLength(63);
  });

  it("answers the log's high watermark to a fetch that stops far behind it, though nobody has read to the tail since the stable hint last moved", async () => {
    const topic = uniqueName("behind");
    await log.createTopic({ name: topic, partitions: 1 });
    await log.produceRecords(topic, [{ key: null, value: b("first") }]);
    expect((await log.fetch(topic, 0, { offset: 0, maxWaitMs: 0 })).highWatermark).toBe(1);
    for (let i = 0; i < 250; i += 25) await Promise.all(Array.from({ length: 25 }, (_, j) => log.produceRecords(topic, [{ key: null, value: b(`v${i + j}`) }])));
    const reader = testLog().log; // no cached index pages
    const size = (await reader.fetch(topic, 0, { offset: 0, maxBytes: 1 })).batches[0]?.bytes.byteLength ?? 0;
    const far = await reader.fetch(topic, 0, { offset: 0, maxBytes: 10 * size });
    expect(far.nextOffset).toBe(10);
    expect(far.highWatermark).toBe(251);
    expect((await reader.fetch(topic, 0, { offset: 100, maxBytes: size })).highWatermark).toBe(251);
    expect((await reader.offsetFor(topic, 0, "latest")).offset).toBe(251);
  });

  it("indexes every 16th segment by offset (sparse), and a reader without cache starts right at any offset", async () => {
    const topic = uniqueName("sparse");
    const { topic: record } = await log.createTopic({ name: topic, partitions: 1 });
    for (let i = 0; i < 50; i++) await log.produceRecords(topic, [0, 1].map((j) => ({ key: null, value: b(`v${i * 2 + j}`) })));
    await log.fetch(topic, 0, { offset: 0, maxBytes: 1, maxWaitMs: 0 }); // moves the stable hint past the early segments
    const { dynamo } = testLog();
    const indexed = await dynamo.send(
      new QueryCommand({
        TableName: testEnv()["SEGLOG_TABLE"] ?? "seglog",
        IndexName: OFFSET_INDEX.indexName,
        KeyConditionExpression: "pk = :pk",
        ExpressionAttributeValues: { ":pk": { S: partitionPk(record.topicId, 0) } },
      }),
    );
    // Seqs 0, 16, 32 and 48 carry the offset key; 46 commits in 50 wrote no LSI entry.
    expect((indexed.Items ?? []).map((i) => Number(i["ob"]?.S))).toEqual([0, 32, 64, 96]);
    for (const offset of [1, 2, 31, 33, 63, 65, 98, 99]) {
      const fresh = testLog().log; // no index cache: the walk starts from the LSI hit
      const r = await fresh.fetch(topic, 0, { offset, maxBytes: 1, maxWaitMs: 0 });
      const first = [...decodeStored((r.batches[0] as { bytes: Uint8Array }).bytes)].find((x) => x.offset === offset);
      expect(text(first?.value ?? null)).toBe(`v${offset}`);
      expect(r.nextOffset).toBe(offset + (offset % 2 === 0 ? 2 : 1));
    }
  });

  it("returns what it read once its read budget is spent, far behind on small segments, and the next fetch goes on", async () => {
    const topic = uniqueName("budget");
    await log.createTopic({ name: topic, partitions: 1 });
    for (let i = 0; i < 20; i++) await log.produceRecords(topic, [{ key: null, value: b(`v${i}`) }]);
    const hurried = testLog({ readBudgetMs: 0 }).log; // no GET starts after the first
    const first = await hurried.fetch(topic, 0, { offset: 3, maxBytes: 1_000_000 });
    expect(first.batches).toHaveLength(1);
    expect(first.nextOffset).toBe(4);
    expect(first.highWatermark).toBe(20);
    const all = await readAll(hurried, topic, 0);
    expect(all.map((r) => r.value)).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
  });

  it("names at most maxSegmentsPerLocate segments per answer, and the next answer goes on; refuses settings it cannot work with", async () => {
    const topic = uniqueName("locate-cap");
    await log.createTopic({ name: topic, partitions: 1 });
    for (let i = 0; i < 5; i++) await log.produceRecords(topic, [{ key: null, value: b(`v${i}`) }]);
    const capped = testLog({ maxSegmentsPerLocate: 2 }).log;
    const first = await readLocated(capped, topic, 0, { offset: 0, maxBytes: 1_000_000, maxWaitMs: 0 });
    expect(first.segments.map((x) => [x.baseOffset, x.nextOffset])).toEqual([
      [0, 1],
      [1, 2],
    ]);
    expect(first.nextOffset).toBe(2);
    const next = await readLocated(capped, topic, 0, { offset: first.nextOffset, maxBytes: 1_000_000, maxWaitMs: 0 });
    expect(next.chunks.flatMap((c) => [...decodeStored(c)]).map((r) => text(r.value))).toEqual(["v2", "v3"]);
    expect(() => testLog({ maxSegmentsPerLocate: 0 })).toThrow(/maxSegmentsPerLocate must be a whole number ≥ 1/);
    expect(() => testLog({ segmentUrlExpirySeconds: 604_801 })).toThrow(/segmentUrlExpirySeconds must be from 1 to 604800/);
  });

  it("returns the batches before a segment whose GET S3 throttles, and fails only when the first GET does", async () => {
    const topic = uniqueName("slowget");
    await log.createTopic({ name: topic, partitions: 1 });
    for (let i = 0; i < 10; i++) await log.produceRecords(topic, [{ key: null, value: b(`v${i}`) }]);
    const throttled = testLog();
    let slowDowns = 0;
    throttled.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const key = String((args.input as { Key?: string }).Key ?? "");
        if (context.commandName === "GetObjectCommand" && key.endsWith("00000000000000000006.log")) {
          slowDowns++;
          throw Object.assign(new Error("injected SlowDown"), { name: "SlowDown", $metadata: { httpStatusCode: 503 } });
        }
        return next(args);
      },
      { step: "initialize", name: "slowDownOnSix" },
    );
    const before = await throttled.log.fetch(topic, 0, { offset: 2, maxBytes: 1_000_000, maxWaitMs: 0 });
    expect(before.batches.map((x) => x.baseOffset)).toEqual([2, 3, 4, 5]);
    expect(before.nextOffset).toBe(6);
    expect(before.highWatermark).toBe(10);
    const at = await errorOf(throttled.log.fetch(topic, 0, { offset: 6, maxWaitMs: 0 }));
    expect(at.kind).toBe("Throttled");
    expect(at.retriable).toBe(true);
    expect(slowDowns).toBeGreaterThanOrEqual(2);
    // Once S3 answers again, the reader goes on from where it stopped and misses nothing.
    expect((await readAll(log, topic, 0, 6)).map((r) => r.value)).toEqual(["v6", "v7", "v8", "v9"]);
  });

  it("answers OffsetOutOfRange below the log start and above the high watermark, and long-polls at the end", async () => {
    const topic = uniqueName("range");
    await log.createTopic({ name: topic, partitions: 1 });
    await log.produceRecords(topic, [{ key: null, value: b("a") }]);
    expect((await errorOf(log.fetch(topic, 0, { offset: 2 }))).kind).toBe("OffsetOutOfRange");
    expect((await errorOf(log.fetch(topic, 0, { offset: -1 }))).kind).toBe("OffsetOutOfRange");
    const started = Date.now();
    const empty = await log.fetch(topic, 0, { offset: 1, maxWaitMs: 300 });
    expect(empty.batches).toHaveLength(0);
    expect(empty.nextOffset).toBe(1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    const waiting = log.fetch(topic, 0, { offset: 1, maxWaitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 200));
    await log.produceRecords(topic, [{ key: null, value: b("b") }]);
    const arrived = await waiting;
    expect(arrived.batches).toHaveLength(1);
    expect(arrived.nextOffset).toBe(2);
  });

  it("locates several partitions in one long poll: it ends when any has records, answers every one, and shares one answer's segment budget", async () => {
    const topic = uniqueName("several");
    await log.createTopic({ name: topic, partitions: 3 });
    for (let i = 0; i < 3; i++) await log.produceRecords(topic, [{ key: null, value: b(`p0v${i}`), partition: 0 }]);
    await log.produceRecords(topic, [{ key: null, value: b("p1v0"), partition: 1 }]);
    // Partition 0 has records, partition 1 is read at its end, partition 2 from an offset it does not have.
    const { partitions: [p0, p1, p2], objects } = await log.locateMany(topic, [{ partition: 0, offset: 1 }, { partition: 1, offset: 1 }, { partition: 2, offset: 5 }], { maxWaitMs: 5_000 });
    expect(p0).toMatchObject({ partition: 0, nextOffset: 3, highWatermark: 3 });
    expect(p0 && "segments" in p0 && p0.segments.map((x) => x.baseOffset)).toEqual([1, 2]);
    expect(p1).toMatchObject({ partition: 1, segments: [], nextOffset: 1, highWatermark: 1 });
    expect(p2 && "error" in p2 && p2.error.kind).toBe("OffsetOutOfRange");
    expect(objects).toEqual([]); // each batch came in a request of its own

    // Nothing anywhere: the poll waits until a record lands in any partition, then answers all.
    const started = Date.now();
    const waiting = log.locateMany(topic, [{ partition: 0, offset: 3 }, { partition: 2, offset: 0 }], { maxWaitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 300));
    await log.produceRecords(topic, [{ key: null, value: b("p2v0"), partition: 2 }]);
    const { partitions: [still, arrived] } = await waiting;
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(still).toMatchObject({ partition: 0, segments: [], nextOffset: 3 });
    expect(arrived && "segments" in arrived && arrived.segments.map((x) => x.baseOffset)).toEqual([0]);
    const empty = await log.locateMany(topic, [{ partition: 0, offset: 3 }], { maxWaitMs: 0 });
    expect(empty.partitions).toMatchObject([{ partition: 0, segments: [], nextOffset: 3 }]);

    // Two partitions share maxSegmentsPerLocate 4: two segments each at most.
    const capped = testLog({ maxSegmentsPerLocate: 4 }).log;
    for (let i = 1; i < 4; i++) await log.produceRecords(topic, [{ key: null, value: b(`p1v${i}`), partition: 1 }]);
    const { partitions: shared } = await capped.locateMany(topic, [{ partition: 0, offset: 0 }, { partition: 1, offset: 0 }], { maxWaitMs: 0 });
    expect(shared.map((a) => ("segments" in a ? a.segments.length : a.error.kind))).toEqual([2, 2]);
    expect(shared.map((a) => ("segments" in a ? a.nextOffset : -1))).toEqual([2, 2]);

    // A partition the topic does not have is that partition's error; asking twice is refused.
    const { partitions: [known, unknown] } = await log.locateMany(topic, [{ partition: 1, offset: 0 }, { partition: 9, offset: 0 }], { maxWaitMs: 0 });
    expect(known).toMatchObject({ partition: 1, nextOffset: 4 });
    expect(unknown && "error" in unknown && unknown.error.kind).toBe("NotFound");
    expect((await errorOf(log.locateMany(topic, [{ partition: 1, offset: 0 }, { partition: 1, offset: 2 }], {}))).kind).toBe("Invalid");
  });

  it("gives the log ends of many partitions with one read of their heads, as offsetFor gives each, and those of a topic created again under the name", async () => {
    const topic = uniqueName("ends");
    await log.createTopic({ name: topic, partitions: 4 });
    for (let p = 0; p < 4; p++) for (let i = 0; i <= p; i++) await log.produceRecords(topic, [{ key: null, value: b(`p${p}-${i}`), partition: p }]);
    const counted = testLog();
    const calls = countCalls(counted.dynamo);
    await counted.log.describeTopic(topic); // the topic, read once and kept
    calls.clear();
    const ends = await counted.log.highWatermarks(topic, [0, 1, 2, 3]);
    expect([...ends]).toEqual([[0, 1], [1, 2], [2, 3], [3, 4]]);
    expect(calls.get("BatchGetItemCommand")).toBe(1);
    expect(calls.get("GetItemCommand") ?? 0).toBe(0);
    for (const [partition, end] of ends) expect((await log.offsetFor(topic, partition, "latest")).offset).toBe(end);
    calls.clear();
    const described = await counted.log.describeTopic(topic); // the same, with each log start
    expect(described.partitions).toEqual([0, 1, 2, 3].map((partition) => ({ partition, logStartOffset: 0, highWatermark: partition + 1 })));
    expect(calls.get("BatchGetItemCommand")).toBe(1);
    expect([...(await counted.log.highWatermarks(topic, [0, 9]))]).toEqual([[0, 1]]); // a partition the topic does not have is left out
    // Deleted and created again with fewer partitions: the copy this instance kept is stale, and
    // the new topic's are read.
    await log.deleteTopic(topic);
    await log.createTopic({ name: topic, partitions: 2 });
    await log.produceRecords(topic, [{ key: null, value: b("new"), partition: 1 }]);
    expect([...(await counted.log.highWatermarks(topic, [0, 1, 2, 3]))]).toEqual([[0, 0], [1, 1]]);
  });

  it("reads the heads of the partitions it locates in one request, each time it looks, and each partition's own when that read fails", async () => {
    const topic = uniqueName("heads");
    await log.createTopic({ name: topic, partitions: 4 });
    for (let p = 0; p < 4; p++) await log.produceRecords(topic, [{ key: null, value: b(`p${p}`), partition: p }]);
    const counted = testLog();
    const calls = countCalls(counted.dynamo);
    const wants = [0, 1, 2, 3].map((partition) => ({ partition, offset: 0 }));
    await counted.log.describeTopic(topic); // the topic, read once and kept
    calls.clear();
    const { partitions } = await counted.log.locateMany(topic, wants, { maxWaitMs: 0 });
    expect(partitions.map((a) => ("segments" in a ? a.segments.length : a.error.kind))).toEqual([1, 1, 1, 1]);
    expect(calls.get("BatchGetItemCommand")).toBe(1);
    expect(calls.get("GetItemCommand") ?? 0).toBe(0);
    // A long poll at the end of every partition looks again and again: one read of the heads each time.
    calls.clear();
    const ends = await counted.log.locateMany(topic, wants.map((w) => ({ ...w, offset: 1 })), { maxWaitMs: 350 });
    expect(ends.partitions.map((a) => ("segments" in a ? a.nextOffset : -1))).toEqual([1, 1, 1, 1]);
    expect(calls.get("BatchGetItemCommand")).toBeGreaterThanOrEqual(2);
    expect(calls.get("GetItemCommand") ?? 0).toBe(0);
    // With a partition the topic does not have, that is news: the long poll looks once and answers.
    calls.clear();
    const missing = await counted.log.locateMany(topic, [{ partition: 0, offset: 1 }, { partition: 7, offset: 0 }], { maxWaitMs: 20_000 });
    expect(missing.partitions.map((a) => ("segments" in a ? a.nextOffset : a.error.kind))).toEqual([1, "NotFound"]);
    expect(calls.get("GetItemCommand") ?? 0).toBe(2); // the topic again (it may have grown), then partition 0's head once
    // DynamoDB refuses the batch read: each partition reads its own head, and all four answer.
    const refusing = testLog();
    injectFaults(refusing.dynamo, (r) => (r.command === "BatchGetItemCommand" ? "error-before" : undefined));
    const own = countCalls(refusing.dynamo);
    await refusing.log.topic(topic); // the topic, read once and kept
    own.clear();
    const { partitions: fallback } = await refusing.log.locateMany(topic, wants, { maxWaitMs: 0 });
    expect(fallback.map((a) => ("segments" in a ? a.segments.length : a.error.kind))).toEqual([1, 1, 1, 1]);
    expect(own.get("GetItemCommand")).toBe(4);
  });

  it("names one GET for the segments several partitions have in one object, which reads each one's bytes", async () => {
    const topic = uniqueName("one-get");
    await log.createTopic({ name: topic, partitions: 4 });
    // One request, one object: partitions 0, 1 and 2 back to back; then partition 3 alone.
    await log.produceRecords(topic, [0, 1, 2].map((p) => ({ key: null, value: b(`in one request, p${p}`), partition: p })));
    await log.produceRecords(topic, [{ key: null, value: b("alone"), partition: 3 }]);
    const all = await log.locateMany(topic, [0, 1, 2, 3].map((partition) => ({ partition, offset: 0 })), { maxWaitMs: 0 });
    expect(all.objects).toHaveLength(1);
    const [object] = all.objects as [SharedObject];
    const res = await fetch(object.url, { headers: { range: rangeHeader(object.range) } });
    const union = new Uint8Array(await res.arrayBuffer());
    expect(union.byteLength).toBe(object.range.end - object.range.start);
    const segments = all.partitions.map((a) => ("segments" in a ? a.segments : []));
    expect(segments.map((s) => s.map((x) => x.object))).toEqual([[0], [0], [0], [undefined]]);
    for (const [p, [segment]] of segments.slice(0, 3).entries()) {
      const { range } = segment as SegmentLocation & { range: ByteSpan };
      const slice = union.subarray(range.start - object.range.start, range.end - object.range.start);
      expect([...decodeStored(slice)].map((r) => text(r.value))).toEqual([`in one request, p${p}`]);
      // Its own URL reads the same bytes.
      const own = await fetch((segment as SegmentLocation).url, { headers: { range: rangeHeader(range) } });
      expect(Buffer.from(await own.arrayBuffer()).equals(Buffer.from(slice))).toBe(true);
    }
    // Partitions 0 and 2 with partition 1's batch between: one GET still, reading it too.
    const outer = await log.locateMany(topic, [0, 2].map((partition) => ({ partition, offset: 0 })), { maxWaitMs: 0 });
    expect(outer.objects).toEqual([{ url: expect.any(String), range: object.range }]);
    // One partition of the object: its own GET.
    const one = await log.locateMany(topic, [{ partition: 1, offset: 0 }, { partition: 3, offset: 0 }], { maxWaitMs: 0 });
    expect(one.objects).toEqual([]);
  });

  it("names a GET for each cluster of segments a fetch wants in one object, and leaves a large stretch between them unread", async () => {
    const topic = uniqueName("clusters");
    await log.createTopic({ name: topic, partitions: 6 });
    // One object: small batches of partitions 0, 1, 4 and 5 around large ones of 2 and 3.
    await log.produceRecords(topic, [0, 1, 2, 3, 4, 5].map((p) => ({ key: null, value: b(p === 2 || p === 3 ? "x".repeat(5_000) : `p${p}`), partition: p })));
    const fetched = await log.locateMany(topic, [0, 1, 4, 5].map((partition) => ({ partition, offset: 0 })), { maxWaitMs: 0 });
    const segments = fetched.partitions.map((a) => ("segments" in a ? (a.segments[0] as SegmentLocation & { range: ByteSpan; object?: number }) : undefined));
    expect(segments.map((s) => s?.object)).toEqual([0, 0, 1, 1]);
    const [first, second] = fetched.objects as [SharedObject, SharedObject];
    expect(first.range).toEqual({ start: segments[0]?.range.start, end: segments[1]?.range.end });
    expect(second.range).toEqual({ start: segments[2]?.range.start, end: segments[3]?.range.end });
    // Neither GET reads partitions 2 and 3's 10 KB.
    expect(first.range.end - first.range.start + second.range.end - second.range.start).toBeLessThan(1_000);
    for (const [k, object] of [first, second].entries()) {
      const union = new Uint8Array(await (await fetch(object.url, { headers: { range: rangeHeader(object.range) } })).arrayBuffer());
      for (const [j, s] of segments.slice(2 * k, 2 * k + 2).entries()) {
        const slice = union.subarray((s?.range.start ?? 0) - object.range.start, (s?.range.end ?? 0) - object.range.start);
        expect([...decodeStored(slice)].map((r) => text(r.value))).toEqual([`p${[0, 1, 4, 5][2 * k + j]}`]);
      }
    }
  });

  it("looks offsets up: earliest, latest and by timestamp", async () => {
    const topic = uniqueName("times");
    await log.createTopic({ name: topic, partitions: 1 });
    await log.produceRecords(topic, [10, 20, 30].map((t) => ({ key: null, value: b(`t${t}`), timestamp: 1_000_000 + t })));
    await log.produceRecords(topic, [40, 50].map((t) => ({ key: null, value: b(`t${t}`), timestamp: 1_000_000 + t })));
    expect(await log.offsetFor(topic, 0, "earliest")).toEqual({ offset: 0, timestamp: null });
    expect(await log.offsetFor(topic, 0, "latest")).toEqual({ offset: 5, timestamp: null });
    expect(await log.offsetFor(topic, 0, { timestampMs: 1_000_025 })).toEqual({ offset: 2, timestamp: 1_000_030 });
    expect(await log.offsetFor(topic, 0, { timestampMs: 1_000_040 })).toEqual({ offset: 3, timestamp: 1_000_040 });
    expect(await log.offsetFor(topic, 0, { timestampMs: 0 })).toEqual({ offset: 0, timestamp: 1_000_010 });
    expect(await log.offsetFor(topic, 0, { timestampMs: 2_000_000 })).toEqual({ offset: 5, timestamp: null });
  });

  it("finds records by timestamp by their own timestamps, not a batch header's wrong maxTimestamp", async () => {
    const topic = uniqueName("lying-header");
    await log.createTopic({ name: topic, partitions: 1 });
    await log.produceRecords(topic, [{ key: null, value: b("early"), timestamp: 1_000_000 }]);
    const bytes = encodeRecordBatch({ records: [2_000, 32_000].map((t) => ({ key: null, value: b(`t${t}`), timestamp: 1_000_000 + t })) });
    // A producer's header that says its records end at the first one's time.
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    view.writeBigInt64BE(1_002_000n, 35);
    view.writeUInt32BE(crc32c(bytes, 21), 17);
    await log.produceFrames(topic, [{ partition: 0, bytes }]);
    await log.produceRecords(topic, [{ key: null, value: b("late"), timestamp: 1_040_000 }]);
    expect(await log.offsetFor(topic, 0, { timestampMs: 1_020_000 })).toEqual({ offset: 2, timestamp: 1_032_000 });
  });

  it("stores a client's RecordBatch byte for byte, with only the base offset assigned", async () => {
    const topic = uniqueName("bytes");
    await log.createTopic({ name: topic, partitions: 2 });
    const batch = encodeRecordBatch({ records: [{ key: b("k"), value: b("v"), timestamp: 1234 }], compression: "gzip" });
    const sent = Buffer.from(batch);
    await log.produceFrames(topic, [{ partition: 1, bytes: batch }]);
    const [r] = await log.produceFrames(topic, [{ partition: 1, bytes: Buffer.from(sent) }]);
    expect(r).toMatchObject({ baseOffset: 1 });
    const stored = (await log.fetch(topic, 1, { offset: 1 })).batches[0]?.bytes;
    expect(Buffer.from(stored ?? []).subarray(8)).toEqual(sent.subarray(8));
    expect(Buffer.from(stored ?? []).readBigInt64BE(0)).toBe(1n);
  });

  it("costs exactly 1 reserve + 1 commit per partition batch, and 1 S3 PUT per request", async () => {
    const topic = uniqueName("cost");
    const counted = testLog();
    await counted.log.createTopic({ name: topic, partitions: 3 });
    await counted.log.produceRecords(topic, [{ key: null, value: b("warm") }]); // warms the topic cache
    const dynamo = countCalls(counted.dynamo);
    const s3 = countCalls(counted.s3);
    const results = await counted.log.produceRecords(
      topic,
      [0, 1, 2, 0, 1, 2].map((partition, i) => ({ key: null, value: b(`r${i}`), partition })),
    );
    expect(results).toHaveLength(3);
    expect(Object.fromEntries(dynamo)).toEqual({ UpdateItemCommand: 3, PutItemCommand: 3 });
    expect(Object.fromEntries(s3)).toEqual({ PutObjectCommand: 1 });
  });
});
