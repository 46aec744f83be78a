/**
 * Fuzzes every topic, produce and fetch route (and requests that match no route) with bad input;
 * see harness.ts for what each answer must be. A few fixed topics serve all cases: one to read,
 * one to produce to, one with a small `max.message.bytes`, and one each to alter and to delete.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCompressionCodecs } from "../../src/core/codec/record-batch.ts";
import { routes } from "../../src/http/app.ts";
import { parseApiGatewayEvent } from "../../src/http/event.ts";
import { matchRoute } from "../../src/http/router.ts";
import { decodeStored } from "../../src/log/read.ts";
import { handlersFor, testLog } from "../helpers/log.ts";
import { uniqueName } from "../helpers/stack.ts";
import {
  absent,
  anyJson,
  badBase64,
  batchSpec,
  binaryBytes,
  brokenJsonText,
  damage,
  extraKeys,
  goodBase64,
  intField,
  notAString,
  queryInt,
  type BinaryBody,
} from "./arbitraries.ts";
import { bodyText, envelope, jsonBody, nameOf, nameRef, pathName, request } from "./requests.ts";
import { fuzzRoute, routeTimeoutMs, StorageTracker, summary, toEvent, type FuzzRequest, type RouteFuzz, type RouteStats } from "./harness.ts";

const fuzzed = testLog();
const storage = new StorageTracker();
storage.watch(fuzzed.dynamo);
storage.watch(fuzzed.s3);
const invoke = handlersFor({ log: fuzzed.log });
/** Reads state and restores fixtures with clients the tracker does not count. */
const { log } = testLog();

const read = uniqueName("fz-read");
const produce = uniqueName("fz-produce");
const small = uniqueName("fz-small");
const altered = uniqueName("fz-alter");
const deleted = uniqueName("fz-delete");
/** Names the create route may take (each is deleted again at once) and one that exists. */
const creatable = [uniqueName("fz-new"), uniqueName("fz-new"), read];
let producerId = 0;
const results: RouteStats[] = [];

beforeAll(async () => {
  await loadCompressionCodecs();
  await log.createTopic({ name: read, partitions: 2 });
  await log.createTopic({ name: produce, partitions: 2 });
  await log.createTopic({ name: small, partitions: 1, config: { "max.message.bytes": 256 } });
  await log.createTopic({ name: altered, partitions: 1 });
  await log.createTopic({ name: deleted, partitions: 1 });
  const text = (s: string) => Buffer.from(s);
  await log.produceRecords(read, [
    { key: text("k"), value: text('{"n":1}'), partition: 0, headers: [{ key: "h", value: text("v") }] },
    { key: null, value: text("not json"), partition: 0 },
    { key: null, value: null, partition: 0 },
    { key: text("k2"), value: text('"s"'), partition: 1 },
  ]);
  await log.produceRecords(read, [{ key: null, value: text("[1,2]"), partition: 0 }]);
  producerId = (await log.initProducer()).producerId;
});

afterAll(() => {
  console.log(summary("HTTP fuzz, topic/produce/fetch routes", results));
});

// ---- Shared pieces -----------------------------------------------------------------------

const config = fc.oneof(
  absent,
  fc.constant(null),
  notAString,
  fc.record(
    {
      "retention.ms": fc.oneof(intField(fc.integer({ min: 1, max: 2 ** 40 })), fc.constantFrom("1000", "-1", "0", "abc")),
      "retention.bytes": fc.oneof(intField(fc.constantFrom(-1, 1, 1 << 30)), fc.constantFrom("-1", "-2")),
      "max.message.bytes": fc.oneof(intField(fc.integer({ min: 64, max: 6 * 1024 * 1024 })), fc.constantFrom(63, 6 * 1024 * 1024 + 1, "1024")),
      "cleanup.policy": fc.constantFrom("compact", "delete"),
    },
    { requiredKeys: [] },
  ),
);

