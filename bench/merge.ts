/**
 * Segment merging: consumer GETs and index Queries per MB of small batches, before and after
 * maintenance merges them (issue: "consumer GETs per MB before and after merging, for 1 KB
 * batches"), with the default `segment.bytes` (16 MiB) and fetch size (1 MiB).
 */
import type { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { Log } from "../src/log/log.ts";
import { createClients } from "../src/storage/clients.ts";
import type { BenchStack } from "./local.ts";
import { callScope, type CallTally, type SdkCalls } from "./sdk-calls.ts";

export interface MergeBenchResult {
  readonly batches: number;
  readonly batchBytes: number;
  readonly mb: number;
  readonly before: ReadCost;
  readonly after: ReadCost;
  readonly merges: number;
  readonly segmentsMerged: number;
  /** Wall time of the maintenance run that merged them. */
  readonly mergeMs: number;
  /** What the merging run asked of AWS (GETs, PUTs, the claim and the swap), and the run after
   * the grace period that removed the replaced segments. */
  readonly mergeCalls: MergeCalls;
  readonly cleanupCalls: MergeCalls;
  /** The same number of batches written as the reference producer writes them: a batch of each
   * of `partitions` partitions in every object, merged by one run; batches of one size, and of
   * sizes that differ as keyed records' do, in segments of several runs each. */
  readonly shared: readonly SharedMerge[];
}

export interface SharedMerge {
  /** How the batches were written: their sizes and the topic's `segment.bytes`. */
  readonly label: string;
  readonly partitions: number;
  readonly objects: number;
  readonly merges: number;
  readonly segmentsMerged: number;
  readonly mergeMs: number;
  readonly mergeCalls: MergeCalls;
}

export interface MergeCalls {
  readonly calls: Record<string, number>;
  readonly writeUnits: number;
  readonly readUnits: number;
}

const callsOf = (t: CallTally | undefined): MergeCalls => ({ calls: t?.calls ?? {}, writeUnits: t?.writeUnits ?? 0, readUnits: t?.readUnits ?? 0 });

export interface ReadCost {
  readonly fetches: number;
  readonly gets: number;
  readonly queries: number;
  readonly getsPerMb: number;
}

/** A Log on the bench's storage whose SDK calls are counted by command. */
function countedLog(bench: BenchStack): { log: Log; calls: Map<string, number> } {
  const { dynamo, s3 } = createClients(bench.stack.env);
  const calls = new Map<string, number>();
  for (const client of [dynamo, s3] as { middlewareStack: DynamoDBClient["middlewareStack"] }[]) {
    client.middlewareStack.add(
      (next, context) => async (args) => {
        calls.set(String(context.commandName), (calls.get(String(context.commandName)) ?? 0) + 1);
        return next(args);
      },
      { step: "initialize", name: "benchMergeCalls" },
    );
  }
  return { log: new Log({ dynamo, s3, bucket: bench.stack.bucket, table: bench.stack.table }), calls };
}

export async function runMergeBench(bench: BenchStack, sdk: SdkCalls, batches: number, log: (line: string) => void): Promise<MergeBenchResult> {
  const writer = countedLog(bench).log;
  const topic = `bench-merge-${Date.now().toString(36)}`;
  await writer.createTopic({ name: topic, partitions: 1 });
  const value = Buffer.alloc(1000, 97);
  for (let i = 0; i < batches; i += 50) {
    await Promise.all(Array.from({ length: Math.min(50, batches - i) }, () => writer.produceRecords(topic, [{ key: null, value }])));
  }
  /** A fresh reader (no index cache) reads the partition from 0 to its end, 1 MiB per fetch. */
  const readAll = async (): Promise<ReadCost & { bytes: number }> => {
    const { log: reader, calls } = countedLog(bench);
    let bytes = 0;
    let fetches = 0;
    for (let offset = 0; ; fetches++) {
      const r = await reader.fetch(topic, 0, { offset, maxWaitMs: 0 });
      for (const b of r.batches) bytes += b.bytes.byteLength;
      if (r.nextOffset === offset) break;
      offset = r.nextOffset;
    }
    const gets = calls.get("GetObjectCommand") ?? 0;
    return { fetches, gets, queries: calls.get("QueryCommand") ?? 0, getsPerMb: gets / (bytes / 2 ** 20), bytes };
  };
  const before = await readAll();
  log(`merge: ${batches} batches read with ${before.gets} GETs; merging`);
  sdk.take();
  const t0 = performance.now();
  const report = await callScope.run("maintenance", () => writer.runMaintenance({ topics: [topic], mergeAfterMs: 0, mergeGraceMs: 0, budgetMs: 600_000 }));
  const mergeMs = Math.round(performance.now() - t0);
  const mergeCalls = callsOf(sdk.take()["maintenance"]);
  await callScope.run("maintenance", () => writer.runMaintenance({ topics: [topic], mergeAfterMs: 0, mergeGraceMs: 0 })); // the replaced copies go
  const cleanupCalls = callsOf(sdk.take()["maintenance"]);
  const after = await readAll();
  const shared = [
    await mergeShared(writer, sdk, batches, { label: "1 KB batches, segment.bytes 16 MiB", bytes: () => 1000 }),
    await mergeShared(writer, sdk, batches, { label: "1 KB batches, segment.bytes 64 KiB", bytes: () => 1000, segmentBytes: 64 * 1024 }),
    await mergeShared(writer, sdk, batches, { label: "batches of 300–1,800 bytes (as keyed records' differ), segment.bytes 64 KiB", bytes: unequalSizes(), segmentBytes: 64 * 1024 }),
  ];
  const { bytes, ...afterCost } = after;
  const { bytes: _, ...beforeCost } = before;
  return {
    batches,
    batchBytes: Math.round(bytes / batches),
    mb: bytes / 2 ** 20,
    before: beforeCost,
    after: afterCost,
    merges: report.merges,
    segmentsMerged: report.segmentsMerged,
    mergeMs,
    mergeCalls,
    cleanupCalls,
    shared,
  };
}

/** Batch sizes from 300 to 1,800 bytes, the same every run (a fixed linear congruential sequence). */
function unequalSizes(): () => number {
  let state = 7;
  return () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return 300 + Math.floor((state / 2 ** 31) * 1500);
  };
}

