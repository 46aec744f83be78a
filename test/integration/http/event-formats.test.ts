import { beforeAll, describe, expect, it } from "vitest";
import { decodeRecordBatch, encodeRecordBatch, iterateBatches, recordsOf } from "../../../src/core/codec/record-batch.ts";
import { buildFrames } from "../../../src/core/frames.ts";
import { handlersFor, jsonOf, startTestApi, testLog, v1Event, v2Event } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

const { log } = testLog();
const invoke = handlersFor({ log });

describe.each([
  ["HTTP API (payload 2.0)", v2Event],
  ["REST API (payload 1.0)", v1Event],
] as const)("%s events", (_name, event) => {
  const topic = uniqueName("fmt");
  let topicId = "";
  beforeAll(async () => {
    const created = await invoke("admin", event("POST", "/v1/topics", { body: JSON.stringify({ name: topic, partitions: 2 }) }));
    expect(created.statusCode).toBe(201);
    topicId = jsonOf(created).topicId;
  });

  it("produce JSON (string, base64 and json values) and fetch it back as JSON", async () => {
    const body = JSON.stringify({
      records: [
        { key: "a", value: "plain", partition: 0, headers: { trace: "t1" } },
        { key: "b", value: null, partition: 0 },
      ],
    });
    const r = await invoke("produce", event("POST", `/v1/topics/${topic}/records`, { body, headers: { "Content-Type": "application/json" } }));
    expect(r.statusCode).toBe(200);
    expect(jsonOf(r).offsets).toEqual([{ partition: 0, baseOffset: 0, lastOffset: 1, count: 2, topicId }]);
    const b64 = await invoke("produce", event("POST", `/v1/topics/${topic}/records`, {
      body: JSON.stringify({ valueEncoding: "base64", records: [{ value: Buffer.from([0, 255, 1]).toString("base64"), partition: 0 }] }),
    }));
    expect(jsonOf(b64).offsets[0].baseOffset).toBe(2);
    const json = await invoke("produce", event("POST", `/v1/topics/${topic}/records`, {
      body: JSON.stringify({ valueEncoding: "json", records: [{ value: { deep: [1, 2] }, partition: 0 }] }),
    }));
    expect(jsonOf(json).offsets[0].baseOffset).toBe(3);

    const fetched = await invoke("fetch", event("GET", `/v1/topics/${topic}/partitions/0/records`, { query: { offset: "1", encoding: "base64" } }));
    expect(fetched.statusCode).toBe(200);
    const out = jsonOf(fetched);
    expect(out.records.map((x: { offset: number }) => x.offset)).toEqual([1, 2, 3]);
    expect(out.records[1].value).toBe(Buffer.from([0, 255, 1]).toString("base64"));
    expect(out.nextOffset).toBe(4);
    expect(out.highWatermark).toBe(4);
    const first = jsonOf(await invoke("fetch", event("GET", `/v1/topics/${topic}/partitions/0/records`, { query: { offset: "0" } })));
    expect(first.records[0]).toMatchObject({ key: "a", value: "plain", headers: [{ key: "trace", value: "t1" }] });
    expect(first.records[1]).toMatchObject({ key: "b", value: null });
  });

  it("produce binary frames and fetch binary batches", async () => {
    const batch = encodeRecordBatch({ records: [{ key: null, value: Buffer.from("bin-1") }, { key: null, value: Buffer.from("bin-2") }] });
    const r = await invoke("produce", event("POST", `/v1/topics/${topic}/records`, {
      body: buildFrames([{ partition: 1, bytes: batch }, { partition: 1, bytes: batch }]),
      headers: { "content-type": "application/octet-stream" },
    }));
    expect(r.statusCode).toBe(200);
    expect(jsonOf(r).offsets.map((o: { baseOffset: number }) => o.baseOffset)).toEqual([0, 2]);
    const fetched = await invoke("fetch", event("GET", `/v1/topics/${topic}/partitions/1/records`, {
      query: { offset: "0" },
      headers: { accept: "application/octet-stream" },
    }));
    expect(fetched.isBase64Encoded).toBe(true);
    expect(fetched.headers["seglog-next-offset"]).toBe("4");
    const bytes = Buffer.from(fetched.body, "base64");
    const values = [...iterateBatches(bytes)].flatMap((x) => recordsOf(decodeRecordBatch(x.bytes)).map((rec) => [Number(rec.offset), Buffer.from(rec.value ?? []).toString()]));
    expect(values).toEqual([[0, "bin-1"], [1, "bin-2"], [2, "bin-1"], [3, "bin-2"]]);
    // Media types match whatever their case, among others, and one refused with q=0 is not sent.
    const as = async (accept: string) => (await invoke("fetch", event("GET", `/v1/topics/${topic}/partitions/1/records`, { query: { offset: "0" }, headers: { accept } }))).headers["content-type"];
    expect(await as("APPLICATION/Octet-Stream")).toBe("application/octet-stream");
    expect(await as("application/json;q=0.9, application/octet-stream")).toBe("application/octet-stream");
    expect(await as("application/octet-stream;q=0, application/json")).toBe("application/json");
    expect(await as("application/octet-streamx")).toBe("application/json");
  });

  it("looks offsets up and describes the topic", async () => {
    const latest = await invoke("fetch", event("GET", `/v1/topics/${topic}/partitions/0/offsets`, { query: { at: "latest" } }));
    expect(jsonOf(latest)).toEqual({ offset: 4, timestamp: null });
    const described = jsonOf(await invoke("admin", event("GET", `/v1/topics/${topic}`)));
    expect(described.partitionStates).toEqual([
      { partition: 0, logStartOffset: 0, highWatermark: 4 },
      { partition: 1, logStartOffset: 0, highWatermark: 4 },
    ]);
  });
});

it("strips an API Gateway stage from the path", async () => {
  const r = await invoke("admin", { ...v2Event("GET", "/prod/v1/topics") });
  expect(r.statusCode).toBe(200);
});

it("reads a repeated query parameter as an HTTP API hands it over, its values joined with commas: in REST events and on the local server", async () => {
  const topic = uniqueName("repeat");
  await log.createTopic({ name: topic, partitions: 2 });
  await log.produceRecords(topic, [{ key: null, value: Buffer.from("p0"), partition: 0 }, { key: null, value: Buffer.from("p1"), partition: 1 }]);
  const partitionsOf = (body: { partitions: { partition: number; segments?: unknown[] }[] }) => body.partitions.map((p) => [p.partition, p.segments?.length]);
  // A REST API keeps only the last value in queryStringParameters, and every one in the multi-value map.
  const rest = v1Event("GET", `/v1/topics/${topic}/records`, { query: { partitions: "1:0", maxWaitMs: "0" } });
  const fetched = await invoke("fetch", { ...rest, multiValueQueryStringParameters: { partitions: ["0:0", "1:0"], maxWaitMs: ["0"] } });
  expect(partitionsOf(jsonOf(fetched))).toEqual([[0, 1], [1, 1]]);

  const api = await startTestApi({ log });
  try {
    const both = await fetch(`${api.url}/v1/topics/${topic}/records?partitions=0:0&partitions=1:0&maxWaitMs=0`);
    expect(partitionsOf((await both.json()) as never)).toEqual([[0, 1], [1, 1]]);
    // Two offsets are no offset: refused, as on AWS, rather than the last one read.
    const twice = await fetch(`${api.url}/v1/topics/${topic}/partitions/0/records?offset=0&offset=1000`);
    expect(twice.status).toBe(400);
  } finally {
    await api.close();
  }
});
