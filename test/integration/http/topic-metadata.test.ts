import { describe, expect, it } from "vitest";
import { setTimeout as sleep } from "node:timers/promises";
import { Admin } from "../../../src/client/admin.ts";
import { Consumer } from "../../../src/client/consumer.ts";
import { Producer } from "../../../src/client/producer.ts";
import { routes } from "../../../src/http/app.ts";
import type { FunctionName } from "../../../src/http/router.ts";
import { startLocalApi } from "../../../src/local/server.ts";
import { countCalls, handlersFor, jsonOf, testLog, v2Event } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

describe("a topic's metadata (GET /v1/topics/{topic}?partitionStates=false)", () => {
  it("answers the topic's id, partition count and config from one read, however many partitions; describing reads every partition", async () => {
    const { log } = testLog();
    const topic = uniqueName("meta");
    await log.createTopic({ name: topic, partitions: 40 });
    // Fresh function instances each, so that no topic cache answers for storage.
    const read = async (query?: Record<string, string>) => {
      const fresh = testLog();
      const calls = countCalls(fresh.dynamo);
      const r = await handlersFor({ log: fresh.log })("admin", v2Event("GET", `/v1/topics/${topic}`, query ? { query } : {}));
      return { status: r.statusCode, body: jsonOf(r), calls: [...calls.values()].reduce((a, b) => a + b, 0) };
    };
    const metadata = await read({ partitionStates: "false" });
    expect(metadata.status).toBe(200);
    expect(metadata.body).toEqual({ name: topic, topicId: expect.any(String), partitions: 40, config: expect.objectContaining({ "max.message.bytes": 1048588 }) });
    expect(metadata.calls).toBe(1);
    const described = await read();
    expect(described.body.partitionStates).toHaveLength(40);
    expect(described.calls).toBe(2); // the topic, and the 40 heads in one read (no index Query: nothing was produced)
    expect((await read({ partitionStates: "true" })).body.partitionStates).toHaveLength(40);

    const bad = await read({ partitionStates: "no" });
    expect({ status: bad.status, kind: bad.body.error.kind }).toEqual({ status: 400, kind: "Invalid" });
    const missing = await handlersFor({ log })("admin", v2Event("GET", `/v1/topics/${uniqueName("none")}`, { query: { partitionStates: "false" } }));
    expect({ status: missing.statusCode, kind: jsonOf(missing).error.kind }).toEqual({ status: 404, kind: "NotFound" });
  });

  it("is what the SDK asks for: Admin.topicMetadata, the Producer's metadata refresh, Consumer.assignTopic", async () => {
    const { log } = testLog();
    const topic = uniqueName("meta-sdk");
    await log.createTopic({ name: topic, partitions: 3 });
    const describes: string[] = [];
    const invoke = handlersFor({ log });
    const counted = (fn: FunctionName) => (e: unknown) => {
      const event = e as { rawPath?: string; rawQueryString?: string; requestContext?: { http?: { method?: string } } };
      if (fn === "admin" && event.requestContext?.http?.method === "GET" && event.rawPath === `/v1/topics/${topic}`) describes.push(event.rawQueryString ?? "");
      return invoke(fn, e);
    };
    const api = await startLocalApi({ port: 0, routes: routes as never, handlers: { admin: counted("admin"), produce: counted("produce"), fetch: counted("fetch"), groups: counted("groups") } });
    try {
      expect(await new Admin({ url: api.url }).topicMetadata(topic)).toEqual({ name: topic, topicId: expect.any(String), partitions: 3, config: expect.any(Object) });
      const producer = new Producer({ url: api.url, metadataMaxAgeMs: 1 });
      for (let i = 0; i < 3; i++) {
        await producer.send(topic, { value: Buffer.from(`r${i}`) });
        await sleep(5); // past metadataMaxAgeMs: the next send refreshes the metadata
      }
      await producer.close();
      const consumer = new Consumer({ url: api.url });
      await consumer.assignTopic(topic, "earliest");
      expect(consumer.assignment()).toHaveLength(3);
      await consumer.close();
      expect(describes.length).toBeGreaterThanOrEqual(4);
      expect(new Set(describes)).toEqual(new Set(["partitionStates=false"]));
    } finally {
      await api.close();
    }
  });
});
