/**
 * Produce and consume through the local API, against the raw limit of the same local stack, and
 * the AWS requests each costs.
 *
 * Per producer batch size (1 KiB records):
 * - Seglog produce: `seglog perf produce` in a child process, one Producer on a topic of
 *   `concurrency` partitions (so `concurrency` requests in flight, one batch each), idempotence on
 *   and off.
 * - Bare produce (`bare.ts`, in a child process as the perf tools are): the same number of
 *   objects at the same mean size, by `concurrency` workers, each doing what one Seglog batch
 *   costs in storage: DynamoDB UpdateItem (the counter), S3 PutObject, DynamoDB PutItem (the index
 *   item, with its LSI key).
 * - Seglog consume: `seglog perf consume` of the whole topic, one consumer assigned every partition (as
 *   Kafka's tool reads), timed
 *   as Kafka's `fetch.time.ms` (after the partitions were found and positioned).
 * - Bare consume (`bare.ts`): S3 GetObject of the bare objects by `concurrency` workers, in rounds
 *   as large as Seglog's fetches were per partition (segments per partition fetched, measured; a
 *   fetch request may name several partitions), at most 16 GETs at once per
 *   round (the fetch's `getConcurrency`).
 * Ratios compare stored bytes per second: Seglog's ÷ bare. Storage runs in a process of its own
 * (`storage.ts`), so both sides reach it the same way; the CPU each process spends per MB shows
 * where the difference goes.
 *
 * Requests are counted from the SDK (`sdk-calls.ts`) inside the produce and fetch functions only,
 * so the admin calls of the perf tools stay out; per MB means per 2^20 bytes of record values.
 * Fetches that found no data (long polls at the end of a drained partition) are counted apart.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Admin } from "../src/client/admin.ts";
import { Consumer } from "../src/client/consumer.ts";
import { Producer } from "../src/client/producer.ts";
import { DEFAULT_LOG_OPTIONS } from "../src/log/options.ts";
import type { BareResult, BareTask } from "./bare.ts";
import type { FramesResult, FramesTask } from "./frames.ts";
import type { SegmentsResult, SegmentsTask } from "./segments.ts";
import { runWorker } from "./child.ts";
import type { BenchConfig } from "./config.ts";
import { cpuMs } from "./cpu.ts";
import type { BenchStack, InvocationTally } from "./local.ts";
import { perfConsume, perfProduce, type ProduceLine } from "./perf-cli.ts";
import { startRelay } from "./relay.ts";
import type { CallTally, SdkCalls } from "./sdk-calls.ts";

const MiB = 2 ** 20;
const BARE_SCRIPT = fileURLToPath(new URL("./bare.ts", import.meta.url));
const FRAMES_SCRIPT = fileURLToPath(new URL("./frames.ts", import.meta.url));
const SEGMENTS_SCRIPT = fileURLToPath(new URL("./segments.ts", import.meta.url));

/** CPU milliseconds per MB stored, by process; undefined where `/proc` is not there to read. */
export interface CpuPerMb {
  /** The storage process: s3rver and DynamoDB Local. */
  readonly storage: number | undefined;
  /** Of it, DynamoDB Local's JVM (the storage process's children; 0 with dynalite, which runs in it). */
  readonly dynamodb: number | undefined;
  /** The bench process: the local API and the handlers (idle during bare runs). */
  readonly api: number | undefined;
  /** The client's process (the perf tool or the bare worker), over the work it timed. */
  readonly client: number | undefined;
}

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
  /** Bytes of the EMF log line per request (CloudWatch Logs ingestion). */
  readonly logBytesPerRequest: number;
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
    readonly cpuMsPerMb: CpuPerMb;
  };
  /** The bare chain (UpdateItem + PutObject + PutItem per object) at the same size and concurrency,
   * measured beside the idempotent runs (the same objects serve both rows). */
  readonly bare: { readonly mbPerSec: number; readonly seconds: number; readonly cpuMsPerMb: CpuPerMb };
  /** Seglog's stored MB/s ÷ bare MB/s. */
  readonly ratio: number;
  readonly batches: number;
  readonly meanBatchBytes: number;
  readonly requests: RequestCounts;
}

