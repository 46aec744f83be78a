/**
 * Throttling, end to end: DynamoDB and S3 throttle a share of the server's storage requests (the
 * SDK's own exceptions, injected inside its retries); the API answers what outlasts the SDK's
 * retries with 429 (DynamoDB) or 503 (S3 SlowDown) and `Retry-After`; the SDK's Producer and
 * Consumer back off and carry on, and nothing acknowledged is lost or stored twice. The Consumer
 * reads the segments from S3 itself, and S3 throttles those GETs too (SlowDown, injected on its
 * transport).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { SeglogError } from "../../src/core/errors.ts";
import { Consumer, type ConsumedRecord } from "../../src/client/consumer.ts";
import { SeglogHttp } from "../../src/client/http.ts";
import { Producer } from "../../src/client/producer.ts";
import type { LocalApi } from "../../src/local/server.ts";
import { Log } from "../../src/log/log.ts";
import { decodeStored } from "../../src/log/read.ts";
import type { RequestInfo } from "../helpers/faults.ts";
import { startTestApi, testLog } from "../helpers/log.ts";
import { testClients, testEnv, uniqueName } from "../helpers/stack.ts";
import { interceptS3Gets, recording, s3Error } from "../helpers/transport.ts";
import { throttle, type Throttle } from "./throttle.ts";

describe("client backoff", () => {
  const http = new SeglogHttp({ url: "http://127.0.0.1:9", initialBackoffMs: 100, maxBackoffMs: 5000, signer: false });
  const samples = (attempt: number, e?: SeglogError) => Array.from({ length: 400 }, () => http.backoffMs(attempt, e));
  const throttled = new SeglogError("Throttled", "slow down", { retryAfterMs: 1000 });

  it("waits at least Retry-After, with jitter on top whose ceiling doubles per attempt, and never past maxBackoffMs", () => {
    let previousMax = 0;
    for (let attempt = 1; attempt <= 8; attempt++) {
      const waits = samples(attempt, throttled);
      const ceiling = Math.min(5000, 1000 + 100 * 2 ** (attempt - 1));
      expect(Math.min(...waits)).toBeGreaterThanOrEqual(1000);
      expect(Math.max(...waits)).toBeLessThanOrEqual(ceiling);
      expect(new Set(waits).size, "jittered, not one fixed wait").toBeGreaterThan(100);
      if (attempt <= 5) expect(Math.max(...waits), `attempt ${attempt} may wait longer than attempt ${attempt - 1}`).toBeGreaterThan(previousMax);
      previousMax = Math.max(...waits);
    }
  });

  it("without Retry-After, full jitter from 0; a Retry-After past the bound is cut to it", () => {
    expect(Math.max(...samples(1))).toBeLessThanOrEqual(100);
    expect(Math.max(...samples(30))).toBeLessThanOrEqual(5000);
    expect(new Set(samples(1, new SeglogError("Throttled", "", { retryAfterMs: 3_600_000 })))).toEqual(new Set([5000]));
  });
});

describe("storage throttling behind the API", () => {
  // The server's SDK gives up after 2 attempts (AWS_MAX_ATTEMPTS=2) instead of 3, so that more of
  // the throttling reaches the API, which is what is under test here; and its readers abort a
  // reservation that a failed write left behind after 5 s instead of 30.
  const clients = testClients({ maxAttempts: 2 });
  const env = testEnv();
  const server = {
    ...clients,
    log: new Log({ ...clients, bucket: env["SEGLOG_BUCKET"] ?? "seglog", table: env["SEGLOG_TABLE"] ?? "seglog" }, { abortTimeoutMs: 5_000 }),
  };
  /** Unthrottled: set-up and the final read of the log. */
  const { log } = testLog();
  let dynamoPlan: (req: RequestInfo) => Throttle | undefined = () => undefined;
  let s3Plan: (req: RequestInfo) => Throttle | undefined = () => undefined;
  const dynamoThrottles = throttle(server.dynamo, (req) => dynamoPlan(req));
  const s3Throttles = throttle(server.s3, (req) => s3Plan(req));
  let api: LocalApi;

  beforeAll(async () => {
    api = await startTestApi({ log: server.log });
  });
  afterAll(() => api.close());
  afterEach(() => {
    dynamoPlan = () => undefined;
    s3Plan = () => undefined;
    vi.restoreAllMocks();
  });

  it("a producer waits out the server's Retry-After before it sends a throttled batch again", async () => {
    const topic = uniqueName("slowdown");
    await log.createTopic({ name: topic, partitions: 1 });
    const { transport, answers } = recording();
    const backoffs = vi.spyOn(SeglogHttp.prototype, "backoffMs");
    let puts = 0;
    s3Plan = (req) => (req.command === "PutObjectCommand" && puts++ < 6 ? "SlowDown" : undefined);
    const producer = new Producer({ url: api.url, signer: false, lingerMs: 0, transport });
    const acked = await producer.send(topic, { value: "after the storm" });
    await producer.close();

    const slowDowns = answers.filter((r) => r.status === 503);
    expect(slowDowns.length).toBeGreaterThan(0);
    for (const r of slowDowns) expect(r.header("retry-after")).toBe("1");
    expect(backoffs.mock.results).toHaveLength(slowDowns.length);
    for (const wait of backoffs.mock.results) expect(wait.value).toBeGreaterThanOrEqual(1000);
    expect(acked).toMatchObject({ partition: 0, offset: expect.any(Number) });
    const { batches } = await log.fetch(topic, 0, { offset: 0, maxWaitMs: 0 });
    const values = batches.flatMap((b) => [...decodeStored(b.bytes)]).map((r) => Buffer.from(r.value ?? []).toString());
    expect(values).toEqual(["after the storm"]);
  });

  it("under sustained throttling of 30–40 % of storage requests, every acked record is read once, at its offset", async () => {
    const topic = uniqueName("throttled");
    const partitions = 3;
    await log.createTopic({ name: topic, partitions });
    const RATE = { dynamo: 0.3, s3: 0.4 };
    // The consumer GETs the segments from S3 itself: S3 throttles those GETs too, as SlowDown.
    const directGets = { answered: 0, slowDowns: 0 };
    const { transport, answers: allAnswers } = recording(
      interceptS3Gets(() => {
        directGets.answered++;
        if (s3Plan({ command: "GetObjectCommand", input: {} }) === undefined) return undefined;
        directGets.slowDowns++;
        return s3Error(503, "SlowDown", "Please reduce your request rate.");
      }),
    );
    const backoffs = vi.spyOn(SeglogHttp.prototype, "backoffMs");
    const injectedBefore = new Map([...dynamoThrottles.injected, ...s3Throttles.injected]);
    dynamoPlan = () => (Math.random() < RATE.dynamo ? (Math.random() < 0.5 ? "ProvisionedThroughputExceededException" : "ThrottlingException") : undefined);
    s3Plan = () => (Math.random() < RATE.s3 ? "SlowDown" : undefined);

    // Clients with room to outlast a long storm (the default 6 attempts give up after ~10 s of
    // backoff), and a shorter bound on each wait than the default 5 s, so the test ends sooner.
    const options = { url: api.url, signer: false as const, maxAttempts: 30, maxBackoffMs: 2000, transport };
    const producer = new Producer({ ...options, lingerMs: 20 });
    // Two consumers: one reads the segments from S3 itself (the default), one through the API,
    // whose fetch function meets S3's SlowDown and answers 503.
    const consumers = (["storage", "api"] as const).map((readFrom) => {
      const consumer = new Consumer({ ...options, maxWaitMs: 100, readFrom });
      consumer.assign(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
      return { readFrom, consumer, read: [] as ConsumedRecord[] };
    });
    const acked: { partition: number; offset: number; value: string }[] = [];
    let producing = true;
    const caughtUp = (consumer: Consumer) =>
      Array.from({ length: partitions }, (_, partition) => partition).every((partition) => {
        const last = Math.max(-1, ...acked.filter((a) => a.partition === partition).map((a) => a.offset));
        return (consumer.position({ topic, partition }) ?? 0) > last;
      });
    const consuming = Promise.all(
      consumers.map(async ({ consumer, read }) => {
        while (producing || !caughtUp(consumer)) read.push(...(await consumer.poll()));
      }),
    );

    // For ten seconds, a wave of six records a second, one partition after the other (so that
    // most requests carry one batch, and a throttled one is answered 429 or 503 rather than 207);
    // then, seldom needed, a record a second until the clients have met both answers.
    const fromApi = () => allAnswers.filter((r) => r.url.startsWith(api.url));
    const statuses = () => fromApi().map((r) => r.status);
    // The consumer reading from S3 backs off only when SlowDown hits the first GET of a fetch (a
    // later one ends the read early instead), so the waves go on until that happened too.
    const consumerSlowedDown = () => backoffs.mock.calls.some(([, error]) => error?.kind === "Throttled" && /^S3 answered 503 SlowDown/.test(error.message));
    const metBoth = () => statuses().includes(429) && statuses().includes(503) && consumerSlowedDown();
    const sends: Promise<void>[] = [];
    const WAVES = 10;
    for (let wave = 0; wave < WAVES || (!metBoth() && wave < 60); wave++) {
      for (let i = 0; i < (wave < WAVES ? 6 : 1); i++) {
        const value = `v${sends.length}`;
        const sent = producer.send(topic, { key: value, value, partition: wave % partitions });
        sends.push(sent.then((m) => void acked.push({ partition: m.partition, offset: m.offset, value })));
      }
      await sleep(1000);
    }
    await producer.close();
    await Promise.all(sends);
    // The storm ends with the last acknowledgement; the consumer, throttled until now, catches up.
    dynamoPlan = () => undefined;
    s3Plan = () => undefined;
    producing = false;
    await consuming;

    const answers = fromApi();
    const count = (status: number) => answers.filter((r) => r.status === status).length;
    expect(count(429), "DynamoDB throttling reached the clients as 429").toBeGreaterThan(0);
    expect(count(503), "S3 SlowDown reached the clients as 503 through the API").toBeGreaterThan(0);
    expect(directGets.slowDowns, "S3 itself answered the consumer's own GETs SlowDown").toBeGreaterThan(0);
    expect(consumerSlowedDown(), "the consumer reading from S3 backed off after SlowDown").toBe(true);
    for (const r of answers.filter((a) => a.status === 429 || a.status === 503)) expect(r.header("retry-after")).toMatch(/^[1-9]\d*$/);
    expect(answers.filter((r) => r.status >= 500 && r.status !== 503).map((r) => r.status)).toEqual([]);
    for (const [i, call] of backoffs.mock.calls.entries()) {
      const error = call[1];
      if (error?.retryAfterMs !== undefined) expect(backoffs.mock.results[i]?.value).toBeGreaterThanOrEqual(error.retryAfterMs);
    }

    // Every record was acknowledged; each consumer read each at its acknowledged offset, once.
    expect(acked).toHaveLength(sends.length);
    for (const { readFrom, read } of consumers) {
      const seen = new Map(read.map((r) => [`${r.partition}/${r.offset}`, Buffer.from(r.value ?? []).toString()]));
      expect(seen.size, `${readFrom}: no offset read twice`).toBe(read.length);
      expect(read.length, `${readFrom}: nothing read that was not acknowledged`).toBe(acked.length);
      for (const a of acked) expect(seen.get(`${a.partition}/${a.offset}`), `${readFrom}: ${a.value} at ${a.partition}/${a.offset}`).toBe(a.value);
    }
    // And the log holds each once: the idempotent producer's retries were not stored again.
    // (Read through the server's log: its readers abort reservations that failed writes left
    // pending within 5 s, where the default is 30 s.)
    const stored: string[] = [];
    const { partitions: states } = await server.log.describeTopic(topic);
    for (const { partition, highWatermark } of states) {
      for (let offset = 0; offset < highWatermark; ) {
        const got = await server.log.fetch(topic, partition, { offset, maxWaitMs: 1000 });
        for (const b of got.batches) for (const r of decodeStored(b.bytes)) if (r.offset >= offset) stored.push(Buffer.from(r.value ?? []).toString());
        offset = got.nextOffset;
      }
    }
    expect(stored.sort()).toEqual(acked.map((a) => a.value).sort());

    const injected = [...dynamoThrottles.injected, ...s3Throttles.injected].map(([k, n]) => `${k} ${n - (injectedBefore.get(k) ?? 0)}`).join(", ");
    const byStatus = new Map<number, number>();
    for (const r of answers) byStatus.set(r.status, (byStatus.get(r.status) ?? 0) + 1);
    console.log(
      [
        `throttling: ${RATE.dynamo * 100} % of DynamoDB and ${RATE.s3 * 100} % of S3 requests; injected ${injected}`,
        `HTTP answers: ${[...byStatus].sort(([a], [b]) => a - b).map(([s, n]) => `${s}:${n}`).join(" ")}; client backoffs (retries): ${backoffs.mock.calls.length}`,
        `the consumer's own S3 GETs: ${directGets.answered}, of which SlowDown ${directGets.slowDowns}`,
        `records: ${acked.length} acked, ${consumers.map((c) => `${c.read.length} read from ${c.readFrom}`).join(", ")}, ${stored.length} stored`,
      ].join("\n"),
    );
  }, 180_000);
});
