import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, Consumer, Producer } from "../../../src/client/index.ts";
import { routes } from "../../../src/http/app.ts";
import type { ApiGatewayResult } from "../../../src/http/event.ts";
import type { FunctionName } from "../../../src/http/router.ts";
import { startLocalApi, type LocalApi } from "../../../src/local/server.ts";
import { handlersFor, testLog } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

let api: LocalApi;
/** The next produce request's answer waits for this (after the batch landed): a slow answer. */
let holdNextAnswer: Promise<void> | undefined;
let answersHeld = 0;
let failTopicReads = 0;
/** The admin function's GETs (topic reads) so far, by path. */
const topicReads = new Map<string, number>();
const readsOf = (topic: string): number => topicReads.get(`/v1/topics/${topic}`) ?? 0;
let failNextProduces = 0;
const invoke = handlersFor({ log: testLog().log });

beforeAll(async () => {
  const h = (fn: FunctionName) => async (e: unknown): Promise<ApiGatewayResult> => {
    const isGet = (e as { requestContext?: { http?: { method?: string } } }).requestContext?.http?.method === "GET";
    if (fn === "admin" && isGet) {
      const path = String((e as { rawPath?: string }).rawPath);
      topicReads.set(path, (topicReads.get(path) ?? 0) + 1);
    }
    if (fn === "admin" && failTopicReads > 0 && isGet) {
      failTopicReads--;
      return { statusCode: 503, headers: { "content-type": "application/json" }, body: '{"message":"Service Unavailable"}', isBase64Encoded: false };
    }
    if (fn === "produce" && failNextProduces > 0 && String((e as { rawPath?: string }).rawPath).endsWith("/records")) {
      failNextProduces--;
      return { statusCode: 503, headers: { "content-type": "application/json" }, body: '{"message":"Service Unavailable"}', isBase64Encoded: false };
    }
    const result = await invoke(fn, e);
    if (fn === "produce" && String((e as { rawPath?: string }).rawPath).endsWith("/records") && holdNextAnswer) {
      const hold = holdNextAnswer;
      holdNextAnswer = undefined;
      answersHeld++;
      await hold;
    }
    return result;
  };
  api = await startLocalApi({ port: 0, routes: routes as never, handlers: { admin: h("admin"), produce: h("produce"), fetch: h("fetch"), groups: h("groups") } });
});
afterAll(() => api.close());

async function readAll(topic: string, partition: number): Promise<string[]> {
  const consumer = new Consumer({ url: api.url, maxWaitMs: 0 });
  consumer.assign([{ topic, partition, offset: 0 }]);
  const out = (await consumer.poll()).map((r) => `${r.offset}:${r.value?.toString()}`);
  consumer.close();
  return out;
}
const until = async (cond: () => boolean) => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
};

/**
 * The Producer where a topic is read for the first time, or deleted and created again, while its
 * records are on their way: races a reviewer found, each once a loss, a reordering or a failure.
 */
