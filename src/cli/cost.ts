import { MAX_REQUEST_BYTES } from "../client/producer.ts";
import { estimateCosts, type CostAssumptions, type CostComparison, type SystemCost } from "../core/cost-model.ts";
import { PRICES_READ_ON, PRICES_REGION } from "../core/pricing.ts";
import { parseTopicConfig } from "../core/topic-config.ts";
import { intArg, parse, readFromArg, required } from "./args.ts";
import { UsageError } from "./output.ts";

const say = (line = "") => process.stdout.write(`${line}\n`);
/** Kafka's and Seglog's default `max.message.bytes`. */
const DEFAULT_MAX_MESSAGE_BYTES = 1_048_588;

function numberArg(value: string | undefined, name: string, min: number, exclusive = false): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || (exclusive ? n <= min : n < min)) {
    throw new UsageError(`--${name} must be a number ${exclusive ? "above" : "≥"} ${min}`);
  }
  return n;
}

/**
 * `seglog cost`: the monthly bill of a workload on Seglog at us-east-1 list prices, beside Kinesis
 * Data Streams on-demand and MSK Serverless. The model and its assumptions: docs/cost-model.md.
 */
export async function costCommand(args: string[]): Promise<number> {
  const { values } = parse(args, {
    "mb-per-sec": { type: "string" },
    "record-bytes": { type: "string" },
    "batch-bytes": { type: "string" },
    "consumer-groups": { type: "string" },
    "retention-days": { type: "string" },
    partitions: { type: "string" },
    "batches-per-request": { type: "string" },
    "fetch-interval-ms": { type: "string" },
    "consumers-per-group": { type: "string" },
    "segment-bytes": { type: "string" },
    idempotence: { type: "string" },
    "read-from": { type: "string" },
    json: { type: "boolean" },
  });
  const workload = {
    mbPerSec: numberArg(required(values["mb-per-sec"], "mb-per-sec"), "mb-per-sec", 0, true) as number,
    recordBytes: intArg(required(values["record-bytes"], "record-bytes"), "record-bytes", 1) as number,
    batchBytes: intArg(required(values["batch-bytes"], "batch-bytes"), "batch-bytes", 1) as number,
    consumerGroups: intArg(required(values["consumer-groups"], "consumer-groups"), "consumer-groups", 0) as number,
    retentionDays: numberArg(required(values["retention-days"], "retention-days"), "retention-days", 1) as number,
  };
  const idempotence = values.idempotence;
  if (idempotence !== undefined && idempotence !== "true" && idempotence !== "false") {
    throw new UsageError("--idempotence must be true or false");
  }
  const readFrom = values["read-from"] === undefined ? undefined : readFromArg(values["read-from"]);
  const partitions = intArg(values.partitions, "partitions", 1);
  const fetchIntervalMs = intArg(values["fetch-interval-ms"], "fetch-interval-ms", 1);
  const consumersPerGroup = intArg(values["consumers-per-group"], "consumers-per-group", 1);
  const segmentBytes = values["segment-bytes"] === undefined ? undefined : segmentBytesArg(values["segment-bytes"]);
  const batchesPerRequest = numberArg(values["batches-per-request"], "batches-per-request", 1);
  if (batchesPerRequest !== undefined && batchesPerRequest > (partitions ?? Math.max(1, Math.ceil(workload.mbPerSec)))) {
    throw new UsageError("--batches-per-request can be at most the number of partitions (one batch of each per request)");
  }
  if (batchesPerRequest !== undefined && batchesPerRequest > 1 && batchesPerRequest * workload.batchBytes > MAX_REQUEST_BYTES) {
    throw new UsageError(`--batches-per-request × --batch-bytes can be at most ${MAX_REQUEST_BYTES}: the Producer sends at most that much in one request`);
  }
  const assumptions: Partial<CostAssumptions> = {
    ...(idempotence === undefined ? {} : { idempotent: idempotence === "true" }),
    ...(partitions === undefined ? {} : { partitions }),
    ...(fetchIntervalMs === undefined ? {} : { fetchIntervalMs }),
    ...(consumersPerGroup === undefined ? {} : { consumersPerGroup }),
    ...(segmentBytes === undefined ? {} : { segmentBytes }),
    ...(batchesPerRequest === undefined ? {} : { batchesPerRequest }),
    ...(readFrom === undefined ? {} : { readFrom }),
  };
  const result = estimateCosts(workload, { assumptions });
  if (values.json) say(JSON.stringify({ pricesReadOn: PRICES_READ_ON, region: PRICES_REGION, ...result }, null, 2));
  else printComparison(result);
  return 0;
}

