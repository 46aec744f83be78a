import { Duration } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import type * as lambda from "aws-cdk-lib/aws-lambda";
import { Construct } from "constructs";
import { METRIC, METRICS_DIMENSION, METRICS_NAMESPACE } from "../src/http/metrics.ts";
import type { FunctionName } from "../src/http/router.ts";
import type { SeglogApi } from "./api.ts";
import type { SeglogMaintenance } from "./maintenance.ts";
import type { SeglogStorage } from "./storage.ts";

export interface SeglogObservabilityProps {
  /** @default no API widgets or alarms */
  readonly api?: SeglogApi;
  /** @default the API's (or the maintenance construct's) storage */
  readonly storage?: SeglogStorage;
  /** @default no maintenance widgets or alarms */
  readonly maintenance?: SeglogMaintenance;
  /** The produce latency alarm fires when the p99 stays above this for 3 periods. @default 1000 */
  readonly produceLatencyP99ThresholdMs?: number;
  /** Period of every alarm and graph. @default 5 */
  readonly periodMinutes?: number;
  /** @default a name CloudFormation generates */
  readonly dashboardName?: string;
}

/**
 * A CloudWatch dashboard and alarms for one deployment. Alarms:
 * - per function, errors: Lambda `Errors` (crashes, timeouts) plus the EMF `ServerErrors`
 *   (5xx answers; the handlers never throw, so Lambda does not count those);
 * - per function, Lambda throttles (the account or reserved concurrency ran out);
 * - produce latency p99 (EMF `ProduceLatency`, the acks=all latency) above the threshold;
 * - DynamoDB read or write throttle events (a hot partition key, see DESIGN §2);
 * - API 5xx answers: those no function counts (a body over Lambda's 6 MB invoke limit, an
 *   integration timeout, a throttled invocation API Gateway answered itself);
 * - maintenance: a step that failed in 3 runs in a row (EMF `MaintenanceFailures`: the run
 *   itself succeeds, so Lambda's `Errors` misses it), or runs that keep running out of time
 *   (`MaintenanceIncomplete`): retention, merges and collection have stopped keeping up; or two
 *   sweeps in a row that did (`MaintenanceSweepIncomplete`): S3 garbage is piling up.
 * Alarms have no actions until you add some: `addAlarmAction(new SnsAction(topic))`.
 */
/** The longest an alarm may evaluate over: periods × evaluation periods (CloudWatch's PutMetricAlarm). */
const MAX_ALARM_SPAN_MINUTES = 7 * 24 * 60;

