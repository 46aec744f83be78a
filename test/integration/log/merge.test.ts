import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { SeglogError } from "../../../src/core/errors.ts";
import { partitionPk } from "../../../src/core/keys.ts";
import type { Log } from "../../../src/log/log.ts";
import type { MaintenanceOptions } from "../../../src/log/maintenance.ts";
import { decodeStored } from "../../../src/log/read.ts";
import { injectFaults, type Fault, type RequestInfo } from "../../helpers/faults.ts";
import { countCalls, readLocated, testLog } from "../../helpers/log.ts";
import { testEnv, uniqueName } from "../../helpers/stack.ts";

const env = testEnv();
const bucket = env["SEGLOG_BUCKET"] ?? "seglog";
const table = env["SEGLOG_TABLE"] ?? "seglog";
const value = (i: number) => Buffer.from(`v${String(i).padStart(6, "0")}`.padEnd(1000, "."));
const SEGMENT_BYTES = 64 * 1024;
/** Merge at once, and delete what merges replaced on the next run. */
const eager: MaintenanceOptions = { mergeAfterMs: 0, mergeGraceMs: 0, orphanMinAgeMs: 0 };

type Ctx = ReturnType<typeof testLog>;

async function objectKeys(ctx: Ctx, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const out = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    keys.push(...(out.Contents ?? []).map((o) => o.Key ?? ""));
    token = out.NextContinuationToken;
  } while (token);
  return keys;
}

interface SegmentItem {
  readonly sk: string;
  readonly state: string;
  readonly base: number;
  /** The object a merged item names. */
  readonly key?: string;
}

async function segmentItems(ctx: Ctx, pk: string): Promise<SegmentItem[]> {
  const items: SegmentItem[] = [];
  let start: Record<string, never> | undefined;
  do {
    const out = await ctx.dynamo.send(
      new QueryCommand({ TableName: table, KeyConditionExpression: "pk = :pk AND begins_with(sk, :s)", ExpressionAttributeValues: { ":pk": { S: pk }, ":s": { S: "S#" } }, ExclusiveStartKey: start }),
    );
    for (const i of out.Items ?? []) {
      items.push({ sk: i["sk"]?.S ?? "", state: i["st"]?.S ?? "", base: Number(i["base"]?.N), ...(i["key"]?.S ? { key: i["key"].S } : {}) });
    }
    start = out.LastEvaluatedKey as typeof start;
  } while (start);
  return items;
}

/** Reads a partition from `from` to its end, `maxBytes` per fetch, as a consumer would. */
async function readAll(log: Log, topic: string, from = 0, maxBytes = 16 * 1024): Promise<{ offset: number; value: string }[]> {
  const out: { offset: number; value: string }[] = [];
  for (let offset = from; ; ) {
    const r = await log.fetch(topic, 0, { offset, maxBytes, maxWaitMs: 0 });
    for (const batch of r.batches) {
      for (const rec of decodeStored(batch.bytes)) if (rec.offset >= offset) out.push({ offset: rec.offset, value: Buffer.from(rec.value ?? []).toString().slice(0, 7) });
    }
    if (r.nextOffset === offset) return out;
    offset = r.nextOffset;
  }
}

async function setup(n: number, segmentBytes = SEGMENT_BYTES) {
  const ctx = testLog();
  const topic = uniqueName("merge");
  const { topic: t } = await ctx.log.createTopic({ name: topic, partitions: 1, config: { "segment.bytes": segmentBytes } });
  for (let i = 0; i < n; i += 25) {
    await Promise.all(Array.from({ length: Math.min(25, n - i) }, (_, j) => ctx.log.produceRecords(topic, [{ key: null, value: value(i + j) }])));
  }
  const batchBytes = (await ctx.log.fetch(topic, 0, { offset: 0, maxBytes: 1 })).batches[0]?.bytes.byteLength ?? 0;
  return { ctx, topic, prefix: `log/${topic}/${t.topicId}/0/`, pk: partitionPk(t.topicId, 0), batchBytes, perObject: Math.floor(segmentBytes / batchBytes) };
}

