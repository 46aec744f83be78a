import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { encodeRecordBatch } from "../../../src/core/codec/record-batch.ts";
import type { SeglogError } from "../../../src/core/errors.ts";
import type { Log } from "../../../src/log/log.ts";
import type { ProduceResult } from "../../../src/log/writer.ts";
import type { MaintenanceOptions } from "../../../src/log/maintenance.ts";
import { decodeStored } from "../../../src/log/read.ts";
import { injectFaults, stepOf } from "../../helpers/faults.ts";
import { countCalls, readLocated, testLog } from "../../helpers/log.ts";
import { testEnv, uniqueName } from "../../helpers/stack.ts";

const bucket = testEnv()["SEGLOG_BUCKET"] ?? "seglog";
/** Every step at once: retention, merges and collection need no waiting. */
const eager: MaintenanceOptions = { mergeAfterMs: 0, mergeGraceMs: 0, orphanMinAgeMs: 0 };
type Ctx = ReturnType<typeof testLog>;

const frame = (partition: number, values: string[], id?: { producerId: number; epoch: number; seq: number }) => ({
  partition,
  bytes: encodeRecordBatch({
    ...(id ? { producerId: id.producerId, producerEpoch: id.epoch, baseSequence: id.seq } : {}),
    records: values.map((v) => ({ key: null, value: Buffer.from(v.padEnd(100, ".")) })),
  }),
});

function ok(r: ProduceResult | undefined) {
  if (!r || "error" in r) throw r?.error ?? new Error("no result");
  return r;
}

async function readAll(log: Log, topic: string, partition: number): Promise<[number, string][]> {
  const out: [number, string][] = [];
  for (let { offset } = await log.offsetFor(topic, partition, "earliest"); ; ) {
    const r = await log.fetch(topic, partition, { offset, maxWaitMs: 0 });
    for (const b of r.batches) {
      for (const rec of decodeStored(b.bytes)) if (rec.offset >= offset) out.push([rec.offset, Buffer.from(rec.value ?? []).toString().replace(/\.+$/, "")]);
    }
    if (r.nextOffset === offset) return out;
    offset = r.nextOffset;
  }
}

async function objectKeys(ctx: Ctx, prefix: string): Promise<string[]> {
  const out = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? "").sort();
}

async function setup(partitions: number, config: Record<string, number> = {}) {
  const ctx = testLog();
  const topic = uniqueName("shared");
  const { topic: t } = await ctx.log.createTopic({ name: topic, partitions, config });
  return { ctx, topic, shared: `log/${topic}/${t.topicId}/r/`, own: (p: number) => `log/${topic}/${t.topicId}/${p}/` };
}

