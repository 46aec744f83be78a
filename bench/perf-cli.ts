/**
 * Runs `seglog perf produce|consume` in a child process, as a user would (the client's CPU is
 * then not the bench's), and reads Kafka's summary lines back.
 */
import { fileURLToPath } from "node:url";
import type { ProduceSummary } from "../src/cli/perf.ts";
import { runNode } from "./child.ts";

const SEGLOG_BIN = fileURLToPath(new URL("../bin/seglog.mjs", import.meta.url));

/** What `seglog perf produce --print-metrics` prints, parsed back. */
export type ProduceLine = ProduceSummary & {
  /** The perf client's own CPU over the run. */
  readonly clientCpuMs: number;
};

export interface ConsumeLine {
  readonly mb: number;
  readonly mbPerSec: number;
  readonly messages: number;
  readonly messagesPerSec: number;
  readonly rebalanceMs: number;
  readonly fetchMs: number;
  /** From `--print-metrics`: the consumers' fetches, the stored bytes they read, and their own S3 GETs. */
  readonly fetches: number;
  readonly bytesFetched: number;
  readonly segmentGets: number;
  /** The perf client's own CPU from when the partitions were positioned. */
  readonly clientCpuMs: number;
}

const PRODUCE_SUMMARY =
  /^(\d+) records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency, (\d+) ms 50th, (\d+) ms 95th, (\d+) ms 99th, (\d+) ms 99\.9th\.$/m;

function runSeglog(args: string[]): Promise<string> {
  return runNode([SEGLOG_BIN, ...args], `seglog ${args.slice(0, 2).join(" ")}`);
}

export async function perfProduce(args: string[]): Promise<ProduceLine> {
  const out = await runSeglog(["perf", "produce", "--print-metrics", ...args]);
  const m = PRODUCE_SUMMARY.exec(out);
  if (!m) throw new Error(`no summary line in perf produce output:\n${out}`);
  const n = m.slice(1).map(Number);
  return {
    records: n[0] ?? 0,
    recordsPerSec: n[1] ?? 0,
    mbPerSec: n[2] ?? 0,
    avgLatencyMs: n[3] ?? 0,
    maxLatencyMs: n[4] ?? 0,
    p50Ms: n[5] ?? 0,
    p95Ms: n[6] ?? 0,
    p99Ms: n[7] ?? 0,
    p999Ms: n[8] ?? 0,
    clientCpuMs: metricOf(out, "seglog-client-metrics:process-cpu-ms"),
  };
}

export async function perfConsume(args: string[]): Promise<ConsumeLine> {
  const out = await runSeglog(["perf", "consume", "--print-metrics", ...args]);
  const lines = out.trim().split("\n");
  // Kafka's summary row: ten fields, the first a start time (with or without the header above it).
  const row = lines.find((l) => /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d:\d{3}, /.test(l))?.split(", ");
  if (!row || row.length !== 10) throw new Error(`no summary row in perf consume output:\n${out}`);
  const n = row.map(Number);
  return {
    mb: n[2] ?? 0,
    mbPerSec: n[3] ?? 0,
    messages: n[4] ?? 0,
    messagesPerSec: n[5] ?? 0,
    rebalanceMs: n[6] ?? 0,
    fetchMs: n[7] ?? 0,
    fetches: metricOf(out, "consumer-fetch-manager-metrics:fetch-total"),
    bytesFetched: metricOf(out, "consumer-fetch-manager-metrics:bytes-fetched-total"),
    segmentGets: metricOf(out, "seglog-consumer-metrics:segment-gets-total"),
    clientCpuMs: metricOf(out, "seglog-client-metrics:process-cpu-ms"),
  };
}

/** A row of the `--print-metrics` table: its value, NaN where it is missing. */
function metricOf(out: string, name: string): number {
  return Number(out.split("\n").find((l) => l.startsWith(`${name} `))?.slice(name.length) ?? NaN);
}
