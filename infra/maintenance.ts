import { Duration } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import type * as iam from "aws-cdk-lib/aws-iam";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import type * as logs from "aws-cdk-lib/aws-logs";
import { Construct } from "constructs";
import { DEFAULT_LOG_OPTIONS } from "../src/log/options.ts";
import type { SeglogApi } from "./api.ts";
import { SeglogFunction } from "./function.ts";
import { SeglogStorage } from "./storage.ts";

export interface SeglogMaintenanceProps {
  /**
   * The API whose log it maintains: its storage, and its `abortTimeoutMs`, which the maintenance
   * function must share (it aborts stalled reservations too, and one sooner than the API's would
   * abort produces still in flight). @default none: `storage` and `abortTimeoutMs` as given
   */
  readonly api?: SeglogApi;
  /** The storage to maintain. @default the API's, else a new `SeglogStorage` in this construct */
  readonly storage?: SeglogStorage;
  /** Minutes between runs. @default 5 (Kafka's `log.retention.check.interval.ms` is 5 minutes) */
  readonly intervalMinutes?: number;
  /**
   * Minutes between sweeps: the first run of each reads every index whole, deletes what merges
   * replaced and collects orphaned and unnamed shared objects; the runs between read only the
   * ends of each index (docs/maintenance.md, "Light runs and sweeps"). At most `intervalMinutes`
   * makes every run a sweep. @default 60
   */
  readonly sweepIntervalMinutes?: number;
  /** @default 512 */
  readonly memoryMb?: number;
  /**
   * A run works until 15 s before its timeout, then reports (`functions/maintenance.ts`).
   * @default the interval minus 30 s (270 for 5 minutes), so that runs do not overlap
   */
  readonly timeoutSeconds?: number;
  /** Same meaning as the API's: the maintenance function aborts stalled reservations too. @default the API's, else 30000 */
  readonly abortTimeoutMs?: number;
  /** Turns the schedule off without removing it. @default true */
  readonly enabled?: boolean;
  /** @default one month */
  readonly logRetentionDays?: logs.RetentionDays;
}

/**
 * The maintenance function (`functions/maintenance.ts`, docs/maintenance.md: aborts stale
 * reservations, applies retention, collects orphaned objects, removes deleted topics' data) and
 * the EventBridge rule that runs it. Its role gets what that work needs
 * (`SeglogStorage.grantMaintenance`). A missed or failed run is not retried: the next one, a few
 * minutes later, does the same work, and every step is safe to repeat.
 */
export class SeglogMaintenance extends Construct {
  readonly storage: SeglogStorage;
  readonly function: lambda.Function;
  readonly rule: events.Rule;
  /** Minutes between scheduled runs. */
  readonly intervalMinutes: number;
  /** Minutes between sweeps (the first scheduled run of each such interval sweeps). */
  readonly sweepIntervalMinutes: number;

  constructor(scope: Construct, id: string, props: SeglogMaintenanceProps = {}) {
    super(scope, id);
    const intervalMinutes = (this.intervalMinutes = props.intervalMinutes ?? 5);
    if (!Number.isInteger(intervalMinutes) || intervalMinutes < 1) throw new Error(`intervalMinutes must be a whole number ≥ 1, not ${intervalMinutes}`);
    const sweepIntervalMinutes = (this.sweepIntervalMinutes = props.sweepIntervalMinutes ?? 60);
    if (!Number.isInteger(sweepIntervalMinutes) || sweepIntervalMinutes < 1) throw new Error(`sweepIntervalMinutes must be a whole number ≥ 1, not ${sweepIntervalMinutes}`);
    const timeoutSeconds = props.timeoutSeconds ?? Math.min(900, intervalMinutes * 60 - 30);
    if (!Number.isInteger(timeoutSeconds) || timeoutSeconds < 30 || timeoutSeconds > 900) throw new Error(`timeoutSeconds must be 30..900, not ${timeoutSeconds}`);
    const { api } = props;
    if (api !== undefined && props.storage !== undefined && props.storage !== api.storage) throw new Error("storage must be the API's storage when both are given");
    if (api !== undefined && props.abortTimeoutMs !== undefined && props.abortTimeoutMs !== api.abortTimeoutMs) {
      throw new Error(`abortTimeoutMs (${props.abortTimeoutMs}) must be the API's (${api.abortTimeoutMs}): maintenance aborts the API's stalled reservations`);
    }
    const abortTimeoutMs = api?.abortTimeoutMs ?? props.abortTimeoutMs ?? DEFAULT_LOG_OPTIONS.abortTimeoutMs;
    this.storage = props.storage ?? api?.storage ?? new SeglogStorage(this, "Storage");
    const f = new SeglogFunction(this, "Maintenance", {
      name: "maintenance",
      description: "Seglog maintenance: stale reservations, retention, orphaned objects, deleted topics (scheduled)",
      memoryMb: props.memoryMb ?? 512,
      timeoutSeconds,
      environment: {
        SEGLOG_BUCKET: this.storage.bucket.bucketName,
        SEGLOG_TABLE: this.storage.table.tableName,
        SEGLOG_ABORT_TIMEOUT_MS: String(abortTimeoutMs),
        SEGLOG_MAINTENANCE_INTERVAL_MINUTES: String(intervalMinutes),
        SEGLOG_SWEEP_INTERVAL_MINUTES: String(sweepIntervalMinutes),
        // Longer than the API's: a DeleteObjects of 1,000 keys can take seconds to answer.
        SEGLOG_STORAGE_TIMEOUT_MS: "10000",
      },
      ...(props.logRetentionDays === undefined ? {} : { logRetentionDays: props.logRetentionDays }),
    });
    this.storage.grantMaintenance(f.role);
    this.function = f.function;
    // Not retried: EventBridge's own retries are off below, and Lambda retries an event it invokes
    // asynchronously twice unless told not to. The next scheduled run does the same work.
    this.function.configureAsyncInvoke({ retryAttempts: 0 });
    this.rule = new events.Rule(this, "Schedule", {
      description: `Runs Seglog maintenance every ${intervalMinutes} minutes`,
      schedule: events.Schedule.rate(Duration.minutes(intervalMinutes)),
      enabled: props.enabled ?? true,
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });
  }

  /** Lets a principal run maintenance on demand (`aws lambda invoke`). */
  grantInvoke(grantee: iam.IGrantable): iam.Grant {
    return this.function.grantInvoke(grantee);
  }
}
