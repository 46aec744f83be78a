/**
 * The monthly bill of one workload on Seglog, set beside Kinesis Data Streams on-demand and MSK
 * Serverless carrying the same workload. Pure arithmetic: the prices come from `pricing.ts`, the
 * request counts per batch and per fetch from `npm run bench` (see docs/cost-model.md for every
 * assumption and where each number comes from).
 *
 * Units: MB = 2^20 bytes, GB = 2^30 bytes, a month = 730 hours.
 */
import { HOURS_PER_MONTH, PRICES, type PriceTable } from "./pricing.ts";
import { MERGE_ROUND_BYTES, MERGE_ROUND_PARTITIONS, SPARSE_INDEX_STEP } from "./merge.ts";
import { EXPIRED_PAGE } from "./retention.ts";
import { MAX_PARTITIONS_PER_FETCH } from "./segment-locations.ts";
import { DEFAULT_TOPIC_CONFIG } from "./topic-config.ts";

const MiB = 2 ** 20;
const GiB = 2 ** 30;
const SECONDS_PER_MONTH = HOURS_PER_MONTH * 3600;
const SECONDS_PER_DAY = 86_400;

export interface Workload {
  /** Record bytes (key + value) produced per second, in MB (2^20 bytes). */
  readonly mbPerSec: number;
  readonly recordBytes: number;
  /** The producer's batch size (`batchBytes`, Kafka's `batch.size`). */
  readonly batchBytes: number;
  /** Each group reads everything once. */
  readonly consumerGroups: number;
  readonly retentionDays: number;
}

/** AWS requests per produce batch and per fetch, as `npm run bench` counts them from the SDK. */
export interface RequestProfile {
  /** One object per produce request, however many partitions' batches it carries. */
  readonly putsPerRequest: number;
  /** Reserve 1 + commit 1 (+ 1/16 for the sparse `byOffset` LSI entry) + claim 1 when idempotent. */
  readonly writeUnitsPerBatch: number;
  /** The idempotent producer's epoch check: once per function instance for ids without a
   * transactional id, once per request for transactional ones. */
  readonly readUnitsPerBatch: number;
  /** Per object, for each fetch request that reads from it: a segment alone in its object is
   * one GET; the segments a fetch of several partitions names in one object (a produce request's
   * batches) are one GET too (the answer's shared `objects`). */
  readonly getsPerObjectRead: number;
  /** Partition head, the `byOffset` LSI lookup when behind the stable hint, index Query pages. */
  /** Per partition a fetch reads (a fetch of several partitions reads each). */
  readonly readUnitsPerFetch: number;
  /** Retention (or merging) removes each index item once: the item, and its LSI entry if it has one. */
  readonly writeUnitsPerBatchRemoved: number;
}

/**
 * Measured by `npm run bench` (docs/cost-model.md has the run): 1 PUT per produce request; per
 * batch 3.07 WRU idempotent, 2.06 WRU without, at 16 KiB, 256 KiB and 1 MiB alike (reserve 1, claim 1
 * when idempotent, commit 1, and the sparse `byOffset` LSI entry on one commit in 16: taken as
 * 1/16); the idempotent producer's registry read is once per function instance (0.01–0.07 RRU
 * per batch in the bench), taken as 0; 1.00 GET per object per fetch that reads it (per segment
 * alone, per shared object read by the reference consumer); 1.3 RRU per fetch with the
 * fetch function's index cache, taken as 1.5. Index removal is not measured: 1 WRU for the item
 * and 1/16 for its LSI entry.
 */
export const MEASURED_PROFILES: Readonly<Record<"idempotent" | "plain", RequestProfile>> = {
  idempotent: { putsPerRequest: 1, writeUnitsPerBatch: 3.0625, readUnitsPerBatch: 0, getsPerObjectRead: 1, readUnitsPerFetch: 1.5, writeUnitsPerBatchRemoved: 1.0625 },
  plain: { putsPerRequest: 1, writeUnitsPerBatch: 2.0625, readUnitsPerBatch: 0, getsPerObjectRead: 1, readUnitsPerFetch: 1.5, writeUnitsPerBatchRemoved: 1.0625 },
};

