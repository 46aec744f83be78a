import { randomBytes } from "node:crypto";
import { createServer as createHttpServer } from "node:http";
import { createServer as createNetServer, type AddressInfo, type Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { Admin, Consumer, GroupConsumer, Producer, SeglogError, type ConsumedRecord } from "../../../src/client/index.ts";
import { nodeTransport, type Transport, type WireRequest, type WireResponse } from "../../../src/client/transport.ts";
import { SEGMENTS_MEDIA_TYPE } from "../../../src/core/segment-locations.ts";
import { routes } from "../../../src/http/app.ts";
import type { ApiGatewayResult } from "../../../src/http/event.ts";
import type { FunctionName } from "../../../src/http/router.ts";
import { startLocalApi, type LocalApi } from "../../../src/local/server.ts";
import { handlersFor, setNextSequence, testLog } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";
import { connectionFailed, interceptS3Gets, never, s3Error } from "../../helpers/transport.ts";

let api: LocalApi;
let produceRequests = 0;
/** Fetch requests and partitions fetched (one per per-partition fetch, each one a fetch of several
 * names), by topic: what one test's consumers asked for, however late another test's aborted
 * fetches reach the server. */
const fetchesOf = new Map<string, { requests: number; partitions: number }>();
const fetchesTo = (topic: string) => fetchesOf.get(topic)?.requests ?? 0;
/** Fetches of several partitions answered as a server from before that route: `dev` as `seglog
 * dev` (its router's "No route"), `aws` as API Gateway (a 404 without a Seglog error body). */
let noFetchOfSeveral: "dev" | "aws" | undefined;
/** Bytes of each produce request's body, as API Gateway hands it over (base64). */
const produceBodies: number[] = [];
let failNextProduces = 0;
/** While above 0, reads of a topic (`GET /v1/topics/{topic}`) answer 503, as API Gateway throttled. */
let failTopicReads = 0;
/** Answers the next produce request instead of the produce function, once (undefined: the
 * function answers it). */
let answerNextProduce: (() => ApiGatewayResult | undefined) | undefined;
/** While set, produce requests wait for it: a slow produce function. */
let holdProduces: Promise<void> | undefined;
/** Produce requests that came while `holdProduces` was set. */
let heldProduces = 0;
let loseNextAnswers = 0;
/** Fetches answered as a Seglog from before segment answers would: the Accept type ignored. */
let oldServer = false;
const invoke = handlersFor({ log: testLog().log });

beforeAll(async () => {
  const h = (fn: FunctionName) => async (e: unknown): Promise<ApiGatewayResult> => {
    if (fn === "fetch") {
      const several = (e as { queryStringParameters?: Record<string, string> }).queryStringParameters?.["partitions"];
      const partitions = several === undefined ? 1 : several.split(",").length;
      const topic = decodeURIComponent(/^\/v1\/topics\/([^/]+)\//.exec(String((e as { rawPath?: string }).rawPath))?.[1] ?? "");
      const counts = fetchesOf.get(topic) ?? { requests: 0, partitions: 0 };
      fetchesOf.set(topic, { requests: counts.requests + 1, partitions: counts.partitions + partitions });
      if (several !== undefined && noFetchOfSeveral !== undefined) {
        const path = String((e as { rawPath?: string }).rawPath);
        const body = noFetchOfSeveral === "dev" ? { error: { kind: "NotFound", message: `No route GET ${path}`, retriable: false } } : { message: "Not Found" };
        return { statusCode: 404, headers: { "content-type": "application/json" }, body: JSON.stringify(body), isBase64Encoded: false };
      }
    }
    if (fn === "fetch" && oldServer) {
      const headers = (e as { headers?: Record<string, string> }).headers ?? {};
      if (headers["accept"] === SEGMENTS_MEDIA_TYPE) headers["accept"] = "application/json";
    }
    if (fn === "admin" && failTopicReads > 0 && (e as { requestContext?: { http?: { method?: string } } }).requestContext?.http?.method === "GET") {
      failTopicReads--;
      return { statusCode: 503, headers: { "content-type": "application/json" }, body: '{"message":"Service Unavailable"}', isBase64Encoded: false };
    }
    if (fn === "produce" && String((e as { rawPath?: string }).rawPath).endsWith("/records")) {
      if (holdProduces) heldProduces++;
      await holdProduces;
      produceRequests++;
      produceBodies.push(String((e as { body?: string }).body ?? "").length);
      const answer = answerNextProduce;
      answerNextProduce = undefined;
      const given = answer?.();
      if (given) return given;
      if (failNextProduces > 0) {
        failNextProduces--;
        // What API Gateway answers when throttled: no Seglog body, a 503.
        return { statusCode: 503, headers: { "content-type": "application/json" }, body: '{"message":"Service Unavailable"}', isBase64Encoded: false };
      }
    }
    const result = await invoke(fn, e);
    if (fn === "produce" && loseNextAnswers > 0 && String((e as { rawPath?: string }).rawPath).endsWith("/records")) {
      loseNextAnswers--;
      // The batch landed but the answer was lost (a timeout at API Gateway): the client retries.
      return { statusCode: 504, headers: { "content-type": "application/json" }, body: '{"message":"Endpoint request timed out"}', isBase64Encoded: false };
    }
    return result;
  };
  api = await startLocalApi({ port: 0, routes: routes as never, handlers: { admin: h("admin"), produce: h("produce"), fetch: h("fetch"), groups: h("groups") } });
});
afterAll(() => api.close());

/**
 * A topic whose partitions each hold `n` batches of one record, a segment each: `v0`, `v1`, … in
 * a topic of one partition, `p0v0`, `p1v0`, `p0v1`, … (partition by partition, in turn) in more.
 */
async function topicOfSegments(prefix: string, n: number, partitions = 1): Promise<string> {
  const topic = uniqueName(prefix);
  await new Admin({ url: api.url }).createTopic(topic, { partitions });
  const { log } = testLog();
  for (let i = 0; i < n; i++) {
    for (let partition = 0; partition < partitions; partition++) {
      const value = Buffer.from(partitions === 1 ? `v${i}` : `p${partition}v${i}`);
      await log.produceRecords(topic, [{ key: null, value, partition }]);
    }
  }
  return topic;
}

describe("the client SDK", () => {
  it("batches by lingerMs and batchBytes, and acknowledges each record with its offset", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("batch");
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer({ url: api.url, lingerMs: 50, batchBytes: 1_000_000 });
    const before = produceRequests;
    const acks = await Promise.all(Array.from({ length: 100 }, (_, i) => producer.send(topic, { value: `v${i}`, partition: i % 2 })));
    expect(produceRequests - before).toBe(1); // one request carrying one batch per partition
    expect(acks.filter((a) => a.partition === 0).map((a) => a.offset)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    const small = new Producer({ url: api.url, lingerMs: 10_000, batchBytes: 200 });
    const start = Date.now();
    await Promise.all(Array.from({ length: 20 }, (_, i) => small.send(topic, { value: "x".repeat(40), partition: 0, key: `k${i}` })));
    expect(Date.now() - start).toBeLessThan(5_000); // full batches went without waiting for linger
    await Promise.all([producer.close(), small.close()]);
  });

  it("sends a partition's batch that has waited half of lingerMs with another whose linger is over: records sent moments apart go as one request", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("linger");
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer({ url: api.url, lingerMs: 1_000, batchBytes: 1_000_000 });
    await producer.send(topic, { value: "warm", partition: 0 }); // the topic read, the producer id, out of the way
    const before = produceRequests;
    const first = producer.send(topic, { value: "a", partition: 0 });
    await new Promise((r) => setTimeout(r, 50));
    const second = producer.send(topic, { value: "b", partition: 1 });
    const acks = await Promise.all([first, second]);
    expect(produceRequests - before).toBe(1);
    expect(acks.map((a) => [a.partition, a.offset])).toEqual([
      [0, 1],
      [1, 0],
    ]);
    await producer.close();
  });

  it("sends the other partitions' nearly full batches with the first full one, as Kafka's sender drains them: one request for keyed traffic", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("drain");
    await admin.createTopic(topic, { partitions: 4 });
    // Round robin over 4 partitions, 100-byte values (about 116 bytes in a batch), 5,000-byte
    // batches: partition 0 fills with its 44th record, when the other three hold 43.
    const producer = new Producer({ url: api.url, lingerMs: 60_000, batchBytes: 5_000 });
    const before = produceRequests;
    const sends = Array.from({ length: 4 * 44 - 3 }, (_, i) => producer.send(topic, { value: "v".repeat(100), partition: i % 4 }));
    const acks = await Promise.race([Promise.all(sends), new Promise<never>((_, reject) => setTimeout(() => reject(new Error("linger waited")), 10_000))]);
    expect(produceRequests - before).toBe(1);
    for (let p = 0; p < 4; p++) expect(acks.filter((a) => a.partition === p).map((a) => a.offset)).toEqual(Array.from({ length: p === 0 ? 44 : 43 }, (_, i) => i));
    await producer.close();
  });

  it("deals records without keys out one by one with partitioner round-robin, so one request carries every partition's batch; sticky sends one batch per request", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("roundrobin");
    await admin.createTopic(topic, { partitions: 4 });
    // Records of about 116 bytes and 5,000-byte batches: a batch is full at its 44th record. 173
    // records fill one partition's batch and leave the other three one short under round-robin;
    // linger is far off, so what is not full goes only when close() flushes it.
    const run = async (partitioner: "sticky" | "round-robin") => {
      const producer = new Producer({ url: api.url, lingerMs: 60_000, batchBytes: 5_000, partitioner });
      const before = produceRequests;
      const sends = Array.from({ length: 4 * 44 - 3 }, () => producer.send(topic, { value: "v".repeat(100) }));
      await producer.close();
      return { acks: await Promise.all(sends), requests: produceRequests - before };
    };
    const robin = await run("round-robin");
    expect(robin.requests).toBe(1); // the full batch took the three nearly full ones along
    const perPartition = [0, 1, 2, 3].map((p) => robin.acks.filter((a) => a.partition === p).length);
    expect(perPartition.sort()).toEqual([43, 43, 43, 44]);
    const sticky = await run("sticky");
    expect(sticky.requests).toBeGreaterThanOrEqual(3); // a request per full batch, and the flush
    expect(() => new Producer({ url: api.url, partitioner: "random" as never })).toThrow(/sticky.*round-robin/);
    // Every record is in the log once, in send order within its partition.
    for (const { acks } of [robin, sticky]) {
      for (let p = 0; p < 4; p++) {
        const offsets = acks.filter((a) => a.partition === p).map((a) => a.offset);
        expect(offsets).toEqual([...offsets].sort((a, b) => a - b));
      }
    }
  });

  it("counts lingerMs per batch, from its first record, as Kafka's linger.ms: a batch opened later, that has waited less than half of it, is not cut short", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("linger");
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer({ url: api.url, lingerMs: 1000 });
    const before = produceRequests;
    const first = producer.send(topic, { value: "a", partition: 0 });
    await new Promise((r) => setTimeout(r, 900));
    const second = producer.send(topic, { value: "b", partition: 1 });
    const a = await first;
    // Partition 0's batch went alone when its second was up; partition 1's, 100 ms old, is still filling.
    expect(produceRequests - before).toBe(1);
    const b = await second;
    expect(produceRequests - before).toBe(2);
    expect([a.offset, b.offset]).toEqual([0, 0]);
    await producer.close();
  });

  it("gathers the records sent while a partition's request is in flight into one batch, as Kafka's accumulator does, not a queue of one-record batches", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("in-flight");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 0 });
    // Warmed first: record 0 must be in flight on its own, not waiting for the topic's first read
    // while the 30 after it gather behind it into the same batch.
    await producer.send(topic, { value: "warm" });
    let release = () => {};
    holdProduces = new Promise<void>((r) => (release = r));
    const before = produceRequests;
    const sent = [producer.send(topic, { value: "0" })];
    // Each of these comes after its predecessor's linger (0 ms) has run out.
    for (let i = 1; i <= 30; i++) {
      await new Promise((r) => setTimeout(r, 2));
      sent.push(producer.send(topic, { value: String(i) }));
    }
    holdProduces = undefined;
    release();
    const offsets = (await Promise.all(sent)).map((m) => m.offset);
    expect(offsets).toEqual(Array.from({ length: 31 }, (_, i) => i + 1));
    expect(produceRequests - before).toBe(2);
    await producer.close();
  });

  it("stamps a record without a timestamp when it is sent, as Kafka's producer does, not when its batch goes lingerMs later", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("stamped");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1000 });
    const sentA = Date.now();
    const a = producer.send(topic, { value: "a" });
    await new Promise((r) => setTimeout(r, 400));
    const sentB = Date.now();
    const b = producer.send(topic, { value: "b" });
    const given = producer.send(topic, { value: "c", timestamp: 1_000 });
    await Promise.all([a, b, given]);
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest" });
    consumer.assign([{ topic, partition: 0 }]);
    const [ra, rb, rc] = await consumer.poll();
    // One batch, sent about 1 s after "a": each record has the time of its own send.
    expect(ra?.timestamp).toBeGreaterThanOrEqual(sentA);
    expect(ra?.timestamp).toBeLessThan(sentB);
    expect(rb?.timestamp).toBeGreaterThanOrEqual(sentB);
    expect(rb?.timestamp).toBeLessThan(sentB + 300);
    expect(rc?.timestamp).toBe(1_000);
    await producer.close();

    // A record that waits for buffer space (the first two fill it; their batch goes 500 ms later)
    // is stamped and taken as it was at send: changes made to it after send do not reach it.
    const waits = new Producer({ url: api.url, lingerMs: 500, bufferBytes: 300 });
    const sentAt = Date.now();
    const first = Promise.all([waits.send(topic, { value: "x".repeat(200) }), waits.send(topic, { value: "y".repeat(200) })]);
    const record = { value: "before", headers: { h: "before" } };
    const waiting = waits.send(topic, record);
    record.value = "after";
    record.headers.h = "after";
    await Promise.all([first, waiting]);
    const [, , rw] = [...(await consumer.poll()), ...(await consumer.poll())];
    expect(Buffer.from(rw?.value ?? []).toString()).toBe("before");
    expect(rw?.headers.map((h) => Buffer.from(h.value ?? []).toString())).toEqual(["before"]);
    expect(rw?.timestamp).toBeLessThan(sentAt + 300);
    await waits.close();

    // Bytes too: a buffer changed or reused after send (a pooled one, say) changes nothing sent.
    const copies = new Producer({ url: api.url, lingerMs: 50 });
    const buf = Buffer.alloc(4);
    const sent = ["one1", "two2"].map((s) => {
      buf.write(s);
      return copies.send(topic, { key: buf, value: buf, headers: { h: buf } });
    });
    buf.fill("X");
    await Promise.all(sent);
    // The topic known now, a record joins its batch in `send` itself: the same.
    buf.write("thr3");
    const third = copies.send(topic, { key: buf, value: buf, headers: { h: buf } });
    buf.fill("Y");
    await third;
    await copies.close();
    const got: ConsumedRecord[] = [];
    while (got.length < 3) got.push(...(await consumer.poll()));
    const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? []).toString();
    expect(got.map((r) => [text(r.key), text(r.value), text(r.headers[0]?.value)])).toEqual([["one1", "one1", "one1"], ["two2", "two2", "two2"], ["thr3", "thr3", "thr3"]]);
    consumer.close();
  });
  it("holds at most bufferBytes unsent, even for records sent all at once, and keeps their order", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("fifo");
    await admin.createTopic(topic, { partitions: 1 });
    // A record waits while a record's worth is unsent (a 1,000-byte value and no key or headers
    // count 1,016 bytes): one record at a time.
    const producer = new Producer({ url: api.url, lingerMs: 0, bufferBytes: 1_016 });
    const before = produceRequests;
    const acks = ["a", "b", "c", "d"].map((v) => producer.send(topic, { value: v.padEnd(1000, ".") }));
    // "e" is sent the moment "a" is acked: "b", "c" and "d" waited longer and go first.
    acks.push(acks[0]!.then(() => producer.send(topic, { value: "e".padEnd(1000, ".") })));
    const offsets = await Promise.all(acks.map(async (p) => (await p).offset));
    await producer.close();
    expect(offsets).toEqual([0, 1, 2, 3, 4]);
    expect(produceRequests - before).toBe(5); // one record in the buffer at a time: a request each
    expect(() => new Producer({ url: api.url, lingerMs: 2 ** 31 })).toThrow(/lingerMs/);
    // A buffer of nothing would hold every send back for ever; as Kafka's producer, one smaller
    // than a record refuses that record at send, and the others go on.
    expect(() => new Producer({ url: api.url, bufferBytes: 0 })).toThrow(/bufferBytes must be a whole number of bytes above 0, not 0/);
    expect(() => new Producer({ url: api.url, batchBytes: -1 })).toThrow(/batchBytes must be/);
    // A misspelt option is refused when the client is made, naming what it takes, not at its
    // first call as something else.
    const refusedAtOnce = (make: () => unknown, message: string) => expect(make).toThrow(expect.objectContaining({ kind: "Invalid", message }));
    refusedAtOnce(() => new Producer({ url: api.url, compression: "brotli" as never }), 'compression must be "none", "gzip", "snappy", "lz4", "zstd", not "brotli"');
    refusedAtOnce(() => new Producer({ url: api.url, partitioner: "random" as never }), 'partitioner must be "sticky", "round-robin", not "random"');
    refusedAtOnce(() => new Consumer({ url: api.url, autoOffsetReset: "smallest" as never }), 'autoOffsetReset must be "earliest", "latest", "none", not "smallest"');
    refusedAtOnce(() => new Consumer({ url: api.url, readFrom: "s3" as never }), 'readFrom must be "storage", "api", not "s3"');
    refusedAtOnce(() => new Consumer({ url: api.url, maxBytes: 0 }), "maxBytes must be a whole number ≥ 1, not 0");
    refusedAtOnce(() => new GroupConsumer({ url: api.url, groupId: "g", delivery: "at-most-once" as never }), 'delivery must be "atLeastOnce", "atMostOnce", not "at-most-once"');
    // A name a URL would resolve away ("", ".", "..") would ask another route (the list of all).
    refusedAtOnce(() => new GroupConsumer({ url: api.url, groupId: "." }), 'A group name must not be empty, "." or "..", not "."');
    for (const name of ["", ".", ".."]) {
      await expect(admin.describeTopic(name)).rejects.toMatchObject({ kind: "Invalid", code: "InvalidTopicName" });
      await expect(admin.describeGroup(name)).rejects.toMatchObject({ kind: "Invalid", code: "InvalidGroupName" });
    }
    await expect(new Producer({ url: api.url }).send("", { value: "x" })).rejects.toMatchObject({ kind: "Invalid", code: "InvalidTopicName" });
    const small = new Producer({ url: api.url, lingerMs: 0, bufferBytes: 1_000 });
    await expect(small.send(topic, { value: "z".repeat(1_000) })).rejects.toMatchObject({ kind: "TooLarge", message: expect.stringMatching(/more than the producer's buffer holds \(bufferBytes, Kafka's buffer.memory: 1000\)/) });
    expect((await small.send(topic, { value: "fits" })).offset).toBe(5);
    await small.close();
  });

  it("refuses bad arguments with Invalid when they are given, not with a TypeError or a RangeError, nor by failing every later call", async () => {
    const invalidOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return [(e as SeglogError).kind, (e as Error).message];
      }
      return undefined;
    };
    expect(invalidOf(() => new Consumer({ url: api.url, maxWaitMs: -1 }))).toEqual(["Invalid", "maxWaitMs must be a whole number of ms ≥ 0, not -1"]);
    const consumer = new Consumer({ url: api.url });
    expect(invalidOf(() => consumer.assign(null as never))).toEqual(["Invalid", "assign takes a list of { topic, partition }, not null"]);
    expect(invalidOf(() => consumer.assign([{ topic: "t", partition: 0, topicId: "abc" }]))).toEqual(["Invalid", 'A topicId comes with an offset, as a string, not "abc"']);
    consumer.assign([{ topic: uniqueName("args"), partition: 0, offset: 0 }]);
    await expect(consumer.poll({ maxWaitMs: Number.NaN })).rejects.toMatchObject({ kind: "Invalid", message: "maxWaitMs must be a whole number of ms ≥ 0, not NaN" });
    await consumer.close();
    expect(invalidOf(() => new GroupConsumer({ url: api.url, groupId: "g", sessionTimeoutMs: Number.NaN }))).toEqual(["Invalid", "sessionTimeoutMs must be a whole number of ms from 1 to 2147483647, not NaN"]);
    const member = new GroupConsumer({ url: api.url, groupId: uniqueName("g") });
    expect(invalidOf(() => member.pause(null as never))).toEqual(["Invalid", "pause takes a list of { topic, partition }, not null"]);
    // Options that would turn the clients' loops and timers odd: NaN retried for ever, a 0 backoff spun.
    for (const [make, message] of [
      [() => new GroupConsumer({ url: api.url, groupId: "g", sessionTimeoutMs: -1 }), "sessionTimeoutMs must be a whole number of ms from 1 to 2147483647, not -1"],
      [() => new GroupConsumer({ url: api.url, groupId: "g", autoCommitIntervalMs: Number.NaN }), "autoCommitIntervalMs must be a whole number of ms from 0 to 2147483647, not NaN"],
      [() => new GroupConsumer({ url: api.url, groupId: "g", autoCommit: "no" as never }), 'autoCommit must be true or false, not "no"'],
      [() => new Consumer({ url: api.url, maxPrefetchBytes: Number.NaN }), "maxPrefetchBytes must be a whole number ≥ 0, not NaN"],
      [() => new Consumer({ url: api.url, maxAttempts: Number.NaN }), "maxAttempts must be a whole number ≥ 1, not NaN"],
      [() => new Admin({ url: api.url, initialBackoffMs: 0 }), "initialBackoffMs must be a whole number of ms from 1 to 2147483647, not 0"],
      [() => new Admin({ url: api.url, initialBackoffMs: 500, maxBackoffMs: 100 }), "maxBackoffMs must be a whole number of ms from 500 to 2147483647, not 100"],
      [() => new Producer({ url: api.url, deliveryTimeoutMs: Number.MAX_SAFE_INTEGER }), `deliveryTimeoutMs must be a whole number of ms from 1 to 2147483647, not ${Number.MAX_SAFE_INTEGER}`],
    ] as const) {
      expect(invalidOf(make)).toEqual(["Invalid", message]);
    }
    // A partition that is not a number never reaches a path: it could name another route.
    await expect(new Admin({ url: api.url }).offsetFor("t", "../../../../v1/groups/x" as never, "latest")).rejects.toMatchObject({ kind: "Invalid" });
    // A base url with a query would send every call to it: "/prod?x=1/v1/topics" is "/prod".
    for (const url of [`${api.url}/prod?stage=1`, `${api.url}?`, `${api.url}/#top`]) {
      expect(invalidOf(() => new Admin({ url }))).toEqual(["Invalid", `url is the API's base address, without a query or fragment, not ${JSON.stringify(url)}`]);
    }
  });

  it("sends an admin change again when the server answers Throttled (it was not made), and no other failure", async () => {
    const topic = uniqueName("throttled-admin");
    const answers: number[] = [];
    let refuse: { status: number; kind: string } | undefined;
    const transport: Transport = async (request) => {
      if (request.method !== "GET" && refuse) {
        const { status, kind } = refuse;
        refuse = undefined;
        answers.push(status);
        const body = Buffer.from(JSON.stringify({ error: { kind, message: `${kind} here`, retriable: true } }));
        return { status, header: (name: string) => (name.toLowerCase() === "retry-after" ? "0" : undefined), body };
      }
      const reply = await nodeTransport(request);
      if (request.method !== "GET") answers.push(reply.status);
      return reply;
    };
    const admin = new Admin({ url: api.url, initialBackoffMs: 5, transport });
    refuse = { status: 429, kind: "Throttled" };
    expect((await admin.createTopic(topic, { partitions: 1 })).name).toBe(topic);
    refuse = { status: 429, kind: "Throttled" };
    await admin.deleteTopic(topic);
    expect(answers).toEqual([429, 201, 429, 204]);
    // A retriable failure of another kind may have come after the change was made: the caller's call.
    refuse = { status: 500, kind: "Internal" };
    await expect(admin.createTopic(topic, { partitions: 1 })).rejects.toMatchObject({ kind: "Internal", retriable: true });
    expect(answers).toEqual([429, 201, 429, 204, 500]);
  });

  it("under a max.message.bytes lowered since it read the topic, fails only the batch over it, not the other partitions' in its request, and builds its next batches to the new limit", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("lowered");
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer({ url: api.url, lingerMs: 20 });
    await producer.send(topic, { value: "read", partition: 1 }); // it knows the topic now: 1,048,588
    await admin.alterTopic(topic, { config: { "max.message.bytes": 4_000 } });
    const burst = () => Array.from({ length: 60 }, (_, i) => producer.send(topic, { value: `${i}`.padEnd(100, "."), partition: 0 }).then(() => "ok", (e: SeglogError) => e.kind));
    const first = burst();
    const beside = producer.send(topic, { value: "beside", partition: 1 });
    expect(new Set(await Promise.all(first))).toEqual(new Set(["TooLarge"]));
    expect((await beside).offset).toBe(1);
    expect(new Set(await Promise.all(burst()))).toEqual(new Set(["ok"]));
    await producer.close();
  });

  it("does not end the process when a record it refuses after waiting for the topic's partitions was sent and not awaited (an unhandled rejection did)", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("unawaited");
    await admin.createTopic(topic, { partitions: 1 });
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => void unhandled.push(reason);
    process.on("unhandledRejection", listener);
    try {
      // Partition counts trusted 0 ms: every send waits for a fresh read before its record is taken.
      const producer = new Producer({ url: api.url, lingerMs: 1, metadataMaxAgeMs: 0 });
      await producer.send(topic, { value: "known" });
      const refused = producer.send(topic, { value: "x", partition: 5 }); // not awaited, for now
      await producer.flush();
      await new Promise((r) => setTimeout(r, 100));
      expect(unhandled).toEqual([]);
      await expect(refused).rejects.toMatchObject({ kind: "NotFound" });
      await producer.close();
    } finally {
      process.off("unhandledRejection", listener);
    }
  });

  it("refuses at send, with Invalid, what it would otherwise store changed or fail on with a TypeError: a record that is not an object, KafkaJS's send({topic, messages}), headers as a Map or a string, lone surrogates", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("shapes");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 0 });
    const refused = async (send: () => Promise<unknown>) => {
      const e = await send().then(() => undefined, (err: unknown) => err);
      expect(e).toBeInstanceOf(SeglogError);
      return [(e as SeglogError).kind, (e as SeglogError).message];
    };
    expect(await refused(() => producer.send(topic, "hello" as never))).toEqual(["Invalid", "A record is { key?, value, headers?, partition?, timestamp? }, not string"]);
    expect(await refused(() => producer.send(topic, null as never))).toEqual(["Invalid", "A record is { key?, value, headers?, partition?, timestamp? }, not null"]);
    expect(await refused(() => producer.send({ topic, messages: [{ value: "x" }] } as never, undefined as never))).toEqual([
      "Invalid",
      "send takes a topic's name and a record, send(topic, record), not an object",
    ]);
    expect(await refused(() => producer.send(topic, { value: "v", headers: new Map([["a", "b"]]) as never }))).toEqual([
      "Invalid",
      "A record's headers are an object of key: value, or an array of {key, value}",
    ]);
    expect((await refused(() => producer.send(topic, { value: "v", headers: "abc" as never })))[0]).toBe("Invalid");
    expect(await refused(() => producer.send(topic, { key: "\ud800", value: "v" }))).toEqual(["Invalid", "A record's key is not well-formed Unicode (a lone surrogate): send its bytes"]);
    expect((await refused(() => producer.send(topic, { value: "v", headers: { "\udc00": "x" } })))[0]).toBe("Invalid");
    // Nothing of them was stored: the next record is the topic's first.
    expect((await producer.send(topic, { key: "\ud83d\ude00", value: "ok" })).offset).toBe(0);
    await producer.close();
  });

  it("takes a header name with several values as KafkaJS does (an array), or headers as a consumed record gives them; a consumer reads them in order", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("headers");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1 });
    await producer.send(topic, { value: "v", headers: { trace: ["a", Buffer.from("b")], one: "x", none: null, empty: [] } });
    await expect(producer.send(topic, { value: "v", headers: { bad: ["ok", 5 as never] } })).rejects.toMatchObject({ kind: "Invalid", message: expect.stringMatching(/header "bad" must be a string, bytes or null/) });
    await expect(producer.send(topic, { value: "v", headers: [{ key: 5 as never, value: "x" }] })).rejects.toMatchObject({ kind: "Invalid", message: expect.stringMatching(/header 0 must be \{key, value\}/) });
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest" });
    consumer.assign([{ topic, partition: 0 }]);
    const [r] = await consumer.poll();
    const expected = [
      ["trace", "a"],
      ["trace", "b"],
      ["one", "x"],
      ["none", null],
    ];
    expect(r?.headers.map((h) => [h.key, h.value === null ? null : h.value.toString()])).toEqual(expected);
    // A consumed record's headers, sent on as they came (a mirror): the same headers.
    await producer.send(topic, { value: "copy", headers: r?.headers ?? [] });
    await producer.close();
    const [copy] = await consumer.poll();
    expect(copy?.headers.map((h) => [h.key, h.value === null ? null : h.value.toString()])).toEqual(expected);
    consumer.close();
  });

  it("refuses a record the client cannot encode without holding up the others or close()", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("unencodable");
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer({ url: api.url, lingerMs: 20 });
    // Caught at send, as Kafka's serializers run in send: only that record fails, not its batch.
    const good = producer.send(topic, { value: "ok", partition: 0 });
    await expect(producer.send(topic, { value: "x", partition: 0, timestamp: 1.5 })).rejects.toMatchObject({ kind: "Invalid" });
    await expect(producer.send(topic, { value: "x", partition: 0, timestamp: -5 })).rejects.toMatchObject({ kind: "Invalid", message: expect.stringMatching(/from 0 to 2\^52, not -5/) });
    const alsoGood = producer.send(topic, { value: "y0", partition: 1 });
    await expect(producer.send(topic, { value: "y", partition: 1, headers: { h: 5 as never } })).rejects.toMatchObject({ kind: "Invalid", message: expect.stringMatching(/header "h" must be a string, bytes or null/) });
    await expect(producer.send(topic, { value: 7 as never, partition: 1 })).rejects.toMatchObject({ kind: "Invalid" });
    await expect(producer.send(topic, { key: {} as never, value: "k" })).rejects.toMatchObject({ kind: "Invalid" });
    expect((await good).offset).toBe(0);
    expect((await alsoGood).offset).toBe(0);
    // The idempotent producer's sequence for partition 1 did not move past the refused records.
    expect((await producer.send(topic, { value: "z", partition: 1 })).offset).toBe(1);
    await producer.close();
  });

  it("refuses a record for a partition the topic does not have at send, alone, and finds partitions added since by reading the topic again; a refused record's promise nobody awaits yet does not crash the process", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("unawaited");
    await admin.createTopic(topic, { partitions: 1 });
    const unhandled: unknown[] = [];
    const listener = (reason: unknown) => unhandled.push(reason);
    process.on("unhandledRejection", listener);
    try {
      const producer = new Producer({ url: api.url, lingerMs: 5 });
      const good = producer.send(topic, { value: "ok", partition: 0 });
      // Partition 3 does not exist: nobody awaits these yet, and they do not take "ok" down with them.
      const refused = [producer.send(topic, { value: "a", partition: 3 }), producer.send(topic, { value: "b", partition: 3 })];
      await producer.flush();
      await new Promise((r) => setTimeout(r, 50)); // unhandled rejections are reported after a macrotask
      expect(unhandled).toEqual([]);
      expect((await good).offset).toBe(0);
      for (const p of refused) await expect(p).rejects.toMatchObject({ kind: "NotFound", message: `Topic '${topic}' has no partition 3 (it has 1)` });
      await expect(producer.send(topic, { value: "c", partition: -1 })).rejects.toMatchObject({ kind: "Invalid" });
      // A batch that failed its last attempt: its records' promises, unawaited, report it the same way.
      const once = new Producer({ url: api.url, lingerMs: 5, maxAttempts: 1 });
      await once.send(topic, { value: "d", partition: 0 }); // the topic read: records now join their batch at once
      failNextProduces = 1;
      const failed = [once.send(topic, { value: "e", partition: 0 }), once.send(topic, { value: "f", partition: 0 })];
      await once.close();
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
      for (const p of failed) await expect(p).rejects.toMatchObject({ retriable: true, message: expect.stringMatching(/HTTP 503/) });
      // Partitions added since the producer read the topic: it reads the topic again and finds them.
      await admin.alterTopic(topic, { partitions: 4 });
      await new Promise((r) => setTimeout(r, 1000));
      expect(await producer.send(topic, { value: "g", partition: 3 })).toMatchObject({ partition: 3, offset: 0 });
      await producer.close();
    } finally {
      process.off("unhandledRejection", listener);
    }
  });

  it("close() delivers the records sent just before it, even those still waiting for the topic's partitions", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("close");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 60_000 });
    const sends = Array.from({ length: 5 }, (_, i) => producer.send(topic, { value: `r${i}` }));
    await producer.close(); // the producer has not read the topic yet: no record is in a batch
    const settled = await Promise.race([Promise.all(sends), new Promise<"pending">((r) => setTimeout(() => r("pending"), 0))]);
    expect(settled).not.toBe("pending");
    expect((settled as { offset: number }[]).map((a) => a.offset)).toEqual([0, 1, 2, 3, 4]);
  });

  it("starts a new batch rather than grow one past the topic's max.message.bytes", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("maxbatch");
    await admin.createTopic(topic, { partitions: 1, config: { "max.message.bytes": 4096 } });
    const producer = new Producer({ url: api.url, lingerMs: 50 });
    const acks = await Promise.all(Array.from({ length: 12 }, (_, i) => producer.send(topic, { value: `${i}`.padEnd(1000, "x") })));
    await producer.close();
    expect(acks.map((a) => a.offset)).toEqual(Array.from({ length: 12 }, (_, i) => i));
  });

  it("keeps each request within what Lambda accepts after base64: full batches of many partitions go in several requests", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("bigreq");
    await admin.createTopic(topic, { partitions: 6 });
    const producer = new Producer({ url: api.url, lingerMs: 100 });
    const value = "x".repeat(1000);
    produceBodies.length = 0;
    const acks = await Promise.all(Array.from({ length: 6 * 900 }, (_, i) => producer.send(topic, { value, partition: i % 6 })));
    await producer.close();
    expect(acks).toHaveLength(6 * 900);
    expect(produceBodies.length).toBeGreaterThan(1);
    // Lambda's 6 MB invocation limit holds the base64 body and the rest of the event.
    for (const b64 of produceBodies) expect(b64).toBeLessThan(6_000_000);
  });

  it("retries throttled requests with backoff and loses nothing", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("retry");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 10 });
    failNextProduces = 3;
    const acks = await Promise.all(["a", "b", "c"].map((v) => producer.send(topic, { value: v })));
    expect(acks.map((a) => a.offset).sort()).toEqual([0, 1, 2]);
    await producer.close();
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest" });
    consumer.assign([{ topic, partition: 0 }]);
    const got = await consumer.poll();
    expect(got.map((r) => Buffer.from(r.value ?? []).toString()).sort()).toEqual(["a", "b", "c"]);
  });

  it("retries a batch through an outage until its delivery timeout, not a fixed number of attempts", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("outage");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 1, maxBackoffMs: 5 });
    failNextProduces = 12; // twice what the client's other calls try (maxAttempts, 6)
    expect((await producer.send(topic, { value: "through" })).offset).toBe(0);
    expect(failNextProduces).toBe(0);
    await producer.close();
  });

  it("waits out an outage of the API's reads before its first send to a topic, until the delivery timeout, as a batch does", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("first-outage");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 1, maxBackoffMs: 5 });
    failTopicReads = 12; // twice what the client's other calls try (maxAttempts, 6)
    try {
      expect((await producer.send(topic, { value: "first" })).offset).toBe(0);
      expect(failTopicReads).toBe(0);
    } finally {
      failTopicReads = 0;
    }
    await producer.close();
    const brief = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 1, maxBackoffMs: 5, deliveryTimeoutMs: 200 });
    failTopicReads = 1_000_000;
    try {
      await expect(brief.send(topic, { value: "never" })).rejects.toMatchObject({ retriable: true });
    } finally {
      failTopicReads = 0;
    }
    await brief.close();

    // A backoff that would end past the delivery timeout (the server asks for 2 s) fails at once:
    // before, the read waited it out and tried once more, 2 s past a 500 ms delivery timeout.
    const unavailable = createHttpServer((_, res) => void res.writeHead(503, { "retry-after": "2", "content-type": "application/json" }).end('{"message":"Service Unavailable"}'));
    await new Promise<void>((resolve) => unavailable.listen(0, "127.0.0.1", resolve));
    try {
      const hurried = new Producer({ url: `http://127.0.0.1:${(unavailable.address() as AddressInfo).port}`, deliveryTimeoutMs: 500 });
      const asked = performance.now();
      await expect(hurried.partitionsFor(topic)).rejects.toMatchObject({ retriable: true, retryAfterMs: 2000 });
      expect(performance.now() - asked).toBeLessThan(500);
      await hurried.close();
    } finally {
      unavailable.close();
    }
  });

  it("sends to the topics it knows while its first read of another topic waits out an outage", async () => {
    const admin = new Admin({ url: api.url });
    const [known, unknown] = [uniqueName("known"), uniqueName("not-yet")];
    await admin.createTopic(known, { partitions: 1 });
    await admin.createTopic(unknown, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 1, maxBackoffMs: 5 });
    expect((await producer.send(known, { value: "a" })).offset).toBe(0);
    failTopicReads = 1_000_000;
    let waited: "pending" | "sent" = "pending";
    const first = producer.send(unknown, { value: "x" }).then((m) => {
      waited = "sent";
      return m;
    });
    try {
      expect((await producer.send(known, { value: "b" })).offset).toBe(1);
      expect(waited).toBe("pending");
    } finally {
      failTopicReads = 0;
    }
    expect((await first).offset).toBe(0);
    await producer.close();
  });

  it("sends on what it knows of a topic while reading it again fails (metadataMaxAgeMs passed in an outage of the API's reads)", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("stale-metadata");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, metadataMaxAgeMs: 1, initialBackoffMs: 1, maxBackoffMs: 5 });
    expect((await producer.send(topic, { value: "a" })).offset).toBe(0);
    failTopicReads = 1_000_000;
    try {
      await new Promise((r) => setTimeout(r, 5));
      expect((await producer.send(topic, { value: "b" })).offset).toBe(1);
    } finally {
      failTopicReads = 0;
    }
    await producer.close();
  });

  it("goes on after a batch failed for good with its outcome unknown: a new identity, as Kafka's producer takes", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("after-outage");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 5, maxBackoffMs: 20, deliveryTimeoutMs: 300 });
    expect((await producer.send(topic, { value: "a" })).offset).toBe(0);
    failNextProduces = 1_000_000;
    await expect(producer.send(topic, { value: "lost" })).rejects.toMatchObject({ retriable: true, message: expect.stringMatching(/HTTP 503/) });
    failNextProduces = 0;
    expect((await producer.send(topic, { value: "b" })).offset).toBe(1);
    expect((await producer.send(topic, { value: "c" })).offset).toBe(2);
    await producer.close();
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest", maxWaitMs: 0 });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    expect((await consumer.poll()).map((r) => Buffer.from(r.value ?? []).toString())).toEqual(["a", "b", "c"]);
    await consumer.close();
  });

  it.each(["storage", "api"] as const)("starts a partition over when its topic was deleted and created again under it, instead of skipping the new topic's first records (reading from %s)", async (readFrom) => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("recreated-under");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1 });
    const produce = (prefix: string, n: number) => Promise.all(Array.from({ length: n }, (_, i) => producer.send(topic, { value: `${prefix}${i}`, partition: 0 })));
    await produce("old", 30);
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest", maxWaitMs: 0, readFrom });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    const values = async () => (await consumer.poll()).map((r) => Buffer.from(r.value ?? []).toString());
    const old: string[] = [];
    while (old.length < 30) old.push(...(await values()));
    const oldId = consumer.topicId({ topic, partition: 0 });
    expect(oldId).toMatch(/^[0-9a-f]{32}$/);
    await admin.deleteTopic(topic);
    await admin.createTopic(topic, { partitions: 1 });
    await producer.close();
    const fresh = new Producer({ url: api.url, lingerMs: 1 });
    await Promise.all(Array.from({ length: 50 }, (_, i) => fresh.send(topic, { value: `new${i}`, partition: 0 })));
    await fresh.close();
    const seen: string[] = [];
    for (let i = 0; i < 50 && seen.length < 50; i++) seen.push(...(await values()));
    expect(seen.slice(0, 3)).toEqual(["new0", "new1", "new2"]);
    expect(seen).toHaveLength(50);
    expect(consumer.topicId({ topic, partition: 0 })).not.toBe(oldId);
    consumer.close();
    // An offset assigned with the id of the topic it was in starts over too (a paused partition resumed).
    const later = new Consumer({ url: api.url, autoOffsetReset: "earliest", maxWaitMs: 0, readFrom });
    later.assign([{ topic, partition: 0, offset: 30, ...(oldId === undefined ? {} : { topicId: oldId }) }]);
    const again: string[] = [];
    for (let i = 0; i < 50 && again.length < 50; i++) again.push(...(await later.poll()).map((r) => Buffer.from(r.value ?? []).toString()));
    expect(again.slice(0, 3)).toEqual(["new0", "new1", "new2"]);
    later.close();
  });

  it.each(["seek", "reset"] as const)("keeps a position set in a recreated topic, by %s, and reads the new topic's records from it, not skipping them by a second reset", async (how) => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("recreated-seek");
    await admin.createTopic(topic, { partitions: 1 });
    const send = async (prefix: string, n: number) => {
      const producer = new Producer({ url: api.url, lingerMs: 1 });
      await Promise.all(Array.from({ length: n }, (_, i) => producer.send(topic, { value: `${prefix}${i}`, partition: 0 })));
      await producer.close();
    };
    await send("old", 10);
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "latest", maxWaitMs: 0 });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    const values = async () => (await consumer.poll()).map((r) => Buffer.from(r.value ?? []).toString());
    const old: string[] = [];
    while (old.length < 10) old.push(...(await values()));
    await admin.deleteTopic(topic);
    await admin.createTopic(topic, { partitions: 1 });
    if (how === "seek") {
      await send("new", 5);
      await consumer.seek({ topic, partition: 0 }, 0);
    } else {
      // Position 10 is past the new topic's end: reset to its latest, 0, before anything lands.
      expect(await values()).toEqual([]);
      expect(consumer.position({ topic, partition: 0 })).toBe(0);
      await send("new", 5);
    }
    const seen: string[] = [];
    for (let i = 0; i < 20 && seen.length < 5; i++) seen.push(...(await values()));
    expect(seen).toEqual(["new0", "new1", "new2", "new3", "new4"]);
    await consumer.close();
  });

  it("fails a batch that waited out its delivery timeout behind a slow request without sending it, and the partition goes on", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("expired");
    await admin.createTopic(topic, { partitions: 1 });
    // As Kafka, a delivery timeout a batch's linger alone would use up is refused.
    expect(() => new Producer({ url: api.url, lingerMs: 500, deliveryTimeoutMs: 400 })).toThrow(/deliveryTimeoutMs must be above lingerMs \(500\), not 400/);
    const producer = new Producer({ url: api.url, lingerMs: 1, deliveryTimeoutMs: 300 });
    expect((await producer.send(topic, { value: "a" })).offset).toBe(0);
    let release = () => undefined as void;
    holdProduces = new Promise<void>((r) => (release = r));
    const before = produceRequests;
    const slow = producer.send(topic, { value: "slow" });
    await new Promise((r) => setTimeout(r, 20));
    const queued = producer.send(topic, { value: "expired" });
    queued.catch(() => undefined);
    // It fails at its delivery timeout, while the request ahead of it is still unanswered.
    await expect(queued).rejects.toMatchObject({ code: "DeliveryTimeout", retriable: true, message: expect.stringMatching(/^Expired before it was sent: 1 record\(s\) waited \d+ ms, past deliveryTimeoutMs \(300\)/) });
    release();
    holdProduces = undefined;
    expect((await slow).offset).toBe(1);
    expect((await producer.send(topic, { value: "b" })).offset).toBe(2);
    expect(produceRequests - before).toBe(2); // the slow one and b: the expired batch was never sent
    await producer.close();
  });

  it("gives up a request not answered within requestTimeoutMs and sends it again: the records land once, however many of the attempts the server carried out", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("request-timeout");
    await admin.createTopic(topic, { partitions: 1 });
    expect(() => new Producer({ url: api.url, requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs must be a whole number of ms from 1/);
    const producer = new Producer({ url: api.url, lingerMs: 1, requestTimeoutMs: 200 });
    // (Under load even this one may be given up and sent again: it lands once all the same.)
    const a = await producer.send(topic, { value: "a" });
    // The produce function hangs (as a connection that never answers): every attempt waits
    // until it is released, after the client gave up the first ones.
    let release = () => undefined as void;
    holdProduces = new Promise<void>((r) => (release = r));
    const held = heldProduces;
    const sent = producer.send(topic, { value: "b" });
    while (heldProduces - held < 3) await new Promise((r) => setTimeout(r, 20));
    release();
    holdProduces = undefined;
    // Whichever attempt landed, every one answers with its offsets; those the others took are
    // given up (offsets are not dense).
    const { offset } = await sent;
    expect(offset).toBeGreaterThan(a.offset);
    expect((await producer.send(topic, { value: "c" })).offset).toBeGreaterThan(offset);
    await producer.close();
    const consumer = new Consumer({ url: api.url });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    const read: [string, number][] = [];
    while (read.length < 3) for (const r of await consumer.poll({ maxWaitMs: 1000 })) read.push([String(r.value), r.offset]);
    expect(read.map(([value]) => value)).toEqual(["a", "b", "c"]);
    expect(read.slice(0, 2)).toEqual([
      ["a", a.offset],
      ["b", offset],
    ]);
    expect(await consumer.poll({ maxWaitMs: 0 })).toEqual([]);
    consumer.close();
  });

  it("gives up a fetch not answered within its maxWaitMs and requestTimeoutMs more, and fetches again", async () => {
    const topic = await topicOfSegments("fetch-timeout", 2);
    for (const readFrom of ["storage", "api"] as const) {
      let hung = 0;
      // The first fetch's connection hangs: no answer, no error, until the client gives it up.
      const transport: Transport = (request) => {
        if (request.url.pathname.endsWith("/records") && !request.url.searchParams.has("X-Amz-Signature") && hung++ === 0) return never(request.signal);
        return nodeTransport(request);
      };
      expect(() => new Consumer({ url: api.url, requestTimeoutMs: 0 })).toThrow(/requestTimeoutMs must be a whole number of ms from 1/);
      const consumer = new Consumer({ url: api.url, transport, readFrom, maxWaitMs: 100, requestTimeoutMs: 200 });
      consumer.assign([{ topic, partition: 0, offset: 0 }]);
      const values: string[] = [];
      while (values.length < 2) for (const r of await consumer.poll()) values.push(String(r.value));
      expect(values).toEqual(["v0", "v1"]);
      expect(hung).toBeGreaterThan(1); // the hung fetch, then the one that answered
      consumer.close();
    }
  });

  it("gives up every call to an API that takes the connection and never answers after requestTimeoutMs: reads are retried, a change is not (it may have been made)", async () => {
    const sockets = new Set<Socket>();
    const silent = createNetServer((socket) => sockets.add(socket)); // reads the request, says nothing
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      expect(() => new Admin({ url, requestTimeoutMs: 1.5 })).toThrow(/requestTimeoutMs must be a whole number of ms from 1/);
      const admin = new Admin({ url, requestTimeoutMs: 150, maxAttempts: 3, initialBackoffMs: 1, maxBackoffMs: 1 });
      const timedOut = { kind: "Internal", code: "RequestTimeout", retriable: true, message: expect.stringContaining("within 150 ms (requestTimeoutMs): the request may have been carried out") };
      await expect(admin.listTopics()).rejects.toMatchObject(timedOut);
      expect(sockets.size).toBe(3); // three attempts, each given up
      await expect(admin.createTopic(uniqueName("silent"))).rejects.toMatchObject(timedOut);
      expect(sockets.size).toBe(4); // one
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("in an outage, settles every record within its deliveryTimeoutMs, however many batches queue behind the producer id it cannot get", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("outage-deadline");
    await admin.createTopic(topic, { partitions: 1 });
    let down = false;
    const transport: Transport = (request) => (down ? Promise.reject(connectionFailed("ECONNREFUSED")) : nodeTransport(request));
    const deliveryTimeoutMs = 800;
    const producer = new Producer({ url: api.url, transport, lingerMs: 1, deliveryTimeoutMs });
    expect((await producer.send(topic, { value: "before" })).offset).toBe(0);
    // The first batch sent in the outage fails with its outcome unknown: the producer gives up its
    // id, and every batch after it waits for a new one.
    down = true;
    const took: number[] = [];
    const errors = new Set<string>();
    const settled: Promise<void>[] = [];
    for (let i = 0; i < 40; i++) {
      const sentAt = performance.now();
      settled.push(
        producer.send(topic, { value: `during-${i}` }).then(
          () => expect.unreachable("acknowledged while the API was down"),
          (e: SeglogError) => {
            took.push(performance.now() - sentAt);
            errors.add(e.code ?? e.kind);
          },
        ),
      );
      await new Promise((r) => setTimeout(r, 50));
    }
    await Promise.all(settled);
    // One batch a time goes to the partition: before, each waited for the id's retries of every
    // batch ahead of it, each with a fresh delivery timeout (the slowest took 5 s here).
    expect(took).toHaveLength(40);
    expect(Math.max(...took)).toBeLessThan(2 * deliveryTimeoutMs);
    expect([...errors].every((code) => code === "DeliveryTimeout" || code === "Unreachable")).toBe(true);
    down = false;
    expect((await producer.send(topic, { value: "after" })).offset).toBe(1);
    await producer.close();

    // A producer-id request unanswered when its records expired is called off by close(),
    // rather than left to keep the process alive (for requestTimeoutMs, 30 s by default).
    let init: AbortSignal | undefined;
    const silentInit: Transport = (request) => (request.url.pathname === "/v1/producers" ? never((init = request.signal)) : nodeTransport(request));
    const waiting = new Producer({ url: api.url, transport: silentInit, requestTimeoutMs: 60_000, lingerMs: 1, deliveryTimeoutMs: 300 });
    await expect(waiting.send(topic, { value: "never" })).rejects.toMatchObject({ code: "DeliveryTimeout", message: expect.stringMatching(/^Expired before it was sent: 1 record/) });
    expect(init?.aborted).toBe(false);
    await waiting.close();
    expect(init?.aborted).toBe(true);
  });

  it("with a transactionalId, fails new batches after one failed with its outcome unknown, rather than fence itself; a new Producer goes on", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("tx-outage");
    await admin.createTopic(topic, { partitions: 1 });
    const transactionalId = uniqueName("tx");
    const producer = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 5, maxBackoffMs: 20, deliveryTimeoutMs: 300, transactionalId });
    expect((await producer.send(topic, { value: "a" })).offset).toBe(0);
    failNextProduces = 1_000_000;
    await expect(producer.send(topic, { value: "lost" })).rejects.toMatchObject({ retriable: true });
    failNextProduces = 0;
    await expect(producer.send(topic, { value: "refused" })).rejects.toMatchObject({ kind: "Conflict", code: "UnknownBatchOutcome", retriable: false });
    await expect(producer.send(topic, { value: "refused at send" })).rejects.toMatchObject({ code: "UnknownBatchOutcome" });
    await producer.close();
    const next = new Producer({ url: api.url, lingerMs: 1, transactionalId });
    expect((await next.send(topic, { value: "b" })).offset).toBe(1);
    await next.close();
  });

  it("is idempotent by default: a retry after a lost answer is stored once; without idempotence, twice", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("exactly");
    await admin.createTopic(topic, { partitions: 1 });
    const idempotent = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 10 });
    loseNextAnswers = 2;
    const acks = await Promise.all(["a", "b"].map((v) => idempotent.send(topic, { value: v })));
    await idempotent.close();
    const plain = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 10, enableIdempotence: false });
    loseNextAnswers = 1;
    await plain.send(topic, { value: "c" });
    await plain.close();
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest" });
    consumer.assign([{ topic, partition: 0 }]);
    const got = await consumer.poll();
    expect(got.map((r) => Buffer.from(r.value ?? []).toString())).toEqual(["a", "b", "c", "c"]);
    // The acknowledged offsets are where the records are. (A duplicate's own reservation became
    // a gap that readers step over, so "c" comes after one.)
    expect(acks.map((a) => a.offset)).toEqual(got.slice(0, 2).map((r) => r.offset));
  });

  it("gives up on non-retriable errors with the server's typed error", async () => {
    const producer = new Producer({ url: api.url });
    await expect(producer.send(uniqueName("missing"), { value: "x" })).rejects.toMatchObject({ kind: "NotFound" });
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("tiny");
    await admin.createTopic(topic, { partitions: 1, config: { "max.message.bytes": 1024 } });
    const err = await producer.send(topic, { value: "x".repeat(5000) }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SeglogError);
    expect((err as SeglogError).kind).toBe("TooLarge");
  });

  it("stops a background read of the topic's metadata when it closes, rather than keep the process alive through its retries", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("refresh-on-close");
    await admin.createTopic(topic, { partitions: 1 });
    let reads = 0;
    let hung: AbortSignal | undefined;
    const transport: Transport = async (request) => {
      if (request.method === "GET" && request.url.pathname.endsWith(`/topics/${topic}`) && ++reads > 1) {
        // The API stops answering metadata reads: this one would wait out requestTimeoutMs, six times.
        hung = request.signal;
        return new Promise((_, reject) => request.signal?.addEventListener("abort", () => reject(request.signal?.reason), { once: true }));
      }
      return nodeTransport(request);
    };
    const producer = new Producer({ url: api.url, lingerMs: 0, metadataMaxAgeMs: 50, transport });
    expect((await producer.send(topic, { value: "a" })).offset).toBe(0);
    await new Promise((r) => setTimeout(r, 60));
    expect((await producer.send(topic, { value: "b" })).offset).toBe(1); // what is known serves meanwhile
    while (hung === undefined) await new Promise((r) => setTimeout(r, 5));
    expect(hung.aborted).toBe(false);
    await producer.close();
    expect(hung?.aborted).toBe(true);
    expect(reads).toBe(2);
  });

  it("refuses a record over the topic's max.message.bytes on its own (at send, or compressed once its batch is), so that it spoils no other partition's batch in its request", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("oversized");
    await admin.createTopic(topic, { partitions: 3, config: { "max.message.bytes": 4096 } });
    const producer = new Producer({ url: api.url, lingerMs: 200 });
    const small = [producer.send(topic, { value: "small1", partition: 1 }), producer.send(topic, { value: "small2", partition: 2 })];
    await new Promise((r) => setTimeout(r, 50));
    const big = producer.send(topic, { value: Buffer.alloc(5000), partition: 0 });
    await expect(big).rejects.toMatchObject({ kind: "TooLarge", message: expect.stringMatching(/^The record is \d+ bytes when encoded, more than a batch of topic '.*' may hold \(max.message.bytes: 4096\)/) });
    expect((await Promise.all(small)).map((m) => [m.partition, m.offset])).toEqual([[1, 0], [2, 0]]);
    await producer.close();

    // Compressed, it may shrink under the limit, and goes; one that does not fails alone when
    // encoded, and the partition's next batch takes its sequences.
    const gzip = new Producer({ url: api.url, lingerMs: 200, compression: "gzip" });
    const beside = gzip.send(topic, { value: "beside", partition: 1 });
    await new Promise((r) => setTimeout(r, 50));
    const shrinks = gzip.send(topic, { value: Buffer.alloc(5000), partition: 0 });
    const incompressible = gzip.send(topic, { value: randomBytes(5000), partition: 2 });
    await expect(incompressible).rejects.toMatchObject({ kind: "TooLarge", message: expect.stringMatching(/^A batch of 1 record\(s\) is \d+ bytes compressed \(gzip\), more than a batch of topic '.*' may hold \(max.message.bytes: 4096\)/) });
    expect([(await shrinks).offset, (await beside).offset]).toEqual([0, 1]);
    expect((await gzip.send(topic, { value: "after", partition: 2 })).offset).toBe(1);
    // Past what the server unpacks a compressed batch to (8 × max.message.bytes): refused at send.
    await expect(gzip.send(topic, { value: Buffer.alloc(40_000), partition: 0 })).rejects.toMatchObject({ kind: "TooLarge", code: "UncompressedTooLarge" });
    await gzip.close();
  });

  it("goes on writing a partition after one of its batches was refused: the refused batch's sequences go to the next", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("refused-then-on");
    await admin.createTopic(topic, { partitions: 1, config: { "max.message.bytes": 4096 } });
    const producer = new Producer({ url: api.url, lingerMs: 0 });
    expect((await producer.send(topic, { value: "a1" })).offset).toBe(0);
    // Lowered since the producer read the topic: the server refuses the batch the producer let through.
    await admin.alterTopic(topic, { config: { "max.message.bytes": 1024 } });
    await expect(producer.send(topic, { value: randomBytes(2000) })).rejects.toMatchObject({ kind: "TooLarge", message: expect.stringMatching(/exceeds the topic's max.message.bytes \(1024\)/) });
    expect((await producer.send(topic, { value: "a2" })).offset).toBe(1);
    expect((await producer.send(topic, { value: "a3" })).offset).toBe(2);
    await producer.close();
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest", maxWaitMs: 0 });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    expect((await consumer.poll()).map((r) => Buffer.from(r.value ?? []).toString())).toEqual(["a1", "a2", "a3"]);
    await consumer.close();
  });

  it("goes on past sequence 2^31 − 1, wrapping to 0 as Kafka's producer does", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("wrap");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 20 });
    expect((await producer.send(topic, { value: "first" })).offset).toBe(0);
    // As if it had sent 2^31 − 3 records to the partition since: the server's state and its own.
    const max = 2 ** 31 - 1;
    const { log, dynamo } = testLog();
    const { producerId } = await (producer as unknown as { identity: Promise<{ producerId: number }> }).identity;
    const { topicId } = (await log.describeTopic(topic)).topic;
    await setNextSequence(dynamo, topicId, 0, producerId, max - 1);
    (producer as unknown as { sequences: Map<string, { next: number; topicId: string }> }).sequences.set(`${topic}\u00000`, { next: max - 1, topicId });
    const across = await Promise.all(["max-1", "max", "0"].map((value) => producer.send(topic, { value })));
    expect(across.map((r) => r.offset)).toEqual([1, 2, 3]);
    expect((await producer.send(topic, { value: "1" })).offset).toBe(4);
    await producer.close();
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest", maxWaitMs: 0 });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    expect((await consumer.poll()).map((r) => Buffer.from(r.value ?? []).toString())).toEqual(["first", "max-1", "max", "0", "1"]);
    await consumer.close();
  });

  it.each([
    ["none", "storage"],
    ["lz4", "storage"],
    ["none", "api"],
    ["snappy", "api"],
  ] as const)("gives keys, values and header values as Buffers, as KafkaJS does: toString() is the text (compression %s, readFrom %s)", async (compression, readFrom) => {
    const topic = uniqueName("buffers");
    await new Admin({ url: api.url }).createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, compression });
    await producer.send(topic, { key: "key1", value: "hello", headers: { h: "x" } });
    await producer.close();
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest", maxWaitMs: 100, readFrom });
    consumer.assign([{ topic, partition: 0 }]);
    const [r] = await consumer.poll();
    await consumer.close();
    expect([Buffer.isBuffer(r?.key), Buffer.isBuffer(r?.value), Buffer.isBuffer(r?.headers[0]?.value)]).toEqual([true, true, true]);
    expect([r?.key?.toString(), r?.value?.toString(), r?.headers[0]?.value?.toString()]).toEqual(["key1", "hello", "x"]);
  });

  it.each(["storage", "api"] as const)("consumes with assign, seek and poll; resets by autoOffsetReset; reports lag (readFrom %s)", async (readFrom) => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("consume");
    await admin.createTopic(topic, { partitions: 3 });
    const producer = new Producer({ url: api.url, lingerMs: 1, compression: "gzip" });
    await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send(topic, { key: `k${i}`, value: `v${i}`, headers: { n: String(i) } })));
    await producer.close();
    const consumer = new Consumer({ url: api.url, autoOffsetReset: "earliest", maxWaitMs: 100, readFrom });
    await consumer.assignTopic(topic);
    const seen: string[] = [];
    for (let i = 0; i < 10 && seen.length < 30; i++) {
      for (const r of await consumer.poll()) seen.push(Buffer.from(r.value ?? []).toString());
    }
    expect(seen.sort()).toEqual(Array.from({ length: 30 }, (_, i) => `v${i}`).sort());
    expect(consumer.stats().segmentGets > 0).toBe(readFrom === "storage");
    const tp = consumer.assignment()[0] ?? { topic, partition: 0 };
    await consumer.seek(tp, 1);
    const again = await consumer.poll();
    expect(again[0]?.offset).toBe(1);
    expect(consumer.lag(tp)).toBe(0);
    // Out of range: reset by policy ("latest" here), or fail with "none".
    const latest = new Consumer({ url: api.url, autoOffsetReset: "latest", maxWaitMs: 50, readFrom });
    latest.assign([{ topic, partition: 0, offset: 10_000 }]);
    expect(latest.lag({ topic, partition: 0 })).toBeUndefined(); // no fetch has said where the log ends
    expect(await latest.poll()).toEqual([]);
    expect(latest.position({ topic, partition: 0 })).toBe((await admin.offsetFor(topic, 0, "latest")).offset);
    const strict = new Consumer({ url: api.url, autoOffsetReset: "none", readFrom });
    strict.assign([{ topic, partition: 0, offset: 10_000 }]);
    await expect(strict.poll()).rejects.toMatchObject({ kind: "OffsetOutOfRange" });
  });

  it("fetches nothing once closed while a first poll looks up where its partitions start, where it started a fetch after close()", async () => {
    const topic = await topicOfSegments("closed-in-lookup", 3);
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    let lookups = 0;
    let fetches = 0;
    const transport: Transport = async (request) => {
      if (request.url.pathname.endsWith("/offsets")) {
        lookups++;
        await released;
      }
      if (request.url.pathname.endsWith("/records")) fetches++;
      return nodeTransport(request);
    };
    const consumer = new Consumer({ url: api.url, transport, autoOffsetReset: "earliest", maxWaitMs: 0 });
    consumer.assign([{ topic, partition: 0 }]);
    const polled = consumer.poll();
    await vi.waitFor(() => expect(lookups).toBe(1), { timeout: 5_000 });
    consumer.close();
    release();
    expect(await polled).toEqual([]);
    await new Promise((r) => setTimeout(r, 300));
    expect(fetches).toBe(0);
  });

  it("starts the next fetch while the application works on a poll's records, and drops it on seek or reassignment", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("prefetch");
    await admin.createTopic(topic, { partitions: 1 });
    const { log } = testLog();
    for (let i = 0; i < 10; i++) await log.produceRecords(topic, [{ key: null, value: Buffer.from(`v${i}`) }]);
    const values = (records: readonly { value: Uint8Array | null }[]) => records.map((r) => Buffer.from(r.value ?? []).toString());
    const settle = () => new Promise((r) => setTimeout(r, 300));
    const tp = { topic, partition: 0 };
    /** `n` fetches since `before` came (however slowly, under load), and then no more. */
    const fetchesCame = async (n: number) => {
      await vi.waitFor(() => expect(fetchesTo(topic) - before).toBeGreaterThanOrEqual(n), { timeout: 10_000 });
      await settle();
      expect(fetchesTo(topic) - before).toBe(n);
    };

    const consumer = new Consumer({ url: api.url, maxBytes: 1, maxWaitMs: 0 }); // one batch per fetch
    consumer.assign([{ ...tp, offset: 0 }]);
    let before = fetchesTo(topic);
    expect(values(await consumer.poll())).toEqual(["v0"]);
    await fetchesCame(3); // the poll's fetch, and the next two started at once
    before = fetchesTo(topic);
    expect(values(await consumer.poll())).toEqual(["v1"]); // answered by the prefetch
    await fetchesCame(1); // only the one after the prefetched v2
    await consumer.seek(tp, 0);
    expect(values(await consumer.poll())).toEqual(["v0"]); // the prefetched v2 was dropped
    consumer.assign([{ ...tp, offset: 7 }]);
    expect(values(await consumer.poll())).toEqual(["v7"]);
    expect(values(await consumer.poll())).toEqual(["v8"]);
    expect(values(await consumer.poll())).toEqual(["v9"]);
    await settle();
    before = fetchesTo(topic);
    await settle();
    expect(fetchesTo(topic)).toBe(before); // at the high watermark nothing is fetched ahead
    expect(await consumer.poll()).toEqual([]);

    const plain = new Consumer({ url: api.url, maxBytes: 1, maxWaitMs: 0, maxPrefetchBytes: 0 });
    plain.assign([{ ...tp, offset: 0 }]);
    before = fetchesTo(topic);
    expect(values(await plain.poll())).toEqual(["v0"]);
    await fetchesCame(1);
  });

  it("finds where the next fetches read while this one's GETs run, and reads one fetch's segments at a time per partition", async () => {
    const topic = await topicOfSegments("read-ahead", 6);
    let held: Array<() => void> = [];
    let hold = true;
    let inFlight = 0;
    let mostInFlight = 0;
    const transport = interceptS3Gets(async (request) => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      if (hold) await new Promise<void>((release) => held.push(release));
      try {
        return await nodeTransport(request);
      } finally {
        inFlight--;
      }
    });
    const consumer = new Consumer({ url: api.url, transport, maxBytes: 1, maxWaitMs: 0 }); // a segment per fetch
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    const before = fetchesTo(topic);
    const first = consumer.poll();
    await vi.waitFor(() => expect(fetchesTo(topic) - before).toBe(2), { timeout: 5_000 });
    await new Promise((r) => setTimeout(r, 300));
    // v0's GET is held. v1's fetch has answered, and its GET waits for v0's; a partition has
    // at most two fetches going.
    expect(fetchesTo(topic) - before).toBe(2);
    expect(held.length).toBe(1);
    hold = false;
    for (const release of held) release();
    held = [];
    const seen = (await first).map((r) => r.offset);
    for (let i = 0; i < 10 && seen.length < 6; i++) for (const r of await consumer.poll()) seen.push(r.offset);
    expect(seen).toEqual([0, 1, 2, 3, 4, 5]);
    expect(mostInFlight).toBe(1);
    expect(consumer.stats()).toMatchObject({ segmentGets: 6 });
  });

  it("keeps a partition's fetch going when another partition answers first, so a partition whose reads are slow is read, not starved", async () => {
    const topic = await topicOfSegments("not-starved", 3, 2);
    const getsOf: Record<string, number> = {};
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    const transport = interceptS3Gets(async (request) => {
      const segment = /\/(\d+)\/(\d{20})\.log$/.exec(request.url.pathname);
      const name = `${segment?.[1]}/${Number(segment?.[2])}`;
      getsOf[name] = (getsOf[name] ?? 0) + 1;
      if (segment?.[1] === "1") {
        // Partition 1's S3 is slow, until released or the GET is called off.
        const signal = request.signal;
        await new Promise<void>((resolve, reject) => {
          void released.then(resolve);
          signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
        });
      }
      return nodeTransport(request);
    });
    const consumer = new Consumer({ url: api.url, transport, maxBytes: 1, maxWaitMs: 0 });
    consumer.assign([0, 1].map((partition) => ({ topic, partition, offset: 0 })));
    const seen: string[] = [];
    const read = async () => {
      for (const r of await consumer.poll()) seen.push(Buffer.from(r.value ?? []).toString());
    };
    while (seen.length < 3) await read();
    expect(seen).toEqual(["p0v0", "p0v1", "p0v2"]);
    // A group member's poll is woken by every heartbeat answer: that does not call it off either.
    const woken = new AbortController();
    setTimeout(() => woken.abort(), 100);
    expect(await consumer.poll({ signal: woken.signal })).toEqual([]);
    release();
    for (let i = 0; i < 20 && seen.length < 6; i++) await read();
    expect(seen.slice(3)).toEqual(["p1v0", "p1v1", "p1v2"]);
    // Partition 1's first segment was asked for once: no poll called its fetch off.
    expect(getsOf["1/0"]).toBe(1);
  });

  it("keeps a seek made while a poll waits: the poll does not apply an answer fetched from before it", async () => {
    const topic = await topicOfSegments("seek-in-poll", 1, 2);
    let release = () => {};
    const released = new Promise<void>((r) => (release = r));
    let heldGets = 0;
    const transport = interceptS3Gets(async (request) => {
      if (/\/1\/\d{20}\.log$/.test(request.url.pathname)) {
        heldGets++;
        await released; // partition 1's GET waits
      }
      return nodeTransport(request);
    });
    const consumer = new Consumer({ url: api.url, transport, maxWaitMs: 0, maxPrefetchBytes: 0 });
    consumer.assign([
      { topic, partition: 0, offset: 1 }, // at the end: its fetch answers at once, with nothing
      { topic, partition: 1, offset: 0 },
    ]);
    const polled = consumer.poll();
    await vi.waitFor(() => expect(heldGets).toBe(1), { timeout: 5_000 });
    await consumer.seek({ topic, partition: 0 }, 0);
    release();
    expect((await polled).map((r) => Buffer.from(r.value ?? []).toString())).toEqual(["p1v0"]);
    expect(consumer.position({ topic, partition: 0 })).toBe(0);
    expect((await consumer.poll()).map((r) => Buffer.from(r.value ?? []).toString())).toEqual(["p0v0"]);
    consumer.close();
  });

  it("keeps what it fetches ahead within maxPrefetchBytes over all partitions, and starts a fetch anew rather than outwait a poll's own maxWaitMs", async () => {
    const topic = await topicOfSegments("prefetch-bound", 3, 3);
    const settle = () => new Promise((r) => setTimeout(r, 300));
    // maxBytes 1: a segment per fetch; maxPrefetchBytes 1: one fetch ahead, over all partitions.
    const consumer = new Consumer({ url: api.url, maxBytes: 1, maxPrefetchBytes: 1, maxWaitMs: 0 });
    consumer.assign([0, 1, 2].map((partition) => ({ topic, partition, offset: 0 })));
    const first = await consumer.poll();
    await vi.waitFor(() => expect(fetchesTo(topic)).toBe(2), { timeout: 5_000 });
    await settle();
    expect(first.length).toBeGreaterThan(0);
    // A fetch per partition for the poll (the three in one request), and one ahead.
    expect(fetchesOf.get(topic)).toEqual({ requests: 1 + 1, partitions: 3 + 1 });
    let seen = first.length;
    for (let i = 0; i < 30 && seen < 9; i++) seen += (await consumer.poll()).length;
    expect(seen).toBe(9);
    consumer.close();
    await settle(); // what it had on the way has reached the server: the counts below are the tail's

    // A long poll left waiting at the end of the log, then a poll that may not wait.
    const tail = new Consumer({ url: api.url, maxBytes: 1, maxWaitMs: 0 });
    tail.assign([{ topic, partition: 0, offset: 3 }]);
    const woken = new AbortController();
    const longPollFrom = fetchesTo(topic);
    const longPoll = tail.poll({ maxWaitMs: 5_000, signal: woken.signal });
    await vi.waitFor(() => expect(fetchesTo(topic)).toBe(longPollFrom + 1), { timeout: 5_000 }); // the server has it
    woken.abort();
    expect(await longPoll).toEqual([]);
    const before = fetchesTo(topic);
    expect(await tail.poll({ maxWaitMs: 0 })).toEqual([]);
    expect(fetchesTo(topic) - before).toBe(1); // a fetch of its own, not the 5 s one
    tail.close();
  });

  it("fetches the partitions a poll reads in one request, each partition answered on its own, and one by one from a server without that route", async () => {
    const readAll = async (consumer: Consumer, expected: number) => {
      const seen: string[] = [];
      for (let i = 0; i < 20 && seen.length < expected; i++) for (const r of await consumer.poll()) seen.push(`${r.partition}:${r.offset}:${Buffer.from(r.value ?? []).toString()}`);
      return seen;
    };
    const all = ["0:0:p0v0", "0:1:p0v1", "1:0:p1v0", "1:1:p1v1", "2:0:p2v0", "2:1:p2v1"];
    const asked = (topic: string) => fetchesOf.get(topic) ?? { requests: 0, partitions: 0 };
    const topic = await topicOfSegments("several", 2, 3);
    // maxBytes 1: a segment per partition and fetch; no fetching ahead: each poll is one request.
    const consumer = new Consumer({ url: api.url, maxBytes: 1, maxWaitMs: 0, maxPrefetchBytes: 0 });
    consumer.assign([0, 1, 2].map((partition) => ({ topic, partition, offset: 0 })));
    // The poll returns once a partition's GET has ended (the others' come in the next polls).
    const first = await consumer.poll();
    expect(first.length).toBeGreaterThan(0);
    expect(asked(topic)).toEqual({ requests: 1, partitions: 3 });
    expect(consumer.stats().fetches).toBe(1);
    const firstRead = first.map((r) => `${r.partition}:${r.offset}:${Buffer.from(r.value ?? []).toString()}`);
    expect([...firstRead, ...(await readAll(consumer, 6 - first.length))].sort()).toEqual(all);
    consumer.close();

    // One partition's own error does not fail the others' reads: partition 2 starts past its end
    // and is reset by autoOffsetReset, the others are read as they were.
    const resetting = new Consumer({ url: api.url, maxWaitMs: 0, maxPrefetchBytes: 0, autoOffsetReset: "earliest" });
    resetting.assign([
      { topic, partition: 0, offset: 0 },
      { topic, partition: 1, offset: 0 },
      { topic, partition: 2, offset: 9 },
    ]);
    expect((await readAll(resetting, 6)).sort()).toEqual(all);
    resetting.close();

    // A server from before the fetch of several partitions: one refused request, then one per partition.
    try {
      for (const server of ["dev", "aws"] as const) {
        const older = await topicOfSegments(`several-${server}`, 2, 3);
        noFetchOfSeveral = server;
        const old = new Consumer({ url: api.url, maxWaitMs: 0, maxPrefetchBytes: 0 });
        old.assign([0, 1, 2].map((partition) => ({ topic: older, partition, offset: 0 })));
        const firstOld = await old.poll();
        expect(asked(older)).toEqual({ requests: 1 + 3, partitions: 3 + 3 });
        const read = firstOld.map((r) => `${r.partition}:${r.offset}:${Buffer.from(r.value ?? []).toString()}`);
        expect([...read, ...(await readAll(old, 6 - firstOld.length))].sort()).toEqual(all);
        old.close();
      }
    } finally {
      noFetchOfSeveral = undefined;
    }
  });

  it("answers each batch of a request that failed as a whole by its own error: a retriable one is retried, the others fail alone", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("each-own");
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer({ url: api.url, lingerMs: 50, initialBackoffMs: 1 });
    // As the produce function answers when every batch failed: the first error's status, each batch's result beside it.
    const refused = { kind: "Conflict", message: "Out of order sequence", retriable: false, code: "OutOfOrderSequence" };
    const throttled = { kind: "Throttled", message: "Slow down", retriable: true };
    answerNextProduce = () => ({
      statusCode: 409,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ error: refused, offsets: [{ partition: 0, error: refused }, { partition: 1, error: throttled }] }),
      isBase64Encoded: false,
    });
    const sent = [0, 1].map((partition) => producer.send(topic, { value: `p${partition}`, partition }).then((m) => m.offset, (e: SeglogError) => e.code));
    expect(await Promise.all(sent)).toEqual(["OutOfOrderSequence", 0]);
    await producer.close();
  });

  it("keeps a refused batch's sequences taken when an attempt before may have landed, so the next batch is not taken for it", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("landed-then-refused");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 0, initialBackoffMs: 1 });
    // The first attempt lands and its answer is lost; the retry is refused as too large (as
    // after max.message.bytes was lowered meanwhile).
    loseNextAnswers = 1;
    const tooLarge = { kind: "TooLarge", message: "Record batch exceeds the topic's max.message.bytes", retriable: false };
    answerNextProduce = () => {
      answerNextProduce = () => ({ statusCode: 413, headers: { "content-type": "application/json" }, body: JSON.stringify({ error: tooLarge }), isBase64Encoded: false });
      return undefined;
    };
    await expect(producer.send(topic, { value: "a1" })).rejects.toMatchObject({ kind: "TooLarge" });
    expect((await producer.send(topic, { value: "a2" })).offset).toBe(1);
    await producer.close();
    const consumer = new Consumer({ url: api.url, maxWaitMs: 0 });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    expect((await consumer.poll()).map((r) => Buffer.from(r.value ?? []).toString())).toEqual(["a1", "a2"]);
    consumer.close();
  });

  it.each([false, true])("starts its sequences over on a topic deleted and created again under its name: the batch the new topic refused as out of order goes again from sequence 0 (transactionalId: %s)", async (transactional) => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("recreated-under");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 0, ...(transactional ? { transactionalId: uniqueName("tx") } : {}) });
    expect((await producer.send(topic, { value: "old" })).offset).toBe(0);
    await admin.deleteTopic(topic);
    await admin.createTopic(topic, { partitions: 1 });
    // Sent with the old topic's next sequence: refused, then sent again from 0 (its first
    // attempt's reservation is a gap in the offsets, as a refused duplicate's is).
    expect((await producer.send(topic, { value: "again" })).offset).toBe(1);
    expect((await producer.send(topic, { value: "new" })).offset).toBe(2);
    await producer.close();
    const consumer = new Consumer({ url: api.url, maxWaitMs: 0 });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    expect((await consumer.poll()).map((r) => Buffer.from(r.value ?? []).toString())).toEqual(["again", "new"]);
    consumer.close();
  });

  it("keeps the sequences of a partition the recreated topic already took a batch for: the next record there is stored, not answered as that batch's duplicate", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("recreated-two");
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer({ url: api.url, lingerMs: 20 });
    expect((await producer.send(topic, { value: "a", partition: 0 })).offset).toBe(0);
    await admin.deleteTopic(topic);
    await admin.createTopic(topic, { partitions: 2 });
    // In one request: the new topic refuses b (the old topic's sequences) and takes c (sequence 0).
    const [b, c] = await Promise.all([producer.send(topic, { value: "b", partition: 0 }), producer.send(topic, { value: "c", partition: 1 })]);
    const d = await producer.send(topic, { value: "d", partition: 1 });
    const e = await producer.send(topic, { value: "e", partition: 1 });
    await producer.close();
    expect(new Set([c.offset, d.offset, e.offset]).size).toBe(3);
    const consumer = new Consumer({ url: api.url, maxWaitMs: 0 });
    const read = async (partition: number) => {
      consumer.assign([{ topic, partition, offset: 0 }]);
      return (await consumer.poll()).map((r) => `${r.offset}:${r.value?.toString()}`);
    };
    expect(await read(0)).toEqual([`${b.offset}:b`]);
    expect(await read(1)).toEqual([`${c.offset}:c`, `${d.offset}:d`, `${e.offset}:e`]);
    consumer.close();
  });

  it("refuses an offset that is no offset at assign and seek, and goes on reading from where it was", async () => {
    const topic = uniqueName("bad-seek");
    await new Admin({ url: api.url }).createTopic(topic, { partitions: 1 });
    await testLog().log.produceRecords(topic, [{ key: null, value: Buffer.from("r0") }, { key: null, value: Buffer.from("r1") }]);
    const consumer = new Consumer({ url: api.url, maxWaitMs: 0 });
    for (const offset of [-5, 1.5, Number.NaN]) {
      expect(() => consumer.assign([{ topic, partition: 0, offset }])).toThrow(expect.objectContaining({ kind: "Invalid" }));
    }
    expect(() => consumer.assign([{ topic, partition: -1 }])).toThrow(expect.objectContaining({ kind: "Invalid" }));
    consumer.assign([{ topic, partition: 0, offset: 1 }]);
    // A refused assignment leaves the one before it in place.
    expect(() => consumer.assign([{ topic, partition: 0 }, { topic, partition: -1 }])).toThrow(expect.objectContaining({ kind: "Invalid" }));
    expect(() => consumer.assign([{ topic: "", partition: 0 }])).toThrow(expect.objectContaining({ kind: "Invalid", message: expect.stringContaining("topic a topic's name") }));
    expect(consumer.assignment()).toEqual([{ topic, partition: 0 }]);
    for (const to of [-1, 1.5, Number.NaN, "soon" as "latest"]) {
      await expect(consumer.seek({ topic, partition: 0 }, to)).rejects.toMatchObject({ kind: "Invalid" });
    }
    expect(consumer.position({ topic, partition: 0 })).toBe(1);
    expect((await consumer.poll()).map((r) => Buffer.from(r.value ?? []).toString())).toEqual(["r1"]);
    consumer.close();
  });

  it("reads 16 shared segments at once for a partition without Node warning of a listener leak", async () => {
    const topic = uniqueName("many-shared");
    await new Admin({ url: api.url }).createTopic(topic, { partitions: 2 });
    const { log } = testLog();
    for (let i = 0; i < 40; i++) await log.produceRecords(topic, [0, 1].map((partition) => ({ key: null, value: Buffer.from(`${i}`), partition })));
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    try {
      const consumer = new Consumer({ url: api.url, maxWaitMs: 0 });
      consumer.assign([0, 1].map((partition) => ({ topic, partition, offset: 0 })));
      let read = 0;
      for (let i = 0; i < 20 && read < 80; i++) read += (await consumer.poll()).length;
      consumer.close();
      expect(read).toBe(80);
      await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    } finally {
      process.off("warning", onWarning);
    }
    expect(warnings).toEqual([]);
  });

  it("reads the segments its partitions have in one object with one GET; a failed one fails each partition's read, retried as any (fault injection)", async () => {
    const topic = uniqueName("one-get");
    await new Admin({ url: api.url }).createTopic(topic, { partitions: 3 });
    const { log } = testLog();
    // Two requests, each with a batch for every partition: two objects.
    for (let i = 0; i < 2; i++) await log.produceRecords(topic, [0, 1, 2].map((partition) => ({ key: null, value: Buffer.from(`p${partition}v${i}`), partition })));
    const all = ["0:0:p0v0", "0:1:p0v1", "1:0:p1v0", "1:1:p1v1", "2:0:p2v0", "2:1:p2v1"];
    const readAll = async (consumer: Consumer) => {
      consumer.assign([0, 1, 2].map((partition) => ({ topic, partition, offset: 0 })));
      const seen: string[] = [];
      for (let i = 0; i < 20 && seen.length < 6; i++) for (const r of await consumer.poll()) seen.push(`${r.partition}:${r.offset}:${Buffer.from(r.value ?? []).toString()}`);
      consumer.close();
      return seen.sort();
    };
    const consumer = new Consumer({ url: api.url, maxWaitMs: 0, maxPrefetchBytes: 0 });
    expect(await readAll(consumer)).toEqual(all);
    expect(consumer.stats()).toMatchObject({ fetches: 1, segmentGets: 2 });

    // S3 throttles the first GET: every partition's read of that object fails as its own GET
    // would (retriable), the client backs off and fetches again, and each record is read once.
    const gets: string[] = [];
    const transport = interceptS3Gets((request) => {
      gets.push(request.url.href);
      return gets.length === 1 ? s3Error(503, "SlowDown", "Please reduce your request rate.") : undefined;
    });
    const unlucky = new Consumer({ url: api.url, transport, maxWaitMs: 0, maxPrefetchBytes: 0, initialBackoffMs: 1 });
    expect(await readAll(unlucky)).toEqual(all);
    expect(unlucky.stats().fetches).toBeGreaterThan(1);
    expect(unlucky.stats().segmentGets).toBe(gets.length);

    // close() ends a shared GET under way, though no partition's fetch owns it: S3 answers
    // nothing until the request is called off.
    const stalled: AbortSignal[] = [];
    const stalling = interceptS3Gets((request) => {
      stalled.push(request.signal as AbortSignal);
      return never(request.signal);
    });
    const closing = new Consumer({ url: api.url, transport: stalling, maxWaitMs: 0, maxPrefetchBytes: 0 });
    closing.assign([0, 1, 2].map((partition) => ({ topic, partition, offset: 0 })));
    const stopPoll = new AbortController();
    const polled = closing.poll({ signal: stopPoll.signal });
    await vi.waitFor(() => expect(stalled.length).toBeGreaterThanOrEqual(2), { timeout: 10_000 });
    stopPoll.abort();
    expect(await polled).toEqual([]);
    expect(stalled).toHaveLength(2); // one GET for each object, none per partition
    expect(stalled.some((s) => s.aborted)).toBe(false);
    closing.close();
    expect(stalled.every((s) => s.aborted)).toBe(true);
  });

  it("reads the segments from S3 itself by default, and through the API with readFrom api: the same records either way", async () => {
    const topic = await topicOfSegments("read-from", 6);
    const readAll = async (consumer: Consumer) => {
      consumer.assign([{ topic, partition: 0, offset: 0 }]);
      const seen: string[] = [];
      for (let i = 0; i < 10 && seen.length < 6; i++) for (const r of await consumer.poll()) seen.push(`${r.offset}:${Buffer.from(r.value ?? []).toString()}`);
      return seen;
    };
    const direct = new Consumer({ url: api.url, maxWaitMs: 0, maxPrefetchBytes: 0 });
    const viaApi = new Consumer({ url: api.url, maxWaitMs: 0, maxPrefetchBytes: 0, readFrom: "api" });
    const expected = Array.from({ length: 6 }, (_, i) => `${i}:v${i}`);
    expect(await readAll(direct)).toEqual(expected);
    expect(await readAll(viaApi)).toEqual(expected);
    expect(direct.stats()).toMatchObject({ segmentGets: 6 });
    expect(viaApi.stats()).toMatchObject({ segmentGets: 0 });
    expect(direct.stats().bytesFetched).toBe(viaApi.stats().bytesFetched);
  });

  it("fetches again when a segment it was sent to is gone (S3 404), and keeps what it read before a failed GET (fault injection)", async () => {
    const topic = await topicOfSegments("segment-gone", 4);
    const values = (records: readonly { value: Uint8Array | null }[]) => records.map((r) => Buffer.from(r.value ?? []).toString());
    const s3Gets: string[] = [];
    let answer: ((url: string) => WireResponse | undefined) | undefined;
    const transport = interceptS3Gets((request) => {
      s3Gets.push(request.url.pathname.split("/").at(-1) ?? "");
      return answer?.(request.url.href);
    });
    const consumer = new Consumer({ url: api.url, transport, maxWaitMs: 0, maxPrefetchBytes: 0, initialBackoffMs: 1 });
    consumer.assign([{ topic, partition: 0, offset: 0 }]);
    let gone = 1;
    answer = () => (gone-- > 0 ? s3Error(404, "NoSuchKey", "The specified key does not exist.") : undefined);
    const before = fetchesTo(topic);
    expect(values(await consumer.poll())).toEqual(["v0", "v1", "v2", "v3"]);
    expect(fetchesTo(topic) - before).toBe(2); // the answer that named the missing segment, and a fresh one
    // Every GET S3 was asked for: the first answer's four (all under way when the 404 came back), then the fresh one's four.
    expect(consumer.stats()).toMatchObject({ fetches: 2, segmentGets: 4 + 4 });
    expect(s3Gets).toHaveLength(4 + 4);

    // A GET that fails after the first: the poll returns the segments before it, the next goes on from there.
    await consumer.seek({ topic, partition: 0 }, 0);
    s3Gets.length = 0;
    answer = (url) => {
      if (url.includes("00000000000000000002.log") && s3Gets.filter((k) => k.startsWith("00000000000000000002")).length === 1) throw connectionFailed("ECONNRESET");
      return undefined;
    };
    expect(values(await consumer.poll())).toEqual(["v0", "v1"]);
    expect(consumer.position({ topic, partition: 0 })).toBe(2);
    expect(values(await consumer.poll())).toEqual(["v2", "v3"]);
  });

  it("tells S3's answers apart: an expired URL means fetch again, a denied read fails at once, S3 out of reach or silent fails after the retries (fault injection)", async () => {
    const topic = await topicOfSegments("s3-answers", 3);
    let answer: ((request: WireRequest) => WireResponse | Promise<WireResponse> | undefined) | undefined;
    const transport = interceptS3Gets((request) => answer?.(request));
    const silence = (request: WireRequest) => never(request.signal);
    const consumerFrom0 = () => {
      const c = new Consumer({ url: api.url, transport, maxWaitMs: 0, maxPrefetchBytes: 0, initialBackoffMs: 1, maxBackoffMs: 5 });
      c.assign([{ topic, partition: 0, offset: 0 }]);
      return c;
    };
    for (const expiry of [s3Error(403, "AccessDenied", "Request has expired"), s3Error(400, "ExpiredToken", "The provided token has expired.")]) {
      let expired = 1;
      answer = () => (expired-- > 0 ? expiry : undefined);
      const renewed = consumerFrom0();
      expect((await renewed.poll()).map((r) => r.offset)).toEqual([0, 1, 2]);
      expect(renewed.stats().fetches).toBe(2);
    }

    answer = () => s3Error(403, "AccessDenied", "Access Denied");
    const denied = consumerFrom0();
    const refused = await denied.poll().catch((e: unknown) => e);
    expect(refused).toMatchObject({ kind: "Internal", code: "StorageRefused", retriable: false });
    expect((refused as Error).message).toMatch(/S3 answered 403 AccessDenied: Access Denied reading offset 0 .*readFrom: "api"/);
    expect(denied.stats().fetches).toBe(1); // not retried
    expect(() => new Consumer({ url: api.url, segmentReadsAtOnce: 0 })).toThrow(/segmentReadsAtOnce must be a whole number ≥ 1/);

    answer = () => {
      throw connectionFailed("ECONNREFUSED");
    };
    const cut = consumerFrom0();
    const unreachable = await cut.poll().catch((e: unknown) => e);
    expect(unreachable).toMatchObject({ kind: "Internal", code: "StorageUnreachable", retriable: false });
    expect((unreachable as Error).message).toMatch(/Cannot reach S3 reading offset 0 .*ECONNREFUSED, after 6 attempts/);
    expect(cut.stats().fetches).toBe(6);

    answer = silence;
    const hung = new Consumer({ url: api.url, transport, maxWaitMs: 0, maxPrefetchBytes: 0, initialBackoffMs: 1, maxBackoffMs: 5, maxAttempts: 2, segmentReadTimeoutMs: 50 });
    hung.assign([{ topic, partition: 0, offset: 0 }]);
    await expect(hung.poll()).rejects.toMatchObject({ code: "StorageUnreachable", retriable: false, message: expect.stringMatching(/no answer within 50 ms, after 2 attempts/) });
  });

  it("reads through the API from the first answer of a server too old to name segments", async () => {
    const topic = await topicOfSegments("old-server", 3);
    oldServer = true;
    try {
      const consumer = new Consumer({ url: api.url, maxWaitMs: 0, maxPrefetchBytes: 0, maxBytes: 1 });
      consumer.assign([{ topic, partition: 0, offset: 0 }]);
      const seen: number[] = [];
      for (let i = 0; i < 5 && seen.length < 3; i++) seen.push(...(await consumer.poll()).map((r) => r.offset));
      expect(seen).toEqual([0, 1, 2]);
      expect(consumer.stats()).toMatchObject({ segmentGets: 0, fetches: 4 }); // the old answer, then 3 binary fetches
    } finally {
      oldServer = false;
    }
  });

  it("a poll that fails returns nothing and moves no partition: the next poll reads the records of those that answered", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("poll-fails");
    await admin.createTopic(topic, { partitions: 2 });
    const { log } = testLog();
    for (const partition of [0, 1]) await log.produceRecords(topic, [{ key: null, value: Buffer.from(`p${partition}`), partition }]);
    let deny = true;
    const transport = interceptS3Gets(({ url }) => (deny && url.pathname.includes(`/${topic}/`) && /\/0\/\d{20}\.log$/.test(url.pathname) ? s3Error(403, "AccessDenied", "Access Denied") : undefined));
    const consumer = new Consumer({ url: api.url, transport, maxWaitMs: 0 });
    consumer.assign([0, 1].map((partition) => ({ topic, partition, offset: 0 })));
    await expect(consumer.poll()).rejects.toMatchObject({ code: "StorageRefused" });
    expect([0, 1].map((partition) => consumer.position({ topic, partition }))).toEqual([0, 0]);
    deny = false;
    const seen: string[] = [];
    for (let i = 0; i < 5 && seen.length < 2; i++) for (const r of await consumer.poll()) seen.push(Buffer.from(r.value ?? []).toString());
    expect(seen.sort()).toEqual(["p0", "p1"]);
  });
});