/** Produces `batches` batches over 10 partitions, a batch of each in every request (so in every
 * object), and merges them: how many GETs the merging run makes per object. */
async function mergeShared(
  writer: Log,
  sdk: SdkCalls,
  batches: number,
  how: { label: string; bytes: () => number; segmentBytes?: number },
): Promise<SharedMerge> {
  const partitions = 10;
  const topic = `bench-merge-shared-${Date.now().toString(36)}`;
  await writer.createTopic({ name: topic, partitions, ...(how.segmentBytes === undefined ? {} : { config: { "segment.bytes": how.segmentBytes } }) });
  const objects = Math.floor(batches / partitions);
  const request = () => writer.produceRecords(topic, Array.from({ length: partitions }, (_, partition) => ({ key: null, value: Buffer.alloc(how.bytes(), 97), partition })));
  // 5 requests at a time: 50 partitions' writes, as many as the SDK client has sockets (more
  // queue in it, and it warns of them in the bench's output).
  for (let i = 0; i < objects; i += 5) await Promise.all(Array.from({ length: Math.min(5, objects - i) }, request));
  sdk.take();
  const t0 = performance.now();
  const report = await callScope.run("maintenance", () => writer.runMaintenance({ topics: [topic], mergeAfterMs: 0, mergeGraceMs: 0, budgetMs: 600_000 }));
  const mergeMs = Math.round(performance.now() - t0);
  return { label: how.label, partitions, objects, merges: report.merges, segmentsMerged: report.segmentsMerged, mergeMs, mergeCalls: callsOf(sdk.take()["maintenance"]) };
}
