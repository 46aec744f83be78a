/**
 * AWS list prices for us-east-1 (US East, N. Virginia), in US dollars, on-demand, first pricing
 * tier. ONE dated table: the cost model reads every price from here. Where each price comes from,
 * and how it was read, is in docs/cost-model.md. Re-read them all when this date gets old.
 *
 * GB means 2^30 bytes (AWS bills data in binary units; Kinesis rounds records up to 1,024 bytes).
 * A month is 730 hours, as AWS's pricing pages and calculator use.
 */
export const PRICES_READ_ON = "2026-11-21";
export const PRICES_REGION = "us-east-1";
export const HOURS_PER_MONTH = 730;

export const PRICES = {
  s3: {
    /** S3 Standard PUT, COPY, POST, LIST: $0.005 per 1,000 requests. */
    putPerRequest: 0.005 / 1000,
    /** S3 Standard GET, SELECT and all other requests: $0.0004 per 1,000. */
    getPerRequest: 0.0004 / 1000,
    /** S3 Standard storage, first 50 TB per month. */
    storagePerGbMonth: 0.023,
  },
  dynamodb: {
    /** On-demand write request unit (1 KB written; an LSI write is another unit), since 2024-11-01. */
    perWriteUnit: 0.625 / 1e6,
    /** On-demand read request unit (a strongly consistent read of up to 4 KB). */
    perReadUnit: 0.125 / 1e6,
    /** Standard table class storage, beyond the free 25 GB. */
    storagePerGbMonth: 0.25,
  },
  lambda: {
    /** Arm (Graviton) duration, first 7.5 billion GB-seconds per month. */
    arm64PerGbSecond: 0.0000133334,
    perRequest: 0.2 / 1e6,
  },
  apiGateway: {
    /** HTTP API, first 300 million requests per month. */
    httpPerRequest: 1.0 / 1e6,
    /** HTTP API requests are metered in 512 KB increments: 513 KB is billed as two requests. */
    httpMeteringBytes: 512 * 1024,
  },
  cloudwatchLogs: {
    /** Standard log class ingestion, per GB (Lambda's own logs: the first 10 TB a month). */
    ingestPerGb: 0.5,
  },
  kinesisOnDemand: {
    /** On-demand (standard) stream, per stream-hour. */
    perStreamHour: 0.04,
    /** Data in, per GB, each record rounded up to a multiple of 1 KB. */
    perGbIn: 0.08,
    /** Data retrievals (shared-throughput consumers), per GB. */
    perGbRetrieved: 0.04,
    /** Extended retention: data kept beyond 24 hours, up to 7 days. */
    extendedRetentionPerGbMonth: 0.1,
    /** Long-term retention: data kept beyond 7 days. */
    longTermRetentionPerGbMonth: 0.023,
    recordRoundingBytes: 1024,
  },
  mskServerless: {
    perClusterHour: 0.75,
    perPartitionHour: 0.0015,
    perGbIn: 0.1,
    perGbOut: 0.05,
    storagePerGbMonth: 0.1,
  },
} as const;

/** The table's shape with plain numbers, so that a caller can price with other numbers. */
export type PriceTable = { readonly [S in keyof typeof PRICES]: { readonly [K in keyof (typeof PRICES)[S]]: number } };
