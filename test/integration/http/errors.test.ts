import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeRecordBatch } from "../../../src/core/codec/record-batch.ts";
import { buildFrames } from "../../../src/core/frames.ts";
import { routes } from "../../../src/http/app.ts";
import type { ApiGatewayResult } from "../../../src/http/event.ts";
import { startLocalApi, type LocalApi } from "../../../src/local/server.ts";
import { handlersFor, jsonOf, testLog, v2Event } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

const { log, dynamo, s3 } = testLog();
const invoke = handlersFor({ log });
const topic = uniqueName("errs");
const small = uniqueName("small");

const post = (path: string, body: string | Uint8Array, contentType = "application/json") =>
  invoke("produce", v2Event("POST", path, { body, headers: { "content-type": contentType } }));
const records = (t: string) => `/v1/topics/${t}/records`;

async function expectError(result: Promise<ApiGatewayResult>, status: number, kind: string) {
  const r = await result;
  expect({ status: r.statusCode, kind: jsonOf(r).error?.kind }).toEqual({ status, kind });
  expect(typeof jsonOf(r).error.message).toBe("string");
  expect(typeof jsonOf(r).error.retriable).toBe("boolean");
  return r;
}

beforeAll(async () => {
  await log.createTopic({ name: topic, partitions: 2 });
  await log.createTopic({ name: small, partitions: 1, config: { "max.message.bytes": 1024 } });
});