/** The object each index item names: its own key when merged, else the one its base offset gives. */
const namedObjects = (prefix: string, items: SegmentItem[]) =>
  items.filter((i) => i.state === "C").map((i) => i.key ?? `${prefix}${String(i.base).padStart(20, "0")}.log`).sort();

const sorted = (xs: { offset: number; value: string }[]) => xs.map((x) => x.value).sort();
const expected = (n: number) => Array.from({ length: n }, (_, i) => `v${String(i).padStart(6, "0")}`).sort();

describe("segment merging", () => {
  it("merges 1 KB batches into objects of segment.bytes, and consumers then need a GET per merged range, not per batch", async () => {
    const n = 300;
    const { ctx, topic, prefix, pk, batchBytes, perObject } = await setup(n);
    const before = testLog();
    const getsBefore = countCalls(before.s3);
    const read = await readAll(before.log, topic);
    expect(read.map((r) => r.offset)).toEqual(Array.from({ length: n }, (_, i) => i));

    const report = await ctx.log.runMaintenance({ topics: [topic], ...eager });
    const single = n % perObject === 1 ? 1 : 0; // a lone last segment has nothing to merge with
    const merged = Math.ceil(n / perObject) - single;
    expect(report).toMatchObject({ merges: merged, segmentsMerged: n - single, failures: 0 });
    await ctx.log.runMaintenance({ topics: [topic], ...eager }); // the grace period is over: replaced items and objects go
    const objects = await objectKeys(ctx, prefix);
    expect(objects).toHaveLength(Math.ceil(n / perObject));
    expect(objects.filter((k) => k.includes("-"))).toHaveLength(merged);
    expect(namedObjects(prefix, await segmentItems(ctx, pk))).toEqual(objects.sort());

    const after = testLog();
    const getsAfter = countCalls(after.s3);
    const reread = await readAll(after.log, topic);
    expect(reread).toEqual(read);
    const [gets0, gets1] = [getsBefore.get("GetObjectCommand") ?? 0, getsAfter.get("GetObjectCommand") ?? 0];
    expect(gets0).toBe(n);
    expect(gets1).toBe(objects.length); // a 64 KiB merged segment is one sparse step: one GET each
    const mb = (n * batchBytes) / 1e6;
    console.log(`consumer GETs per MB of 1 KB batches, 16 KiB fetches: ${(gets0 / mb).toFixed(1)} before merging, ${(gets1 / mb).toFixed(1)} after`);
  }, 60_000);

  it("merges the partitions of shared objects 8 at a time: an object a request wrote for all its partitions is read once by each 8, not once per partition", async () => {
    const ctx = testLog();
    const topic = uniqueName("mergeshared");
    const partitions = 10;
    const requests = 20;
    await ctx.log.createTopic({ name: topic, partitions, config: { "segment.bytes": SEGMENT_BYTES } });
    // Each request carries a 1 KB batch for every partition: one shared object per request.
    for (let i = 0; i < requests; i += 10) {
      await Promise.all(
        Array.from({ length: 10 }, (_, j) =>
          ctx.log.produceRecords(topic, Array.from({ length: partitions }, (_, p) => ({ key: null, value: value((i + j) * partitions + p), partition: p }))),
        ),
      );
    }
    const readPartition = async (log: Log, partition: number) => {
      const out: string[] = [];
      for (let offset = 0; ; ) {
        const r = await log.fetch(topic, partition, { offset, maxBytes: 16 * 1024, maxWaitMs: 0 });
        for (const batch of r.batches) for (const rec of decodeStored(batch.bytes)) if (rec.offset >= offset) out.push(Buffer.from(rec.value ?? []).toString().slice(0, 7));
        if (r.nextOffset === offset) return out;
        offset = r.nextOffset;
      }
    };
    const before = await Promise.all(Array.from({ length: partitions }, (_, p) => readPartition(ctx.log, p)));
    expect(before.map((b) => b.length)).toEqual(Array(partitions).fill(requests));

    const merging = testLog();
    const calls = countCalls(merging.s3);
    const report = await merging.log.runMaintenance({ topics: [topic], ...eager });
    expect(report).toMatchObject({ merges: partitions, segmentsMerged: partitions * requests, failures: 0 }); // 20 KB a partition: one merge each
    expect(calls.get("GetObjectCommand")).toBe(2 * requests); // partitions 0–7, then 8–9: not partitions × requests
    expect(calls.get("PutObjectCommand")).toBe(partitions);

    const after = await Promise.all(Array.from({ length: partitions }, (_, p) => readPartition(testLog().log, p)));
    expect(after).toEqual(before);
    // Once the grace period is over, no item names the shared objects: they go.
    const removal = await ctx.log.runMaintenance({ topics: [topic], ...eager });
    expect(removal).toMatchObject({ sharedObjectsDeleted: requests, failures: 0 });
    expect(await Promise.all(Array.from({ length: partitions }, (_, p) => readPartition(testLog().log, p)))).toEqual(before);
  }, 60_000);

  it("reads from any offset inside a merged segment by byte range, and finds it by timestamp", async () => {
    const { ctx, topic } = await setup(150, 1024 * 1024); // one merged segment, ≈ 160 KB: sparse points every 64 KiB
    expect((await ctx.log.runMaintenance({ topics: [topic], ...eager })).merges).toBe(1);
    await ctx.log.runMaintenance({ topics: [topic], ...eager }); // replaced items go: the offset index leads to the merged segment
    const reader = testLog();
    const calls: string[] = [];
    reader.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === "GetObjectCommand") calls.push(String((args.input as { Range?: string }).Range ?? "whole"));
        return next(args);
      },
      { step: "initialize", name: "ranges" },
    );
    const r = await reader.log.fetch(topic, 0, { offset: 77, maxBytes: 1, maxWaitMs: 0 });
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatch(/^bytes=\d+-\d+$/);
    const records = r.batches.flatMap((x) => [...decodeStored(x.bytes)]);
    expect(records[0]?.offset).toBeLessThanOrEqual(77);
    expect(records.at(-1)?.offset).toBe(r.nextOffset - 1);
    expect(records.map((x) => x.offset)).toContain(77);
    expect((await readAll(reader.log, topic, 77)).map((x) => x.offset)).toEqual(Array.from({ length: 73 }, (_, i) => 77 + i));
    const all = (await reader.log.fetch(topic, 0, { offset: 0, maxBytes: 10_000_000, maxWaitMs: 0 })).batches.flatMap((x) => [...decodeStored(x.bytes)]);
    const at = all.find((x) => x.offset === 100)?.timestamp ?? 0;
    const first = all.find((x) => x.timestamp >= at);
    expect(await reader.log.offsetFor(topic, 0, { timestampMs: at })).toEqual({ offset: first?.offset, timestamp: first?.timestamp });
  });

  it("names the bytes a fetch returns for a client's own S3 reads, byte ranges of the merged segment from any offset, going on to reach maxBytes where a fetch stops within it", async () => {
    const { ctx, topic } = await setup(150, 1024 * 1024); // one merged segment, ≈ 160 KB: sparse points every 64 KiB
    expect((await ctx.log.runMaintenance({ topics: [topic], ...eager })).merges).toBe(1);
    await ctx.log.runMaintenance({ topics: [topic], ...eager });
    const concat = (chunks: readonly Uint8Array[]) => Buffer.concat(chunks.map((c) => Buffer.from(c)));
    for (const offset of [0, 77, 149]) {
      for (const maxBytes of [1, 100_000, 10_000_000]) {
        const request = { offset, maxBytes, maxWaitMs: 0 };
        const fetched = await ctx.log.fetch(topic, 0, request);
        const located = await readLocated(ctx.log, topic, 0, request);
        const [named, returned] = [concat(located.chunks), concat(fetched.batches.map((b) => b.bytes))];
        expect(located.highWatermark).toBe(150);
        expect(located.segments).toHaveLength(1);
        expect(located.segments[0]?.range === undefined).toBe(offset === 0 && maxBytes === 10_000_000); // whole only when all of it is wanted
        // A fetch returns what fits in maxBytes; segments named for the client go on to reach it
        // (one sparse step more at most): the same bytes, and more of them only in between.
        expect(named.subarray(0, returned.length).equals(returned)).toBe(true);
        if (maxBytes === 100_000 && named.length > returned.length) {
          expect(returned.length).toBeLessThanOrEqual(maxBytes);
          expect(named.length).toBeGreaterThanOrEqual(maxBytes);
          expect(located.nextOffset).toBeGreaterThan(fetched.nextOffset);
        } else {
          expect(named.equals(returned)).toBe(true);
          expect(located.nextOffset).toBe(fetched.nextOffset);
        }
        const records = located.chunks.flatMap((c) => [...decodeStored(c)]);
        expect(records.map((r) => r.offset)).toContain(offset);
        expect(records.at(-1)?.offset).toBe(located.nextOffset - 1);
      }
    }
  });

  it("keeps readers that found the replaced items working through the grace period, then points them to the merged segment", async () => {
    const { ctx, topic, pk, perObject } = await setup(100);
    await ctx.log.runMaintenance({ topics: [topic], ...eager, mergeGraceMs: 3_600_000 });
    const items = await segmentItems(ctx, pk);
    expect(items.filter((i) => i.key)).toHaveLength(Math.ceil(100 / perObject));
    expect(items.length).toBeGreaterThan(60); // the replaced items are still there
    // A read that looks an offset up from now on (in a new process: a cache keeps what it read)
    // finds the merged item, not a replaced one (whose
    // object the sweep after the grace period deletes, however recently a URL to it was handed out).
    const mergedKeys = items.flatMap((i) => (i.key ? [i.key] : []));
    for (const offset of [17, 35, 50]) {
      const [first] = (await testLog().log.locate(topic, 0, { offset, maxBytes: 1000, maxWaitMs: 0 })).segments;
      expect(mergedKeys, `offset ${offset}`).toContain(decodeURIComponent(new URL(first?.url ?? "http://x/").pathname).split("/").slice(2).join("/"));
    }
    // a reader that started among the replaced items (as one that read the offset index just before the merge)
    expect((await readAll(testLog().log, topic, 30)).map((x) => x.offset)).toEqual(Array.from({ length: 70 }, (_, i) => 30 + i));
    await ctx.log.runMaintenance({ topics: [topic], ...eager });
    expect((await segmentItems(ctx, pk)).length).toBeLessThan(items.length - 50);
    expect((await readAll(testLog().log, topic, 30)).map((x) => x.offset)).toEqual(Array.from({ length: 70 }, (_, i) => 30 + i));
  });

  it("re-reads when the replaced items it walks are deleted under it, and never aborts them", async () => {
    const { ctx, topic, pk } = await setup(100);
    await ctx.log.runMaintenance({ topics: [topic], ...eager });
    const reader = testLog({ abortTimeoutMs: 1 });
    let raced = false;
    reader.dynamo.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { IndexName?: string };
        const result = await next(args);
        if (!raced && context.commandName === "QueryCommand" && input.IndexName) {
          raced = true; // the offset index named a replaced item; the cleanup deletes it now
          await ctx.log.runMaintenance({ topics: [topic], ...eager });
        }
        return result;
      },
      { step: "initialize", name: "raceCleanup" },
    );
    expect((await readAll(reader.log, topic, 40)).map((x) => x.offset)).toEqual(Array.from({ length: 60 }, (_, i) => 40 + i));
    expect(raced).toBe(true);
    expect((await segmentItems(ctx, pk)).filter((i) => i.state !== "C")).toEqual([]);
    expect((await ctx.log.describeTopic(topic)).partitions[0]?.highWatermark).toBe(100);
  });

  it("merges while producers and consumers run: every record read exactly once, in order, and the object count drops", async () => {
    const ctx = testLog();
    const topic = uniqueName("merge-live");
    const { topic: t } = await ctx.log.createTopic({ name: topic, partitions: 1, config: { "segment.bytes": SEGMENT_BYTES } });
    const prefix = `log/${topic}/${t.topicId}/0/`;
    const total = 600;
    await ctx.log.produceRecords(topic, [{ key: null, value: value(0) }]);
    const batchBytes = (await ctx.log.fetch(topic, 0, { offset: 0, maxBytes: 1 })).batches[0]?.bytes.byteLength ?? 1;
    let produced = 1;
    const acked: number[] = [0];
    const producers = Array.from({ length: 3 }, async () => {
      while (produced < total) {
        const i = produced++;
        const [r] = await ctx.log.produceRecords(topic, [{ key: null, value: value(i) }]);
        if (r && "baseOffset" in r) acked.push(r.baseOffset);
      }
    });
    let producing = true;
    let merged!: () => void;
    const firstMerge = new Promise<void>((r) => (merged = r));
    const maintenance = (async () => {
      let runs = 0;
      while (producing) {
        // full runs only while producing; the grace period is short, so replaced items go during the test too
        const report = await ctx.log.runMaintenance({ topics: [topic], mergeAfterMs: 600_000, mergeGraceMs: 2_000, orphanMinAgeMs: 600_000 });
        expect(report.failures).toBe(0);
        if (report.merges > 0) merged();
        runs++;
        await new Promise((r) => setTimeout(r, 100));
      }
      return runs;
    })();
    /** A consumer from offset 0 to the end; `pauseMs` between fetches keeps it behind, among merges. */
    const consume = async (pauseMs: number, mergedGets = { n: 0 }) => {
      const reader = testLog();
      reader.s3.middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === "GetObjectCommand" && String((args.input as { Key?: string }).Key).includes("-")) mergedGets.n++;
          return next(args);
        },
        { step: "initialize", name: "mergedGets" },
      );
      const seen: { offset: number; value: string }[] = [];
      for (let position = 0; seen.length < total; ) {
        const r = await reader.log.fetch(topic, 0, { offset: position, maxBytes: 8 * 1024, maxWaitMs: 200 });
        for (const batch of r.batches) {
          for (const rec of decodeStored(batch.bytes)) if (rec.offset >= position) seen.push({ offset: rec.offset, value: Buffer.from(rec.value ?? []).toString().slice(0, 7) });
        }
        position = r.nextOffset;
        await new Promise((r) => setTimeout(r, pauseMs));
      }
      return seen;
    };
    const mergedGets = { n: 0 };
    const [tailing, lagging] = await Promise.all([consume(0), firstMerge.then(() => consume(40, mergedGets))]);
    expect(mergedGets.n).toBeGreaterThan(0); // the lagging consumer read merged segments while merges went on
    await Promise.all(producers);
    producing = false;
    expect(await maintenance).toBeGreaterThan(1);
    for (const seen of [tailing, lagging]) {
      expect(seen.map((s) => s.offset)).toEqual([...acked].sort((x, y) => x - y));
      expect(sorted(seen)).toEqual(expected(total));
    }
    // all merged and the replaced copies gone once the grace period is over
    await ctx.log.runMaintenance({ topics: [topic], ...eager });
    await ctx.log.runMaintenance({ topics: [topic], ...eager });
    expect(await objectKeys(ctx, prefix)).toHaveLength(Math.ceil(total / Math.floor(SEGMENT_BYTES / batchBytes)));
    expect(await readAll(testLog().log, topic)).toEqual(tailing);
  }, 120_000);

  describe("a crash at each step of a merge, then a rerun: nothing lost, nothing left behind", () => {
    const steps: [string, (req: RequestInfo) => boolean, Fault][] = [
      ["reading a small segment", (r) => r.command === "GetObjectCommand", "error-before"],
      ["claiming the run", (r) => r.command === "UpdateItemCommand" && String(r.input["UpdateExpression"]).includes("mergedSeq"), "error-after"],
      ["writing the merged object", (r) => r.command === "PutObjectCommand", "error-after"],
      ["swapping the index (before it lands)", (r) => r.command === "PutItemCommand" && "toSeq" in (r.input["Item"] as object), "error-before"],
      ["swapping the index (after it lands)", (r) => r.command === "PutItemCommand" && "toSeq" in (r.input["Item"] as object), "error-after"],
      ["deleting replaced objects", (r) => r.command === "DeleteObjectsCommand", "error-after"],
      ["deleting replaced items", (r) => r.command === "BatchWriteItemCommand", "error-after"],
    ];
    for (const [step, matches, fault] of steps) {
      it(step, async () => {
        const { topic, prefix, pk, perObject } = await setup(80);
        const crashing = testLog();
        let armed = true;
        for (const client of [crashing.dynamo, crashing.s3]) {
          injectFaults(client, (req) => {
            if (!armed || !matches(req)) return undefined;
            armed = false;
            return fault;
          });
        }
        const runs = [];
        for (let i = 0; i < 4; i++) runs.push(await crashing.log.runMaintenance({ topics: [topic], ...eager }));
        expect(armed).toBe(false);
        expect(runs.reduce((n, r) => n + r.failures, 0)).toBe(1);
        const read = await readAll(crashing.log, topic);
        expect(read.map((r) => r.offset)).toEqual(Array.from({ length: 80 }, (_, i) => i));
        expect(sorted(read)).toEqual(expected(80));
        // exactly the objects the index names, and no replaced item left
        const items = await segmentItems(crashing, pk);
        expect(items.map((i) => [i.state, i.key?.includes("-")])).toEqual(Array.from({ length: Math.ceil(80 / perObject) }, () => ["C", true]));
        expect(namedObjects(prefix, items)).toEqual((await objectKeys(crashing, prefix)).sort());
      });
    }
  });

  it("lets retention delete a merged segment whole", async () => {
    const { ctx, topic, prefix, pk, perObject, batchBytes } = await setup(80); // two merged segments: 0..perObject-1, then the rest
    await ctx.log.runMaintenance({ topics: [topic], ...eager });
    // Kafka's rule: the first goes because what stays still holds retention.bytes.
    await ctx.log.alterTopic(topic, { config: { "retention.bytes": (80 - perObject) * batchBytes } });
    const report = await ctx.log.runMaintenance({ topics: [topic], ...eager });
    expect(report).toMatchObject({ segmentsDeleted: 1, bytesFreed: 80 * batchBytes, failures: 0 });
    expect((await ctx.log.describeTopic(topic)).partitions[0]).toMatchObject({ logStartOffset: perObject, highWatermark: 80 });
    const err = await ctx.log.fetch(topic, 0, { offset: 0 }).catch((e: unknown) => e);
    expect((err as SeglogError).kind).toBe("OffsetOutOfRange");
    expect((await readAll(ctx.log, topic, perObject)).map((r) => r.offset)).toEqual(Array.from({ length: 80 - perObject }, (_, i) => perObject + i));
    const items = await segmentItems(ctx, pk);
    expect(items).toHaveLength(1);
    expect(namedObjects(prefix, items)).toEqual(await objectKeys(ctx, prefix));
  });
});
