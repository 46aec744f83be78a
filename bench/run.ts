/**
 * `npm run bench`: runs every suite, prints a table per suite, and saves all results to
 * `bench/results/<ISO date>.json`, a markdown summary beside it (`<date>.md`) and the chart of
 * throughput against batch size (`<date>-throughput.png`). To add a suite, append it to `SUITES`.
 * Sizes come from the environment (`bench/config.ts`; `BENCH_QUICK=1` for a smoke run).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { estimateCosts, MEASURED_PROFILES, type CostComparison, type Workload } from "../src/core/cost-model.ts";
import { PRICES_READ_ON } from "../src/core/pricing.ts";
import { renderLineChart } from "./chart.ts";
import { runCodecBench } from "./codec.ts";
import { runColdStartBench } from "./cold-start.ts";
import { benchConfig, type BenchConfig } from "./config.ts";
import { startBenchStack, type BenchStack } from "./local.ts";
import { runLatencyBench } from "./latency.ts";
import { runLogBench, type LogBenchResult } from "./log.ts";
import { runMergeBench } from "./merge.ts";
import { runReadAheadBench } from "./read-ahead.ts";
import { runWidePollBench } from "./wide-poll.ts";
import { SdkCalls } from "./sdk-calls.ts";
import {
  codecTable,
  coldStartTable,
  consumeRequestsTable,
  costTable,
  cpuTable,
  markdownTable,
  measuredProfile,
  produceRequestsTable,
  latencyTable,
  readAheadTable,
  referenceRecords,
  referenceTable,
  throughputTable,
  type Table,
} from "./tables.ts";

interface SuiteContext {
  readonly config: BenchConfig;
  /** The local stack and API, started on first use and shared by the suites. */
  readonly stack: () => Promise<BenchStack>;
  readonly sdk: SdkCalls;
  readonly log: (line: string) => void;
}

interface Suite {
  name: string;
  run: (ctx: SuiteContext) => Promise<{ result: unknown; tables: Record<string, Table> }>;
}

const SUITES: Suite[] = [
  {
    name: "codec",
    run: async ({ config }) => {
      const result = await runCodecBench({ iterations: config.codecIterations, warmupIterations: Math.ceil(config.codecIterations / 2) });
      return { result, tables: { "Codec: encode and decode of 1 MB RecordBatches (1 KiB records), Seglog vs kafkajs": codecTable(result) } };
    },
  },
  {
    name: "log",
    run: async ({ config, stack, sdk, log }) => {
      const result = await runLogBench(await stack(), sdk, config, log);
      return {
        result,
        tables: {
          [`Produce and consume through the local API vs bare storage (MB/s of stored batches, MB = 2^20 bytes; ${config.concurrency} requests in flight)`]:
            throughputTable(result),
          "AWS requests per MB produced (MB = 2^20 bytes of record values)": produceRequestsTable(result),
          "AWS requests per MB consumed": consumeRequestsTable(result),
          "CPU milliseconds per MB stored, by process (the perf and bare clients run in processes of their own)": cpuTable(result),
        },
      };
    },
  },
  {
    name: "readAhead",
    run: async ({ config, stack, log }) => {
      const result = await runReadAheadBench(await stack(), config, log);
      const title = `Fetching ahead: ${result.mb} MB read by one Consumer of ${result.partitions} partitions, with a delay added before every API call and S3 GET`;
      return { result, tables: { [title]: readAheadTable(result) } };
    },
  },
  {
    name: "latency",
    run: async ({ config, stack, log }) => {
      const result = await runLatencyBench(await stack(), config, log);
      const title = `Latency: ${result.runs[0]?.records ?? 0} records of ${result.recordBytes} bytes sent one at a time to one partition (lingerMs 0, acks=all, 20–120 ms apart) while a Consumer tails it, with a delay added before every API call and S3 GET`;
      return { result, tables: { [title]: latencyTable(result) } };
    },
  },
  {
    name: "merge",
    run: async ({ config, stack, sdk, log }) => {
      const result = await runMergeBench(await stack(), sdk, config.quick ? 200 : 4000, log);
      const row = (c: typeof result.before) => ({ fetches: String(c.fetches), GETs: String(c.gets), "GETs per MB": c.getsPerMb.toFixed(2), "index Queries": String(c.queries) });
      const calls = (c: typeof result.mergeCalls) => ({
        "S3 GETs": String(c.calls["GetObjectCommand"] ?? 0),
        "S3 PUTs": String(c.calls["PutObjectCommand"] ?? 0),
        "DynamoDB write units": c.writeUnits.toFixed(0),
        "DynamoDB read units": c.readUnits.toFixed(0),
        calls: Object.entries(c.calls).sort(([x], [y]) => x.localeCompare(y)).map(([k, n]) => `${k.replace(/Command$/, "")} ${n}`).join(", "),
      });
      const tables: Record<string, Table> = {
        [`Segment merging: a consumer reading ${result.batches} batches of 1 KB (${result.mb.toFixed(1)} MB) in 1 MiB fetches, before and after maintenance merged them (segment.bytes 16 MiB; the merge took ${result.mergeMs} ms)`]:
          { "before merging": row(result.before), "after merging": row(result.after) },
        [`What merging ${result.segmentsMerged} segments into ${result.merges} asked of AWS`]: {
          "the merging run": calls(result.mergeCalls),
          "the run that removed the replaced segments": calls(result.cleanupCalls),
          ...Object.fromEntries(
            result.shared.map((m) => [
              `merging ${m.segmentsMerged} segments of ${m.partitions} partitions in ${m.objects} shared objects into ${m.merges}: ${m.label} (${m.mergeMs} ms)`,
              calls(m.mergeCalls),
            ]),
          ),
        },
      };
      return { result, tables };
    },
  },
  {
    name: "widePoll",
    run: async ({ config, stack, sdk, log }) => {
      const r = await runWidePollBench(await stack(), sdk, config.quick ? 1 : 3, log);
      const looks = r.calls["BatchGetItemCommand"] ?? 0;
      const row = {
        "CPU ms": String(r.cpuMs),
        "CPU ms per second of waiting": (r.cpuMs / (r.wallMs / 1000)).toFixed(0),
        "looks (head reads)": String(looks),
        "DynamoDB calls per look": looks === 0 ? "" : (Object.entries(r.calls).reduce((n, [k, c]) => n + (k.startsWith("Batch") || k.endsWith("ItemCommand") || k === "QueryCommand" ? c : 0), 0) / looks).toFixed(2),
        "read units per look": looks === 0 ? "" : (r.readUnits / looks).toFixed(1),
        calls: Object.entries(r.calls).sort(([x], [y]) => x.localeCompare(y)).map(([k, n]) => `${k.replace(/Command$/, "")} ${n}`).join(", "),
      };
      const title = `A consumer of ${r.partitions} partitions at the tail: ${r.polls} long polls of ${r.waitMs} ms each (${r.wallMs} ms), the fetch side's CPU and DynamoDB calls`;
      return { result: r, tables: { [title]: { "one fetch of all the partitions": row } } };
    },
  },
  {
    name: "coldStart",
    run: async ({ config, stack, log }) => {
      const result = await runColdStartBench(await stack(), config.coldStartRuns, log);
      return { result, tables: { "Cold start: bundle size, module initialisation and first request, per function": coldStartTable(result) } };
    },
  },
];

