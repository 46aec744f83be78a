import { describe, expect, it } from "vitest";
import { encodeRecordBatch } from "../../src/core/codec/record-batch.ts";
import { toApiGatewayResult, type HttpRequest, type HttpResponse } from "../../src/http/event.ts";
import { defaultObserver, emfObserver, maintenanceLogEntry, requestLogEntry, type RequestObservation } from "../../src/http/metrics.ts";
import type { FunctionName } from "../../src/http/router.ts";

const request = (body = ""): HttpRequest => ({ method: "POST", path: "/v1/topics/t/records", query: {}, headers: {}, body: Buffer.from(body) });
const observation = (fn: FunctionName, response: HttpResponse, body = ""): RequestObservation => ({
  fn,
  request: request(body),
  route: "/v1/topics/{topic}/records",
  response,
  result: toApiGatewayResult(response),
  durationMs: 12.34,
});
const error = (kind: string, code?: string) => ({ kind, message: "m", retriable: true, ...(code ? { code } : {}) });

describe("EMF request lines", () => {
  it("a partly failed produce (207): records in for the batches that landed, one abort, one throttle", () => {
    const entry = requestLogEntry(
      observation(
        "produce",
        {
          status: 207,
          body: {
            error: error("Conflict", "ReservationAborted"),
            offsets: [
              { partition: 0, baseOffset: 10, lastOffset: 14, count: 5 },
              { partition: 1, error: error("Conflict", "ReservationAborted") },
              { partition: 2, error: error("Throttled") },
            ],
          },
        },
        "0123456789",
      ),
      "fn",
      1000,
    );
    expect(entry).toMatchObject({ RecordsIn: 5, BytesIn: 10, ProduceLatency: 12.3, Aborts: 1, Throttles: 1, ServerErrors: 0, status: 207, level: "info" });
    expect(entry["_aws"]).toEqual({
      Timestamp: 1000,
      CloudWatchMetrics: [
        {
          Namespace: "Seglog",
          Dimensions: [["FunctionName"]],
          Metrics: [
            { Name: "RecordsIn", Unit: "Count" },
            { Name: "BytesIn", Unit: "Bytes" },
            { Name: "ProduceLatency", Unit: "Milliseconds" },
            { Name: "Aborts", Unit: "Count" },
            { Name: "Throttles", Unit: "Count" },
            { Name: "ServerErrors", Unit: "Count" },
          ],
        },
      ],
    });
  });

  it("throttled answers count as throttles, not server errors; internal errors as server errors", () => {
    expect(requestLogEntry(observation("admin", { status: 503, body: { error: error("Throttled") } }), "fn", 0)).toMatchObject({
      Throttles: 1,
      ServerErrors: 0,
      level: "error",
      errorKind: "Throttled",
    });
    expect(requestLogEntry(observation("admin", { status: 500, body: { error: error("Internal") } }), "fn", 0)).toMatchObject({ Throttles: 0, ServerErrors: 1 });
  });

  it("a binary fetch counts records from the batch headers", () => {
    const batch = (n: number) => encodeRecordBatch({ records: Array.from({ length: n }, () => ({ value: Buffer.from("v") })) });
    const body = Buffer.concat([batch(3), batch(4)]);
    const entry = requestLogEntry(observation("fetch", { status: 200, body }), "fn", 0);
    expect(entry).toMatchObject({ RecordsOut: 7, BytesOut: body.byteLength });
    expect(entry).not.toHaveProperty("RecordsIn");
  });

  it("is on only inside Lambda, can be switched off, and never throws", () => {
    expect(defaultObserver({})).toBeUndefined();
    expect(defaultObserver({ AWS_LAMBDA_FUNCTION_NAME: "f", SEGLOG_METRICS: "off" })).toBeUndefined();
    expect(defaultObserver({ AWS_LAMBDA_FUNCTION_NAME: "f" })).toBeTypeOf("function");
    const observe = emfObserver("f", () => {
      throw new Error("stdout is gone");
    });
    expect(() => observe(observation("produce", { status: 200, body: { offsets: [] } }))).not.toThrow();
  });
});

describe("EMF maintenance lines", () => {
  it("a run whose steps failed is an error line with its failures as a metric, though the run itself succeeded", () => {
    const report = { runId: "r", sweep: false, failures: 2, lastError: "AccessDenied: s3:DeleteObject", incomplete: true, segmentsDeleted: 0 };
    const entry = maintenanceLogEntry(report, "maint", 5);
    expect(entry).toMatchObject({ FunctionName: "maint", MaintenanceFailures: 2, MaintenanceIncomplete: 1, level: "error", message: "maintenance run", lastError: "AccessDenied: s3:DeleteObject" });
    expect(maintenanceLogEntry({ ...report, failures: 0 }, "maint", 5)).toMatchObject({ MaintenanceFailures: 0, MaintenanceIncomplete: 1, level: "warn" });
    expect(maintenanceLogEntry({ ...report, failures: 0, incomplete: false }, "maint", 5)).toMatchObject({ MaintenanceFailures: 0, MaintenanceIncomplete: 0, level: "info" });
    // A sweep says whether it ran out of time in a metric of its own; a light run sends none.
    expect(maintenanceLogEntry({ ...report, sweep: true }, "maint", 5)).toMatchObject({ MaintenanceSweepIncomplete: 1 });
    expect(maintenanceLogEntry({ ...report, sweep: true, incomplete: false }, "maint", 5)).toMatchObject({ MaintenanceSweepIncomplete: 0 });
    expect(maintenanceLogEntry(report, "maint", 5)).not.toHaveProperty("MaintenanceSweepIncomplete");
  });
});