describe("every bad input gets its status and error kind", () => {
  it("bad JSON, wrong shapes and wrong types → 400 Invalid", async () => {
    await expectError(post(records(topic), "{not json"), 400, "Invalid");
    await expectError(post(records(topic), "[1,2]"), 400, "Invalid");
    await expectError(post(records(topic), ""), 400, "Invalid");
    // Not UTF-8, or a lone surrogate UTF-8 cannot hold: refused, where it was stored changed (U+FFFD).
    const notUtf8 = Buffer.concat([Buffer.from('{"records":[{"value":"bad'), Buffer.from([0xff, 0xfe]), Buffer.from('"}]}')]);
    expect(jsonOf(await expectError(post(records(topic), notUtf8), 400, "Invalid")).error.message).toBe("Request body is not UTF-8 text; expected JSON");
    const lone = await expectError(post(records(topic), '{"records":[{"value":"\\ud800"}]}'), 400, "Invalid");
    expect(jsonOf(lone).error.message).toMatch(/records\[0\]\.value is not well-formed Unicode \(a lone surrogate\)/);
    await expectError(post(records(topic), '{"records":[{"value":"x","headers":{"h":"\\udc00"}}]}'), 400, "Invalid");
    await expectError(post(records(topic), '{"records":[{"value":"x","headers":{"\\udc00":"v"}}]}'), 400, "Invalid");
    await expectError(post(records(topic), JSON.stringify({ records: [] })), 400, "Invalid");
    await expectError(post(records(topic), JSON.stringify({ records: [{ value: 5 }] })), 400, "Invalid");
    await expectError(post(records(topic), JSON.stringify({ records: [{ value: "x", partition: -1 }] })), 400, "Invalid");
    await expectError(post(records(topic), JSON.stringify({ records: [{ value: "x", partition: 1.5 }] })), 400, "Invalid");
    await expectError(post(records(topic), JSON.stringify({ records: [{ value: "x", extra: 1 }] })), 400, "Invalid");
    await expectError(post(records(topic), JSON.stringify({ valueEncoding: "base64", records: [{ value: "not base64!" }] })), 400, "Invalid");
    await expectError(post(records(topic), JSON.stringify({ valueEncoding: "utf16", records: [{ value: "x" }] })), 400, "Invalid");
    await expectError(post(records(topic), JSON.stringify({ records: [{ value: "x", headers: { h: 1 } }] })), 400, "Invalid");
    const late = await expectError(post(records(topic), JSON.stringify({ records: [{ value: "a" }, { value: "b", timestamp: 2 ** 52 + 1 }] })), 400, "Invalid");
    expect(jsonOf(late).error.message).toBe("records[1].timestamp must be an integer from 0 to 4503599627370496");
    await expectError(invoke("admin", v2Event("POST", "/v1/topics", { body: JSON.stringify({ name: "ok", partitions: 0 }) })), 400, "Invalid");
    await expectError(invoke("admin", v2Event("POST", "/v1/topics", { body: JSON.stringify({ partitions: 1 }) })), 400, "Invalid");
    await expectError(invoke("admin", v2Event("PATCH", `/v1/topics/${topic}`, { body: JSON.stringify({ partitions: 1 }) })), 400, "Invalid");
    await expectError(invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/0/records`)), 400, "Invalid");
    await expectError(invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/0/records`, { query: { offset: "abc" } })), 400, "Invalid");
    await expectError(invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/0/records`, { query: { offset: "0", maxBytes: "0" } })), 400, "Invalid");
    await expectError(invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/x/records`, { query: { offset: "0" } })), 400, "Invalid");
    await expectError(invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/0/offsets`, { query: { at: "soon" } })), 400, "Invalid");
    // Any timestamp a record may carry (up to 2^52) can be looked up; past it, Invalid.
    const latestTs = await invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/0/offsets`, { query: { at: String(2 ** 52) } }));
    expect(latestTs.statusCode).toBe(200);
    // A time later than every record answers the high watermark, with no timestamp; no `at` is latest.
    const latest = await invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/0/offsets`));
    expect(jsonOf(latestTs)).toEqual({ offset: jsonOf(latest).offset, timestamp: null });
    await expectError(invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/0/offsets`, { query: { at: String(2 ** 52 + 1) } })), 400, "Invalid");
    // Only values can be given as JSON: a key's error does not suggest it.
    const key = await expectError(post(records(topic), JSON.stringify({ records: [{ key: 5, value: "v" }] })), 400, "Invalid");
    expect(jsonOf(key).error.message).toBe("records[0].key must be a string");
    const value = await expectError(post(records(topic), JSON.stringify({ records: [{ value: 5 }] })), 400, "Invalid");
    expect(jsonOf(value).error.message).toBe("records[0].value must be a string (or set valueEncoding to json)");
    await expectError(invoke("admin", { hello: "world" }), 400, "Invalid");
  });

  it("invalid topic names → 400 Invalid; mixed '.' and '_' → 201 with Kafka's warning", async () => {
    await expectError(invoke("admin", v2Event("POST", "/v1/topics", { body: JSON.stringify({ name: "..", partitions: 1 }) })), 400, "Invalid");
    await expectError(invoke("admin", v2Event("POST", "/v1/topics", { body: JSON.stringify({ name: "a".repeat(250) }) })), 400, "Invalid");
    await expectError(invoke("admin", v2Event("GET", "/v1/topics/bad%20name")), 400, "Invalid");
    const ok = await invoke("admin", v2Event("POST", "/v1/topics", { body: JSON.stringify({ name: `${uniqueName("a")}.b_c` }) }));
    expect(ok.statusCode).toBe(201);
    expect(jsonOf(ok).warning).toMatch(/collide/);
  });

  it("unknown topics, partitions and routes → 404 NotFound (a path that does not decode → 400); an existing name → 409 Conflict", async () => {
    await expectError(post(records(uniqueName("nope")), JSON.stringify({ records: [{ value: "x" }] })), 404, "NotFound");
    await expectError(post(records(topic), JSON.stringify({ records: [{ value: "x", partition: 2 }] })), 404, "NotFound");
    await expectError(invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/9/records`, { query: { offset: "0" } })), 404, "NotFound");
    await expectError(invoke("admin", v2Event("GET", "/v1/nothing")), 404, "NotFound");
    // A name whose escapes do not decode names nothing: the request is at fault, not the route.
    expect(jsonOf(await expectError(invoke("groups", v2Event("GET", "/v1/groups/%E0%A4%A")), 400, "Invalid")).error.code).toBe("InvalidPath");
    await expectError(invoke("admin", v2Event("POST", "/v1/topics", { body: JSON.stringify({ name: topic }) })), 409, "Conflict");
  });

  it("offsets out of range → 416 OffsetOutOfRange", async () => {
    await expectError(invoke("fetch", v2Event("GET", `/v1/topics/${topic}/partitions/1/records`, { query: { offset: "5" } })), 416, "OffsetOutOfRange");
  });

  it("a JSON fetch answer stays within Lambda's 6 MB: its records stop short, nextOffset says where; one record too large for it → 413 TooLarge", async () => {
    const name = uniqueName("json-bytes");
    await log.createTopic({ name, partitions: 1 });
    // 0x01 bytes as encoding=string are "\u0001" each: 300 KB of them take 2.1 MB of Lambda's answer.
    for (let i = 0; i < 4; i++) await log.produceRecords(name, [{ key: null, value: new Uint8Array(300_000).fill(i + 1) }]);
    const fetchJson = (offset: number, query: Record<string, string> = {}) =>
      invoke("fetch", v2Event("GET", `/v1/topics/${name}/partitions/0/records`, { query: { offset: String(offset), maxBytes: String(4 * 1024 * 1024), ...query } }));
    const seen: number[] = [];
    for (let offset = 0, answers = 0; offset < 4; answers++) {
      const answer = await fetchJson(offset);
      expect(answer.statusCode).toBe(200);
      expect(Buffer.byteLength(JSON.stringify(answer))).toBeLessThan(6_000_000);
      const body = jsonOf(answer) as { records: { offset: number; value: string }[]; nextOffset: number };
      expect(body.records.every((r) => r.value === String.fromCharCode(r.offset + 1).repeat(300_000))).toBe(true);
      seen.push(...body.records.map((r) => r.offset));
      expect(body.nextOffset).toBe(offset + body.records.length);
      offset = body.nextOffset;
      expect(answers).toBeLessThan(4);
    }
    expect(seen).toEqual([0, 1, 2, 3]);
    // In base64 (400 KB each) all four fit one answer.
    expect((jsonOf(await fetchJson(0, { encoding: "base64" })) as { records: unknown[] }).records).toHaveLength(4);

    await log.produceRecords(name, [{ key: null, value: new Uint8Array(900_000).fill(1) }]);
    await expectError(fetchJson(4), 413, "TooLarge");
    const binary = await invoke("fetch", v2Event("GET", `/v1/topics/${name}/partitions/0/records`, { query: { offset: "4" }, headers: { accept: "application/octet-stream" } }));
    expect(binary.statusCode).toBe(200);
  });

  it("oversized batches → 413 TooLarge, and nothing is written", async () => {
    await expectError(post(records(small), JSON.stringify({ records: [{ value: "x".repeat(2000) }] })), 413, "TooLarge");
    const big = encodeRecordBatch({ records: [{ key: null, value: new Uint8Array(2000) }] });
    await expectError(post(records(small), buildFrames([{ partition: 0, bytes: big }]), "application/octet-stream"), 413, "TooLarge");
    expect((await log.describeTopic(small)).partitions[0]?.highWatermark).toBe(0);
  });

  it("corrupt and truncated binary frames → 400 Invalid, and nothing is written", async () => {
    const good = encodeRecordBatch({ records: [{ key: null, value: Buffer.from("hello") }] });
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3] = (flipped[flipped.length - 3] ?? 0) ^ 0x10;
    const r = await expectError(post(records(topic), buildFrames([{ partition: 0, bytes: flipped }]), "application/octet-stream"), 400, "Invalid");
    expect(jsonOf(r).error.code).toBe("CorruptRecord");
    const truncated = buildFrames([{ partition: 0, bytes: good }]).subarray(0, 30);
    await expectError(post(records(topic), truncated, "application/octet-stream"), 400, "Invalid");
    // One bad frame spoils the request, naming which: the good one beside it is not written either.
    const spoilt = await expectError(
      post(records(topic), buildFrames([{ partition: 1, bytes: good }, { partition: 0, bytes: flipped }]), "application/octet-stream"),
      400,
      "Invalid",
    );
    expect(jsonOf(spoilt).error).toMatchObject({ code: "CorruptRecord", message: "Batch 2 of 2 (partition 0): record batch CRC mismatch" });
    expect((await log.describeTopic(topic)).partitions.map((p) => p.highWatermark)).toEqual([0, 0]);
  });

  it("a refusal names what is wrong: a partition past int32, an offset past 2^53, a batch length below a header's, a header's value", async () => {
    const message = async (result: Promise<ApiGatewayResult>) => jsonOf(await expectError(result, 400, "Invalid")).error.message;
    const get = (path: string, query: Record<string, string>) => invoke("fetch", v2Event("GET", path, { query }));
    expect(await message(get(`/v1/topics/${topic}/partitions/2147483648/records`, { offset: "0" }))).toBe("partition must be an integer from 0 to 2147483647");
    // The largest partition Kafka can name is a partition the topic does not have, as in a produce body.
    expect((await get(`/v1/topics/${topic}/partitions/2147483647/records`, { offset: "0" })).statusCode).toBe(404);
    expect(await message(get(records(topic), { partitions: "0:99999999999999999" }))).toBe(`The offset in '0:99999999999999999' is over ${Number.MAX_SAFE_INTEGER}`);
    const frame = Buffer.from(buildFrames([{ partition: 0, bytes: encodeRecordBatch({ records: [{ key: null, value: Buffer.from("x") }] }) }]));
    frame.writeInt32BE(20, 4 + 8); // the batch length, after the partition and the base offset
    expect(await message(post(records(topic), frame, "application/octet-stream"))).toBe(
      "Frame at byte 0 declares a batch length of 20, below the 49 bytes of a RecordBatch header after it",
    );
    const withHeaders = (headers: unknown) => post(records(topic), JSON.stringify({ records: [{ value: "v", headers }] }));
    expect(await message(withHeaders([{ key: "h", value: 5 }]))).toBe("records[0].headers[0].value must be a string or null");
    expect(await message(withHeaders({ h: 5 }))).toBe("records[0].headers.h must be a string or null");
    expect(await message(withHeaders([{ key: "h", value: "x", extra: 1 }]))).toBe("Unknown field 'extra' in records[0].headers[0]; allowed: key, value");
    expect((await log.describeTopic(topic)).partitions.map((p) => p.highWatermark)).toEqual([0, 0]);
  });

  it("a transactionalId UTF-8 cannot hold → 400 Invalid, not a producer shared with another id", async () => {
    const init = (body: string) => invoke("produce", v2Event("POST", "/v1/producers", { body, headers: { "content-type": "application/json" } }));
    for (const lone of ['"\\ud800"', '"\\udc00"', '"a\\ud800b"']) {
      const r = await expectError(init(`{"transactionalId":${lone}}`), 400, "Invalid");
      expect(jsonOf(r).error.message).toBe("transactionalId is not well-formed Unicode (a lone surrogate)");
    }
    expect(jsonOf(await init(`{"transactionalId":"${uniqueName("tx")}-\\ud83d\\ude00"}`))).toMatchObject({ epoch: 0 });
  });

  it("binary batches stamped before 1970 → 400 InvalidTimestamp, as a JSON record would be, and nothing is written", async () => {
    const name = uniqueName("stamps");
    await log.createTopic({ name, partitions: 1 });
    const stamped = (...timestamps: number[]) =>
      buildFrames([{ partition: 0, bytes: encodeRecordBatch({ records: timestamps.map((timestamp) => ({ key: null, value: Buffer.from("x"), timestamp })) }) }]);
    const before1970 = await expectError(post(records(name), stamped(-5), "application/octet-stream"), 400, "Invalid");
    expect(jsonOf(before1970).error).toMatchObject({ code: "InvalidTimestamp", message: expect.stringContaining("is -5") });
    // The base is fine, the second record's delta takes it below 0.
    const second = await expectError(post(records(name), stamped(10, -5), "application/octet-stream"), 400, "Invalid");
    expect(jsonOf(second).error.message).toMatch(/^Record 1's timestamp is -5/);
    expect((await log.describeTopic(name)).partitions[0]?.highWatermark).toBe(0);
    // The limits themselves are records like any other.
    expect((await post(records(name), stamped(0, 2 ** 52), "application/octet-stream")).statusCode).toBe(200);
  });

  it("storage throttling → 429 (DynamoDB) or 503 (S3 SlowDown) with Retry-After, retriable", async () => {
    const throttled = testLog();
    const throwOn = (client: typeof dynamo | typeof s3, command: string, name: string, status: number) =>
      (client as typeof dynamo).middlewareStack.add(
        (next, context) => async (args) => {
          if (context.commandName === command) {
            throw Object.assign(new Error(`injected ${name}`), { name, $metadata: { httpStatusCode: status } });
          }
          return next(args);
        },
        { step: "initialize", name: `throw${name}` },
      );
    throwOn(throttled.dynamo, "UpdateItemCommand", "ProvisionedThroughputExceededException", 400);
    const r1 = await expectError(
      handlersFor({ log: throttled.log })("produce", v2Event("POST", records(topic), { body: JSON.stringify({ records: [{ value: "x" }] }) })),
      429,
      "Throttled",
    );
    expect(r1.headers["retry-after"]).toBe("1");
    expect(jsonOf(r1).error.retriable).toBe(true);
    const slow = testLog();
    throwOn(slow.s3, "PutObjectCommand", "SlowDown", 503);
    const r2 = await expectError(
      handlersFor({ log: slow.log })("produce", v2Event("POST", records(topic), { body: JSON.stringify({ records: [{ value: "x" }] }) })),
      503,
      "Throttled",
    );
    expect(r2.headers["retry-after"]).toBe("1");
    // The failed write gave its reservation up at once: readers are not held at a gap.
    const gapless = uniqueName("gapless");
    await log.createTopic({ name: gapless, partitions: 1 });
    await handlersFor({ log: slow.log })("produce", v2Event("POST", records(gapless), { body: JSON.stringify({ records: [{ value: "lost" }] }) }));
    await log.produceRecords(gapless, [{ key: null, value: Buffer.from("kept") }]);
    const after = await log.fetch(gapless, 0, { offset: 0, maxWaitMs: 0 });
    expect(after.batches.map((x) => x.baseOffset)).toEqual([1]);
    expect(after.highWatermark).toBe(2);
  });
});

describe("the local HTTP API", () => {
  let api: LocalApi;
  beforeAll(async () => {
    const handler = (fn: "admin" | "produce" | "fetch" | "groups") => (event: unknown) => invoke(fn, event);
    api = await startLocalApi({
      port: 0,
      routes: routes as never,
      handlers: { admin: handler("admin"), produce: handler("produce"), fetch: handler("fetch"), groups: handler("groups") },
    });
  });
  afterAll(() => api.close());

  it("routes the path as sent: dot segments, encoded or not, are not resolved into another route", async () => {
    const asSent = (method: string, path: string) =>
      new Promise<number>((resolve, reject) => {
        const target = new URL(api.url);
        request({ host: target.hostname, port: target.port, method, path }, (res) => (res.resume(), resolve(res.statusCode ?? 0))).on("error", reject).end();
      });
    expect(await asSent("DELETE", `/v1/topics/other/%2e%2e/${topic}`)).toBe(404);
    expect(await asSent("DELETE", `/v1/topics/other/../${topic}`)).toBe(404);
    expect(await asSent("GET", "/v1/topics/%2E/partitions/0/records?offset=0")).toBe(400);
    expect(await asSent("DELETE", `${api.url}/v1/topics/other/%2e%2e/${topic}`)).toBe(404); // a request line in absolute form
    expect((await log.describeTopic(topic)).topic.name).toBe(topic);
  });

  it("refuses a JSON body over 6 MiB and a binary one over 4.5 MiB (6 MiB in base64, as Lambda gets it) with 413 TooLarge", async () => {
    const send = async (contentType: string, bytes: number) => {
      const res = await fetch(`${api.url}${records(topic)}`, { method: "POST", headers: { "content-type": contentType }, body: new Uint8Array(bytes) });
      return { status: res.status, kind: ((await res.json()) as { error?: { kind: string } }).error?.kind };
    };
    expect(await send("application/json", 6 * 1024 * 1024 + 1)).toEqual({ status: 413, kind: "TooLarge" });
    expect(await send("application/octet-stream", 4.5 * 1024 * 1024 + 1)).toEqual({ status: 413, kind: "TooLarge" });
    // At the limit the body is read, and refused for what it holds (zeros are no frames).
    expect(await send("application/octet-stream", 4.5 * 1024 * 1024)).toEqual({ status: 400, kind: "Invalid" });
  });

  it("reads a body sent in chunks with no declared length, and refuses one that grows past the limit", async () => {
    const chunked = (parts: Uint8Array[]) =>
      fetch(`${api.url}${records(topic)}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: new ReadableStream({
          pull(controller) {
            const next = parts.shift();
            if (next) controller.enqueue(next);
            else controller.close();
          },
        }),
        duplex: "half",
      } as RequestInit);
    // 200 records of 1,000 bytes in 8 pieces: the body grows past the first 64 KiB buffer.
    const json = new TextEncoder().encode(JSON.stringify({ records: Array.from({ length: 200 }, (_, i) => ({ value: `${i}`.padEnd(1000, "."), partition: 0 })) }));
    const pieces = Array.from({ length: 8 }, (_, i) => json.subarray((i * json.length) / 8, ((i + 1) * json.length) / 8));
    const produced = await chunked(pieces);
    expect(produced.status).toBe(200);
    expect(((await produced.json()) as { offsets: { count: number }[] }).offsets[0]?.count).toBe(200);
    const tooBig = await chunked(Array.from({ length: 7 }, () => new Uint8Array(1024 * 1024)));
    expect(tooBig.status).toBe(413);
  });

  it("serves produce and fetch over real HTTP", async () => {
    const produced = await fetch(`${api.url}${records(topic)}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ valueEncoding: "json", records: [{ key: "k", value: { n: 1 }, partition: 1 }] }),
    });
    expect(produced.status).toBe(200);
    const { offsets } = (await produced.json()) as { offsets: { partition: number; baseOffset: number }[] };
    const got = await fetch(`${api.url}/v1/topics/${topic}/partitions/1/records?offset=${offsets[0]?.baseOffset}&encoding=json`);
    const body = (await got.json()) as { records: { key: string; value: unknown }[] };
    expect(got.status, JSON.stringify(body)).toBe(200);
    expect(body.records[0]).toMatchObject({ key: "k", value: { n: 1 } });
  });

  it("carries binary header values both ways in base64, and answers a text or JSON fetch up to a record it cannot render unchanged, then names it", async () => {
    const name = uniqueName("json-edges");
    await fetch(`${api.url}/v1/topics`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, partitions: 1 }) });
    const post = (body: unknown) => fetch(`${api.url}${records(name)}`, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) });
    const binary = Buffer.from([0xff, 0x00, 0x62]).toString("base64");
    expect((await post({ headerEncoding: "base64", records: [{ value: "1", headers: { h: binary } }] })).status).toBe(200);
    const deep = "[".repeat(20_000) + "]".repeat(20_000);
    expect((await post({ records: [{ value: "2" }, { value: "not json" }, { value: deep }] })).status).toBe(200);
    // A value nested too deeply to store as JSON is refused, not a storage failure.
    const tooDeep = await post(`{"valueEncoding":"json","records":[{"value":${deep}}]}`);
    expect(tooDeep.status).toBe(400);
    expect(await tooDeep.json()).toMatchObject({ error: { kind: "Invalid", message: "records[0].value is nested too deeply to store as JSON" } });

    const get = async (query: string) => {
      const res = await fetch(`${api.url}/v1/topics/${name}/partitions/0/records?${query}`);
      return { status: res.status, body: (await res.json()) as { records?: { offset: number; value: unknown; headers: { key: string; value: string }[] }[]; nextOffset?: number; error?: { code?: string; message?: string } } };
    };
    const b64 = await get("offset=0&encoding=base64");
    expect(b64.body.records?.[0]?.headers).toEqual([{ key: "h", value: binary }]);
    // As text, the binary header would come back changed (0xff as U+FFFD): refused, naming the record.
    for (const encoding of ["string", "json"]) {
      expect(await get(`offset=0&encoding=${encoding}`)).toMatchObject({
        status: 400,
        body: { error: { code: "NotUtf8", message: "The record at offset 0 has a key, value or header that is not UTF-8; fetch it with encoding=base64" } },
      });
    }
    const json = await get("offset=1&encoding=json");
    expect(json.body.records?.map((r) => r.value)).toEqual([2]);
    expect(json.body.nextOffset).toBe(2);
    // A value that is not UTF-8 ends a text answer before it, and is refused once a fetch starts there.
    expect((await post({ valueEncoding: "base64", records: [{ value: "/w==" }] })).status).toBe(200);
    const text = await get("offset=3&encoding=string");
    expect(text.body.records?.map((r) => r.offset)).toEqual([3]);
    expect(text.body.nextOffset).toBe(4);
    expect(await get("offset=4")).toMatchObject({ status: 400, body: { error: { code: "NotUtf8" } } });
    expect((await get("offset=4&encoding=base64")).body.records?.map((r) => r.value)).toEqual(["/w=="]);
    expect(await get("offset=2&encoding=json")).toMatchObject({ status: 400, body: { error: { code: "NotJson", message: "The value of the record at offset 2 is not JSON; fetch it with encoding=string or base64" } } });
    expect(await get("offset=3&encoding=json")).toMatchObject({ status: 400, body: { error: { code: "NotJson", message: "The value of the record at offset 3 nests too deeply to answer as JSON; fetch it with encoding=string or base64" } } });
  });
});