/** What the model assumes beyond the measured request counts; every default in one place. */
export interface CostAssumptions {
  /** @default true (the SDK's default) */
  readonly idempotent: boolean;
  /** Partitions of the topic (MSK partition-hours; Seglog fetches per second). @default ceil(MB/s), at least 1 */
  readonly partitions: number;
  /** Batches each produce request carries, at most one per partition: 1 when records have no key
   * (the sticky partitioner fills one partition at a time); up to one per partition when records
   * spread over the partitions (by key, or by the round-robin partitioner) and `lingerMs` lets
   * every partition fill its batch. Each
   * request is one S3 PUT, one Lambda invocation, one API Gateway request. @default 1 */
  readonly batchesPerRequest: number;
  /** Where consumers read the bytes (the SDK Consumer's `readFrom`): `storage`, S3 GETs of the
   * segments a fetch names, so the fetch answer is small and the function does not wait for S3;
   * `api`, the bytes through the fetch function and API Gateway. @default "storage" */
  readonly readFrom: "storage" | "api";
  /** Bytes of one segment in a fetch answer that names segments: its offsets, and a presigned
   * URL carrying the function role's session token. An estimate. @default 1500 */
  readonly segmentAnswerBytes: number;
  /** Each consumer polls each partition this often (KCL polls a shard about once a second). @default 1000 */
  readonly fetchIntervalMs: number;
  /** Consumers in each group, the partitions dealt out among them. Reading from storage, a
   * consumer fetches its partitions in one request (at most 100 a request), as Kafka's consumer
   * sends one FetchRequest for all of them; through the API, one request per partition. @default 1 */
  readonly consumersPerGroup: number;
  /** Bytes per fetch, at most (Kafka's max.partition.fetch.bytes). @default 1048576 */
  readonly maxFetchBytes: number;
  /** Function memory, as infra/api.ts deploys them. @default 1024 */
  readonly produceMemoryMb: number;
  /** @default 1024 */
  readonly fetchMemoryMb: number;
  /** The topic's `segment.bytes`: maintenance merges runs of batches smaller than half of it
   * into objects of up to it (docs/maintenance.md). @default 16777216 (16 MiB) */
  readonly segmentBytes: number;
  /** The maintenance function's memory (infra/maintenance.ts). @default 512 */
  readonly maintenanceMemoryMb: number;
  /** Minutes between maintenance runs (infra/maintenance.ts). @default 5 */
  readonly maintenanceIntervalMinutes: number;
  /** Minutes between the runs that sweep (infra/maintenance.ts `sweepIntervalMinutes`): read every
   * index whole and list the objects; the runs between read only each index's ends. @default 60 */
  readonly maintenanceSweepIntervalMinutes: number;
  /** Bytes of an unmerged index item as a Query reads it: measured by the bench's merge suite,
   * 259 and 261 read units (4 KB each, consistent) for 4,000 items. @default 265 */
  readonly indexItemReadBytes: number;
  /** Lambda billed time per produce request: 3 storage round trips one after another (reserve, the PUT beside the claim, commit). An estimate, not a measurement. @default 40 */
  readonly produceBaseMs: number;
  /** Per fetch: head, index Query, the first GET. An estimate. @default 25 */
  readonly fetchBaseMs: number;
  /** Moving and checking data inside the function (~50 MB/s). An estimate. @default 20 */
  readonly msPerMb: number;
  /** Kafka RecordBatch v2: a record's length, attributes, deltas and lengths (no key, no headers). @default 10 */
  readonly recordFramingBytes: number;
  /** @default 61 */
  readonly batchHeaderBytes: number;
  /** One index item plus its LSI entry, as DynamoDB sizes storage (100 bytes overhead each). @default 400 */
  readonly indexItemBytes: number;
  /** CloudWatch Logs bytes per produce or fetch request: the function's EMF line (610–650
   * bytes, measured by `npm run bench`), Lambda's START, END and REPORT lines (about 270) and API
   * Gateway's access log line (about 400, the format `infra/api.ts` sets). @default 1300 */
  readonly logBytesPerRequest: number;
}