export interface ConsumeResult {
  readonly seglog: {
    readonly payloadMbPerSec: number;
    readonly storedMbPerSec: number;
    readonly seconds: number;
    readonly meanHandlerMs: number;
    readonly cpuMsPerMb: CpuPerMb;
  };
  readonly bare: { readonly mbPerSec: number; readonly seconds: number; readonly getsPerRound: number; readonly cpuMsPerMb: CpuPerMb };
  /** Seglog's stored MB/s ÷ bare MB/s, the consumers reading the segments from S3 (the default). */
  readonly ratio: number;
  /** The same topic read again with `readFrom: "api"`: the fetch function reads the segments. */
  readonly viaApi: { readonly mbPerSec: number; readonly ratio: number; readonly cpuMsPerMb: CpuPerMb };
  /** And read from S3 as the Consumer reads it, with no CRC check or records built (`segments.ts`):
   * Seglog's side of consuming, as ready-made batches are of producing. */
  readonly rawReads: { readonly mbPerSec: number; readonly ratio: number; readonly cpuMsPerMb: CpuPerMb };
  readonly segments: number;
  /** Fetches that returned data; the request counts below are theirs. */
  readonly fetches: number;
  /** Partitions those fetches read (a fetch of several partitions reads each). */
  readonly partitionFetches: number;
  /** Long polls that returned nothing (partitions already read to the end while others were not):
   * what a consumer at the tail pays while it waits, counted apart. */
  readonly idleFetches: number;
  readonly idleReadUnits: number;
  /** Per fetch request (which may name several partitions). */
  readonly segmentsPerFetch: number;
  /** Index Queries (segment pages and LSI lookups) per 100 segments read. */
  readonly indexQueriesPer100Segments: number;
  readonly requests: RequestCounts;
}

/**
 * A produce run beside Seglog's and bare storage's: idempotent produce from ready-made batches
 * (`frames.ts`), Seglog's side without the client's per-record work; or bare storage behind one
 * HTTP hop (`relay.ts`), the least a design pays that sends the bytes through a function.
 */
export interface ProduceAside {
  readonly mbPerSec: number;
  readonly seconds: number;
  /** Stored MB/s ÷ the same round's bare MB/s. */
  readonly ratio: number;
  readonly cpuMsPerMb: CpuPerMb;
}

export interface LogRun {
  readonly batchBytes: number;
  readonly idempotent: boolean;
  /** Over all rounds. */
  readonly records: number;
  readonly produce: ProduceResult;
  /** Measured once per batch size, on the idempotent run's topic. */
  readonly consume?: ConsumeResult;
  /** Measured once per batch size, beside the idempotent run. */
  readonly readyBatches?: ProduceAside;
  /** Measured once per batch size, beside the bare run. */
  readonly relayed?: ProduceAside;
}

/** How the reference producer spreads its records: keys, or none with the round-robin partitioner. */
export type ReferenceRecords = "keyed" | "round-robin";

/** What a consumer of every partition of the reference topic asked for. */
export interface ReferenceReading {
  readonly fetches: number;
  /** Its own S3 GETs: one per object when a fetch's answer shares it among the partitions. */
  readonly gets: number;
  readonly getsPerObject: number;
  readonly getsPerBatch: number;
}

/** The reference workload's producer: records spread over many partitions at a set rate. */
export interface ReferenceResult {
  readonly records: ReferenceRecords;
  readonly partitions: number;
  readonly batchBytes: number;
  readonly lingerMs: number;
  /** The rate the producer held (MB of record values per second). */
  readonly mbPerSec: number;
  readonly batches: number;
  readonly requests: number;
  readonly batchesPerRequest: number;
  readonly meanBatchBytes: number;
  readonly putsPerRequest: number;
  readonly writeUnitsPerBatch: number;
  /** One consumer (the reference group's) reading every partition from the start. */
  readonly consume: ReferenceReading;
  /** One consumer reading every partition at the tail while the records arrive. */
  readonly tail: ReferenceReading;
}

