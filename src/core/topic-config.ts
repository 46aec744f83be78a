import { invalid } from "./errors.ts";

/** Kafka's topic name rule: legal characters, 1–249 long, and not `.` or `..`. */
const LEGAL_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

export interface NameCheck {
  /** Kafka's warning for names that mix `.` and `_`, which collide in metric names. */
  readonly warning?: string;
}

export function validateTopicName(name: string): NameCheck {
  if (!LEGAL_NAME.test(name) || name === "." || name === "..") {
    throw invalid(
      `Invalid topic name '${name.slice(0, 300)}': use 1-249 of [a-zA-Z0-9._-], and not '.' or '..'`,
      "InvalidTopicName",
    );
  }
  if (name.includes(".") && name.includes("_")) {
    return {
      warning:
        "Due to limitations in metric names, topics with a period ('.') or underscore ('_') could collide. To avoid issues it is best to use either, but not both.",
    };
  }
  return {};
}

/** Topic configuration with Kafka's names and defaults. */
export interface TopicConfig {
  "retention.ms": number;
  "retention.bytes": number;
  "max.message.bytes": number;
  /** Target size of a merged segment (Kafka: the size a segment file rolls at). */
  "segment.bytes": number;
}

export const DEFAULT_TOPIC_CONFIG: Readonly<TopicConfig> = {
  "retention.ms": 604_800_000,
  "retention.bytes": -1,
  "max.message.bytes": 1_048_588,
  "segment.bytes": 16 * 1024 * 1024,
};

/** A record batch must fit one Lambda request and one fetch response: Lambda takes 6 MB each
 * way, and API Gateway passes binary bodies in base64 (4/3 larger), so 4 MiB. */
export const MAX_MESSAGE_BYTES_LIMIT = 4 * 1024 * 1024;

export const MAX_PARTITIONS = 10_000;

/**
 * The largest `segment.bytes`: a merge holds the segments it reads (up to 1.5 times a round's
 * bytes, `MERGE_ROUND_BYTES`, at least one run) and the merged copy. At 256 MiB, one run's merge
 * took 556 MB, past the maintenance function's 512; at 64 MiB it stays within it. A topic set
 * higher before this bound merges up to it (`Maintenance.mergeRuns`).
 */
export const MAX_SEGMENT_BYTES = 64 * 1024 * 1024;

/** Each setting's allowed range, inclusive. */
const CONFIG_RULES: Record<keyof TopicConfig, { readonly min: number; readonly max: number; readonly note?: string }> = {
  // 0 as Kafka: every segment goes at the next run (a purge)
  "retention.ms": { min: -1, max: Number.MAX_SAFE_INTEGER, note: "-1 keeps records forever" },
  "retention.bytes": { min: -1, max: Number.MAX_SAFE_INTEGER, note: "-1 for no limit" },
  "max.message.bytes": { min: 64, max: MAX_MESSAGE_BYTES_LIMIT },
  // a merge holds the segments it reads and the merged copy in the maintenance function's memory
  "segment.bytes": { min: 16 * 1024, max: MAX_SEGMENT_BYTES },
};

const isConfigKey = (k: string): k is keyof TopicConfig => Object.hasOwn(CONFIG_RULES, k);

/** Validates a partial config (values as numbers or numeric strings, as the CLI's `k=v`). */
export function parseTopicConfig(input: unknown): Partial<TopicConfig> {
  if (input === undefined || input === null) return {};
  if (typeof input !== "object" || Array.isArray(input)) throw invalid("config must be an object");
  const out: Partial<TopicConfig> = {};
  for (const [key, raw] of Object.entries(input)) {
    if (!isConfigKey(key)) {
      throw invalid(
        `Unknown topic config '${key}'; supported: ${Object.keys(CONFIG_RULES).join(", ")}`,
        "InvalidConfig",
      );
    }
    const value = typeof raw === "string" && /^-?\d+$/.test(raw) ? Number(raw) : raw;
    const rule = CONFIG_RULES[key];
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < rule.min || value > rule.max) {
      const range = rule.max === Number.MAX_SAFE_INTEGER ? `an integer ≥ ${rule.min}` : `an integer from ${rule.min} to ${rule.max}`;
      throw invalid(`Invalid value for ${key}: ${JSON.stringify(raw)}; it must be ${range}${rule.note === undefined ? "" : ` (${rule.note})`}`, "InvalidConfig");
    }
    out[key] = value;
  }
  return out;
}

export function validatePartitionCount(value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > MAX_PARTITIONS) {
    throw invalid(`partitions must be an integer from 1 to ${MAX_PARTITIONS}`, "InvalidPartitions");
  }
  return value;
}
