import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { bundleFunctions, type Bundle } from "../../src/build/bundle.ts";
import { decodeRecordBatch, encodeRecordBatch, recordsOf } from "../../src/core/codec/record-batch.ts";
import { iterateBatches } from "../../src/core/codec/batch-header.ts";
import { buildFrames } from "../../src/core/frames.ts";
import type { ApiGatewayResult } from "../../src/http/event.ts";
import { jsonOf, v1Event, v2Event } from "../helpers/log.ts";
import { testEnv, uniqueName } from "../helpers/stack.ts";

/**
 * The Lambda bundles, as deployed (`dist/functions/<name>/index.mjs`), invoked with API Gateway
 * events of both payload formats against the run's local stack: what CDK ships is what runs.
 */
type Handler = (event: unknown) => Promise<ApiGatewayResult>;
const handlers: Record<string, Handler> = {};
let bundles: Bundle[];
const logged: string[] = [];
const FUNCTION_NAME = "seglog-bundle-test";

beforeAll(async () => {
  bundles = await bundleFunctions();
  const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  console.info(bundles.map((b) => `bundle ${b.name}: ${kib(b.bytes)} (source map ${kib(b.sourceMapBytes)})`).join("\n"));
  // As Lambda would: the stack's environment, and the function name (which turns EMF lines on).
  Object.assign(process.env, testEnv(), { AWS_LAMBDA_FUNCTION_NAME: FUNCTION_NAME });
  // What the functions log (their stdout is CloudWatch Logs in Lambda), kept here instead.
  vi.spyOn(console, "log").mockImplementation((line: unknown) => void logged.push(String(line)));
  for (const b of bundles) handlers[b.name] = ((await import(pathToFileURL(b.file).href)) as { handler: Handler }).handler;
}, 60_000);


/** Every module file of a function's bundle, as one string. */
function codeOf(name: string): string {
  const { dir } = bundles.find((b) => b.name === name) as Bundle;
  return readdirSync(dir)
    .filter((f) => f.endsWith(".mjs"))
    .map((f) => readFileSync(join(dir, f), "utf8"))
    .join("\n");
}

const invoke = (name: string, event: unknown) => (handlers[name] as Handler)(event);
const json = (body: unknown) => ({ body: JSON.stringify(body), headers: { "content-type": "application/json" } });