export class SeglogObservability extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  readonly alarms: cloudwatch.Alarm[] = [];

  constructor(scope: Construct, id: string, props: SeglogObservabilityProps = {}) {
    super(scope, id);
    const period = Duration.minutes(props.periodMinutes ?? 5);
    const thresholdMs = props.produceLatencyP99ThresholdMs ?? 1000;
    if (!(thresholdMs > 0)) throw new Error(`produceLatencyP99ThresholdMs must be positive, not ${thresholdMs}`);
    const storage = props.storage ?? props.api?.storage ?? props.maintenance?.storage;
    const api = props.api;
    const apiFunctions = Object.entries(api?.functions ?? {}) as [FunctionName, lambda.Function][];
    const allFunctions: [string, lambda.Function][] = [...apiFunctions, ...(props.maintenance ? [["maintenance", props.maintenance.function] as [string, lambda.Function]] : [])];

    const emf = (name: string, fn: lambda.IFunction, statistic = "Sum", label?: string) =>
      new cloudwatch.Metric({
        namespace: METRICS_NAMESPACE,
        metricName: name,
        dimensionsMap: { [METRICS_DIMENSION]: fn.functionName },
        statistic,
        period,
        ...(label === undefined ? {} : { label }),
      });

    for (const [name, fn] of allFunctions) {
      const isApi = name !== "maintenance";
      const errors = fn.metricErrors({ period, statistic: "Sum" });
      this.alarm(`${capitalize(name)}Errors`, {
        metric: isApi
          ? new cloudwatch.MathExpression({
              expression: "FILL(errors, 0) + FILL(serverErrors, 0)",
              usingMetrics: { errors, serverErrors: emf(METRIC.serverErrors, fn) },
              label: `${name} errors`,
              period,
            })
          : errors,
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `Seglog ${name}: invocations failed (crash or timeout)${isApi ? " or answered 5xx" : ""}`,
      });
      this.alarm(`${capitalize(name)}Throttles`, {
        metric: fn.metricThrottles({ period, statistic: "Sum" }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `Seglog ${name}: Lambda throttled invocations (concurrency exhausted)`,
      });
    }

    const produce = api?.functions.produce;
    if (produce) {
      this.alarm("ProduceLatencyP99", {
        metric: emf(METRIC.produceLatency, produce, "p99"),
        threshold: thresholdMs,
        evaluationPeriods: 3,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        alarmDescription: `Seglog produce: p99 latency above ${thresholdMs} ms for 3 periods`,
      });
    }

    if (api) {
      this.alarm("ApiServerErrors", {
        metric: api.metricServerErrors({ period, statistic: "Sum" }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: "Seglog API: 5xx answers from API Gateway (integration timeouts, bodies over Lambda's limit, throttled invocations, and the functions' own 5xx)",
      });
    }

    const maintenance = props.maintenance;
    if (maintenance) {
      // One period per scheduled run at least, so that every period can hold a run; 3 of 4 breaching,
      // as a rate() schedule is not aligned with the periods and now and then leaves one empty.
      const runPeriod = Duration.minutes(Math.max(props.periodMinutes ?? 5, maintenance.intervalMinutes));
      const runs = (name: string) =>
        new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: name, dimensionsMap: { [METRICS_DIMENSION]: maintenance.function.functionName }, statistic: "Sum", period: runPeriod });
      this.alarm("MaintenanceFailures", {
        metric: runs(METRIC.maintenanceFailures),
        threshold: 1,
        evaluationPeriods: 4,
        datapointsToAlarm: 3,
        alarmDescription: "Seglog maintenance: a step failed in 3 of the last 4 periods' runs (the run's log line names the last error)",
      });
      this.alarm("MaintenanceIncomplete", {
        metric: runs(METRIC.maintenanceIncomplete),
        threshold: 1,
        evaluationPeriods: 4,
        datapointsToAlarm: 3,
        alarmDescription: "Seglog maintenance: runs ran out of time before visiting every partition in 3 of the last 4 periods",
      });
      // Only a sweep deletes replaced segments, orphans and shared objects: one run in 12 by
      // default, which the alarm above, over runs of every kind, does not see fall behind.
      this.alarm("MaintenanceSweepIncomplete", {
        metric: new cloudwatch.Metric({
          namespace: METRICS_NAMESPACE,
          metricName: METRIC.maintenanceSweepIncomplete,
          dimensionsMap: { [METRICS_DIMENSION]: maintenance.function.functionName },
          statistic: "Sum",
          // CloudWatch evaluates at most 7 days: two periods of at most 3.5 days.
          period: Duration.minutes(Math.min(Math.max(runPeriod.toMinutes(), maintenance.sweepIntervalMinutes), MAX_ALARM_SPAN_MINUTES / 2)),
        }),
        threshold: 1,
        evaluationPeriods: 2,
        datapointsToAlarm: 2,
        alarmDescription: "Seglog maintenance: two sweeps in a row ran out of time: replaced segments, orphans and deleted records' shared objects are piling up in S3",
      });
    }

    let tableThrottles: cloudwatch.MathExpression | undefined;
    if (storage) {
      tableThrottles = new cloudwatch.MathExpression({
        expression: "FILL(reads, 0) + FILL(writes, 0)",
        usingMetrics: {
          reads: storage.table.metric("ReadThrottleEvents", { period, statistic: "Sum" }),
          writes: storage.table.metric("WriteThrottleEvents", { period, statistic: "Sum" }),
        },
        label: "DynamoDB throttle events",
        period,
      });
      this.alarm("TableThrottles", {
        metric: tableThrottles,
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: "Seglog table: DynamoDB throttled reads or writes (a hot partition key)",
      });
    }

    this.dashboard = new cloudwatch.Dashboard(this, "Dashboard", {
      ...(props.dashboardName === undefined ? {} : { dashboardName: props.dashboardName }),
      defaultInterval: Duration.hours(3),
    });
    const widget = (title: string, left: cloudwatch.IMetric[], right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width: 8, height: 6 });
    if (api) {
      this.dashboard.addWidgets(
        widget("API requests and errors", [api.metricRequests({ period, label: "requests" })], [
          api.metricClientErrors({ period, label: "4xx" }),
          api.metricServerErrors({ period, label: "5xx" }),
        ]),
        widget("API latency (ms)", [api.metricLatency({ period, statistic: "p50", label: "p50" }), api.metricLatency({ period, statistic: "p99", label: "p99" })]),
        new cloudwatch.AlarmStatusWidget({ title: "Alarms", alarms: this.alarms, width: 8, height: 6 }),
      );
    }
    const fetch = api?.functions.fetch;
    if (produce && fetch) {
      this.dashboard.addWidgets(
        widget("Records in / out", [emf(METRIC.recordsIn, produce, "Sum", "records in"), emf(METRIC.recordsOut, fetch, "Sum", "records out")]),
        widget("Bytes in / out", [emf(METRIC.bytesIn, produce, "Sum", "bytes in"), emf(METRIC.bytesOut, fetch, "Sum", "bytes out")]),
        widget("Produce latency (ms)", [
          emf(METRIC.produceLatency, produce, "p50", "p50"),
          emf(METRIC.produceLatency, produce, "p99", "p99"),
          emf(METRIC.produceLatency, produce, "Maximum", "max"),
        ]),
      );
    }
    if (apiFunctions.length > 0) {
      this.dashboard.addWidgets(
        widget("Aborted reservations, throttled answers", apiFunctions.flatMap(([name, fn]) => [
          emf(METRIC.aborts, fn, "Sum", `${name} aborts`),
          emf(METRIC.throttles, fn, "Sum", `${name} throttled`),
        ])),
        widget("Function errors (5xx answers and failures)", apiFunctions.map(([name, fn]) => emf(METRIC.serverErrors, fn, "Sum", `${name} 5xx`)),
          allFunctions.map(([name, fn]) => fn.metricErrors({ period, statistic: "Sum", label: `${name} failed` }))),
        widget("Function duration p99 (ms)", allFunctions.map(([name, fn]) => fn.metricDuration({ period, statistic: "p99", label: name }))),
      );
    }
    if (allFunctions.length > 0) {
      this.dashboard.addWidgets(
        widget("Invocations", allFunctions.map(([name, fn]) => fn.metricInvocations({ period, statistic: "Sum", label: name }))),
        widget("Lambda throttles", allFunctions.map(([name, fn]) => fn.metricThrottles({ period, statistic: "Sum", label: name }))),
      );
    }
    if (storage && tableThrottles) {
      this.dashboard.addWidgets(
        widget("DynamoDB capacity used", [
          storage.table.metricConsumedWriteCapacityUnits({ period, statistic: "Sum", label: "write units" }),
          storage.table.metricConsumedReadCapacityUnits({ period, statistic: "Sum", label: "read units" }),
        ], [tableThrottles]),
      );
    }
  }

  /** Sends every alarm's state changes to the given actions (an SNS topic, …). */
  addAlarmAction(...actions: cloudwatch.IAlarmAction[]): void {
    for (const alarm of this.alarms) {
      alarm.addAlarmAction(...actions);
      alarm.addOkAction(...actions);
    }
  }

  private alarm(id: string, props: Omit<cloudwatch.AlarmProps, "treatMissingData" | "comparisonOperator"> & { comparisonOperator?: cloudwatch.ComparisonOperator }): void {
    this.alarms.push(
      new cloudwatch.Alarm(this, id, {
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        // No traffic is not a failure.
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        ...props,
      }),
    );
  }
}

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
