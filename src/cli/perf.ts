import { Consumer, type ConsumedRecord, type ConsumerStats } from "../client/consumer.ts";
import { GroupConsumer } from "../client/group-consumer.ts";
import { DEFAULT_BUFFER_BYTES, Producer, type Partitioner, type ProducerOptions } from "../client/producer.ts";
import type { Compression } from "../core/codec/record-batch.ts";
import { configArg, intArg, parse, readFromArg, required } from "./args.ts";
import { UsageError } from "./output.ts";

/**
 * `seglog perf produce|consume`: Kafka's `kafka-producer-perf-test.sh` and
 * `kafka-consumer-perf-test.sh`, with their output formats, so that numbers compare line by line.
 * MB here is Kafka's: 1024 × 1024 bytes.
 */
export async function perfCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === "produce") return perfProduce(rest);
  if (sub === "consume") return perfConsume(rest);
  throw new UsageError(`perf needs 'produce' or 'consume'${sub === undefined ? "" : `, not '${sub}'`}`);
}

const MB = 1024 * 1024;
const REPORT_INTERVAL_MS = 5000;
/** Kafka keeps at most this many latency samples (every n-th record) for the percentiles. */
const MAX_LATENCY_SAMPLES = 500_000;

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

// --- produce ---------------------------------------------------------------------------------

/** The producer settings `--producer-props` understands, as Kafka names them. */
const PRODUCER_PROPS = ["enable.idempotence", "linger.ms", "batch.size", "buffer.memory", "compression.type", "acks", "partitioner.class"] as const;

/** `partitioner.class` values: Seglog's names, and Kafka's class for round-robin. */
const PARTITIONERS: Readonly<Record<string, Partitioner>> = {
  sticky: "sticky",
  "round-robin": "round-robin",
  "org.apache.kafka.clients.producer.RoundRobinPartitioner": "round-robin",
};

export interface ProduceSummary {
  readonly records: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly avgLatencyMs: number;
  readonly maxLatencyMs: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
}

/** Kafka's final line: `N records sent, X records/sec (Y MB/sec), A ms avg latency, …, p999 ms 99.9th.`;
 * after a warm-up, `N steady state records sent, …` for the records sent after it. */
export function formatProduceSummary(s: ProduceSummary, label = ""): string {
  return (
    `${s.records} ${label}records sent, ${s.recordsPerSec.toFixed(1)} records/sec (${s.mbPerSec.toFixed(2)} MB/sec), ` +
    `${s.avgLatencyMs.toFixed(2)} ms avg latency, ${s.maxLatencyMs.toFixed(2)} ms max latency, ` +
    `${s.p50Ms} ms 50th, ${s.p95Ms} ms 95th, ${s.p99Ms} ms 99th, ${s.p999Ms} ms 99.9th.`
  );
}

/** Latency and throughput over the whole run and over the current reporting window (Kafka's `Stats`). */
class ProduceStats {
  private readonly startedMs = performance.now();
  private count = 0;
  private bytes = 0;
  private totalLatency = 0;
  private maxLatency = 0;
  private windowStartMs = this.startedMs;
  private windowCount = 0;
  private windowBytes = 0;
  private windowTotalLatency = 0;
  private windowMaxLatency = 0;
  private readonly samples: number[] = [];
  private readonly sampling: number;
  private seen = 0;

  constructor(numRecords: number) {
    this.sampling = Math.max(1, Math.floor(numRecords / Math.min(numRecords, MAX_LATENCY_SAMPLES)));
  }

  record(latencyMs: number, bytes: number): void {
    this.count++;
    this.bytes += bytes;
    this.totalLatency += latencyMs;
    this.maxLatency = Math.max(this.maxLatency, latencyMs);
    this.windowCount++;
    this.windowBytes += bytes;
    this.windowTotalLatency += latencyMs;
    this.windowMaxLatency = Math.max(this.windowMaxLatency, latencyMs);
    if (this.seen++ % this.sampling === 0) this.samples.push(latencyMs);
  }

  /** Kafka's progress line, then a new window. */
  windowLine(): string {
    const now = performance.now();
    const seconds = Math.max(now - this.windowStartMs, 1) / 1000;
    const line =
      `${this.windowCount} records sent, ${(this.windowCount / seconds).toFixed(1)} records/sec ` +
      `(${(this.windowBytes / MB / seconds).toFixed(2)} MB/sec), ` +
      `${(this.windowCount === 0 ? 0 : this.windowTotalLatency / this.windowCount).toFixed(1)} ms avg latency, ` +
      `${this.windowMaxLatency.toFixed(1)} ms max latency.`;
    this.windowStartMs = now;
    this.windowCount = 0;
    this.windowBytes = 0;
    this.windowTotalLatency = 0;
    this.windowMaxLatency = 0;
    return line;
  }