/** A merged index item without its sparse index: keys, offsets, counts, times, object key. An estimate. */
const MERGED_ITEM_BASE_BYTES = 300;
/** Replaced index items and objects stay this long after their merge before a sweep may delete
 * them: the maintenance's `mergeGraceMs`. */
const MERGE_GRACE_SECONDS = 15 * 60;

export function defaultAssumptions(workload: Workload): CostAssumptions {
  return {
    idempotent: true,
    partitions: Math.max(1, Math.ceil(workload.mbPerSec)),
    batchesPerRequest: 1,
    readFrom: "storage",
    segmentAnswerBytes: 1500,
    fetchIntervalMs: 1000,
    consumersPerGroup: 1,
    maxFetchBytes: 1_048_576,
    produceMemoryMb: 1024,
    fetchMemoryMb: 1024,
    segmentBytes: DEFAULT_TOPIC_CONFIG["segment.bytes"],
    maintenanceMemoryMb: 512,
    maintenanceIntervalMinutes: 5,
    maintenanceSweepIntervalMinutes: 60,
    indexItemReadBytes: 265,
    produceBaseMs: 40,
    fetchBaseMs: 25,
    msPerMb: 20,
    recordFramingBytes: 10,
    batchHeaderBytes: 61,
    indexItemBytes: 400,
    logBytesPerRequest: 1300,
  };
}

export interface CostLine {
  readonly service: string;
  readonly item: string;
  readonly quantity: number;
  readonly unit: string;
  readonly usdPerMonth: number;
}

export interface SystemCost {
  readonly system: string;
  readonly lines: readonly CostLine[];
  readonly usdPerMonth: number;
  /** Per GB of record bytes produced. */
  readonly usdPerGb: number;
}

export interface CostComparison {
  readonly workload: Workload;
  readonly assumptions: CostAssumptions;
  readonly profile: RequestProfile;
  /** Record bytes produced per month, in GB. */
  readonly gbPerMonth: number;
  readonly batchesPerSecond: number;
  readonly produceRequestsPerSecond: number;
  /** Partitions a fetch request reads, on average (1 through the API). */
  readonly partitionsPerFetch: number;
  /** A group's fetch requests (per round) that read from one produce request's object: one per
   * batch through the API; reading from storage, each consumer's fetch of several that reads any
   * of its batches. */
  readonly fetchersPerObject: number;
  /** Batches maintenance merges into one object; 0 when they are not small enough to merge. */
  readonly batchesPerMerge: number;
  readonly recordsPerBatch: number;
  readonly storedBatchBytes: number;
  readonly seglog: SystemCost;
  readonly kinesis: SystemCost;
  readonly msk: SystemCost;
  readonly seglogPercentOfKinesis: number;
  readonly seglogPercentOfMsk: number;
}

export interface EstimateOptions {
  readonly prices?: PriceTable;
  readonly assumptions?: Partial<CostAssumptions>;
  /** @default the measured profile for `assumptions.idempotent` */
  readonly profile?: RequestProfile;
}

export function validateWorkload(w: Workload): void {
  const positive = (n: number) => Number.isFinite(n) && n > 0;
  if (!positive(w.mbPerSec)) throw new RangeError("mbPerSec must be > 0");
  if (!positive(w.recordBytes)) throw new RangeError("recordBytes must be > 0");
  if (!positive(w.batchBytes)) throw new RangeError("batchBytes must be > 0");
  if (!Number.isInteger(w.consumerGroups) || w.consumerGroups < 0) throw new RangeError("consumerGroups must be an integer ≥ 0");
  if (!Number.isFinite(w.retentionDays) || w.retentionDays < 1) throw new RangeError("retentionDays must be ≥ 1");
}

function system(name: string, lines: CostLine[], gbPerMonth: number): SystemCost {
  const usdPerMonth = lines.reduce((sum, l) => sum + l.usdPerMonth, 0);
  return { system: name, lines, usdPerMonth, usdPerGb: usdPerMonth / gbPerMonth };
}

const line = (service: string, item: string, quantity: number, unit: string, unitPrice: number): CostLine => ({
  service,
  item,
  quantity,
  unit,
  usdPerMonth: quantity * unitPrice,
});

