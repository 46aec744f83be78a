/**
 * One structured JSON log line per request, which is also a CloudWatch embedded-metric-format
 * (EMF) document: CloudWatch Logs turns its numbers into metrics, with no agent, no SDK and no
 * extra request. The line carries the route, status and timing for Logs Insights, and the
 * metrics below under the namespace `Seglog`, dimension `FunctionName`.
 *
 *   {"_aws":{"Timestamp":…,"CloudWatchMetrics":[{"Namespace":"Seglog","Dimensions":[["FunctionName"]],
 *     "Metrics":[{"Name":"RecordsIn","Unit":"Count"},…]}]},
 *    "FunctionName":"…","RecordsIn":3,…,"level":"info","message":"request","method":"POST",
 *    "route":"/v1/topics/{topic}/records","path":"/v1/topics/orders/records","status":200,"durationMs":12.5}
 *
 * Each function emits only the metrics that mean something for it (every metric name per
 * function is a billed custom metric): produce the records and bytes in and its latency, fetch
 * the records and bytes out; all of them aborts, throttles and server errors, as 0 when none, so
 * that sums and alarms always have data. The infra dashboard and alarms import these names.
 */
import { iterateBatches } from "../core/codec/batch-header.ts";
import type { ApiGatewayResult, HttpRequest, HttpResponse } from "./event.ts";
import type { FunctionName } from "./router.ts";

export const METRICS_NAMESPACE = "Seglog";
export const METRICS_DIMENSION = "FunctionName";

export const METRIC = {
  /** Records a produce request appended (offsets assigned to batches that landed). */
  recordsIn: "RecordsIn",
  /** Request body bytes. */
  bytesIn: "BytesIn",
  /** Records a fetch returned (JSON records, or the record counts of the binary batches). */
  recordsOut: "RecordsOut",
  /** Response body bytes. */
  bytesOut: "BytesOut",
  /** Milliseconds from event to response, produce requests only: the ack latency (acks=all). */
  produceLatency: "ProduceLatency",
  /** Batches refused with `ReservationAborted`: a reader aborted the reservation first. */
  aborts: "Aborts",
  /** Requests or batches answered `Throttled` (DynamoDB or S3 throttling). */
  throttles: "Throttles",
  /** Answers with status 500 and above other than throttling: the handler never throws, so the
   * Lambda `Errors` metric misses these. */
  serverErrors: "ServerErrors",
  /** Partitions or topics whose maintenance step stopped on an error in a run (the next run
   * retries them): the maintenance function's, which answers no requests. */
  maintenanceFailures: "MaintenanceFailures",
  /** 1 when a maintenance run ran out of time before it visited every partition, else 0. */
  maintenanceIncomplete: "MaintenanceIncomplete",
  /** 1 when a sweep (the one run an hour that deletes replaced segments, orphans and shared
   * objects) ran out of time, else 0; light runs send none. */
  maintenanceSweepIncomplete: "MaintenanceSweepIncomplete",
} as const;

type MetricName = (typeof METRIC)[keyof typeof METRIC];

const UNITS: Readonly<Record<MetricName, string>> = {
  RecordsIn: "Count",
  BytesIn: "Bytes",
  RecordsOut: "Count",
  BytesOut: "Bytes",
  ProduceLatency: "Milliseconds",
  Aborts: "Count",
  Throttles: "Count",
  ServerErrors: "Count",
  MaintenanceFailures: "Count",
  MaintenanceIncomplete: "Count",
  MaintenanceSweepIncomplete: "Count",
};

/** What the router tells an observer about each routed request. */
export interface RequestObservation {
  readonly fn: FunctionName;
  readonly request: HttpRequest;
  /** The route's path pattern, e.g. `/v1/topics/{topic}/records`; absent when none matched. */
  readonly route: string | undefined;
  readonly response: HttpResponse;
  readonly result: ApiGatewayResult;
  readonly durationMs: number;
}

export type RequestObserver = (observation: RequestObservation) => void;

/** The EMF envelope: CloudWatch turns each of `values` into a metric of the function. */
function emfLine(functionName: string, nowMs: number, values: Partial<Record<MetricName, number>>): Record<string, unknown> {
  const names = Object.keys(values) as MetricName[];
  return {
    _aws: {
      Timestamp: nowMs,
      CloudWatchMetrics: [
        {
          Namespace: METRICS_NAMESPACE,
          Dimensions: [[METRICS_DIMENSION]],
          Metrics: names.map((name) => ({ Name: name, Unit: UNITS[name] })),
        },
      ],
    },
    [METRICS_DIMENSION]: functionName,
    ...values,
  };
}

/** The log line (and EMF document) for one request. Pure: `nowMs` and the function name come in. */
export function requestLogEntry(o: RequestObservation, functionName: string, nowMs: number): Record<string, unknown> {
  return {
    ...emfLine(functionName, nowMs, metricValues(o)),
    level: o.result.statusCode >= 500 ? "error" : o.result.statusCode >= 400 ? "warn" : "info",
    message: "request",
    method: o.request.method,
    route: o.route ?? null,
    path: o.request.path,
    status: o.result.statusCode,
    durationMs: Math.round(o.durationMs * 10) / 10,
    ...errorFields(o.response),
  };
}

