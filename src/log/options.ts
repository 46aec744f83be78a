/** Every tunable of the log engine, with its default, in one place. */
export interface LogOptions {
  /** A missing seq older than this is aborted by readers. Must exceed the produce function's timeout. */
  readonly abortTimeoutMs: number;
  /** How long a function instance trusts its cached topic metadata (like Kafka's metadata.max.age.ms). */
  readonly topicCacheMs: number;
  /** How often a waiting long poll re-reads the partition's head: a record waits up to this long
   * before a waiting fetch sees it, and each re-read is a DynamoDB read (`SEGLOG_POLL_INTERVAL_MS`). */
  readonly pollIntervalMs: number;
  /** Long-poll default (Kafka's fetch.max.wait.ms) and ceiling (below API Gateway's 29 s). */
  readonly defaultMaxWaitMs: number;
  readonly maxWaitMsLimit: number;
  /** Default and ceiling of a fetch's bytes (Kafka's max.partition.fetch.bytes is 1 MiB). */
  readonly defaultMaxBytes: number;
  readonly maxBytesLimit: number;
  /** Readers move the stable hint once they have walked this many decided seqs past it. */
  readonly stableAdvanceSeqs: number;
  /** Index items read per Query page. */
  readonly indexPageSize: number;
  /** How long a function instance reuses the decided index entries it read (src/log/index-cache.ts).
   * Must stay well below the maintenance's merge grace period (15 min). */
  readonly indexCacheMs: number;
  /** Parallel S3 GETs per fetch. */
  readonly getConcurrency: number;
  /** A fetch starts no S3 GET after this long (it returns what it read), so that a fetch of
   * many small segments ends well within the fetch function's timeout (28 s: the longest wait, 20 s,
   * this budget, and time for the GETs started before it ended). */
  readonly readBudgetMs: number;
  /** At most this many segments in a fetch answer that names them (each is a GET for the client). */
  readonly maxSegmentsPerLocate: number;
  /** How long a presigned segment URL works (at most 7 days, SigV4's limit). With the index cache
   * and the fetch timeout it must stay below the merge grace period (15 min): the segments a merge
   * replaced are deleted after it. */
  readonly segmentUrlExpirySeconds: number;
  readonly now: () => number;
}

export const DEFAULT_LOG_OPTIONS: LogOptions = {
  abortTimeoutMs: 30_000,
  topicCacheMs: 5_000,
  pollIntervalMs: 100,
  defaultMaxWaitMs: 500,
  maxWaitMsLimit: 20_000,
  defaultMaxBytes: 1_048_576,
  maxBytesLimit: 4 * 1024 * 1024, // a binary response is base64 on its way out of Lambda (6 MB)
  stableAdvanceSeqs: 32,
  indexPageSize: 100,
  indexCacheMs: 60_000,
  getConcurrency: 16,
  readBudgetMs: 5_000,
  maxSegmentsPerLocate: 1_000,
  segmentUrlExpirySeconds: 300,
  now: () => Date.now(),
};

/** Reads overrides from the environment (`SEGLOG_ABORT_TIMEOUT_MS`, …) for the Lambda handlers. */
export function logOptionsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): Partial<LogOptions> {
  const out: { -readonly [K in keyof LogOptions]?: LogOptions[K] } = {};
  const abort = Number(env["SEGLOG_ABORT_TIMEOUT_MS"]);
  if (Number.isSafeInteger(abort) && abort > 0) out.abortTimeoutMs = abort;
  const cache = Number(env["SEGLOG_TOPIC_CACHE_MS"]);
  if (env["SEGLOG_TOPIC_CACHE_MS"] !== undefined && Number.isSafeInteger(cache) && cache >= 0) out.topicCacheMs = cache;
  // Empty is unset; anything else but a whole number is refused, quoted as it was set.
  const poll = env["SEGLOG_POLL_INTERVAL_MS"]?.trim();
  if (poll !== undefined && poll !== "") {
    if (!/^\d{1,9}$/.test(poll)) throw new RangeError(`SEGLOG_POLL_INTERVAL_MS must be a whole number of ms, not '${poll}'`);
    out.pollIntervalMs = Number(poll);
  }
  return out;
}

/** The defaults with `options` over them, checked: what a Log runs with. */
export function checkedLogOptions(options: Partial<LogOptions>): LogOptions {
  return checkLogOptions({ ...DEFAULT_LOG_OPTIONS, ...options });
}

/** Refuses settings the engine cannot work with, at construction rather than at the first fetch. */
function checkLogOptions(o: LogOptions): LogOptions {
  if (!Number.isSafeInteger(o.pollIntervalMs) || o.pollIntervalMs < 1 || o.pollIntervalMs > o.maxWaitMsLimit) {
    throw new RangeError(`pollIntervalMs (SEGLOG_POLL_INTERVAL_MS) must be a whole number of ms from 1 to ${o.maxWaitMsLimit}, not ${o.pollIntervalMs}`);
  }
  if (!Number.isSafeInteger(o.maxSegmentsPerLocate) || o.maxSegmentsPerLocate < 1) {
    throw new RangeError(`maxSegmentsPerLocate must be a whole number ≥ 1, not ${o.maxSegmentsPerLocate}`);
  }
  if (!Number.isSafeInteger(o.segmentUrlExpirySeconds) || o.segmentUrlExpirySeconds < 1 || o.segmentUrlExpirySeconds > 604_800) {
    throw new RangeError(`segmentUrlExpirySeconds must be from 1 to 604800 (7 days), not ${o.segmentUrlExpirySeconds}`);
  }
  return o;
}