export function estimateCosts(workload: Workload, options: EstimateOptions = {}): CostComparison {
  validateWorkload(workload);
  const p = options.prices ?? PRICES;
  const a: CostAssumptions = { ...defaultAssumptions(workload), ...options.assumptions };
  const profile = options.profile ?? MEASURED_PROFILES[a.idempotent ? "idempotent" : "plain"];
  const { consumerGroups: groups, retentionDays: days } = workload;

  // The workload.
  const bytesPerSec = workload.mbPerSec * MiB;
  const gbPerMonth = (bytesPerSec * SECONDS_PER_MONTH) / GiB;
  const recordsPerSec = bytesPerSec / workload.recordBytes;
  // The producer seals a batch when it is full: whole records, at least one.
  const recordsPerBatch = Math.max(1, Math.floor(workload.batchBytes / workload.recordBytes));
  const batchesPerSec = recordsPerSec / recordsPerBatch;
  const batchesPerMonth = batchesPerSec * SECONDS_PER_MONTH;
  const storedBatchBytes = a.batchHeaderBytes + recordsPerBatch * (workload.recordBytes + a.recordFramingBytes);
  const storedBytesPerSec = batchesPerSec * storedBatchBytes;
  const apiUnits = (bytes: number) => Math.max(1, Math.ceil(bytes / p.apiGateway.httpMeteringBytes));
  const gbSeconds = (ms: number, memoryMb: number) => (ms / 1000) * (memoryMb / 1024);

  // Seglog: produce. The binary body: per batch a 4-byte partition, then the batch.
  if (!(a.batchesPerRequest >= 1 && a.batchesPerRequest <= a.partitions)) {
    throw new RangeError("batchesPerRequest must be from 1 to the number of partitions (a mean: requests may differ)");
  }
  const produceRequestBytes = a.batchesPerRequest * (storedBatchBytes + 4);
  const requestsPerMonth = batchesPerMonth / a.batchesPerRequest;
  const produceMs = a.produceBaseMs + (produceRequestBytes / MiB) * a.msPerMb;
  // Consume: every consumer polls every partition each interval, or more often when a partition
  // brings more than one fetch's worth per interval. A fetch returns whole batches, adding them
  // while it holds less than `maxFetchBytes`.
  const batchesPerPartitionPerSec = batchesPerSec / a.partitions;
  const batchesPerFullFetch = Math.max(1, Math.ceil(a.maxFetchBytes / storedBatchBytes));
  const fetchesPerPartitionPerSec = Math.max(1000 / a.fetchIntervalMs, batchesPerPartitionPerSec / batchesPerFullFetch);
  const batchesPerFetch = batchesPerPartitionPerSec / fetchesPerPartitionPerSec;
  const bytesPerFetch = batchesPerFetch * storedBatchBytes;
  if (!(Number.isInteger(a.consumersPerGroup) && a.consumersPerGroup >= 1)) throw new RangeError("consumersPerGroup must be a whole number ≥ 1");
  const partitionFetchesPerMonth = groups * a.partitions * fetchesPerPartitionPerSec * SECONDS_PER_MONTH;
  // Each round, a consumer asks for its partitions in requests of at most MAX_PARTITIONS_PER_FETCH;
  // the partitions are dealt out as evenly as they go.
  const consumers = Math.min(a.consumersPerGroup, a.partitions);
  const share = Math.floor(a.partitions / consumers);
  const larger = a.partitions % consumers;
  const requestsPerRound =
    a.readFrom === "api" ? a.partitions : larger * Math.ceil((share + 1) / MAX_PARTITIONS_PER_FETCH) + (consumers - larger) * Math.ceil(share / MAX_PARTITIONS_PER_FETCH);
  const partitionsPerFetch = a.partitions / requestsPerRound;
  // S3 GETs: each produce request's object is read once by every fetch request of a group that
  // reads any of its batches (through the API, the fetch function reads each batch alone).
  const fetchersPerObject = a.readFrom === "api" ? a.batchesPerRequest : readersOfObject(a.partitions, a.batchesPerRequest, consumers, share, larger);
  const fetchesPerMonth = partitionFetchesPerMonth / partitionsPerFetch;
  const fetchMs = a.fetchBaseMs + (a.readFrom === "api" ? (bytesPerFetch / MiB) * a.msPerMb : 0);
  // API Gateway meters the answer. Batches arrive evenly, so a fetch carries the whole number of
  // batches just below the mean or just above it, in the proportion that gives the mean.
  const batchesPerAnswer = batchesPerFetch * partitionsPerFetch;
  const fewer = Math.floor(batchesPerAnswer);
  const more = batchesPerAnswer - fewer;
  const answerBytes = a.readFrom === "api" ? storedBatchBytes : a.segmentAnswerBytes;
  const fetchApiUnits = (1 - more) * apiUnits(fewer * answerBytes) + more * apiUnits((fewer + 1) * answerBytes);
  // Maintenance merges small batches (under half of segment.bytes) into objects of up to
  // segment.bytes, the next run of up to 8 partitions at a time (as many as MERGE_ROUND_BYTES
  // holds): per object a GET in each round that merges batches of it, so an object with a batch of
  // each of 10 partitions is read in 2 rounds of 8 (measured: 1 GET per object when its partitions'
  // runs fit in one round; 1 per batch when each batch is an object); per merged object one PUT, the
  // claim on the head, the merged index item and its `byOffset` entry and, later, their removal
  // (the run's first item, whose key it takes, is then not removed on its own); the bytes read
  // and written once more by the maintenance function. The other replaced items' removal is the
  // index removal line, as retention would have removed them.
  const merged = storedBatchBytes * 2 < a.segmentBytes;
  const batchesPerMerge = Math.max(2, Math.floor(a.segmentBytes / storedBatchBytes));
  const mergesPerMonth = merged ? batchesPerMonth / batchesPerMerge : 0;
  const runsPerRound = Math.max(1, Math.min(MERGE_ROUND_PARTITIONS, Math.floor(MERGE_ROUND_BYTES / (batchesPerMerge * storedBatchBytes))));
  const mergeGetsPerMonth = merged ? requestsPerMonth * mergeReadsOfObject(a.partitions, a.batchesPerRequest, runsPerRound) : 0;
  // The merged item's sparse index: a point (8 bytes) at its first batch, then at the first batch
  // at least SPARSE_INDEX_STEP past the one before (src/core/merge.ts).
  const sparsePoints = Math.ceil(batchesPerMerge / Math.ceil(SPARSE_INDEX_STEP / storedBatchBytes));
  const mergedItemBytes = MERGED_ITEM_BASE_BYTES + 8 * sparsePoints;
  const writeUnitsPerMerge = 1 + 2 * (Math.ceil(mergedItemBytes / 1024) + 1) - profile.writeUnitsPerBatchRemoved;
  const mergeMs = ((2 * batchesPerMerge * storedBatchBytes) / MiB) * a.msPerMb;
  // A maintenance run that sweeps reads each partition's whole decided index from the log start
  // (one consistent Query page per 4 KB), and lists each partition's objects and the topic's
  // shared ones (1,000 a LIST): merged, the retained batches are one item and one object per
  // merge, and the recent ones an item and an object each: those merged since the last sweep
  // deleted the replaced ones that were past their grace period, and those since the last run.
  // The runs between read a page from each log start, the last claimed merge run and what came
  // since the last run (all of it when nothing merges: merges move where a light run reads from).
  const runSeconds = a.maintenanceIntervalMinutes * 60;
  const sweepSeconds = Math.max(runSeconds, a.maintenanceSweepIntervalMinutes * 60);
  const retainedBatches = batchesPerSec * days * SECONDS_PER_DAY;
  const recentBatches = batchesPerSec * (sweepSeconds + MERGE_GRACE_SECONDS + runSeconds);
  const indexBytesRead = merged ? (retainedBatches / batchesPerMerge) * mergedItemBytes + recentBatches * a.indexItemReadBytes : retainedBatches * a.indexItemReadBytes;
  const lightBytesRead = merged
    ? a.partitions * EXPIRED_PAGE * mergedItemBytes + (batchesPerSec * runSeconds + a.partitions * batchesPerMerge) * a.indexItemReadBytes
    : indexBytesRead;
  const objectsListed = merged ? retainedBatches / batchesPerMerge + recentBatches / a.batchesPerRequest : retainedBatches / a.batchesPerRequest;
  const maintenanceRunsPerMonth = (HOURS_PER_MONTH * 60) / a.maintenanceIntervalMinutes;
  const sweepsPerMonth = (HOURS_PER_MONTH * 3600) / sweepSeconds;
  const lightRunsPerMonth = maintenanceRunsPerMonth - sweepsPerMonth;
  const storedGb = (storedBytesPerSec * days * SECONDS_PER_DAY) / GiB;
  const indexGb = (batchesPerSec * days * SECONDS_PER_DAY * a.indexItemBytes) / GiB;

  const seglog = system(
    "Seglog",
    [
      line("S3", "PUT (produce)", requestsPerMonth * profile.putsPerRequest, "requests", p.s3.putPerRequest),
      line("S3", "GET (consume)", groups * requestsPerMonth * fetchersPerObject * profile.getsPerObjectRead, "requests", p.s3.getPerRequest),
      line("S3", "storage", storedGb, "GB-month", p.s3.storagePerGbMonth),
      line("DynamoDB", "write units (produce)", batchesPerMonth * profile.writeUnitsPerBatch, "WRU", p.dynamodb.perWriteUnit),
      line("DynamoDB", "write units (index removal)", batchesPerMonth * profile.writeUnitsPerBatchRemoved, "WRU", p.dynamodb.perWriteUnit),
      line("DynamoDB", "read units (produce)", batchesPerMonth * profile.readUnitsPerBatch, "RRU", p.dynamodb.perReadUnit),
      line("DynamoDB", "read units (fetch)", partitionFetchesPerMonth * profile.readUnitsPerFetch, "RRU", p.dynamodb.perReadUnit),
      line("DynamoDB", "storage (index)", indexGb, "GB-month", p.dynamodb.storagePerGbMonth),
      line("S3", "GET (merge)", mergeGetsPerMonth, "requests", p.s3.getPerRequest),
      line("S3", "PUT (merge)", mergesPerMonth, "requests", p.s3.putPerRequest),
      line("DynamoDB", "write units (merge)", mergesPerMonth * writeUnitsPerMerge, "WRU", p.dynamodb.perWriteUnit),
      line("DynamoDB", "read units (maintenance index reads)", (sweepsPerMonth * indexBytesRead + lightRunsPerMonth * lightBytesRead) / 4096, "RRU", p.dynamodb.perReadUnit),
      line("S3", "LIST (maintenance)", sweepsPerMonth * (a.partitions + 1 + objectsListed / 1000), "requests", p.s3.putPerRequest),
      line("Lambda", "duration arm64 (maintenance merges)", mergesPerMonth * gbSeconds(mergeMs, a.maintenanceMemoryMb), "GB-s", p.lambda.arm64PerGbSecond),
      line("Lambda", "requests (produce)", requestsPerMonth, "requests", p.lambda.perRequest),
      line("Lambda", "requests (fetch)", fetchesPerMonth, "requests", p.lambda.perRequest),
      line("Lambda", "duration arm64 (produce)", requestsPerMonth * gbSeconds(produceMs, a.produceMemoryMb), "GB-s", p.lambda.arm64PerGbSecond),
      line("Lambda", "duration arm64 (fetch)", fetchesPerMonth * gbSeconds(fetchMs, a.fetchMemoryMb), "GB-s", p.lambda.arm64PerGbSecond),
      line("API Gateway", "HTTP API (produce)", requestsPerMonth * apiUnits(produceRequestBytes), "512 KB requests", p.apiGateway.httpPerRequest),
      line("API Gateway", "HTTP API (fetch)", fetchesPerMonth * fetchApiUnits, "512 KB requests", p.apiGateway.httpPerRequest),
      line("CloudWatch", "Logs ingestion (request logs)", ((requestsPerMonth + fetchesPerMonth) * a.logBytesPerRequest) / GiB, "GB", p.cloudwatchLogs.ingestPerGb),
    ],
    gbPerMonth,
  );

  // Kinesis on-demand: records rounded up to whole KB going in and coming out.
  const k = p.kinesisOnDemand;
  const billedRecordBytes = Math.ceil(workload.recordBytes / k.recordRoundingBytes) * k.recordRoundingBytes;
  const kinesisGbIn = (recordsPerSec * billedRecordBytes * SECONDS_PER_MONTH) / GiB;
  const kinesisGbPerDay = (recordsPerSec * billedRecordBytes * SECONDS_PER_DAY) / GiB;
  const kinesis = system(
    "Kinesis Data Streams on-demand",
    [
      line("Kinesis", "stream-hours", HOURS_PER_MONTH, "stream-hours", k.perStreamHour),
      line("Kinesis", "data in", kinesisGbIn, "GB", k.perGbIn),
      line("Kinesis", "data retrieved", groups * kinesisGbIn, "GB", k.perGbRetrieved),
      line("Kinesis", "extended retention (24 h to 7 d)", kinesisGbPerDay * (Math.min(days, 7) - 1), "GB-month", k.extendedRetentionPerGbMonth),
      line("Kinesis", "long-term retention (> 7 d)", kinesisGbPerDay * Math.max(0, days - 7), "GB-month", k.longTermRetentionPerGbMonth),
    ],
    gbPerMonth,
  );

  const m = p.mskServerless;
  const msk = system(
    "MSK Serverless",
    [
      line("MSK", "cluster-hours", HOURS_PER_MONTH, "cluster-hours", m.perClusterHour),
      line("MSK", "partition-hours", a.partitions * HOURS_PER_MONTH, "partition-hours", m.perPartitionHour),
      line("MSK", "data in", gbPerMonth, "GB", m.perGbIn),
      line("MSK", "data out", groups * gbPerMonth, "GB", m.perGbOut),
      line("MSK", "storage", (bytesPerSec * days * SECONDS_PER_DAY) / GiB, "GB-month", m.storagePerGbMonth),
    ],
    gbPerMonth,
  );

  return {
    workload,
    assumptions: a,
    profile,
    gbPerMonth,
    batchesPerSecond: batchesPerSec,
    produceRequestsPerSecond: batchesPerSec / a.batchesPerRequest,
    partitionsPerFetch,
    fetchersPerObject,
    batchesPerMerge: merged ? batchesPerMerge : 0,
    recordsPerBatch,
    storedBatchBytes,
    seglog,
    kinesis,
    msk,
    seglogPercentOfKinesis: (100 * seglog.usdPerMonth) / kinesis.usdPerMonth,
    seglogPercentOfMsk: (100 * seglog.usdPerMonth) / msk.usdPerMonth,
  };
}