/**
 * The log line (and EMF document) for one maintenance run: the report, and its failures and
 * whether it ran out of time as metrics, so that an alarm sees a step that keeps failing
 * (the run itself succeeds: each step's failure is isolated and retried by the next run).
 */
export function maintenanceLogEntry(report: { readonly failures: number; readonly incomplete: boolean; readonly sweep: boolean }, functionName: string, nowMs: number): Record<string, unknown> {
  const values = { MaintenanceFailures: report.failures, MaintenanceIncomplete: report.incomplete ? 1 : 0, ...(report.sweep ? { MaintenanceSweepIncomplete: report.incomplete ? 1 : 0 } : {}) };
  return {
    ...emfLine(functionName, nowMs, values),
    ...report,
    level: report.failures > 0 ? "error" : report.incomplete ? "warn" : "info",
    message: "maintenance run",
  };
}

function metricValues(o: RequestObservation): Partial<Record<MetricName, number>> {
  const outcome = outcomes(o.response);
  const common = { Aborts: outcome.aborts, Throttles: outcome.throttles, ServerErrors: outcome.serverErrors };
  if (o.fn === "produce") {
    return {
      RecordsIn: recordsIn(o.response),
      BytesIn: o.request.body.byteLength,
      ProduceLatency: Math.round(o.durationMs * 10) / 10,
      ...common,
    };
  }
  if (o.fn === "fetch") return { RecordsOut: recordsOut(o.response), BytesOut: bodyBytes(o.result), ...common };
  return common;
}

interface ErrorJson {
  readonly kind?: unknown;
  readonly code?: unknown;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const errorOf = (v: unknown): ErrorJson | undefined => (isRecord(v) && isRecord(v["error"]) ? (v["error"] as ErrorJson) : undefined);

/** Counts aborts and throttles per failed batch of a produce answer, else per request. */
function outcomes(response: HttpResponse): { aborts: number; throttles: number; serverErrors: number } {
  const body = response.body;
  const offsets = isRecord(body) && Array.isArray(body["offsets"]) ? body["offsets"] : undefined;
  const errors = offsets ? offsets.map(errorOf).filter((e) => e !== undefined) : [errorOf(body)].filter((e) => e !== undefined);
  const throttled = (e: ErrorJson) => e.kind === "Throttled";
  return {
    aborts: errors.filter((e) => e.code === "ReservationAborted").length,
    throttles: errors.filter(throttled).length,
    serverErrors: response.status >= 500 && !errors.some(throttled) ? 1 : 0,
  };
}

/** `{offsets:[{count}|{error}]}`: the offsets assigned to batches that landed are its records. */
function recordsIn(response: HttpResponse): number {
  const body = response.body;
  if (!isRecord(body) || !Array.isArray(body["offsets"])) return 0;
  let n = 0;
  for (const o of body["offsets"]) if (isRecord(o) && typeof o["count"] === "number") n += o["count"];
  return n;
}

/** JSON: the records array; binary: the record counts in the batch headers (no decoding). */
function recordsOut(response: HttpResponse): number {
  if (response.status !== 200) return 0;
  const body = response.body;
  if (body instanceof Uint8Array) {
    let n = 0;
    try {
      for (const { header } of iterateBatches(body)) n += header.recordCount;
    } catch {
      // A body the server produced is well formed; a metric must never fail a request.
    }
    return n;
  }
  return isRecord(body) && Array.isArray(body["records"]) ? body["records"].length : 0;
}

function bodyBytes(result: ApiGatewayResult): number {
  return result.isBase64Encoded ? Buffer.byteLength(result.body, "base64") : Buffer.byteLength(result.body, "utf8");
}

function errorFields(response: HttpResponse): Record<string, unknown> {
  const error = errorOf(response.body);
  if (!error) return {};
  return { errorKind: error.kind, ...(typeof error.code === "string" ? { errorCode: error.code } : {}) };
}

/** Writes one EMF line per request. Never throws: a metric must not fail the request it measures. */
export function emfObserver(functionName: string, write: (line: string) => void = (line) => console.log(line)): RequestObserver {
  return (o) => {
    try {
      write(JSON.stringify(requestLogEntry(o, functionName, Date.now())));
    } catch {
      // Dropping one log line is better than turning a served request into a failure.
    }
  };
}

/**
 * The observer `lambdaHandler` uses unless given one: EMF lines inside Lambda (where
 * `AWS_LAMBDA_FUNCTION_NAME` is set), nothing elsewhere (`seglog dev`, tests), and nothing when
 * `SEGLOG_METRICS=off`.
 */
export function defaultObserver(env: Readonly<Record<string, string | undefined>> = process.env): RequestObserver | undefined {
  const functionName = env["AWS_LAMBDA_FUNCTION_NAME"];
  if (functionName === undefined || functionName === "" || env["SEGLOG_METRICS"] === "off") return undefined;
  return emfObserver(functionName);
}