export interface LogBenchResult {
  readonly suite: "log";
  readonly dynamo: string;
  readonly concurrency: number;
  readonly recordBytes: number;
  /** Each batch size was measured this many times, Seglog and bare alternating; results are sums. */
  readonly rounds: number;
  readonly runs: LogRun[];
  /** The reference producer, with keyed records and with round-robin over records without keys. */
  readonly reference: ReferenceResult[];
}

const ZERO: CallTally = { calls: {}, callMs: {}, readUnits: 0, writeUnits: 0, estimatedUnits: 0, bytesPut: 0, bytesGot: 0 };
const NO_INVOCATIONS: InvocationTally = { invocations: 0, requestBytes: 0, responseBytes: 0, apiUnits: 0, handlerMs: 0, logBytes: 0, partitionsFetched: 0 };

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
  return {
    perMb: rates(mb),
    perBatch: rates(Math.max(1, batches)),
    calls: t.calls,
    meanCallMs,
    estimatedUnits: t.estimatedUnits,
    logBytesPerRequest: inv.logBytes / Math.max(1, inv.invocations),
  };
}

/** CPU milliseconds so far: the storage process (s3rver, DynamoDB Local) and this one (the API and the handlers). */
function cpuNow(storagePid: number): { storage: number; dynamodb: number; api: number } {
  const own = process.cpuUsage();
  const storage = cpuMs(storagePid);
  return {
    storage: storage?.tree ?? Number.NaN,
    dynamodb: storage === undefined ? Number.NaN : storage.tree - storage.own,
    api: (own.user + own.system) / 1000,
  };
}

/** CPU per MB over the phases of one side, by process. */
class CpuSums {
  private storage = 0;
  private dynamodb = 0;
  private api = 0;
  private client = 0;
  private mb = 0;
  /** Runs one phase and adds the CPU it took, the client's as it reports it; `addMb` then says how much it moved. */
  async measure<T extends { readonly clientCpuMs: number }>(storagePid: number, run: () => Promise<T>): Promise<T> {
    const before = cpuNow(storagePid);
    const result = await run();
    const after = cpuNow(storagePid);
    this.storage += after.storage - before.storage;
    this.dynamodb += after.dynamodb - before.dynamodb;
    this.api += after.api - before.api;
    this.client += result.clientCpuMs;
    return result;
  }
  addMb(mb: number): void {
    this.mb += mb;
  }
  perMb(): CpuPerMb {
    const per = (ms: number) => (Number.isFinite(ms) && this.mb > 0 ? ms / this.mb : undefined);
    return { storage: per(this.storage), dynamodb: per(this.dynamodb), api: per(this.api), client: per(this.client) };
  }
}

