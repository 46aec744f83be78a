/**
 * The bench's tables: rows by label, columns by name, printed with `console.table` and written
 * into the markdown summary alike.
 */
import type { CostComparison, RequestProfile } from "../src/core/cost-model.ts";
import type { CodecBenchResult } from "./codec.ts";
import type { ColdStartResult } from "./cold-start.ts";
import type { CpuPerMb, LogBenchResult, LogRun, ReferenceResult } from "./log.ts";
import type { LatencyResult } from "./latency.ts";
import type { ReadAheadResult } from "./read-ahead.ts";

export type Table = Record<string, Record<string, string>>;

export const fmt = (n: number, digits = 1): string => n.toFixed(digits);
export const count = (n: number): string => Math.round(n).toLocaleString("en-US");
const size = (bytes: number): string => (bytes >= 1_048_576 ? `${bytes / 1_048_576} MiB` : `${bytes / 1024} KiB`);
const usd = (n: number): string => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;

export function codecTable(r: CodecBenchResult): Table {
  const row = (m: { msPerBatch: number; mbPerSec: number; recordsPerSec: number }, ratio?: number) => ({
    "ms/batch": fmt(m.msPerBatch, 3),
    "MB/s": fmt(m.mbPerSec),
    "records/s": count(m.recordsPerSec),
    "× kafkajs": ratio === undefined ? "" : fmt(ratio, 2),
  });
  return {
    "seglog encode": row(r.seglog.encode, r.ratio.encode),
    "kafkajs encode": row(r.kafkajs.encode),
    "seglog decode (CRC checked)": row(r.seglog.decode, r.ratio.decode),
    "seglog decode (no CRC, as kafkajs)": row(r.seglog.decodeNoCrc, r.ratio.decodeSameWork),
    "kafkajs decode (no CRC)": row(r.kafkajs.decode),
    "seglog crc32c alone": row(r.seglog.crc32c),
  };
}

const label = (r: LogRun) => `${size(r.batchBytes)} batches, idempotence ${r.idempotent ? "on" : "off"}`;

export function throughputTable(r: LogBenchResult): Table {
  const out: Table = {};
  for (const run of r.runs) {
    const p = run.produce;
    const c = run.consume;
    out[label(run)] = {
      "produce MB/s": fmt(p.seglog.storedMbPerSec),
      "bare MB/s": fmt(p.bare.mbPerSec),
      "produce ÷ bare": `${fmt(100 * p.ratio, 0)} %`,
      "ms per produce request": fmt(p.seglog.meanHandlerMs),
      "ready-made batches MB/s (÷ bare)": run.readyBatches ? `${fmt(run.readyBatches.mbPerSec)} (${fmt(100 * run.readyBatches.ratio, 0)} %)` : "",
      "bare behind one HTTP hop MB/s (÷ bare)": run.relayed ? `${fmt(run.relayed.mbPerSec)} (${fmt(100 * run.relayed.ratio, 0)} %)` : "",
      "consume MB/s": c ? fmt(c.seglog.storedMbPerSec) : "",
      "bare GET MB/s": c ? fmt(c.bare.mbPerSec) : "",
      "consume ÷ bare": c ? `${fmt(100 * c.ratio, 0)} %` : "",
      "consume through the API MB/s (÷ bare)": c ? `${fmt(c.viaApi.mbPerSec)} (${fmt(100 * c.viaApi.ratio, 0)} %)` : "",
      "raw segment reads MB/s (÷ bare)": c ? `${fmt(c.rawReads.mbPerSec)} (${fmt(100 * c.rawReads.ratio, 0)} %)` : "",
      "ms per fetch": c ? fmt(c.seglog.meanHandlerMs) : "",
    };
  }
  return out;
}

export function produceRequestsTable(r: LogBenchResult): Table {
  const out: Table = {};
  for (const run of r.runs) {
    const q = run.produce.requests;
    out[label(run)] = {
      "S3 PUT/MB": fmt(q.perMb.s3Put, 2),
      "WRU/MB": fmt(q.perMb.writeUnits, 2),
      "RRU/MB": fmt(q.perMb.readUnits, 2),
      "Lambda/MB": fmt(q.perMb.lambda, 2),
      "API GW units/MB": fmt(q.perMb.apiUnits, 2),
      "per batch: PUT + WRU + RRU": `${fmt(q.perBatch.s3Put, 2)} + ${fmt(q.perBatch.writeUnits, 2)} + ${fmt(q.perBatch.readUnits, 2)}`,
      "calls per batch": callsPer(q.calls, run.produce.batches),
      "log line B/request": fmt(q.logBytesPerRequest, 0),
    };
  }
  return out;
}