/** Topic state a request could change: partitions, config and each partition's offsets. */
async function topicState(name: string): Promise<unknown> {
  try {
    const { topic, partitions } = await log.describeTopic(name);
    return { topicId: topic.topicId, partitions: topic.partitions, config: topic.config, version: topic.version, states: partitions };
  } catch (e) {
    if ((e as { kind?: string }).kind === "NotFound") return "absent";
    throw e;
  }
}

/** Every committed record of a topic: offset, key and value per partition. */
async function records(name: string): Promise<string[][]> {
  const { partitions } = await log.describeTopic(name);
  return Promise.all(
    partitions.map(async ({ partition, logStartOffset, highWatermark }) => {
      const out: string[] = [];
      for (let offset = logStartOffset; offset < highWatermark; ) {
        const got = await log.fetch(name, partition, { offset, maxWaitMs: 0 });
        for (const batch of got.batches) for (const r of decodeStored(batch.bytes)) if (r.offset >= offset) out.push(`${r.offset}:${hex(r.key)}:${hex(r.value)}`);
        if (got.nextOffset <= offset) break;
        offset = got.nextOffset;
      }
      return out;
    }),
  );
}
const hex = (b: Uint8Array | null) => (b === null ? "null" : Buffer.from(b).toString("hex"));

const fuzzes: RouteFuzz<any>[] = [];
const add = <T>(route: RouteFuzz<T>) => fuzzes.push(route);

// ---- Topic administration ----------------------------------------------------------------

add({
  route: "GET /v1/topics",
  fn: "admin",
  input: fc.record({ env: envelope, query: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }), body: fc.option(brokenJsonText) }),
  request: ({ env, query, body }) => request(env, "GET", "/v1/topics", { query, ...(body === null ? {} : { body }) }),
});

add({
  route: "POST /v1/topics",
  fn: "admin",
  input: fc.record({
    env: envelope,
    body: jsonBody(
      fc.record({
        name: fc.oneof({ weight: 8, arbitrary: nameRef(creatable.length, { unknown: 0 }) }, { weight: 1, arbitrary: notAString.map((value) => ({ value })) }, { weight: 1, arbitrary: absent }),
        partitions: intField(fc.integer({ min: 1, max: 3 })),
        config,
      }),
    ),
  }),
  request: ({ env, body }) =>
    request(env, "POST", "/v1/topics", {
      body: bodyText(body, ({ name, ...rest }) => ({ ...rest, name: name === undefined ? undefined : "value" in name ? name.value : nameOf(name, creatable) })),
    }),
  state: async () => Promise.all(creatable.map(topicState)),
  accepted: async (_input, result) => {
    const name = (JSON.parse(result.body) as { name: string }).name;
    expect(creatable).toContain(name);
    await log.deleteTopic(name);
  },
});

add({
  route: "GET /v1/topics/{topic}",
  fn: "admin",
  input: fc.record({ env: envelope, topic: nameRef(1) }),
  request: ({ env, topic }) => request(env, "GET", `/v1/topics/${pathName(topic, [read])}`),
  state: () => topicState(read),
});

add({
  route: "PATCH /v1/topics/{topic}",
  fn: "admin",
  input: fc.record({
    env: envelope,
    topic: nameRef(1),
    body: jsonBody(fc.record({ partitions: intField(fc.integer({ min: 1, max: 4 })), config }, { requiredKeys: [] })),
  }),
  request: ({ env, topic, body }) => request(env, "PATCH", `/v1/topics/${pathName(topic, [altered])}`, { body: bodyText(body) }),
  state: () => topicState(altered),
});

add({
  route: "DELETE /v1/topics/{topic}",
  fn: "admin",
  // Seldom the fixture: each delete that lands leaves a tombstone for maintenance to clear.
  input: fc.record({ env: envelope, topic: nameRef(1, { pool: 1, unknown: 6, bad: 3 }), body: fc.option(brokenJsonText) }),
  request: ({ env, topic, body }) =>
    request(env, "DELETE", `/v1/topics/${pathName(topic, [deleted])}`, body === null ? {} : { body }),
  state: () => topicState(deleted),
  accepted: async () => {
    await log.createTopic({ name: deleted, partitions: 1 });
  },
});