  summary(): ProduceSummary {
    const seconds = Math.max(performance.now() - this.startedMs, 1) / 1000;
    const sorted = Float64Array.from(this.samples).sort();
    const at = (q: number) => (sorted.length === 0 ? 0 : Math.trunc(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0));
    return {
      records: this.count,
      recordsPerSec: this.count / seconds,
      mbPerSec: this.bytes / MB / seconds,
      avgLatencyMs: this.count === 0 ? 0 : this.totalLatency / this.count,
      maxLatencyMs: this.maxLatency,
      p50Ms: at(0.5),
      p95Ms: at(0.95),
      p99Ms: at(0.99),
      p999Ms: at(0.999),
    };
  }
}

function producerOptions(values: Record<string, string | boolean | string[] | undefined>): ProducerOptions {
  const props = configArg(values["producer-props"] as string[] | undefined) ?? {};
  // As Kafka's producer does with a setting it does not know (client.id, bootstrap.servers, …):
  // say so, and go on.
  for (const key of Object.keys(props)) {
    if (!(PRODUCER_PROPS as readonly string[]).includes(key)) {
      process.stderr.write(`WARN --producer-props: '${key}' is not a setting of Seglog's producer (it takes ${PRODUCER_PROPS.join(", ")}); ignored\n`);
    }
  }
  if (props["acks"] !== undefined && props["acks"] !== "all" && props["acks"] !== "-1") {
    throw new UsageError("Seglog acknowledges a batch only once it is stored and committed: acks=all (or -1) is the only setting");
  }
  const idempotence = props["enable.idempotence"];
  if (idempotence !== undefined && idempotence !== "true" && idempotence !== "false") {
    throw new UsageError("enable.idempotence must be true or false");
  }
  const compression = props["compression.type"];
  if (compression !== undefined && !["none", "gzip", "snappy", "lz4", "zstd"].includes(compression)) {
    throw new UsageError("compression.type must be none, gzip, snappy, lz4 or zstd");
  }
  const partitionerName = props["partitioner.class"];
  const partitioner = partitionerName === undefined || !Object.hasOwn(PARTITIONERS, partitionerName) ? undefined : PARTITIONERS[partitionerName];
  if (partitionerName !== undefined && partitioner === undefined) {
    throw new UsageError(`partitioner.class must be ${Object.keys(PARTITIONERS).join(", ")}`);
  }
  const lingerMs = intArg(values["linger-ms"] as string | undefined, "linger-ms") ?? intArg(props["linger.ms"], "producer-props linger.ms");
  const batchBytes = intArg(values["batch-bytes"] as string | undefined, "batch-bytes", 1) ?? intArg(props["batch.size"], "producer-props batch.size", 1);
  const bufferBytes = intArg(props["buffer.memory"], "producer-props buffer.memory", 1);
  const url = values["url"] as string | undefined;
  return {
    ...(url === undefined ? {} : { url }),
    ...(bufferBytes === undefined ? {} : { bufferBytes }),
    ...(lingerMs === undefined ? {} : { lingerMs }),
    ...(batchBytes === undefined ? {} : { batchBytes }),
    ...(idempotence === undefined ? {} : { enableIdempotence: idempotence === "true" }),
    ...(compression === undefined ? {} : { compression: compression as Compression }),
    ...(partitioner === undefined ? {} : { partitioner }),
  };
}

/** A payload like Kafka's: random capital letters, made once and sent in every record. */
function payloadOf(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = 65 + Math.floor(Math.random() * 26);
  return bytes;
}

/**
 * Kafka's spelling of `--producer-props k=v k=v` (several values after one flag), for
 * `parseArgs` (`parse` takes `--throughput -1`).
 */
function kafkaStyleArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === "--producer-props") {
      let values = 0;
      for (; args[i + 1] !== undefined && !(args[i + 1] as string).startsWith("--"); values++) out.push(`${arg}=${args[++i]}`);
      if (values === 0) out.push(arg); // parseArgs reports the missing value
    } else out.push(arg);
  }
  return out;
}