describe("the Producer, racing its topic reads", () => {
  it("stores the next record of a partition whose batch a recreated topic took while a read of the topic forgot its sequences (it was answered as that batch's duplicate)", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("seq-race");
    await admin.createTopic(topic, { partitions: 2 });
    const producer = new Producer({ url: api.url, lingerMs: 1 });
    expect((await producer.send(topic, { value: "x", partition: 1 })).offset).toBe(0); // known, old topic id
    await admin.deleteTopic(topic);
    await admin.createTopic(topic, { partitions: 2 });
    // a: p0's first batch (sequence 0, tagged with the old id) lands in the new topic; its answer is slow.
    let release!: () => void;
    holdNextAnswer = new Promise<void>((r) => (release = r));
    const held = answersHeld;
    const a = producer.send(topic, { value: "a", partition: 0 });
    await until(() => answersHeld > held);
    // Meanwhile p1's batch (the old topic's sequences) is refused OutOfOrderSequence: the producer
    // reads the topic again (new id) and forgets every counter tagged with the old one, p0's too.
    const y = await producer.send(topic, { value: "y", partition: 1 });
    release();
    const am = await a;
    const b = await producer.send(topic, { value: "b", partition: 0 });
    await producer.close();
    expect(b.offset).not.toBe(am.offset);
    expect(await readAll(topic, 0)).toEqual([`${am.offset}:a`, `${b.offset}:b`]);
    expect(await readAll(topic, 1)).toEqual([`${y.offset}:y`]);
  });

  it("keeps a partition's order when a record is sent just as the topic's first read answers: it does not overtake one that waited for that read", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("order-race");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1 });
    const adm = (producer as unknown as { admin: { topicMetadata: (t: string, b?: unknown) => Promise<unknown> } }).admin;
    const orig = adm.topicMetadata.bind(adm);
    let r2: Promise<{ offset: number }> | undefined;
    adm.topicMetadata = (t, b) =>
      orig(t, b).then((d) => {
        // Some code of the user's that runs a few microtasks later (after the producer stored the topic).
        if (!r2) queueMicrotask(() => queueMicrotask(() => (r2 = producer.send(topic, { value: "r2", partition: 0 }))));
        return d;
      });
    const r1 = producer.send(topic, { value: "r1", partition: 0 });
    const [m1] = await Promise.all([r1]);
    const m2 = await (r2 as Promise<{ offset: number }>);
    await producer.close();
    expect(m1.offset).toBeLessThan(m2.offset);
    expect(await readAll(topic, 0)).toEqual([`${m1.offset}:r1`, `${m2.offset}:r2`]);
  });

  it("gives a record sent late in an outage of the topic's reads its own deliveryTimeoutMs for the first read, not the first record's", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("shared-deadline");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 20, maxBackoffMs: 50, deliveryTimeoutMs: 2000 });
    failTopicReads = 1_000_000;
    const t0 = performance.now();
    const r1 = producer.send(topic, { value: "r1", partition: 0 }).then((m) => `ok ${m.offset}`, (e) => `failed after ${Math.round(performance.now() - t0)} ms: ${String(e).slice(0, 80)}`);
    await new Promise((r) => setTimeout(r, 1500));
    const t2 = performance.now();
    const r2 = producer.send(topic, { value: "r2", partition: 0 }).then((m) => `ok ${m.offset}`, (e) => `failed ${Math.round(performance.now() - t2)} ms after its send: ${String(e).slice(0, 80)}`);
    // Reads come back once r1 has failed on its timeout: within r2's own (2000 ms from its send).
    const first = await r1;
    failTopicReads = 0;
    const out = [first, await r2];
    await producer.close();
    expect(out[0]).toMatch(/^failed after \d+ ms: SeglogInternalError: HTTP 503/);
    expect(out[1]).toMatch(/^ok/);
  });

  it("fails every record sent to a topic that does not exist, on one read of it, and flush and close return", async () => {
    const producer = new Producer({ url: api.url, lingerMs: 1 });
    const topic = uniqueName("absent");
    const sends = Array.from({ length: 5 }, (_, i) => producer.send(topic, { value: `v${i}` }).then(() => "ok", (e: { kind?: string }) => e.kind));
    await producer.flush();
    await producer.close();
    expect(await Promise.all(sends)).toEqual(Array.from({ length: 5 }, () => "NotFound"));
    expect(readsOf(topic)).toBe(1);
  });

  it("flush() waits for the records sent before it, not for those sent after it while the topic's first read keeps failing", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("flush-snapshot");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 20, maxBackoffMs: 50, deliveryTimeoutMs: 1500 });
    failTopicReads = 1_000_000;
    const first = producer.send(topic, { value: "first", partition: 0 }).then(() => "ok", (e) => `failed: ${String(e).slice(0, 40)}`);
    let flushed = false;
    const flushing = producer.flush().then(() => (flushed = true));
    // Records keep coming after the flush, each waiting for the same failing read.
    const later: Promise<string>[] = [];
    for (let i = 0; i < 60 && !flushed; i++) {
      later.push(producer.send(topic, { value: `later-${i}`, partition: 0 }).then(() => "ok", () => "failed"));
      await new Promise((r) => setTimeout(r, 100));
    }
    await flushing;
    expect(await first).toMatch(/^failed: SeglogInternalError: HTTP 503/);
    // flush() returned while records were still being sent, once "first" had failed.
    expect(later.length).toBeLessThan(60);
    failTopicReads = 0;
    await producer.close();
    expect((await Promise.all(later)).at(-1)).toBe("ok");
  });

  it("partitionsFor reads the topic once, as Kafka's does, and records sent after it need no read of their own; a topic that does not exist is NotFound", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("partitions-for");
    await admin.createTopic(topic, { partitions: 3 });
    const producer = new Producer({ url: api.url, lingerMs: 1 });
    expect(await producer.partitionsFor(topic)).toEqual([0, 1, 2].map((partition) => ({ topic, partition })));
    const metas = await Promise.all(["a", "b", "c"].map((value, partition) => producer.send(topic, { value, partition })));
    expect(metas.map((m) => m.partition)).toEqual([0, 1, 2]);
    expect(readsOf(topic)).toBe(1);
    await expect(producer.partitionsFor(uniqueName("absent"))).rejects.toMatchObject({ kind: "NotFound" });
    await producer.close();
    await expect(producer.partitionsFor(topic)).rejects.toThrow(/closed/);
  });

  it("delivers a burst sent before the topic was read, on one read of it, each partition in send order, with records sent as it answers after them", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("burst");
    await admin.createTopic(topic, { partitions: 3 });
    const producer = new Producer({ url: api.url, lingerMs: 5 });
    const sends = Array.from({ length: 3000 }, (_, i) => producer.send(topic, { key: `k${i % 7}`, value: `v${i}` }));
    // One more the moment the first acknowledgement comes: it queues after the burst.
    const late = sends[0]!.then(() => producer.send(topic, { key: "k0", value: "late" }));
    const metas = await Promise.all([...sends, late]);
    await producer.close();
    expect(readsOf(topic)).toBe(1);
    const consumer = new Consumer({ url: api.url, maxWaitMs: 0 });
    consumer.assign([0, 1, 2].map((partition) => ({ topic, partition, offset: 0 })));
    const got: string[][] = [[], [], []];
    while (got.flat().length < 3001) for (const r of await consumer.poll()) got[r.partition]!.push(`${r.key}:${r.value}`);
    consumer.close();
    // Each partition holds its keys' records in the order they were sent, the late one last in its own.
    const sent: string[][] = [[], [], []];
    metas.forEach((m, i) => sent[m.partition]!.push(i < 3000 ? `k${i % 7}:v${i}` : "k0:late"));
    expect(got).toEqual(sent);
    expect(got.find((p) => p.includes("k0:late"))?.at(-1)).toBe("k0:late");
  });

  it("waits in close() for the records that wait for their topic's first read, and delivers them in order", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("close-first-read");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 1, initialBackoffMs: 20, maxBackoffMs: 50 });
    failTopicReads = 20;
    const sends = Array.from({ length: 20 }, (_, i) => producer.send(topic, { value: `v${i}`, partition: 0 }));
    await producer.close();
    const offsets = (await Promise.all(sends)).map((m) => m.offset);
    expect(offsets).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await expect(producer.send(topic, { value: "late" })).rejects.toThrow(/closed/);
  });

  it("gives a record sent just after the topic's first read its whole delivery timeout, though it joins the batch of one that waited for that read", async () => {
    const admin = new Admin({ url: api.url });
    const topic = uniqueName("inherited-timeout");
    await admin.createTopic(topic, { partitions: 1 });
    const producer = new Producer({ url: api.url, lingerMs: 300, initialBackoffMs: 20, maxBackoffMs: 50, deliveryTimeoutMs: 3000 });
    failTopicReads = 1_000_000;
    const r1 = producer.send(topic, { value: "r1", partition: 0 }).then((m) => `ok ${m.offset}`, (e) => `r1 failed: ${String(e).slice(0, 60)}`);
    setTimeout(() => (failTopicReads = 0), 1800);
    await until(() => (producer as unknown as { topics: Map<string, unknown> }).topics.has(topic));
    failNextProduces = 1; // one throttled produce, which a record has 3 s to ride out
    const t2 = performance.now();
    const r2 = producer.send(topic, { value: "r2", partition: 0 }).then((m) => `ok ${m.offset}`, (e) => `r2 failed ${Math.round(performance.now() - t2)} ms after its send: ${String(e).slice(0, 60)}`);
    const out = [await r1, await r2];
    failNextProduces = 0;
    await producer.close();
    expect(out).toEqual(["ok 0", "ok 1"]);
  });
});