// ---- Produce -----------------------------------------------------------------------------

const recordJson = fc.record(
  {
    key: fc.oneof(fc.constant(null), fc.string({ maxLength: 10 }), goodBase64, badBase64, notAString),
    value: fc.oneof(fc.string({ maxLength: 20 }), goodBase64, badBase64, anyJson),
    headers: fc.oneof(
      fc.constant(null),
      notAString,
      fc.dictionary(fc.string({ maxLength: 5 }), fc.oneof(fc.string({ maxLength: 5 }), fc.constant(null), notAString), { maxKeys: 3 }),
      fc.array(
        fc.oneof(
          fc.record({ key: fc.oneof(fc.string({ maxLength: 5 }), notAString), value: fc.oneof(fc.string({ maxLength: 5 }), fc.constant(null), notAString) }, { requiredKeys: [] }),
          anyJson,
        ),
        { maxLength: 3 },
      ),
    ),
    partition: intField(fc.integer({ min: 0, max: 2 })),
    timestamp: intField(fc.integer({ min: 0, max: 2 ** 45 })),
  },
  { requiredKeys: [] },
);

/** One more than a JSON produce request may carry. */
const tooManyRecords = Array.from({ length: 100_001 }, () => ({ value: "" }));

const produceJson = jsonBody(
  fc.record(
    {
      records: fc.oneof(
        { weight: 50, arbitrary: fc.array(fc.tuple(recordJson, extraKeys).map(([r, x]) => ({ ...r, ...x })), { maxLength: 4 }) },
        { weight: 10, arbitrary: anyJson },
        { weight: 1, arbitrary: fc.constant(tooManyRecords) },
      ),
      keyEncoding: fc.oneof(fc.constantFrom("string", "base64", "json", "utf16", "BASE64"), notAString),
      valueEncoding: fc.oneof(fc.constantFrom("string", "base64", "json", "utf16", ""), notAString),
    },
    { requiredKeys: ["records"] },
  ),
);

/** Producer fields: none, an unknown id, the registered id (-3) at odd epochs and sequences, or nonsense. */
const producerFields = fc.oneof(
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 5 }).map((baseSequence) => ({ producerId: -3, producerEpoch: 0, baseSequence })) },
  { weight: 4, arbitrary: fc.constant({ producerId: -1, producerEpoch: -1, baseSequence: -1 }) },
  { weight: 1, arbitrary: fc.record({ producerId: fc.integer({ min: 0, max: 2 ** 40 }).map((n) => n + 1e9), producerEpoch: fc.integer({ min: 0, max: 3 }), baseSequence: fc.integer({ min: 0, max: 100 }) }) },
  { weight: 1, arbitrary: fc.record({ producerId: fc.constant(-2), producerEpoch: fc.integer({ min: -1, max: 3 }), baseSequence: fc.integer({ min: -1, max: 3 }) }) },
  {
    weight: 2,
    arbitrary: fc.record({ producerEpoch: fc.integer({ min: -1, max: 2 }), baseSequence: fc.oneof(fc.constantFrom(-1, 2 ** 31 - 2), fc.integer({ min: 0, max: 1000 })) }).map((p) => ({ producerId: -3, ...p })),
  },
);

const frame = fc.record({
  partition: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 0, max: 1 }) }, { weight: 2, arbitrary: fc.constantFrom(2, -1, 2 ** 31 - 1, -(2 ** 31)) }, { weight: 1, arbitrary: fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }) }),
  batch: batchSpec(producerFields),
  damage,
});

const binaryBody: fc.Arbitrary<BinaryBody> = fc.oneof(
  { weight: 8, arbitrary: fc.array(frame, { minLength: 1, maxLength: 3 }).map((frames) => ({ frames })) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 80 }).map((raw) => ({ raw })) },
);