async function perfProduce(args: string[]): Promise<number> {
  const { values } = parse(kafkaStyleArgs(args), {
    topic: { type: "string" },
    "num-records": { type: "string" },
    "record-size": { type: "string" },
    throughput: { type: "string" },
    "batch-bytes": { type: "string" },
    "linger-ms": { type: "string" },
    concurrency: { type: "string" },
    "warmup-records": { type: "string" },
    "producer-props": { type: "string", multiple: true },
    "print-metrics": { type: "boolean" },
  });
  const topic = required(values.topic, "topic");
  const numRecords = intArg(required(values["num-records"], "num-records"), "num-records", 1) as number;
  const warmupRecords = intArg(values["warmup-records"], "warmup-records", 0) ?? 0;
  if (warmupRecords >= numRecords) throw new UsageError("--warmup-records must be less than --num-records");
  const recordSize = intArg(required(values["record-size"], "record-size"), "record-size", 0) as number;
  const throughput = intArg(required(values.throughput, "throughput"), "throughput", -1) as number;
  if (throughput === 0) throw new UsageError("--throughput must be -1 (no limit) or a number of records per second ≥ 1");
  const concurrency = intArg(values.concurrency, "concurrency", 1) ?? 1;
  const options = producerOptions(values);
  // Each Producer keeps one request in flight per partition: more producers, more requests at once.
  const producers = Array.from({ length: concurrency }, () => new Producer(options));
  const payload = payloadOf(recordSize);
  const stats = new ProduceStats(numRecords);
  // Kafka's --warmup-records (KIP-1052): the records sent after the first N have statistics of
  // their own, a fresh process's start (its code not yet compiled, connections not yet open) left out.
  let steady: { stats: ProduceStats; cpuAtStart: NodeJS.CpuUsage } | undefined;
  if (warmupRecords > 0) say(`Warmup first ${warmupRecords} records. Steady state results will print after the complete test summary.`);
  const cpuAtStart = process.cpuUsage();
  const reporter = setInterval(() => say(stats.windowLine()), REPORT_INTERVAL_MS);
  // Bound what is queued but unacknowledged, as Kafka's buffer.memory does: `send` only
  // settles on acknowledgement, so the producer's own buffer cannot pace this loop.
  const bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
  const maxOutstanding = Math.max(1_000, Math.floor((bufferBytes * concurrency) / Math.max(recordSize + 16, 64)));
  let outstanding = 0;
  let wake: (() => void) | undefined;
  let failure: unknown;
  const settled = () => {
    outstanding--;
    wake?.();
    wake = undefined;
  };
  const failed = (e: unknown) => {
    failure ??= e;
    settled();
  };
  // Each record's callback holds its send time, as Kafka's PerfCallback does: one closure a record.
  const acknowledged = (sentMs: number, steadyStats: ProduceStats | undefined) => () => {
    const latencyMs = performance.now() - sentMs;
    stats.record(latencyMs, recordSize);
    steadyStats?.record(latencyMs, recordSize);
    settled();
  };
  const startedMs = performance.now();
  try {
    // Kafka's first `send` blocks until the producer has read the topic (max.block.ms), inside
    // the timed run; this waits for that read the same way, so the records do not queue for it.
    await Promise.all(producers.map((p) => p.partitionsFor(topic)));
    for (let i = 0; i < numRecords && failure === undefined; i++) {
      if (throughput > 0) {
        const dueMs = startedMs + (i * 1000) / throughput;
        const now = performance.now();
        if (dueMs > now + 1) await sleep(dueMs - now);
      }
      while (outstanding >= maxOutstanding) await new Promise<void>((r) => (wake = r));
      if (i === warmupRecords && warmupRecords > 0) {
        say("Beginning steady state.");
        steady = { stats: new ProduceStats(numRecords - warmupRecords), cpuAtStart: process.cpuUsage() };
      }
      outstanding++;
      const producer = producers[i % concurrency] as Producer;
      producer.send(topic, { value: payload }).then(acknowledged(performance.now(), steady?.stats), failed);
    }
    await Promise.all(producers.map((p) => p.close()));
    while (outstanding > 0) await new Promise<void>((r) => (wake = r));
  } finally {
    clearInterval(reporter);
  }
  say(formatProduceSummary(stats.summary()));
  // A run that failed has no steady state to speak of.
  const steadyState = failure === undefined ? steady : undefined;
  if (steadyState !== undefined) say(formatProduceSummary(steadyState.stats.summary(), "steady state "));
  if (values["print-metrics"]) {
    const end = process.cpuUsage(); // one reading for both, so that the steady state's is never the larger
    say(
      formatMetrics([
        ["seglog-client-metrics:process-cpu-ms", cpuMsBetween(cpuAtStart, end)],
        ...(steadyState === undefined ? [] : [["seglog-client-metrics:steady-state-process-cpu-ms", cpuMsBetween(steadyState.cpuAtStart, end)] as const]),
      ]),
    );
  }
  if (failure !== undefined) throw failure;
  return 0;
}

