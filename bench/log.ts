/**
 * Produce and consume through the local API, against the raw limit of the same local stack, and
 * the AWS requests each costs.
 *
 * Per producer batch size (1 KiB records):
 * - Seglog produce: `seglog perf produce` in a child process, one Producer on a topic of
 *   `concurrency` partitions (so `concurrency` requests in flight, one batch each), idempotence on
 *   and off.
 * - Bare produce: the same number of objects at the same mean size, by `concurrency` workers in
 *   this process, each doing what one Seglog batch costs in storage: DynamoDB UpdateItem (the
 *   counter), S3 PutObject, DynamoDB PutItem (the index item, with its LSI key).
 * - Seglog consume: `seglog perf consume` of the whole topic, one consumer per partition.
 * - Bare consume: S3 GetObject of the bare objects by `concurrency` workers, in rounds as large
 *   as Seglog's fetches were (segments per fetch, measured), at most 16 GETs at once per round
 *   (the fetch's `getConcurrency`).
 * Ratios compare stored bytes per second: Seglog's ÷ bare.
 *
 * Requests are counted from the SDK (`sdk-calls.ts`) inside the produce and fetch functions only,
 * so the admin calls of the perf tools stay out; per MB means per 2^20 bytes of record values.
 * Fetches that found no data (long polls at the end of a drained partition) are counted apart.
 */