describe("the built bundles", () => {
  it("exist for every function, are ES modules of a sane size, and export a handler", () => {
    expect(bundles.map((b) => b.name).sort()).toEqual(expect.arrayContaining(["admin", "fetch", "maintenance", "produce"]));
    for (const b of bundles) {
      expect(typeof handlers[b.name]).toBe("function");
      expect(b.bytes).toBeLessThan(5 * 1024 * 1024);
    }
  });

  it.each([
    ["HTTP API (payload 2.0)", v2Event],
    ["REST API (payload 1.0)", v1Event],
  ] as const)("create a topic, produce JSON and fetch it back through the bundles: %s", async (_name, event) => {
    const topic = uniqueName("bundle");
    const created = await invoke("admin", event("POST", "/v1/topics", json({ name: topic, partitions: 2 })));
    expect(created.statusCode).toBe(201);

    const produced = await invoke(
      "produce",
      event("POST", `/v1/topics/${topic}/records`, json({ records: [{ key: "k", value: "hello", partition: 1 }, { value: "world", partition: 1 }] })),
    );
    expect(produced.statusCode).toBe(200);
    expect(jsonOf(produced).offsets).toEqual([{ partition: 1, baseOffset: 0, lastOffset: 1, count: 2, topicId: jsonOf(created).topicId }]);

    const fetched = await invoke("fetch", event("GET", `/v1/topics/${topic}/partitions/1/records`, { query: { offset: "0" } }));
    expect(fetched.statusCode).toBe(200);
    const body = jsonOf(fetched);
    expect(body.records.map((r: { offset: number; key: string | null; value: string }) => [r.offset, r.key, r.value])).toEqual([
      [0, "k", "hello"],
      [1, null, "world"],
    ]);
    expect(body.highWatermark).toBe(2);
  });

  it("binary in through a REST event, binary out through an HTTP API event", async () => {
    const topic = uniqueName("bundle-bin");
    expect((await invoke("admin", v2Event("POST", "/v1/topics", json({ name: topic })))).statusCode).toBe(201);
    const batch = encodeRecordBatch({ records: [{ value: Buffer.from("a") }, { value: Buffer.from("b") }, { value: Buffer.from("c") }] });
    const produced = await invoke(
      "produce",
      v1Event("POST", `/v1/topics/${topic}/records`, { body: buildFrames([{ partition: 0, bytes: batch }]), headers: { "content-type": "application/octet-stream" } }),
    );
    expect(produced.statusCode).toBe(200);
    const fetched = await invoke(
      "fetch",
      v2Event("GET", `/v1/topics/${topic}/partitions/0/records`, { query: { offset: "0" }, headers: { accept: "application/octet-stream" } }),
    );
    expect(fetched).toMatchObject({ statusCode: 200, isBase64Encoded: true });
    expect(fetched.headers["seglog-high-watermark"]).toBe("3");
    const stored = [...iterateBatches(Buffer.from(fetched.body, "base64"))].map((b) => decodeRecordBatch(b.bytes));
    expect(stored.flatMap((b) => recordsOf(b).map((r) => Buffer.from(r.value ?? []).toString()))).toEqual(["a", "b", "c"]);
  });

  it("carry only the S3 operations Seglog sends, and still tell the stores' errors apart", async () => {
    // Cold start: the S3 client's schemas for its other operations are tree-shaken away.
    const code = codeOf("produce");
    for (const op of ["PutObject", "GetObject", "DeleteObjects", "ListObjectsV2"]) expect(code).toContain(`"${op}"`);
    for (const op of ["PutBucketLifecycleConfiguration", "SelectObjectContent", "GetObjectTorrent"]) expect(code).not.toContain(op);
    // DynamoDB's failed condition still arrives as its own error type: a second create is a 409.
    const topic = uniqueName("bundle-errors");
    expect((await invoke("admin", v2Event("POST", "/v1/topics", json({ name: topic })))).statusCode).toBe(201);
    const again = await invoke("admin", v2Event("POST", "/v1/topics", json({ name: topic })));
    expect(again.statusCode).toBe(409);
    expect(jsonOf(again).error).toMatchObject({ kind: "Conflict" });
  });

  it("leave out of the produce function the reader, merges and maintenance it never runs", () => {
    // Messages of src/log/read.ts and src/core/merge.ts, which minifying keeps as they are.
    const markers = ["The index kept changing under the reader", "a merge needs a non-empty run"];
    const holding = (name: string) => markers.filter((m) => codeOf(name).includes(m));
    expect(holding("fetch")).toEqual(markers);
    expect(holding("produce")).toEqual([]);
  });

  it("writes one structured log line per request that is also an EMF document", async () => {
    const topic = uniqueName("bundle-emf");
    expect((await invoke("admin", v2Event("POST", "/v1/topics", json({ name: topic })))).statusCode).toBe(201);
    logged.length = 0;
    await invoke("produce", v2Event("POST", `/v1/topics/${topic}/records`, json({ records: [{ value: "x" }, { value: "y" }, { value: "z" }] })));
    await invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/0/records`, { query: { offset: "0" } }));
    await invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/9/records`, { query: { offset: "0" } }));
    const entries = logged.map((l) => JSON.parse(l) as Record<string, any>);
    expect(entries).toHaveLength(3);
    const [produce, fetch, missing] = entries;
    expect(produce).toMatchObject({ level: "info", message: "request", FunctionName: FUNCTION_NAME, route: "/v1/topics/{topic}/records", status: 200, RecordsIn: 3, Aborts: 0, Throttles: 0 });
    expect(produce?._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: "Seglog", Dimensions: [["FunctionName"]] });
    expect(produce?._aws.CloudWatchMetrics[0].Metrics.map((m: { Name: string }) => m.Name)).toEqual(
      expect.arrayContaining(["RecordsIn", "BytesIn", "ProduceLatency", "Aborts", "Throttles", "ServerErrors"]),
    );
    expect(produce?.ProduceLatency).toBeGreaterThan(0);
    expect(fetch).toMatchObject({ status: 200, RecordsOut: 3 });
    expect(fetch?.BytesOut).toBeGreaterThan(0);
    expect(missing).toMatchObject({ level: "warn", status: 404, errorKind: "NotFound", RecordsOut: 0 });
  });

  it("the maintenance bundle runs against the stack within its time budget and reports", async () => {
    logged.length = 0;
    // 16 s left → a 1 s budget (the handler keeps 15 s for itself): a short pass over the shared stack.
    const report = (await (handlers["maintenance"] as (e: unknown, c: unknown) => Promise<unknown>)(
      { "detail-type": "Scheduled Event", source: "aws.events" },
      { getRemainingTimeInMillis: () => 16_000 },
    )) as Record<string, unknown>;
    expect(report).toMatchObject({ segmentsDeleted: expect.any(Number), orphansDeleted: expect.any(Number), durationMs: expect.any(Number) });
    // The report's failures and whether it finished are metrics too: a failing step does not fail the run.
    const line = logged.map((l) => JSON.parse(l) as Record<string, any>).find((l) => l["message"] === "maintenance run");
    expect(line).toMatchObject({
      FunctionName: FUNCTION_NAME,
      MaintenanceFailures: report["failures"],
      MaintenanceIncomplete: report["incomplete"] ? 1 : 0,
      // An event with no time (as one invoked by hand) sweeps: its own metric says whether it finished.
      MaintenanceSweepIncomplete: report["incomplete"] ? 1 : 0,
      level: report["failures"] ? "error" : report["incomplete"] ? "warn" : "info",
    });
    expect(report["sweep"]).toBe(true);
    expect(line?._aws.CloudWatchMetrics[0]).toEqual({
      Namespace: "Seglog",
      Dimensions: [["FunctionName"]],
      Metrics: [
        { Name: "MaintenanceFailures", Unit: "Count" },
        { Name: "MaintenanceIncomplete", Unit: "Count" },
        { Name: "MaintenanceSweepIncomplete", Unit: "Count" },
      ],
    });
  });
});