describe("one object per produce request", () => {
  it("writes a request's batches for several partitions as one object, and each partition reads back only its own", async () => {
    const { ctx, topic, shared, own } = await setup(3);
    const s3 = countCalls(ctx.s3);
    const results = await ctx.log.produceFrames(topic, [frame(0, ["a0", "a1"]), frame(1, ["b0"]), frame(2, ["c0", "c1", "c2"]), frame(1, ["b1", "b2"])]);
    expect(results.map(ok).map((r) => [r.partition, r.baseOffset, r.lastOffset])).toEqual([
      [0, 0, 1],
      [1, 0, 0],
      [2, 0, 2],
      [1, 1, 2],
    ]);
    expect(s3.get("PutObjectCommand")).toBe(1);
    expect(await objectKeys(ctx, shared)).toEqual([`${shared}0-${"0".padStart(20, "0")}.log`]);
    for (const p of [0, 1, 2]) expect(await objectKeys(ctx, own(p))).toEqual([]);

    s3.clear();
    expect(await readAll(ctx.log, topic, 0)).toEqual([[0, "a0"], [1, "a1"]]);
    expect(await readAll(ctx.log, topic, 1)).toEqual([[0, "b0"], [1, "b1"], [2, "b2"]]);
    expect(await readAll(ctx.log, topic, 2)).toEqual([[0, "c0"], [1, "c1"], [2, "c2"]]);
    expect(s3.get("GetObjectCommand")).toBe(4); // one ranged GET per batch
    // A consumer reading from S3 is sent to the same ranges of the shared object.
    const located = await readLocated(ctx.log, topic, 1, { offset: 0, maxWaitMs: 0 });
    expect(located.segments.map((x) => [x.baseOffset, x.nextOffset, new URL(x.url).pathname.endsWith(`0-${"0".padStart(20, "0")}.log`)])).toEqual([
      [0, 1, true],
      [1, 3, true],
    ]);
    expect(located.segments.every((x) => x.range !== undefined)).toBe(true);
    expect(located.chunks.flatMap((c) => [...decodeStored(c)]).map((r) => [r.offset, Buffer.from(r.value ?? []).toString().replace(/\.+$/, "")])).toEqual([
      [0, "b0"],
      [1, "b1"],
      [2, "b2"],
    ]);
    expect(await ctx.log.offsetFor(topic, 2, { timestampMs: 0 })).toMatchObject({ offset: 0 });
  });

  it("fails every batch with a retriable error when the shared PUT fails, gives their offsets up at once, and a retry lands each batch once", async () => {
    const { ctx, topic } = await setup(2);
    let failPut = true;
    injectFaults(ctx.s3, (req) => (failPut && stepOf(req) === "put" ? "error-before" : undefined));
    const id = await ctx.log.initProducer();
    const frames = () => [frame(0, ["x0"], { ...id, seq: 0 }), frame(1, ["y0", "y1"], { ...id, seq: 0 })];
    const failed = await ctx.log.produceFrames(topic, frames());
    expect(failed.map((r) => ("error" in r ? (r.error as SeglogError).retriable : "acked"))).toEqual([true, true]);
    // The reservations were aborted by the producer itself: the high watermark moves past them at once.
    const described = await ctx.log.describeTopic(topic);
    expect(described.partitions.map((p) => p.highWatermark)).toEqual([1, 2]);

    failPut = false;
    const first = (await ctx.log.produceFrames(topic, frames())).map(ok);
    const again = (await ctx.log.produceFrames(topic, frames())).map(ok); // the client's retry after a lost answer
    expect(again.map((r) => r.baseOffset)).toEqual(first.map((r) => r.baseOffset));
    expect(await readAll(ctx.log, topic, 0)).toEqual([[1, "x0"]]);
    expect(await readAll(ctx.log, topic, 1)).toEqual([[2, "y0"], [3, "y1"]]);
  });

  it("keeps the other partitions' batches when one partition's reservation fails, and that partition's batches before it", async () => {
    const { ctx, topic } = await setup(3);
    let failReserves = "1"; // every reservation on partition 1
    let reservesOn1 = 0;
    injectFaults(ctx.dynamo, (req) => {
      if (stepOf(req) !== "reserve" || !JSON.stringify(req.input).includes('#1"')) return undefined;
      reservesOn1++;
      return failReserves === "1" || (failReserves === "second" && reservesOn1 === 2) ? "error-before" : undefined;
    });
    const results = await ctx.log.produceFrames(topic, [frame(0, ["a"]), frame(1, ["b"]), frame(2, ["c"]), frame(1, ["b2"])]);
    expect(results.every((r) => !("error" in r) || r.error.retriable)).toBe(true);
    expect(results.map((r) => ("error" in r ? `${r.partition}:${r.error.kind}` : `${r.partition}@${r.baseOffset}`))).toEqual([
      "0@0",
      "1:Internal",
      "2@0",
      "1:Internal",
    ]);
    expect(await readAll(ctx.log, topic, 0)).toEqual([[0, "a"]]);
    expect(await readAll(ctx.log, topic, 1)).toEqual([]);
    expect(await readAll(ctx.log, topic, 2)).toEqual([[0, "c"]]);

    // Partition 1's first batch reserves, its second does not: the first lands, the second fails.
    failReserves = "second";
    reservesOn1 = 0;
    const again = await ctx.log.produceFrames(topic, [frame(1, ["d"]), frame(0, ["e"]), frame(1, ["d2"])]);
    expect(again.map((r) => ("error" in r ? `${r.partition}:${r.error.kind}` : `${r.partition}@${r.baseOffset}`))).toEqual(["1@0", "0@1", "1:Internal"]);
    expect(await readAll(ctx.log, topic, 1)).toEqual([[0, "d"]]);
  });

  it("deletes a shared object only once retention has removed it from every partition", async () => {
    // Batches of 3 records of 100 bytes (about 385 bytes): retention.bytes keeps 2 of them per
    // partition (a batch goes while what stays still holds 700 bytes, and never the newest).
    const { ctx, topic, shared } = await setup(2, { "retention.bytes": 700 });
    const three = (tag: string) => [`${tag}0`, `${tag}1`, `${tag}2`];
    ok((await ctx.log.produceFrames(topic, [frame(0, three("s")), frame(1, three("t"))]))[0]);
    const [object] = await objectKeys(ctx, shared);
    for (const tag of ["u", "v"]) ok((await ctx.log.produceFrames(topic, [frame(0, three(tag))]))[0]);

    const first = await ctx.log.runMaintenance({ topics: [topic], ...eager });
    expect(first).toMatchObject({ segmentsDeleted: 1, sharedObjectsDeleted: 0, failures: 0 });
    expect(await objectKeys(ctx, shared)).toEqual([object]); // partition 1 still names it
    expect((await readAll(ctx.log, topic, 1)).map(([, v]) => v)).toEqual(three("t"));
    expect((await readAll(ctx.log, topic, 0)).map(([o]) => o)).toEqual([3, 4, 5, 6, 7, 8]);

    for (const tag of ["w", "x"]) ok((await ctx.log.produceFrames(topic, [frame(1, three(tag))]))[0]);
    const second = await ctx.log.runMaintenance({ topics: [topic], ...eager });
    expect(second).toMatchObject({ segmentsDeleted: 1, sharedObjectsDeleted: 1, failures: 0 });
    expect(await objectKeys(ctx, shared)).toEqual([]);
    expect((await readAll(ctx.log, topic, 1)).map(([, v]) => v)).toEqual([...three("w"), ...three("x")]);
  });

  it("collects an unnamed shared object even when a partition's visit fails, by reading that partition's index", async () => {
    const { ctx, topic, shared } = await setup(2);
    let failCommits = true;
    injectFaults(ctx.dynamo, (req) => (failCommits && stepOf(req) === "commit" ? "error-before" : undefined));
    const lost = await ctx.log.produceFrames(topic, [frame(0, ["x"]), frame(1, ["y"])]);
    expect(lost.every((r) => "error" in r)).toBe(true); // its object is named by no index item
    failCommits = false;
    ok((await ctx.log.produceFrames(topic, [frame(0, ["a"]), frame(1, ["b"])]))[0]);
    const [orphan, named] = await objectKeys(ctx, shared);
    expect(named).toBe(`${shared}0-${"1".padStart(20, "0")}.log`);

    // Partition 1's visit fails at its first head read.
    let headReads = 0;
    injectFaults(ctx.dynamo, (req) => {
      const input = JSON.stringify(req.input);
      return req.command === "GetItemCommand" && input.includes('#1"') && input.includes('"HEAD"') && headReads++ === 0 ? "error-before" : undefined;
    });
    const report = await ctx.log.runMaintenance({ topics: [topic], ...eager });
    expect(report).toMatchObject({ failures: 1, sharedObjectsDeleted: 1 });
    expect(await objectKeys(ctx, shared)).toEqual([named]);
    expect(orphan).not.toBe(named);
    expect(await readAll(ctx.log, topic, 0)).toEqual([[1, "a"]]);
    expect(await readAll(ctx.log, topic, 1)).toEqual([[1, "b"]]);
  });

  it("merges shared batches into each partition's own segments, then collects the shared objects", async () => {
    const { ctx, topic, shared, own } = await setup(2, { "segment.bytes": 64 * 1024 });
    for (let i = 0; i < 10; i++) ok((await ctx.log.produceFrames(topic, [frame(0, [`p${i}`]), frame(1, [`q${i}`])]))[0]);
    expect(await objectKeys(ctx, shared)).toHaveLength(10);
    const merged = await ctx.log.runMaintenance({ topics: [topic], ...eager });
    expect(merged).toMatchObject({ merges: 2, segmentsMerged: 20, failures: 0 });
    // Through the merge's grace period the shared objects stay: the first one too, though the
    // merged item took the place of the item that named it.
    const inGrace = await ctx.log.runMaintenance({ topics: [topic], ...eager, mergeGraceMs: 60_000 });
    expect(inGrace).toMatchObject({ sharedObjectsDeleted: 0, failures: 0 });
    expect(await objectKeys(ctx, shared)).toHaveLength(10);
    const after = await ctx.log.runMaintenance({ topics: [topic], ...eager });
    expect(after).toMatchObject({ sharedObjectsDeleted: 10, failures: 0 });
    expect(await objectKeys(ctx, shared)).toEqual([]);
    for (const p of [0, 1]) expect(await objectKeys(ctx, own(p))).toHaveLength(1);
    expect((await readAll(ctx.log, topic, 0)).map(([, v]) => v)).toEqual(Array.from({ length: 10 }, (_, i) => `p${i}`));
    expect((await readAll(ctx.log, topic, 1)).map(([, v]) => v)).toEqual(Array.from({ length: 10 }, (_, i) => `q${i}`));
  });
});