/**
 * The mean number of a group's fetch requests per round that read from an object holding `k`
 * batches of `k` distinct partitions out of `partitions` (k a mean, so a real number): each
 * consumer's partitions go in requests of at most `MAX_PARTITIONS_PER_FETCH`, and a request
 * reads the object when any of its partitions is among the object's, the chance being one less
 * the chance that none is: Π (partitions − k − i) / (partitions − i) over its partitions i.
 */
function readersOfObject(partitions: number, k: number, consumers: number, share: number, larger: number): number {
  let readers = 0;
  for (let c = 0; c < consumers; c++) {
    let left = c < larger ? share + 1 : share;
    while (left > 0) {
      const size = Math.min(left, MAX_PARTITIONS_PER_FETCH);
      readers += 1 - untouchedBy(partitions, k, size);
      left -= size;
    }
  }
  return readers;
}

/** The chance that an object with a batch of each of `k` of `partitions` partitions, drawn at
 * random, has none of a given `size` of them. */
function untouchedBy(partitions: number, k: number, size: number): number {
  let p = 1;
  for (let i = 0; i < size; i++) p *= Math.max(0, (partitions - k - i) / (partitions - i));
  return p;
}

/** GETs a merge makes of an object with a batch of each of `k` partitions: one for each group of
 * `group` consecutive partitions (merged together) that holds any of them. */
function mergeReadsOfObject(partitions: number, k: number, group: number): number {
  let reads = 0;
  for (let from = 0; from < partitions; from += group) reads += 1 - untouchedBy(partitions, k, Math.min(group, partitions - from));
  return reads;
}