// --- consume ---------------------------------------------------------------------------------

export const CONSUME_HEADER =
  "start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec";

export interface ConsumeSummary {
  readonly startMs: number;
  readonly endMs: number;
  readonly bytes: number;
  readonly messages: number;
  /** Time to find the partitions and their start offsets (Kafka: the group join). */
  readonly rebalanceMs: number;
}

/** Kafka's `yyyy-MM-dd HH:mm:ss:SSS`, in local time. */
function kafkaTime(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}:${p(d.getMilliseconds(), 3)}`;
}

/** Kafka's summary row, under {@link CONSUME_HEADER}. */
export function formatConsumeSummary(s: ConsumeSummary): string {
  const seconds = Math.max(s.endMs - s.startMs, 1) / 1000;
  const fetchMs = Math.max(s.endMs - s.startMs - s.rebalanceMs, 1);
  const mb = s.bytes / MB;
  return [
    kafkaTime(s.startMs),
    kafkaTime(s.endMs),
    mb.toFixed(4),
    (mb / seconds).toFixed(4),
    String(s.messages),
    (s.messages / seconds).toFixed(4),
    String(Math.round(s.rebalanceMs)),
    String(Math.round(fetchMs)),
    (mb / (fetchMs / 1000)).toFixed(4),
    (s.messages / (fetchMs / 1000)).toFixed(4),
  ].join(", ");
}

async function perfConsume(args: string[]): Promise<number> {
  const { values } = parse(args, {
    topic: { type: "string" },
    messages: { type: "string" },
    group: { type: "string" },
    "timeout-ms": { type: "string" },
    "fetch-size": { type: "string" },
    "from-latest": { type: "boolean" },
    "hide-header": { type: "boolean" },
    "read-from": { type: "string" },
    "print-metrics": { type: "boolean" },
  });
  const topic = required(values.topic, "topic");
  const readFrom = readFromArg(values["read-from"]);
  const messages = intArg(required(values.messages, "messages"), "messages", 1) as number;
  const timeoutMs = intArg(values["timeout-ms"], "timeout-ms", 1) ?? 10_000;
  const maxBytes = intArg(values["fetch-size"], "fetch-size", 1);
  const start = values["from-latest"] ? "latest" : "earliest";
  const clientOptions = {
    ...(values.url === undefined ? {} : { url: values.url }),
    ...(maxBytes === undefined ? {} : { maxBytes }),
    autoOffsetReset: start,
    readFrom,
  } as const;

  const run = new ConsumeRun(messages, timeoutMs);
  const readyMs =
    values.group === undefined ? await consumeDirectly(topic, clientOptions, run) : await consumeAsMember(topic, required(values.group, "group"), clientOptions, run);
  const endMs = run.doneMs ?? run.lastRecordMs;
  if (!values["hide-header"]) say(CONSUME_HEADER);
  say(formatConsumeSummary({ startMs: run.startMs, endMs, bytes: run.bytes, messages: run.count, rebalanceMs: readyMs - run.startMs }));
  if (values["print-metrics"]) say(formatConsumerMetrics(run.stats, run.cpuMs()));
  if (!run.done) {
    process.stderr.write(
      `WARNING: Exiting before consuming the expected number of messages: timeout (${timeoutMs} ms) exceeded. ` +
        `You can use the --timeout-ms option to increase the timeout.\n`,
    );
    return 1;
  }
  return 0;
}

type ClientOptions = { readonly url?: string; readonly maxBytes?: number; readonly autoOffsetReset: "earliest" | "latest"; readonly readFrom: "storage" | "api" };

/** Kafka's `--print-metrics` table, with the consumer's fetch counts and the CPU time the
 * process spent from when the partitions were positioned: name, then value. */
export function formatConsumerMetrics(stats: ConsumerStats, cpuMs: number): string {
  return formatMetrics([
    ["consumer-fetch-manager-metrics:fetch-total", stats.fetches],
    ["consumer-fetch-manager-metrics:bytes-fetched-total", stats.bytesFetched],
    ["seglog-consumer-metrics:segment-gets-total", stats.segmentGets],
    ["seglog-client-metrics:process-cpu-ms", cpuMs],
  ]);
}

/** CPU milliseconds (user and system) this process spent since `start`, to a tenth. */
function cpuMsSince(start: NodeJS.CpuUsage): number {
  return cpuMsBetween(start, process.cpuUsage());
}

/** CPU milliseconds between two readings of `process.cpuUsage()`, to a tenth. */
function cpuMsBetween(start: NodeJS.CpuUsage, end: NodeJS.CpuUsage): number {
  return Math.round((end.user - start.user + end.system - start.system) / 100) / 10;
}

/** Kafka's `--print-metrics` table: name, then value. */
function formatMetrics(rows: readonly (readonly [string, number])[]): string {
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return [`${"Metric Name".padEnd(width)}Value`, ...rows.map(([name, value]) => `${name.padEnd(width)}${value}`)].join("\n");
}

/** What one `perf consume` counted: up to `messages` records, and when it stopped. */
class ConsumeRun {
  readonly startMs = Date.now();
  count = 0;
  bytes = 0;
  /** The consumers' fetch counts, summed as each finishes. */
  stats: ConsumerStats = { fetches: 0, segmentGets: 0, bytesFetched: 0 };
  lastRecordMs = this.startMs;
  /** The process's CPU time when the partitions were positioned (Kafka's fetch time starts). */
  private cpuAtReady: NodeJS.CpuUsage | undefined;
  /** When the last wanted record arrived. */
  doneMs: number | undefined;

  constructor(
    readonly messages: number,
    readonly timeoutMs: number,
  ) {}

  tally(records: readonly ConsumedRecord[]): void {
    for (const r of records) {
      if (this.count >= this.messages) break;
      this.count++;
      this.bytes += (r.key?.byteLength ?? 0) + (r.value?.byteLength ?? 0);
    }
    if (records.length > 0) this.lastRecordMs = Date.now();
    if (this.count >= this.messages) this.doneMs ??= this.lastRecordMs;
  }

  /** The partitions are positioned: the fetch time, and its CPU time, start. */
  ready(): number {
    this.cpuAtReady ??= process.cpuUsage();
    return Date.now();
  }

  cpuMs(): number {
    return this.cpuAtReady === undefined ? 0 : cpuMsSince(this.cpuAtReady);
  }

  addStats(more: ConsumerStats): void {
    const s = this.stats;
    this.stats = { fetches: s.fetches + more.fetches, segmentGets: s.segmentGets + more.segmentGets, bytesFetched: s.bytesFetched + more.bytesFetched };
  }

  get done(): boolean {
    return this.count >= this.messages;
  }

  /** Kafka's `--timeout`: no record for this long since `since` or the last record. */
  timedOut(since: number): boolean {
    return Date.now() - Math.max(this.lastRecordMs, since) > this.timeoutMs;
  }
}

/**
 * Every partition, as Kafka's tool reads them: one consumer assigned them all, from the earliest
 * (or latest) offset. Returns when the partitions were found and positioned (Kafka's rebalance
 * end).
 */
async function consumeDirectly(topic: string, options: ClientOptions, run: ConsumeRun): Promise<number> {
  const consumer = new Consumer(options);
  await consumer.assignTopic(topic, options.autoOffsetReset);
  const readyMs = run.ready();
  while (!run.done && !run.timedOut(readyMs)) run.tally(await consumer.poll({ maxWaitMs: Math.min(500, run.timeoutMs) }));
  consumer.close();
  run.addStats(consumer.stats());
  return readyMs;
}

/** As a member of consumer group `group`; Kafka's rebalance time is the wait for the first partitions. */
async function consumeAsMember(topic: string, group: string, options: ClientOptions, run: ConsumeRun): Promise<number> {
  await new Consumer(options).admin.topicMetadata(topic); // an unknown topic fails now, not after the timeout
  let readyMs: number | undefined;
  const consumer = new GroupConsumer({
    ...options,
    groupId: group,
    onAssigned: () => {
      readyMs ??= run.ready();
    },
  });
  consumer.subscribe([topic]);
  // close() hands out nothing more, commits what was processed and leaves; never awaited in a handler.
  const stop = () => void consumer.close();
  const idle = setInterval(() => {
    if (run.timedOut(readyMs ?? run.startMs)) stop();
  }, Math.min(run.timeoutMs, 250));
  try {
    await consumer.run({
      eachBatch: (batch) => {
        run.tally(batch.records);
        if (run.done) stop();
      },
    });
  } finally {
    clearInterval(idle);
  }
  run.addStats(consumer.stats());
  return readyMs ?? Date.now();
}