/** `-3`: the registered producer id (known only once the fixtures exist). */
const withProducer = (body: BinaryBody): BinaryBody =>
  "raw" in body ? body : { frames: body.frames.map((f) => (f.batch.producerId === -3 ? { ...f, batch: { ...f.batch, producerId } } : f)) };

add({
  route: "POST /v1/topics/{topic}/records",
  fn: "produce",
  input: fc.record({
    env: envelope,
    topic: nameRef(2),
    body: fc.oneof(
      { weight: 4, arbitrary: produceJson.map((json) => ({ json })) },
      { weight: 5, arbitrary: binaryBody.map((binary) => ({ binary })) },
    ),
    contentType: fc.oneof(
      { weight: 6, arbitrary: fc.constant("matching") },
      { weight: 1, arbitrary: fc.constantFrom("APPLICATION/OCTET-STREAM", "application/octet-stream; charset=binary", "application/json", "text/plain", "") },
    ),
  }),
  request: ({ env, topic, body, contentType }) => {
    const bytes = "binary" in body ? binaryBytes(withProducer(body.binary)) : undefined;
    const type = contentType !== "matching" ? contentType : bytes ? "application/octet-stream" : "application/json";
    const path = `/v1/topics/${pathName(topic, [produce, small])}/records`;
    return request(env, "POST", path, { body: bytes ?? ("json" in body ? bodyText(body.json) : ""), headers: { "content-type": type } });
  },
  state: async () => ({ offsets: await Promise.all([topicState(produce), topicState(small)]), records: await Promise.all([produce, small].map(records)) }),
  unchanged: (after, before, reason) => {
    const [a, b] = [after, before] as { offsets: unknown; records: unknown }[];
    expect(a?.records, `rejected (${reason}) but records changed`).toEqual(b?.records);
    // docs/idempotent-producer.md: a batch refused for its sequence has taken a reservation
    // first, which becomes a gap (as after an aborted transaction in Kafka): only the high
    // watermark moves, and no record appears.
    if (reason !== "Conflict/OutOfOrderSequence") expect(a?.offsets, `rejected (${reason}) but offsets changed`).toEqual(b?.offsets);
  },
});

add({
  route: "POST /v1/producers",
  fn: "produce",
  input: fc.record({
    env: envelope,
    body: fc.oneof(
      absent,
      jsonBody(fc.record({ transactionalId: fc.oneof(fc.constantFrom("fz-tx-a", "fz-tx-b", "", "x".repeat(257)), notAString) }, { requiredKeys: [] })),
    ),
  }),
  request: ({ env, body }) => request(env, "POST", "/v1/producers", body === undefined ? {} : { body: bodyText(body) }),
});

// ---- Fetch and offsets --------------------------------------------------------------------

const partitionSegment = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom("0", "1") },
  { weight: 3, arbitrary: fc.constantFrom("2", "-1", "x", "01", "1.0", "999999999", "9999999999", "%20", "1%", "0x1", "+1", " 0") },
  { weight: 1, arbitrary: fc.string({ minLength: 1, maxLength: 5 }).map(encodeURIComponent) },
);

add({
  route: "GET /v1/topics/{topic}/partitions/{partition}/records",
  fn: "fetch",
  input: fc.record({
    env: envelope,
    topic: nameRef(1),
    partition: partitionSegment,
    offset: queryInt(fc.integer({ min: 0, max: 7 })),
    maxBytes: fc.oneof(queryInt(fc.integer({ min: 1, max: 1 << 20 })), fc.constantFrom("6291457", "0")),
    // Valid waits stay short, and present: a fetch at the high watermark waits them out (500 ms
    // when left out; longer ones are capped at 20 s, not refused).
    maxWaitMs: queryInt(fc.integer({ min: 0, max: 20 })).filter((v) => v !== undefined),
    encoding: fc.oneof(
      { weight: 3, arbitrary: absent },
      { weight: 5, arbitrary: fc.constantFrom("string", "base64", "json") },
      { weight: 2, arbitrary: fc.oneof(fc.constantFrom("utf16", "", "JSON"), fc.string({ maxLength: 5 })) },
    ),
    accept: fc.constantFrom(undefined, "application/json", "application/octet-stream", "*/*", "text/html"),
  }),
  request: ({ env, topic, partition, offset, maxBytes, maxWaitMs, encoding, accept }) =>
    request(env, "GET", `/v1/topics/${pathName(topic, [read])}/partitions/${partition}/records`, {
      query: { offset, maxBytes, maxWaitMs, encoding },
      ...(accept === undefined ? {} : { headers: { accept } }),
    }),
  state: () => topicState(read),
});