const runFrames = (task: FramesTask) => runWorker<FramesResult>(FRAMES_SCRIPT, task, "ready-made batches");
const runBare = (task: BareTask) => runWorker<BareResult>(BARE_SCRIPT, task, `bare ${task.mode}`);
const runSegments = (task: SegmentsTask) => runWorker<SegmentsResult>(SEGMENTS_SCRIPT, task, "raw segment reads");

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
    logBytes: a.logBytes + b.logBytes,
    partitionsFetched: a.partitionsFetched + b.partitionsFetched,
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
  readonly cpu = new CpuSums();
  readonly lines: ProduceLine[] = [];
  add(line: ProduceLine, calls: CallTally, invocations: InvocationTally | undefined): void {
    this.seconds += line.records / line.recordsPerSec;
    this.records += line.records;
    this.calls = addCalls(this.calls, calls);
    this.invocations = addInvocations(this.invocations, invocations);
    this.lines.push(line);
  }
  result(bare: { bytes: number; seconds: number; cpu: CpuSums }, recordBytes: number): ProduceResult {
    const batches = committedBatches(this.calls);
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
        cpuMsPerMb: this.cpu.perMb(),
      },
      bare: { mbPerSec: bareMbPerSec, seconds: bare.seconds, cpuMsPerMb: bare.cpu.perMb() },
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
  const storage = { env: bench.stack.env, bucket: bench.stack.bucket, table: bench.stack.table };
  const pid = bench.stack.pid;
  const C = config.concurrency;
  const runs: LogRun[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "seglog-bench-bare-"));
  const relay = await startRelay(storage.env, storage);

  const produceOnce = async (batchBytes: number, records: number, idempotent: boolean, cpu: CpuSums) => {
    const topic = `bench-${batchBytes}-${idempotent ? "idem" : "plain"}-${randomBytes(3).toString("hex")}`;
    await admin.createTopic(topic, { partitions: C });
    sdk.take();
    bench.takeInvocations();
    const line = await cpu.measure(
      pid,
      () =>
        perfProduce([
          ...["--topic", topic, "--num-records", String(records), "--record-size", String(config.recordBytes)],
          ...["--throughput", "-1", "--batch-bytes", String(batchBytes), "--linger-ms", "5", "--concurrency", "1", "--url", url],
          ...(idempotent ? [] : ["--producer-props", "enable.idempotence=false"]),
        ]),
    );
    const calls = sdk.take()["produce"] ?? ZERO;
    cpu.addMb(calls.bytesPut / MiB);
    return { topic, line, calls, invocations: bench.takeInvocations().produce };
  };

  try {
    for (const batchBytes of config.batchSizes) {
      const mb = batchBytes >= 65_536 ? config.mbPerRun : config.smallMbPerRun;
      const records = Math.ceil((mb * MiB) / config.recordBytes);
      const sums = { idem: new ProduceSums(), plain: new ProduceSums() };
      const bareProduced = { bytes: 0, seconds: 0, cpu: new CpuSums() };
      const ready = { bytes: 0, seconds: 0, cpu: new CpuSums() };
      const relayed = { bytes: 0, seconds: 0, cpu: new CpuSums() };
      const consumed = { seconds: 0, messages: 0, calls: ZERO, idle: ZERO, invocations: NO_INVOCATIONS, idleInvocations: NO_INVOCATIONS, cpu: new CpuSums() };
      const bareConsumed = { bytes: 0, seconds: 0, getsPerRound: 1, cpu: new CpuSums() };
      const viaApi = { bytes: 0, seconds: 0, cpu: new CpuSums() };
      const raw = { bytes: 0, seconds: 0, cpu: new CpuSums() };
      const keysFile = join(scratch, `keys-${batchBytes}.json`);
      // Rounds alternate Seglog and bare runs, so that load from elsewhere falls on both alike.
      for (let round = 0; round < config.rounds; round++) {
        const idem = await produceOnce(batchBytes, records, true, sums.idem.cpu);
        sums.idem.add(idem.line, idem.calls, idem.invocations);
        const objects = idem.calls.calls["PutObjectCommand"] ?? 0;
        const size = Math.round(idem.calls.bytesPut / Math.max(1, objects));
        const bp = await bareProduced.cpu.measure(
          pid,
          () => runBare({ mode: "produce", ...storage, workers: C, objects, size, keysFile }),
        );
        bareProduced.cpu.addMb(bp.bytes / MiB);
        bareProduced.bytes += bp.bytes;
        bareProduced.seconds += bp.seconds;
        const hop = await relayed.cpu.measure(pid, () =>
          runBare({ mode: "produce", ...storage, workers: C, objects, size, keysFile: `${keysFile}.relayed`, relayUrl: relay.url }),
        );
        relayed.cpu.addMb(hop.bytes / MiB);
        relayed.bytes += hop.bytes;
        relayed.seconds += hop.seconds;

        const readyTopic = `bench-ready-${batchBytes}-${randomBytes(3).toString("hex")}`;
        await admin.createTopic(readyTopic, { partitions: C });
        const batches = committedBatches(idem.calls);
        const framed = await ready.cpu.measure(pid, () =>
          runFrames({ url, topic: readyTopic, partitions: C, records: Math.max(1, Math.round(idem.line.records / Math.max(1, batches))), recordBytes: config.recordBytes, batches }),
        );
        sdk.take();
        ready.cpu.addMb(framed.bytes / MiB);
        ready.bytes += framed.bytes;
        ready.seconds += framed.seconds;

        bench.takeInvocations();
        const consumeArgs = ["--topic", idem.topic, "--messages", String(records), "--timeout-ms", "30000", "--url", url];
        // Reading through the API goes first in every other round: whichever reads second finds the
        // fetch function's index cache warm.
        const readThroughApi = async () => {
          const a = await viaApi.cpu.measure(pid, () => perfConsume([...consumeArgs, "--read-from", "api"]));
          sdk.take();
          bench.takeInvocations();
          viaApi.cpu.addMb(a.bytesFetched / MiB);
          viaApi.bytes += a.bytesFetched;
          viaApi.seconds += a.fetchMs / 1000;
          return a;
        };
        const apiFirst = round % 2 === 1 ? await readThroughApi() : undefined;
        const c = await consumed.cpu.measure(pid, () => perfConsume([...consumeArgs, "--read-from", "storage"]));
        // The consumers' own GETs of the segments the fetches named, counted by the consumers.
        const calls = { ...sdk.take() };
        const fetchCalls = calls["fetch"] ?? ZERO;
        calls["fetch"] = { ...fetchCalls, calls: { ...fetchCalls.calls, GetObjectCommand: c.segmentGets }, bytesGot: c.bytesFetched };
        const invocations = bench.takeInvocations();
        consumed.cpu.addMb(c.bytesFetched / MiB);
        // Kafka's fetch.time.ms: from the moment the partitions were found and positioned (the
        // bare side likewise times only its GETs).
        consumed.seconds += c.fetchMs / 1000;
        consumed.messages += c.messages;
        consumed.calls = addCalls(consumed.calls, calls["fetch"] ?? ZERO);
        consumed.idle = addCalls(consumed.idle, calls["fetch-idle"] ?? ZERO);
        consumed.invocations = addInvocations(consumed.invocations, invocations.fetch);
        consumed.idleInvocations = addInvocations(consumed.idleInvocations, invocations["fetch-idle"]);
        // Bare reads come in rounds as large as Seglog's fetches were, per partition.
        const getsPerRound = Math.max(
          1,
          Math.round((calls["fetch"]?.calls["GetObjectCommand"] ?? 0) / Math.max(1, invocations.fetch?.partitionsFetched ?? 0)),
        );
        const a = apiFirst ?? (await readThroughApi());
        const r = await raw.cpu.measure(pid, () => runSegments({ url, topic: idem.topic, partitions: C, maxBytes: 1_048_576 }));
        sdk.take();
        bench.takeInvocations();
        raw.cpu.addMb(r.bytes / MiB);
        raw.bytes += r.bytes;
        raw.seconds += r.seconds;
        const bc = await bareConsumed.cpu.measure(
          pid,
          () => runBare({ mode: "consume", ...storage, workers: C, perRound: getsPerRound, getConcurrency: DEFAULT_LOG_OPTIONS.getConcurrency, keysFile }),
        );
        bareConsumed.cpu.addMb(bc.bytes / MiB);
        bareConsumed.bytes += bc.bytes;
        bareConsumed.seconds += bc.seconds;
        bareConsumed.getsPerRound = getsPerRound;

        const plain = await produceOnce(batchBytes, records, false, sums.plain.cpu);
        sums.plain.add(plain.line, plain.calls, plain.invocations);
        log(
          `log: ${batchBytes} B batches, round ${round + 1}/${config.rounds}: produce ${(idem.calls.bytesPut / MiB / (idem.line.records / idem.line.recordsPerSec)).toFixed(1)} MB/s ` +
            `(idempotence off ${(plain.calls.bytesPut / MiB / (plain.line.records / plain.line.recordsPerSec)).toFixed(1)}; ready-made batches ${(framed.bytes / MiB / framed.seconds).toFixed(1)}) vs bare ${(bp.bytes / MiB / bp.seconds).toFixed(1)}; ` +
            `consume ${(c.bytesFetched / MiB / (c.fetchMs / 1000)).toFixed(1)} MB/s (through the API ${(a.bytesFetched / MiB / (a.fetchMs / 1000)).toFixed(1)}; raw segment reads ${(r.bytes / MiB / r.seconds).toFixed(1)}) vs bare ${(bc.bytes / MiB / bc.seconds).toFixed(1)}`,
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
          cpuMsPerMb: consumed.cpu.perMb(),
        },
        bare: { mbPerSec: bareMbPerSec, seconds: bareConsumed.seconds, getsPerRound: bareConsumed.getsPerRound, cpuMsPerMb: bareConsumed.cpu.perMb() },
        ratio: storedMbPerSec / bareMbPerSec,
        viaApi: { mbPerSec: viaApi.bytes / MiB / viaApi.seconds, ratio: viaApi.bytes / MiB / viaApi.seconds / bareMbPerSec, cpuMsPerMb: viaApi.cpu.perMb() },
        rawReads: { mbPerSec: raw.bytes / MiB / raw.seconds, ratio: raw.bytes / MiB / raw.seconds / bareMbPerSec, cpuMsPerMb: raw.cpu.perMb() },
        segments,
        fetches: consumed.invocations.invocations,
        partitionFetches: consumed.invocations.partitionsFetched,
        idleFetches: consumed.idleInvocations.invocations,
        idleReadUnits: consumed.idle.readUnits,
        segmentsPerFetch: segments / Math.max(1, consumed.invocations.invocations),
        indexQueriesPer100Segments: (100 * (consumed.calls.calls["QueryCommand"] ?? 0)) / Math.max(1, segments),
        requests: requestCounts(consumed.calls, consumed.invocations, (consumed.messages * config.recordBytes) / MiB, segments),
      };
      const aside = (side: { bytes: number; seconds: number; cpu: CpuSums }): ProduceAside => ({
        mbPerSec: side.bytes / MiB / side.seconds,
        seconds: side.seconds,
        ratio: side.bytes / MiB / side.seconds / (bareProduced.bytes / MiB / bareProduced.seconds),
        cpuMsPerMb: side.cpu.perMb(),
      });
      runs.push({
        batchBytes,
        idempotent: true,
        records: sums.idem.records,
        produce: sums.idem.result(bareProduced, config.recordBytes),
        consume,
        readyBatches: aside(ready),
        relayed: aside(relayed),
      });
      runs.push({ batchBytes, idempotent: false, records: sums.plain.records, produce: sums.plain.result(bareProduced, config.recordBytes) });
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
    await relay.close();
  }
  const reference = [await runReferenceProduce("keyed", url, sdk, bench, config, log), await runReferenceProduce("round-robin", url, sdk, bench, config, log)];
  return { suite: "log", dynamo: bench.stack.engine, concurrency: C, recordBytes: config.recordBytes, rounds: config.rounds, runs, reference };
}

