/**
 * Latency, which the throughput suites do not show: how long a producer waits for its ack, and
 * how long a record takes to reach a consumer that is tailing the log (what Kafka's
 * `EndToEndLatency` measures). `e2e.ts` sends one record at a time while a Consumer tails the
 * partition, in a process of its own, with no delay added and with about AWS's round trips added
 * (`delays.ts`). A waiting long poll re-reads the partition's head every `pollIntervalMs`, so a
 * record also waits up to that long for a consumer's long poll to see it: the runs are made with
 * the default (100 ms) and with 25 ms (`SEGLOG_POLL_INTERVAL_MS`), each on a local API of its own
 * over the bench's storage.
 */
import { fileURLToPath } from "node:url";
import { Admin } from "../src/client/admin.ts";
import { runWorker } from "./child.ts";
import type { BenchConfig } from "./config.ts";
import { DELAYS } from "./delays.ts";
import { startApiWith, type BenchStack } from "./local.ts";
import { DEFAULT_LOG_OPTIONS } from "../src/log/options.ts";
import type { E2eResult, E2eTask } from "./e2e.ts";

const E2E_SCRIPT = fileURLToPath(new URL("./e2e.ts", import.meta.url));

/** Milliseconds: the mean and Kafka's percentiles of a set of samples. */
export interface LatencySummary {
  readonly mean: number;
  readonly p50: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
}

/** The long poll's re-read intervals measured: the default, and a shorter one. */
const POLL_INTERVALS_MS = [DEFAULT_LOG_OPTIONS.pollIntervalMs, 25];

export interface LatencyRun {
  /** How often a waiting long poll re-read the partition's head (`SEGLOG_POLL_INTERVAL_MS`). */
  readonly pollIntervalMs: number;
  readonly apiDelayMs: number;
  readonly s3DelayMs: number;
  readonly records: number;
  readonly ack: LatencySummary;
  readonly e2e: LatencySummary;
  /** The consumer's fetches per record: long polls that answered, and those that came back empty. */
  readonly fetchesPerRecord: number;
}

export interface LatencyResult {
  readonly suite: "latency";
  readonly recordBytes: number;
  readonly runs: LatencyRun[];
}

function summarize(samples: readonly number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
  return {
    mean: sorted.reduce((s, x) => s + x, 0) / Math.max(1, sorted.length),
    p50: at(0.5),
    p95: at(0.95),
    p99: at(0.99),
    max: sorted.at(-1) ?? Number.NaN,
  };
}

export async function runLatencyBench(bench: BenchStack, config: BenchConfig, log: (line: string) => void): Promise<LatencyResult> {
  const records = config.quick ? 20 : 200;
  const runs: LatencyRun[] = [];
  for (const pollIntervalMs of POLL_INTERVALS_MS) {
    // Both intervals on an API of their own, alike (the bench's main API tallies every call).
    const api = await startApiWith(bench.stack, { SEGLOG_POLL_INTERVAL_MS: String(pollIntervalMs) });
    const url = api.url;
    try {
      for (const delay of DELAYS) {
        const topic = `bench-latency-${pollIntervalMs}-${delay.apiMs}-${delay.s3Ms}-${Date.now()}`;
        await new Admin({ url }).createTopic(topic, { partitions: 1 });
        const task: E2eTask = { url, topic, records, warmup: 10, recordBytes: config.recordBytes, apiDelayMs: delay.apiMs, s3DelayMs: delay.s3Ms };
        const r = await runWorker<E2eResult>(E2E_SCRIPT, task, "end-to-end latency");
        const run: LatencyRun = {
          pollIntervalMs,
          apiDelayMs: delay.apiMs,
          s3DelayMs: delay.s3Ms,
          records: r.e2eMs.length,
          ack: summarize(r.ackMs),
          e2e: summarize(r.e2eMs),
          fetchesPerRecord: r.fetches / (records + task.warmup),
        };
        runs.push(run);
        log(
          `latency: re-read every ${pollIntervalMs} ms, +${delay.apiMs} ms API, +${delay.s3Ms} ms S3: ack p50 ${run.ack.p50.toFixed(1)} ms, p99 ${run.ack.p99.toFixed(1)}; ` +
            `end to end p50 ${run.e2e.p50.toFixed(1)} ms, p99 ${run.e2e.p99.toFixed(1)}`,
        );
      }
    } finally {
      await api.close();
    }
  }
  return { suite: "latency", recordBytes: config.recordBytes, runs };
}