/** A topic's `segment.bytes`, checked as the topic would check it. */
function segmentBytesArg(raw: string): number {
  try {
    return parseTopicConfig({ "segment.bytes": raw })["segment.bytes"] as number;
  } catch (e) {
    throw new UsageError(`--segment-bytes: ${(e as Error).message}`);
  }
}

const usd = (n: number) => `$${n.toLocaleString("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
const qty = (n: number) => (n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toLocaleString("en-US", { maximumFractionDigits: 2 }));

function printSystem(s: SystemCost): void {
  say(s.system);
  for (const l of s.lines) {
    say(`  ${l.service.padEnd(12)} ${l.item.padEnd(34)} ${qty(l.quantity).padStart(16)} ${l.unit.padEnd(16)} ${usd(l.usdPerMonth).padStart(12)}`);
  }
  say(`  ${"total".padEnd(81)} ${usd(s.usdPerMonth).padStart(12)}/month  $${s.usdPerGb.toFixed(4)}/GB`);
  say();
}

export function printComparison(c: CostComparison): void {
  const w = c.workload;
  const a = c.assumptions;
  say(
    `Workload: ${w.mbPerSec} MB/s of ${w.recordBytes}-byte records in ${w.batchBytes}-byte batches, ` +
      `${w.consumerGroups} consumer group${w.consumerGroups === 1 ? "" : "s"}, ${w.retentionDays} days retention`,
  );
  say(
    `  ${qty(c.gbPerMonth)} GB in per month; ${c.recordsPerBatch} records per batch (${qty(c.storedBatchBytes)} bytes stored), ` +
      `${qty(c.batchesPerSecond)} batches/s in ${qty(c.produceRequestsPerSecond)} produce requests/s (${a.batchesPerRequest} batch${a.batchesPerRequest === 1 ? "" : "es"} each); ` +
      `${a.partitions} partition${a.partitions === 1 ? "" : "s"}, each polled every ${a.fetchIntervalMs} ms by ${a.consumersPerGroup} consumer${a.consumersPerGroup === 1 ? "" : "s"} per group ` +
      `(${qty(c.partitionsPerFetch)} partition${qty(c.partitionsPerFetch) === "1" ? "" : "s"} a fetch, ${qty(c.fetchersPerObject)} GET${qty(c.fetchersPerObject) === "1" ? "" : "s"} per object per group); ` +
      `idempotent producer ${a.idempotent ? "on" : "off"}; consumers read ${a.readFrom === "storage" ? "from S3" : "through the API"}; ` +
      (c.batchesPerMerge > 0
        ? `maintenance merges the batches (under half of segment.bytes, ${qty(a.segmentBytes)}), ${c.batchesPerMerge} a merged object`
        : `batches are not merged (at least half of segment.bytes, ${qty(a.segmentBytes)})`),
  );
  say(`  ${PRICES_REGION} list prices read on ${PRICES_READ_ON}; MB = 2^20 bytes, GB = 2^30 bytes, month = 730 hours`);
  if (c.storedBatchBytes > DEFAULT_MAX_MESSAGE_BYTES) {
    say(`  note: ${c.storedBatchBytes}-byte batches exceed the default max.message.bytes (${DEFAULT_MAX_MESSAGE_BYTES}); raise it on the topic`);
  }
  say();
  printSystem(c.seglog);
  printSystem(c.kinesis);
  printSystem(c.msk);
  say(
    `Seglog costs ${c.seglogPercentOfKinesis.toFixed(1)}% of Kinesis Data Streams on-demand ` +
      `and ${c.seglogPercentOfMsk.toFixed(1)}% of MSK Serverless for this workload.`,
  );
}