/** Index items the produce function wrote: one per batch (commits, and the rare abort). */
const committedBatches = (t: CallTally): number => t.calls["PutItemCommand"] ?? 0;

/**
 * The cost model's reference producer, measured: 10 MB/s of 1 KiB records over 10 partitions,
 * 256 KiB batches, `lingerMs` 1000 (longer than a partition takes to fill a batch at 1 MB/s, so
 * batches go when full), the records either keyed or without keys under the round-robin
 * partitioner. What it measures is how many batches a request carries (the Producer sends the
 * other partitions' half-full batches with the first full one), and so the PUTs per batch. In
 * the bench's process: only request counts matter here, not CPU.
 */
async function runReferenceProduce(
  kind: ReferenceRecords,
  url: string,
  sdk: SdkCalls,
  bench: BenchStack,
  config: BenchConfig,
  log: (line: string) => void,
): Promise<ReferenceResult> {
  const partitions = 10;
  const batchBytes = 262_144;
  const lingerMs = 1000;
  const targetMbPerSec = 10;
  const topic = `bench-${kind}-${randomBytes(3).toString("hex")}`;
  await new Admin({ url }).createTopic(topic, { partitions });
  const producer = new Producer({ url, batchBytes, lingerMs, partitioner: kind === "keyed" ? "sticky" : "round-robin" });
  const records = Math.ceil((config.mbPerRun * MiB) / config.recordBytes);
  const value = randomBytes(config.recordBytes - 8);
  await producer.producerIdentity(); // InitProducerId is a produce-function request too: not one of these
  const everyPartition = Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 }));
  // A consumer at the tail while the records arrive: its fetches answer as soon as a partition
  // has a batch (Kafka's fetch.min.bytes 1), not once a second as the cost model's do.
  const tail = new Consumer({ url });
  tail.assign(everyPartition);
  let tailed = 0;
  const tailing = (async () => {
    while (tailed < records) tailed += (await tail.poll()).length;
  })();
  sdk.take();
  bench.takeInvocations();
  const started = performance.now();
  const acks: Promise<unknown>[] = [];
  for (let i = 0; i < records; i++) {
    acks.push(producer.send(topic, kind === "keyed" ? { key: randomBytes(8), value } : { value }));
    if (i % 1024 === 1023) {
      const ahead = ((i + 1) * config.recordBytes) / MiB / targetMbPerSec - (performance.now() - started) / 1000;
      if (ahead > 0) await new Promise((r) => setTimeout(r, ahead * 1000));
    }
  }
  await Promise.all(acks);
  await producer.close();
  const seconds = (performance.now() - started) / 1000;
  const calls = sdk.take()["produce"] ?? ZERO;
  const requests = bench.takeInvocations().produce?.invocations ?? 0;
  const batches = committedBatches(calls);
  await tailing;
  tail.close();
  // The reference group's consumer: one, assigned every partition, reading from the start.
  const consumer = new Consumer({ url });
  consumer.assign(everyPartition);
  for (let read = 0; read < records; ) read += (await consumer.poll()).length;
  consumer.close();
  const objects = calls.calls["PutObjectCommand"] ?? 0;
  const reading = (c: Consumer) => {
    const { fetches, segmentGets: gets } = c.stats();
    return { fetches, gets, getsPerObject: gets / Math.max(1, objects), getsPerBatch: gets / Math.max(1, batches) };
  };
  const result: ReferenceResult = {
    records: kind,
    partitions,
    batchBytes,
    lingerMs,
    mbPerSec: (records * config.recordBytes) / MiB / seconds,
    batches,
    requests,
    batchesPerRequest: batches / Math.max(1, requests),
    meanBatchBytes: calls.bytesPut / Math.max(1, batches),
    putsPerRequest: (calls.calls["PutObjectCommand"] ?? 0) / Math.max(1, requests),
    writeUnitsPerBatch: calls.writeUnits / Math.max(1, batches),
    consume: reading(consumer),
    tail: reading(tail),
  };
  log(
    `log: ${kind === "keyed" ? "keyed records" : "records without keys, round-robin,"} over ${partitions} partitions at ${result.mbPerSec.toFixed(1)} MB/s: ${batches} batches in ${requests} requests ` +
      `(${result.batchesPerRequest.toFixed(2)} per request, ${result.putsPerRequest.toFixed(2)} PUTs per request, mean batch ${Math.round(result.meanBatchBytes)} bytes); ` +
      `one consumer read them in ${result.consume.fetches} fetches and ${result.consume.gets} S3 GETs (${result.consume.getsPerObject.toFixed(2)} per object, ${result.consume.getsPerBatch.toFixed(2)} per batch), ` +
      `one at the tail in ${result.tail.fetches} fetches and ${result.tail.gets} GETs (${result.tail.getsPerObject.toFixed(2)} per object)`,
  );
  return result;
}