add({
  route: "GET /v1/topics/{topic}/partitions/{partition}/offsets",
  fn: "fetch",
  input: fc.record({
    env: envelope,
    topic: nameRef(1),
    partition: partitionSegment,
    at: fc.oneof(
      fc.constantFrom("earliest", "latest", undefined),
      queryInt(fc.integer({ min: 0, max: 2 ** 45 })),
      fc.constantFrom("Earliest", "LATEST", "1e3", "9999999999999999", "now", ""),
    ),
  }),
  request: ({ env, topic, partition, at }) =>
    request(env, "GET", `/v1/topics/${pathName(topic, [read])}/partitions/${partition}/offsets`, { query: { at } }),
  state: () => topicState(read),
});

// ---- No route, and events that are not API Gateway's --------------------------------------

/** True when API Gateway's event for `req` reaches one of the routes. */
const routed = (req: FuzzRequest) => {
  const parsed = parseApiGatewayEvent(toEvent(req));
  return matchRoute(routes, parsed.method, parsed.path) !== undefined;
};

add({
  route: "(no route)",
  fn: "admin",
  input: fc
    .record({
      env: envelope,
      method: fc.constantFrom("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "get", "TRACE"),
      path: fc.oneof(
        fc.constantFrom("/", "", "/v1", "/v2/topics", "/v1/topics/a/b", "/v1/topics/a/partitions", "/v1/groups/a/members/b/c", "/v1//topics", "v1/topics", "/v1/topics/%zz"),
        fc
          .array(fc.oneof(fc.constantFrom("v1", "topics", "groups", "records", "partitions", "0", ".."), fc.string({ maxLength: 4 })), { maxLength: 6 })
          .map((parts) => `/${parts.join("/")}`),
      ),
    })
    .filter(({ env, method, path }) => !routed(request(env, method, path))),
  request: ({ env, method, path }) => request(env, method, path),
});

add({
  route: "(malformed event)",
  fn: "admin",
  input: fc.oneof(
    fc.anything({ maxDepth: 2 }),
    fc.record(
      {
        version: fc.constantFrom("2.0", "1.0", 2, undefined),
        rawPath: fc.oneof(fc.constant(undefined), notAString),
        path: fc.oneof(fc.constant(undefined), notAString),
        httpMethod: fc.oneof(fc.constant(undefined), notAString),
        requestContext: fc.oneof(fc.constant(undefined), anyJson, fc.record({ http: fc.oneof(anyJson, fc.record({ method: notAString })) })),
        headers: anyJson,
        body: fc.oneof(anyJson, fc.string()),
        isBase64Encoded: anyJson,
      },
      { requiredKeys: [] },
    ),
  ),
  request: () => ({ method: "GET", path: "/" }),
  event: (input) => input,
});

describe("HTTP fuzz: topic, produce and fetch routes", () => {
  for (const route of fuzzes) {
    it(
      `${route.route}: only successes and typed 4xx; rejected requests change nothing`,
      async () => {
        const stats = await fuzzRoute(invoke, storage, route);
        results.push(stats);
        expect(stats.cases).toBeGreaterThan(0);
      },
      routeTimeoutMs(),
    );
  }
});