/** The workload the cost goal is stated for. */
const REFERENCE_WORKLOAD: Workload = { mbPerSec: 10, recordBytes: 1024, batchBytes: 262_144, consumerGroups: 2, retentionDays: 7 };
/** Not measured here: removing an index item (retention or merging) writes the item, and its LSI
 * entry on one item in 16 (the model's figure). */
const ASSUMED_REMOVAL_WRU = MEASURED_PROFILES.idempotent.writeUnitsPerBatchRemoved;

// The SDK's notice about its future Node versions is noise in a bench log.
process.env["AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED"] ??= "true";
const config = benchConfig();
const log = (line: string) => console.log(line);
const sdk = new SdkCalls();
const uninstall = sdk.install();
let started: Promise<BenchStack> | undefined;
const ctx: SuiteContext = { config, stack: () => (started ??= startBenchStack(sdk, log)), sdk, log };

const results: Record<string, unknown> = {};
const tables: Record<string, Table> = {};
const benchStarted = performance.now();
try {
  for (const suite of SUITES) {
    if (config.suites && !config.suites.includes(suite.name)) continue;
    const t0 = performance.now();
    const out = await suite.run(ctx);
    results[suite.name] = out.result;
    for (const [title, table] of Object.entries(out.tables)) {
      tables[title] = table;
      console.log(`\n${title}`);
      console.table(table);
    }
    log(`(${suite.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
  }
} finally {
  if (started) await (await started).stop();
  uninstall();
}

const when = new Date().toISOString();
const dir = join(dirname(fileURLToPath(import.meta.url)), "results");
mkdirSync(dir, { recursive: true });
const stem = join(dir, when.replace(/:/g, "-"));
const md: string[] = [
  `# Seglog bench, ${when}`,
  "",
  `Node ${process.version}, ${process.platform}-${process.arch}, ${cpus().length} × ${cpus()[0]?.model ?? "unknown CPU"}; ` +
    `${config.quick ? "QUICK mode (toy sizes, not numbers to quote); " : ""}` +
    `${((performance.now() - benchStarted) / 1000).toFixed(0)} s in all. Reproduce: \`npm run bench\`.`,
  "",
];

const logResult = results["log"] as LogBenchResult | undefined;
let chartFile: string | undefined;
let cost: CostComparison | undefined;
let referenceCosts: { records: string; cost: CostComparison }[] | undefined;
if (logResult) {
  md.push(
    `Local stack: DynamoDB ${logResult.dynamo}, S3 s3rver, the HTTP API of \`seglog dev\`, all on this machine; ` +
      `${logResult.recordBytes}-byte records; the perf clients run in child processes.`,
    "",
  );
  const sizes = [...new Set(logResult.runs.map((r) => r.batchBytes))];
  const at = (batchBytes: number, pick: (r: LogBenchResult["runs"][number]) => number | undefined) =>
    pick(logResult.runs.find((r) => r.batchBytes === batchBytes && r.idempotent) as LogBenchResult["runs"][number]);
  chartFile = `${stem}-throughput.png`;
  writeFileSync(
    chartFile,
    renderLineChart({
      title: "Seglog throughput on the local stack vs bare S3 + DynamoDB",
      yLabel: "MB/s (stored batches)",
      xLabel: "producer batch size (1 KiB records)",
      xLabels: sizes.map((s) => (s >= 1_048_576 ? `${s / 1_048_576} MiB` : `${s / 1024} KiB`)),
      series: [
        { name: "Seglog produce", color: [31, 119, 180], values: sizes.map((s) => at(s, (r) => r.produce.seglog.storedMbPerSec)) },
        { name: "bare produce (3 calls)", color: [31, 119, 180], dashed: true, values: sizes.map((s) => at(s, (r) => r.produce.bare.mbPerSec)) },
        { name: "Seglog consume", color: [230, 120, 20], values: sizes.map((s) => at(s, (r) => r.consume?.seglog.storedMbPerSec)) },
        { name: "bare S3 GET", color: [230, 120, 20], dashed: true, values: sizes.map((s) => at(s, (r) => r.consume?.bare.mbPerSec)) },
        {
          name: "Seglog produce, no idempotence",
          color: [140, 190, 230],
          values: sizes.map((s) => logResult.runs.find((r) => r.batchBytes === s && !r.idempotent)?.produce.seglog.storedMbPerSec),
        },
      ],
    }),
  );
  const profile = measuredProfile(logResult, REFERENCE_WORKLOAD.batchBytes, ASSUMED_REMOVAL_WRU);
  if (profile) {
    cost = estimateCosts(REFERENCE_WORKLOAD, { profile });
    const workload = `10 MB/s, 1 KiB records, 256 KiB batches, 2 consumer groups of one consumer each (its partitions in one fetch), 7 days (us-east-1 prices of ${PRICES_READ_ON}, this run's request counts)`;
    const [first] = logResult.reference;
    if (first) tables[`Reference producer: ${first.partitions} partitions, ${first.batchBytes}-byte batches, lingerMs ${first.lingerMs}`] = referenceTable(logResult.reference);
    const titles = [`Monthly cost at ${workload}: records without keys, sticky partitioner, one batch per request`];
    tables[titles[0] as string] = costTable(cost);
    referenceCosts = logResult.reference.map((k) => {
      const assumptions = { batchesPerRequest: Math.min(k.partitions, Math.max(1, k.batchesPerRequest)), partitions: k.partitions };
      // The one consumer per group reads each object once per fetch that reads it, as it measured.
      const measured = { ...profile, getsPerObjectRead: k.consume.getsPerObject };
      const reference = { records: referenceRecords(k), cost: estimateCosts(REFERENCE_WORKLOAD, { profile: measured, assumptions }) };
      const title = `Monthly cost at ${workload}: ${reference.records} over ${k.partitions} partitions, ${k.batchesPerRequest.toFixed(2)} batches per request as measured`;
      titles.push(title);
      tables[title] = costTable(reference.cost);
      return reference;
    });
    for (const title of titles) {
      console.log(`\n${title}`);
      console.table(tables[title]);
    }
  }
}

for (const [title, table] of Object.entries(tables)) md.push(`## ${title}`, "", markdownTable(table), "");
if (chartFile) md.push(`![throughput against batch size](${basename(chartFile)})`, "");
writeFileSync(`${stem}.md`, `${md.join("\n")}\n`);
writeFileSync(
  `${stem}.json`,
  `${JSON.stringify({ date: when, node: process.version, platform: `${process.platform}-${process.arch}`, config, results, ...(cost ? { cost } : {}), ...(referenceCosts ? { referenceCosts } : {}) }, null, 2)}\n`,
);
console.log(`\nsaved ${stem}.json, ${basename(stem)}.md${chartFile ? `, ${basename(chartFile)}` : ""}`);