export function consumeRequestsTable(r: LogBenchResult): Table {
  const out: Table = {};
  for (const run of r.runs) {
    const c = run.consume;
    if (!c) continue;
    const q = c.requests;
    out[size(run.batchBytes)] = {
      "S3 GET/MB": fmt(q.perMb.s3Get, 2),
      "RRU/MB": fmt(q.perMb.readUnits, 2),
      "fetches/MB": fmt(q.perMb.lambda, 2),
      "API GW units/MB": fmt(q.perMb.apiUnits, 2),
      "GET per segment": fmt(q.perBatch.s3Get, 2),
      "partitions/fetch": fmt(c.partitionFetches / Math.max(1, c.fetches), 2),
      "segments/fetch": fmt(c.segmentsPerFetch, 1),
      "index Queries/100 segments": fmt(c.indexQueriesPer100Segments, 1),
      "RRU per partition fetched": fmt(c.partitionFetches > 0 ? (q.perMb.readUnits / q.perMb.lambda) * (c.fetches / c.partitionFetches) : 0, 2),
      "idle long polls (RRU)": `${c.idleFetches} (${count(c.idleReadUnits)})`,
      "log line B/fetch": fmt(q.logBytesPerRequest, 0),
    };
  }
  return out;
}

/** CPU milliseconds per MB stored, by process: where the machine's time goes on each side. */
export function cpuTable(r: LogBenchResult): Table {
  const out: Table = {};
  const row = (cpu: CpuPerMb) => ({
    "storage (s3rver, DynamoDB Local)": cpu.storage === undefined ? "" : fmt(cpu.storage),
    "of it DynamoDB Local": cpu.dynamodb === undefined ? "" : fmt(cpu.dynamodb),
    "local API + handlers": cpu.api === undefined ? "" : fmt(cpu.api),
    "client (perf tool or bare worker)": cpu.client === undefined ? "" : fmt(cpu.client),
  });
  for (const run of r.runs) {
    const at = size(run.batchBytes);
    out[`${at} produce, Seglog, idempotence ${run.idempotent ? "on" : "off"}`] = row(run.produce.seglog.cpuMsPerMb);
    if (!run.idempotent) continue;
    if (run.readyBatches) out[`${at} produce from ready-made batches, Seglog`] = row(run.readyBatches.cpuMsPerMb);
    if (run.relayed) out[`${at} produce, bare behind one HTTP hop`] = row(run.relayed.cpuMsPerMb);
    out[`${at} produce, bare`] = row(run.produce.bare.cpuMsPerMb);
    if (!run.consume) continue;
    out[`${at} consume, Seglog`] = row(run.consume.seglog.cpuMsPerMb);
    out[`${at} consume through the API, Seglog`] = row(run.consume.viaApi.cpuMsPerMb);
    out[`${at} raw segment reads, Seglog`] = row(run.consume.rawReads.cpuMsPerMb);
    out[`${at} consume, bare`] = row(run.consume.bare.cpuMsPerMb);
  }
  return out;
}

function callsPer(calls: Record<string, number>, per: number): string {
  return Object.entries(calls)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, n]) => `${name.replace(/Command$/, "")} ${fmt(n / Math.max(1, per), 2)}`)
    .join(", ");
}

export function readAheadTable(r: ReadAheadResult): Table {
  const out: Table = {};
  for (const run of r.runs) {
    out[`${size(run.batchBytes)} batches, +${run.apiDelayMs} ms per API call, +${run.s3DelayMs} ms per S3 GET`] = {
      "MB/s, not fetching ahead": fmt(run.withoutMbPerSec),
      "MB/s, fetching ahead (default)": fmt(run.withMbPerSec),
      "ahead ÷ not": `${fmt((100 * run.withMbPerSec) / run.withoutMbPerSec, 0)} %`,
      "fetches per MB": fmt(run.fetchesPerMb, 2),
    };
  }
  return out;
}

export function latencyTable(r: LatencyResult): Table {
  const out: Table = {};
  for (const run of r.runs) {
    const ms = (n: number) => fmt(n, 1);
    out[`head re-read every ${run.pollIntervalMs} ms, +${run.apiDelayMs} ms per API call, +${run.s3DelayMs} ms per S3 GET`] = {
      "ack p50 / p99 ms": `${ms(run.ack.p50)} / ${ms(run.ack.p99)}`,
      "end to end p50 / p95 / p99 ms": `${ms(run.e2e.p50)} / ${ms(run.e2e.p95)} / ${ms(run.e2e.p99)}`,
      "end to end mean / max ms": `${ms(run.e2e.mean)} / ${ms(run.e2e.max)}`,
      "fetches per record": fmt(run.fetchesPerRecord, 2),
    };
  }
  return out;
}