import { randomBytes } from "node:crypto";
import { PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { Admin } from "../src/client/admin.ts";
import { DEFAULT_LOG_OPTIONS } from "../src/log/options.ts";
import { createClients, type SeglogClients } from "../src/storage/clients.ts";
import type { BenchConfig } from "./config.ts";
import type { BenchStack, InvocationTally } from "./local.ts";
import { perfConsume, perfProduce, type ProduceLine } from "./perf-cli.ts";
import type { CallTally, SdkCalls } from "./sdk-calls.ts";

const MiB = 2 ** 20;

export interface RequestRates {
  readonly s3Put: number;
  readonly s3Get: number;
  readonly readUnits: number;
  readonly writeUnits: number;
  /** Lambda invocations = API Gateway requests. */
  readonly lambda: number;
  /** API Gateway HTTP API units: each request counts ceil(bytes / 512 KB). */
  readonly apiUnits: number;
}

export interface RequestCounts {
  /** Per MB (2^20 bytes) of record values produced or consumed. */
  readonly perMb: RequestRates;
  /** Per batch produced, or per segment consumed. */
  readonly perBatch: RequestRates;
  /** SDK calls by command in the function, whole run. */
  readonly calls: Record<string, number>;
  /** Mean milliseconds per call, by command: where the function's time goes on this machine. */
  readonly meanCallMs: Record<string, number>;
  /** DynamoDB calls whose units the emulator did not report (counted as 1 each). */
  readonly estimatedUnits: number;
}

export interface ProduceResult {
  readonly seglog: {
    readonly payloadMbPerSec: number;
    readonly storedMbPerSec: number;
    readonly seconds: number;
    readonly avgLatencyMs: number;
    readonly p50Ms: number;
    readonly p99Ms: number;
    readonly maxLatencyMs: number;
    /** Mean produce-handler time per request, event in to result out, on this machine. */
    readonly meanHandlerMs: number;
  };
  /** The bare chain (UpdateItem + PutObject + PutItem per object) at the same size and concurrency,
   * measured beside the idempotent runs (the same objects serve both rows). */
  readonly bare: { readonly mbPerSec: number; readonly seconds: number };
  /** Seglog's stored MB/s ÷ bare MB/s. */
  readonly ratio: number;
  readonly batches: number;
  readonly meanBatchBytes: number;
  readonly requests: RequestCounts;
}

export interface ConsumeResult {
  readonly seglog: { readonly payloadMbPerSec: number; readonly storedMbPerSec: number; readonly seconds: number; readonly meanHandlerMs: number };
  readonly bare: { readonly mbPerSec: number; readonly seconds: number; readonly getsPerRound: number };
  readonly ratio: number;
  readonly segments: number;
  /** Fetches that returned data; the request counts below are theirs. */
  readonly fetches: number;
  /** Long polls that returned nothing (partitions already read to the end while others were not):
   * what a consumer at the tail pays while it waits, counted apart. */
  readonly idleFetches: number;
  readonly idleReadUnits: number;
  readonly segmentsPerFetch: number;
  /** Index Queries (segment pages and LSI lookups) per 100 segments read. */
  readonly indexQueriesPer100Segments: number;
  readonly requests: RequestCounts;
}

export interface LogRun {
  readonly batchBytes: number;
  readonly idempotent: boolean;
  /** Over all rounds. */
  readonly records: number;
  readonly produce: ProduceResult;
  /** Measured once per batch size, on the idempotent run's topic. */
  readonly consume?: ConsumeResult;
}

export interface LogBenchResult {
  readonly suite: "log";
  readonly dynamo: string;
  readonly concurrency: number;
  readonly recordBytes: number;
  /** Each batch size was measured this many times, Seglog and bare alternating; results are sums. */
  readonly rounds: number;
  readonly runs: LogRun[];
}

const ZERO: CallTally = { calls: {}, callMs: {}, readUnits: 0, writeUnits: 0, estimatedUnits: 0, bytesPut: 0, bytesGot: 0 };
const NO_INVOCATIONS: InvocationTally = { invocations: 0, requestBytes: 0, responseBytes: 0, apiUnits: 0, handlerMs: 0 };

function requestCounts(t: CallTally, inv: InvocationTally, mb: number, batches: number): RequestCounts {
  const rates = (per: number): RequestRates => ({
    s3Put: (t.calls["PutObjectCommand"] ?? 0) / per,
    s3Get: (t.calls["GetObjectCommand"] ?? 0) / per,
    readUnits: t.readUnits / per,
    writeUnits: t.writeUnits / per,
    lambda: inv.invocations / per,
    apiUnits: inv.apiUnits / per,
  });
  const meanCallMs = Object.fromEntries(Object.entries(t.callMs).map(([name, ms]) => [name, ms / Math.max(1, t.calls[name] ?? 0)]));
  return { perMb: rates(mb), perBatch: rates(Math.max(1, batches)), calls: t.calls, meanCallMs, estimatedUnits: t.estimatedUnits };
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** `concurrency` workers; each object costs what a Seglog batch costs in storage calls. */
async function bareProduce(
  c: SeglogClients,
  where: { bucket: string; table: string },
  objects: number,
  size: number,
  workers: number,
): Promise<{ seconds: number; keys: string[][] }> {
  const body = randomBytes(size);
  const run = randomBytes(4).toString("hex");
  const keys: string[][] = Array.from({ length: workers }, () => []);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    keys.map(async (mine, w) => {
      const pk = { S: `BENCH#${run}#${w}` };
      while (next < objects) {
        next++;
        const now = Date.now();
        const head = await c.dynamo.send(
          new UpdateItemCommand({
            TableName: where.table,
            Key: { pk, sk: { S: "HEAD" } },
            UpdateExpression: "ADD nextSeq :one, nextOffset :n SET lastReservedAt = :now",
            ExpressionAttributeValues: { ":one": { N: "1" }, ":n": { N: "1000" }, ":now": { N: String(now) } },
            ReturnValues: "UPDATED_NEW",
          }),
        );
        const seq = Number(head.Attributes?.["nextSeq"]?.N ?? 1) - 1;
        const base = Number(head.Attributes?.["nextOffset"]?.N ?? 1000) - 1000;
        const key = `bench/${run}/${w}/${pad(base, 20)}.log`;
        await c.s3.send(new PutObjectCommand({ Bucket: where.bucket, Key: key, Body: body, ContentLength: size }));
        await c.dynamo.send(
          new PutItemCommand({
            TableName: where.table,
            Item: {
              pk,
              sk: { S: `S#${pad(seq, 12)}` },
              st: { S: "C" },
              ob: { S: pad(base, 20) },
              base: { N: String(base) },
              count: { N: "1000" },
              recs: { N: "1000" },
              bytes: { N: String(size) },
              firstTs: { N: String(now) },
              maxTs: { N: String(now) },
              at: { N: String(now) },
            },
            ConditionExpression: "attribute_not_exists(sk)",
          }),
        );
        mine.push(key);
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, keys };
}

/** Each worker GETs its objects in rounds of `perRound`, at most `getConcurrency` at once. */
async function bareConsume(c: SeglogClients, bucket: string, keys: string[][], perRound: number): Promise<{ seconds: number; bytes: number }> {
  let bytes = 0;
  const started = performance.now();
  await Promise.all(
    keys.map(async (mine) => {
      for (let i = 0; i < mine.length; i += perRound) {
        const round = mine.slice(i, i + perRound);
        let j = 0;
        await Promise.all(
          Array.from({ length: Math.min(DEFAULT_LOG_OPTIONS.getConcurrency, round.length) }, async () => {
            while (j < round.length) {
              const key = round[j++] as string;
              const out = await c.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
              const data = await out.Body?.transformToByteArray();
              bytes += data?.byteLength ?? 0; // not `bytes += await …`: that reads `bytes` before the await
            }
          }),
        );
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, bytes };
}

function addCalls(a: CallTally, b: CallTally): CallTally {
  const sum = (x: Record<string, number>, y: Record<string, number>) => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    calls: sum(a.calls, b.calls),
    callMs: sum(a.callMs, b.callMs),
    readUnits: a.readUnits + b.readUnits,
    writeUnits: a.writeUnits + b.writeUnits,
    estimatedUnits: a.estimatedUnits + b.estimatedUnits,
    bytesPut: a.bytesPut + b.bytesPut,
    bytesGot: a.bytesGot + b.bytesGot,
  };
}

function addInvocations(a: InvocationTally, b: InvocationTally | undefined): InvocationTally {
  if (!b) return a;
  return {
    invocations: a.invocations + b.invocations,
    requestBytes: a.requestBytes + b.requestBytes,
    responseBytes: a.responseBytes + b.responseBytes,
    apiUnits: a.apiUnits + b.apiUnits,
    handlerMs: a.handlerMs + b.handlerMs,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? 0 : s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
};

/** Sums over the rounds of one produce configuration. */
class ProduceSums {
  seconds = 0;
  records = 0;
  calls = ZERO;
  invocations = NO_INVOCATIONS;
  readonly lines: ProduceLine[] = [];
  add(line: ProduceLine, calls: CallTally, invocations: InvocationTally | undefined): void {
    this.seconds += line.records / line.recordsPerSec;
    this.records += line.records;
    this.calls = addCalls(this.calls, calls);
    this.invocations = addInvocations(this.invocations, invocations);
    this.lines.push(line);
  }
  result(bare: { bytes: number; seconds: number }, recordBytes: number): ProduceResult {
    const batches = this.calls.calls["PutObjectCommand"] ?? 0;
    const storedMbPerSec = this.calls.bytesPut / MiB / this.seconds;
    const bareMbPerSec = bare.bytes / MiB / bare.seconds;
    return {
      seglog: {
        payloadMbPerSec: (this.records * recordBytes) / MiB / this.seconds,
        storedMbPerSec,
        seconds: this.seconds,
        avgLatencyMs: median(this.lines.map((l) => l.avgLatencyMs)),
        p50Ms: median(this.lines.map((l) => l.p50Ms)),
        p99Ms: median(this.lines.map((l) => l.p99Ms)),
        maxLatencyMs: Math.max(...this.lines.map((l) => l.maxLatencyMs)),
        meanHandlerMs: this.invocations.handlerMs / Math.max(1, this.invocations.invocations),
      },
      bare: { mbPerSec: bareMbPerSec, seconds: bare.seconds },
      ratio: storedMbPerSec / bareMbPerSec,
      batches,
      meanBatchBytes: this.calls.bytesPut / Math.max(1, batches),
      requests: requestCounts(this.calls, this.invocations, (this.records * recordBytes) / MiB, batches),
    };
  }
}

export async function runLogBench(bench: BenchStack, sdk: SdkCalls, config: BenchConfig, log: (line: string) => void): Promise<LogBenchResult> {
  const url = bench.api.url;
  const admin = new Admin({ url });
  const clients = createClients(bench.stack.env);
  const where = { bucket: bench.stack.bucket, table: bench.stack.table };
  const C = config.concurrency;
  const runs: LogRun[] = [];

  const produceOnce = async (batchBytes: number, records: number, idempotent: boolean) => {
    const topic = `bench-${batchBytes}-${idempotent ? "idem" : "plain"}-${randomBytes(3).toString("hex")}`;
    await admin.createTopic(topic, { partitions: C });
    sdk.take();
    bench.takeInvocations();
    const line = await perfProduce([
      ...["--topic", topic, "--num-records", String(records), "--record-size", String(config.recordBytes)],
      ...["--throughput", "-1", "--batch-bytes", String(batchBytes), "--linger-ms", "5", "--concurrency", "1", "--url", url],
      ...(idempotent ? [] : ["--producer-props", "enable.idempotence=false"]),
    ]);
    return { topic, line, calls: sdk.take()["produce"] ?? ZERO, invocations: bench.takeInvocations().produce };
  };

  try {
    for (const batchBytes of config.batchSizes) {
      const mb = batchBytes >= 65_536 ? config.mbPerRun : config.smallMbPerRun;
      const records = Math.ceil((mb * MiB) / config.recordBytes);
      const sums = { idem: new ProduceSums(), plain: new ProduceSums() };
      const bareProduced = { bytes: 0, seconds: 0 };
      const consumed = { seconds: 0, messages: 0, calls: ZERO, idle: ZERO, invocations: NO_INVOCATIONS, idleInvocations: NO_INVOCATIONS };
      const bareConsumed = { bytes: 0, seconds: 0, getsPerRound: 1 };
      // Rounds alternate Seglog and bare runs, so that load from elsewhere falls on both alike.
      for (let round = 0; round < config.rounds; round++) {
        const idem = await produceOnce(batchBytes, records, true);
        sums.idem.add(idem.line, idem.calls, idem.invocations);
        const objects = idem.calls.calls["PutObjectCommand"] ?? 0;
        const size = Math.round(idem.calls.bytesPut / Math.max(1, objects));
        const bp = await bareProduce(clients, where, objects, size, C);
        sdk.take();
        bareProduced.bytes += objects * size;
        bareProduced.seconds += bp.seconds;

        bench.takeInvocations();
        const c = await perfConsume(["--topic", idem.topic, "--messages", String(records), "--timeout-ms", "30000", "--url", url]);
        const calls = sdk.take();
        const invocations = bench.takeInvocations();
        consumed.seconds += c.messages / c.messagesPerSec;
        consumed.messages += c.messages;
        consumed.calls = addCalls(consumed.calls, calls["fetch"] ?? ZERO);
        consumed.idle = addCalls(consumed.idle, calls["fetch-idle"] ?? ZERO);
        consumed.invocations = addInvocations(consumed.invocations, invocations.fetch);
        consumed.idleInvocations = addInvocations(consumed.idleInvocations, invocations["fetch-idle"]);
        // Bare reads come in rounds as large as Seglog's fetches were.
        const getsPerRound = Math.max(
          1,
          Math.round((calls["fetch"]?.calls["GetObjectCommand"] ?? 0) / Math.max(1, invocations.fetch?.invocations ?? 0)),
        );
        const bc = await bareConsume(clients, where.bucket, bp.keys, getsPerRound);
        sdk.take();
        bareConsumed.bytes += bc.bytes;
        bareConsumed.seconds += bc.seconds;
        bareConsumed.getsPerRound = getsPerRound;

        const plain = await produceOnce(batchBytes, records, false);
        sums.plain.add(plain.line, plain.calls, plain.invocations);
        log(
          `log: ${batchBytes} B batches, round ${round + 1}/${config.rounds}: produce ${(idem.calls.bytesPut / MiB / (idem.line.records / idem.line.recordsPerSec)).toFixed(1)} MB/s ` +
            `(idempotence off ${(plain.calls.bytesPut / MiB / (plain.line.records / plain.line.recordsPerSec)).toFixed(1)}) vs bare ${((objects * size) / MiB / bp.seconds).toFixed(1)}; ` +
            `consume ${((calls["fetch"]?.bytesGot ?? 0) / MiB / (c.messages / c.messagesPerSec)).toFixed(1)} MB/s vs bare ${(bc.bytes / MiB / bc.seconds).toFixed(1)}`,
        );
      }
      const segments = consumed.calls.calls["GetObjectCommand"] ?? 0;
      const storedMbPerSec = consumed.calls.bytesGot / MiB / consumed.seconds;
      const bareMbPerSec = bareConsumed.bytes / MiB / bareConsumed.seconds;
      const consume: ConsumeResult = {
        seglog: {
          payloadMbPerSec: (consumed.messages * config.recordBytes) / MiB / consumed.seconds,
          storedMbPerSec,
          seconds: consumed.seconds,
          meanHandlerMs: consumed.invocations.handlerMs / Math.max(1, consumed.invocations.invocations),
        },
        bare: { mbPerSec: bareMbPerSec, seconds: bareConsumed.seconds, getsPerRound: bareConsumed.getsPerRound },
        ratio: storedMbPerSec / bareMbPerSec,
        segments,
        fetches: consumed.invocations.invocations,
        idleFetches: consumed.idleInvocations.invocations,
        idleReadUnits: consumed.idle.readUnits,
        segmentsPerFetch: segments / Math.max(1, consumed.invocations.invocations),
        indexQueriesPer100Segments: (100 * (consumed.calls.calls["QueryCommand"] ?? 0)) / Math.max(1, segments),
        requests: requestCounts(consumed.calls, consumed.invocations, (consumed.messages * config.recordBytes) / MiB, segments),
      };
      runs.push({ batchBytes, idempotent: true, records: sums.idem.records, produce: sums.idem.result(bareProduced, config.recordBytes), consume });
      runs.push({ batchBytes, idempotent: false, records: sums.plain.records, produce: sums.plain.result(bareProduced, config.recordBytes) });
    }
  } finally {
    clients.s3.destroy();
    clients.dynamo.destroy();
  }
  return { suite: "log", dynamo: bench.stack.engine, concurrency: C, recordBytes: config.recordBytes, rounds: config.rounds, runs };
}