export function coldStartTable(r: ColdStartResult): Table {
  const out: Table = {};
  for (const f of [...r.functions, r.sdkBaseline]) {
    out[f === r.sdkBaseline ? "the AWS SDK's clients alone (baseline)" : f.name] = {
      "bundle KiB": fmt(f.bundleBytes / 1024),
      "gzip KiB": fmt(f.gzipBytes / 1024),
      "loaded at init KiB": fmt(f.initBytes / 1024),
      [`init ms (median of ${r.runs})`]: fmt(f.initMs),
      "first request ms": f.firstInvokeMs === undefined ? "" : fmt(f.firstInvokeMs),
    };
  }
  return out;
}

/** The request profile this run measured, at the reference batch size, for the cost model. */
export function measuredProfile(r: LogBenchResult, batchBytes: number, assumedRemoval: number): RequestProfile | undefined {
  const idem = r.runs.find((x) => x.batchBytes === batchBytes && x.idempotent) ?? r.runs.find((x) => x.idempotent);
  const consume = idem?.consume;
  if (!idem || !consume) return undefined;
  const p = idem.produce.requests.perBatch;
  return {
    putsPerRequest: idem.produce.requests.perMb.s3Put / Math.max(1e-9, idem.produce.requests.perMb.lambda),
    writeUnitsPerBatch: p.writeUnits,
    readUnitsPerBatch: p.readUnits,
    // Each segment is an object of its own in these runs (one batch per request).
    getsPerObjectRead: consume.requests.perBatch.s3Get,
    // Per partition fetched: the model counts fetches of several partitions by its own assumption.
    readUnitsPerFetch: (consume.requests.perMb.readUnits / Math.max(1e-9, consume.requests.perMb.lambda)) * (consume.fetches / Math.max(1, consume.partitionFetches)),
    writeUnitsPerBatchRemoved: assumedRemoval,
  };
}

/** The reference producer's records, as a row name. */
export const referenceRecords = (k: ReferenceResult): string =>
  k.records === "keyed" ? "keyed records" : "records without keys, round-robin partitioner";

/** What the reference producer measured, a row per way of spreading records. */
export function referenceTable(runs: readonly ReferenceResult[]): Table {
  return Object.fromEntries(runs.map((k) => [referenceRecords(k), {
      "MB/s": fmt(k.mbPerSec),
      batches: String(k.batches),
      "produce requests": String(k.requests),
      "batches per request": fmt(k.batchesPerRequest),
      "mean batch bytes": String(Math.round(k.meanBatchBytes)),
      "S3 PUTs per request": fmt(k.putsPerRequest),
      "write units per batch": fmt(k.writeUnitsPerBatch),
      "a consumer's fetches (from the start / at the tail)": `${k.consume.fetches} / ${k.tail.fetches}`,
      "its S3 GETs": `${k.consume.gets} / ${k.tail.gets}`,
      "GETs per object": `${fmt(k.consume.getsPerObject)} / ${fmt(k.tail.getsPerObject)}`,
    }]));
}

export function costTable(c: CostComparison): Table {
  const row = (s: { usdPerMonth: number; usdPerGb: number }) => ({
    "$/month": usd(s.usdPerMonth),
    "$/GB": `$${s.usdPerGb.toFixed(4)}`,
    "Seglog as % of it": "",
  });
  return {
    Seglog: row(c.seglog),
    "Kinesis Data Streams on-demand": { ...row(c.kinesis), "Seglog as % of it": `${fmt(c.seglogPercentOfKinesis)} %` },
    "MSK Serverless": { ...row(c.msk), "Seglog as % of it": `${fmt(c.seglogPercentOfMsk)} %` },
  };
}

export function markdownTable(table: Table, first = ""): string {
  const rows = Object.entries(table);
  const columns = [...new Set(rows.flatMap(([, r]) => Object.keys(r)))];
  const lines = [`| ${[first, ...columns].join(" | ")} |`, `|${[first, ...columns].map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`];
  for (const [name, r] of rows) lines.push(`| ${[name, ...columns.map((c) => r[c] ?? "")].join(" | ")} |`);
  return lines.join("\n");
}
