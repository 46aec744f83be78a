import { describe, expect, it } from "vitest";
import { encodeRecordBatch } from "../../../src/core/codec/record-batch.ts";
import { SeglogError } from "../../../src/core/errors.ts";
import { buildFrames } from "../../../src/core/frames.ts";
import type { Log } from "../../../src/log/log.ts";
import type { ProduceResult } from "../../../src/log/writer.ts";
import { decodeStored } from "../../../src/log/read.ts";
import { MAX_EPOCH } from "../../../src/storage/producers.ts";
import { injectFaults, stepOf, type Fault } from "../../helpers/faults.ts";
import { countCalls, handlersFor, jsonOf, setNextSequence, setTransactionalEpoch, testLog, v2Event } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";

const abortTimeoutMs = 800;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function batch(producerId: number, epoch: number, baseSequence: number, values: string[]): Uint8Array {
  return encodeRecordBatch({ producerId, producerEpoch: epoch, baseSequence, records: values.map((v) => ({ key: null, value: Buffer.from(v) })) });
}

/** Every record of a partition, read committed from the start, as [offset, value]. */
async function readAll(log: Log, topic: string, partition: number): Promise<[number, string][]> {
  const out: [number, string][] = [];
  let offset = 0;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await log.fetch(topic, partition, { offset, maxWaitMs: 0 });
    for (const b of r.batches) for (const rec of decodeStored(b.bytes)) if (rec.offset >= offset) out.push([rec.offset, Buffer.from(rec.value ?? []).toString()]);
    if (r.nextOffset === offset) {
      // Stop once the whole log is decided: no reservation in flight below the last reservation.
      const latest = (await log.describeTopic(topic)).partitions[partition]?.highWatermark ?? 0;
      if (latest === offset && (await headSettled(log, topic, partition, offset))) return out;
      if (Date.now() > deadline) throw new Error(`log did not settle at ${offset}`);
      await sleep(100);
      continue;
    }
    offset = r.nextOffset;
  }
}

async function headSettled(log: Log, topic: string, partition: number, hwm: number): Promise<boolean> {
  const next = await log.offsetFor(topic, partition, "latest");
  return next.offset === hwm && (await sleep(abortTimeoutMs + 200).then(() => log.offsetFor(topic, partition, "latest"))).offset === hwm;
}

const ok = (r: ProduceResult | undefined) => {
  if (!r || "error" in r) throw r?.error ?? new Error("no result");
  return r;
};

describe("idempotent producer", () => {
  it("stores a binary frame sent twice once, and both answers carry the same offsets", async () => {
    const { log } = testLog();
    const invoke = handlersFor({ log });
    const topic = uniqueName("twice");
    await log.createTopic({ name: topic, partitions: 1 });
    const init = jsonOf(await invoke("produce", v2Event("POST", "/v1/producers")));
    const body = buildFrames([{ partition: 0, bytes: batch(init.producerId, init.epoch, 0, ["a", "b"]) }]);
    const send = () => invoke("produce", v2Event("POST", `/v1/topics/${topic}/records`, { body, headers: { "content-type": "application/octet-stream" } }));
    const first = await send();
    const second = await send();
    expect(first.statusCode).toBe(200);
    expect(jsonOf(second)).toEqual(jsonOf(first));
    expect(await readAll(log, topic, 0)).toEqual([[0, "a"], [1, "b"]]);
  });

  it("refuses a retry of a batch whose segment retention removed since (UnknownBatchOutcome), rather than store it a second time", async () => {
    const { log } = testLog();
    const topic = uniqueName("retried-late");
    await log.createTopic({ name: topic, partitions: 1, config: { "retention.ms": 60_000 } });
    const p = await log.initProducer();
    // Backfilled: its records are past retention.ms as soon as they are written.
    const frame = encodeRecordBatch({ producerId: p.producerId, producerEpoch: p.epoch, baseSequence: 0, records: [{ key: null, value: Buffer.from("backfilled"), timestamp: Date.now() - 120_000 }] });
    const send = async () => (await log.produceFrames(topic, [{ partition: 0, bytes: frame }]))[0] as ProduceResult;
    expect(ok(await send()).baseOffset).toBe(0);
    expect(ok(await send()).baseOffset).toBe(0); // a retry whose first attempt's answer was lost
    await log.runMaintenance({ topics: [topic] });
    const start = (await log.describeTopic(topic)).partitions[0]?.logStartOffset ?? 0;
    expect(start).toBeGreaterThan(0);
    // Before, this retry aborted the removed item, took the claim over and stored the batch again.
    const late = await send();
    expect("error" in late && late.error).toMatchObject({ kind: "Conflict", code: "UnknownBatchOutcome", retriable: false });
    const r = await log.fetch(topic, 0, { offset: start, maxWaitMs: 0 });
    expect(r.batches.flatMap((b) => [...decodeStored(b.bytes)])).toEqual([]);
  });

  it("keeps an aborted batch's item for its retry though a merge ran over it and retention then removed the records around it (the retry was refused UnknownBatchOutcome)", async () => {
    const topic = uniqueName("aborted-merged");
    const first = testLog({ abortTimeoutMs });
    await first.log.createTopic({ name: topic, partitions: 1, config: { "retention.ms": 60_000 } });
    const plain = testLog().log;
    const write = (v: string) => plain.produceRecords(topic, [{ key: null, value: Buffer.from(v), partition: 0 }]);
    await write("c0");
    const p = await first.log.initProducer();
    let armed = true;
    const held = [first.dynamo, first.s3].map((client) => injectFaults(client, (req) => (armed && stepOf(req) === "commit" ? ((armed = false), "hang-before") : undefined)));
    const frame = () => [{ partition: 0, bytes: batch(p.producerId, p.epoch, 0, ["one"]) }];
    const attempt1 = first.log.produceFrames(topic, frame()).catch(() => undefined);
    while (armed) await sleep(5);
    await write("c2");
    await write("c3");
    await sleep(abortTimeoutMs + 200);
    const now = testLog({ abortTimeoutMs });
    const merged = await now.log.runMaintenance({ topics: [topic], mergeAfterMs: 0 });
    expect(merged.reservationsAborted).toBe(1);
    expect(merged.merges).toBeGreaterThan(0);
    // 70 s on: every record is past retention.ms; the abort is not past the 15 minutes it is kept.
    const later = testLog({ abortTimeoutMs, now: () => Date.now() + 70_000 });
    await later.log.runMaintenance({ topics: [topic], mergeAfterMs: 0 });
    expect((await later.log.describeTopic(topic)).partitions[0]?.logStartOffset).toBe(1);
    const retry = ok((await later.log.produceFrames(topic, frame()))[0]);
    held.forEach((h) => h.releaseAll());
    await attempt1;
    expect(retry.baseOffset).toBe(4);
  });

  it("stores once a batch whose first attempt died before its commit, when the retry comes after maintenance aborted it: the aborted item is kept for the retry", async () => {
    const topic = uniqueName("aborted-kept");
    const first = testLog({ abortTimeoutMs });
    await first.log.createTopic({ name: topic, partitions: 1, config: { "retention.ms": 60_000 } });
    const p = await first.log.initProducer();
    let armed = true;
    const held = [first.dynamo, first.s3].map((client) =>
      injectFaults(client, (req) => {
        if (!armed || stepOf(req) !== "commit") return undefined;
        armed = false;
        return "hang-before";
      }),
    );
    const frame = () => [{ partition: 0, bytes: batch(p.producerId, p.epoch, 0, ["one"]) }];
    const attempt1 = first.log.produceFrames(topic, frame()).catch(() => undefined);
    while (armed) await sleep(5);
    await sleep(abortTimeoutMs + 200);
    const second = testLog({ abortTimeoutMs });
    // It aborts the stale reservation, and retention, by time, would take the aborted item (it holds no record).
    expect((await second.log.runMaintenance({ topics: [topic] })).reservationsAborted).toBe(1);
    const retry = ok((await second.log.produceFrames(topic, frame()))[0]);
    held.forEach((h) => h.releaseAll());
    await attempt1;
    expect(await readAll(second.log, topic, 0)).toEqual([[retry.baseOffset, "one"]]);
  });

  it("moves a transactional id whose epochs are used up to a new producer id at epoch 0, and fences the old id for good", async () => {
    const { log, dynamo } = testLog();
    const topic = uniqueName("epochs");
    await log.createTopic({ name: topic, partitions: 1 });
    const tid = uniqueName("app");
    const first = await log.initProducer(tid);
    await setTransactionalEpoch(dynamo, tid, first.producerId, MAX_EPOCH - 1);
    const last = await log.initProducer(tid);
    expect(last).toEqual({ producerId: first.producerId, epoch: MAX_EPOCH });
    const send = (p: { producerId: number; epoch: number }, seq: number, value: string) =>
      log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, seq, [value]) }]).then(
        (r) => r[0] as ProduceResult,
        (e: unknown) => ({ partition: 0, error: e as SeglogError }),
      );
    ok(await send(last, 0, "last"));

    // Kafka's epochs are int16: the next init gives a new producer id, as Kafka's coordinator does.
    const moved = await log.initProducer(tid);
    expect(moved.producerId).not.toBe(first.producerId);
    expect(moved.epoch).toBe(0);
    const zombie = await send(last, 1, "zombie");
    expect("error" in zombie && [zombie.error.kind, zombie.error.code, zombie.error.message]).toEqual([
      "Fenced",
      "ProducerFenced",
      `Producer ${last.producerId} has used up its epochs: its transactional id went on with a new producer id`,
    ]);
    ok(await send(moved, 0, "moved"));
    expect(await log.initProducer(tid)).toEqual({ producerId: moved.producerId, epoch: 1 });
    expect((await readAll(log, topic, 0)).map(([, v]) => v)).toEqual(["last", "moved"]);
  });

  it("stores a batch sent 10 times at once once: each answer is its offsets or a retriable ReservationAborted, whose retry answers them", async () => {
    const { log } = testLog();
    const topic = uniqueName("at-once");
    await log.createTopic({ name: topic, partitions: 1 });
    const p = await log.initProducer();
    const send = (seq: number, value: string) =>
      log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, seq, [value]) }]).then(
        (r) => r[0] as ProduceResult,
        (e: unknown) => ({ partition: 0, error: e as SeglogError }),
      );
    const answers = await Promise.all(Array.from({ length: 10 }, () => send(0, "once")));
    const landed = answers.flatMap((a) => ("error" in a ? [] : [a.baseOffset]));
    const refused = answers.flatMap((a) => ("error" in a ? [[a.error.code, a.error.retriable]] : []));
    // The attempt that claims the batch last is taken over by none: at least one answer lands.
    expect(landed.length).toBeGreaterThan(0);
    expect(new Set(landed).size).toBe(1);
    for (const r of refused) expect(r).toEqual(["ReservationAborted", true]);
    // Sent again, a refused attempt answers with the offsets the batch landed at.
    expect(ok(await send(0, "once")).baseOffset).toBe(landed[0]);
    const next = ok(await send(1, "next"));
    expect(await readAll(log, topic, 0)).toEqual([
      [landed[0], "once"],
      [next.baseOffset, "next"],
    ]);
    // Every attempt reserved an offset; the next batch comes after all of them.
    expect(next.baseOffset).toBeGreaterThanOrEqual(10);
  });

  it("answers a sequence gap with OutOfOrderSequence and an old epoch with ProducerFenced", async () => {
    const { log } = testLog();
    const topic = uniqueName("order");
    await log.createTopic({ name: topic, partitions: 1 });
    const p = await log.initProducer();
    ok((await log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, 0, ["x"]) }]))[0]);
    const gap = (await log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, 5, ["y"]) }]))[0];
    expect(gap && "error" in gap && [gap.error.kind, gap.error.code, gap.error.retriable]).toEqual(["Conflict", "OutOfOrderSequence", false]);
    const first = (await log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, 3, ["z"]) }]))[0];
    expect(first && "error" in first && first.error.code).toBe("OutOfOrderSequence");

    const tid = uniqueName("app");
    const old = await log.initProducer(tid);
    ok((await log.produceFrames(topic, [{ partition: 0, bytes: batch(old.producerId, old.epoch, 0, ["old"]) }]))[0]);
    const fresh = await log.initProducer(tid);
    expect(fresh).toEqual({ producerId: old.producerId, epoch: old.epoch + 1 });
    const zombie = await log.produceFrames(topic, [{ partition: 0, bytes: batch(old.producerId, old.epoch, 1, ["zombie"]) }]).catch((e: unknown) => e);
    expect(zombie).toBeInstanceOf(SeglogError);
    expect([(zombie as SeglogError).kind, (zombie as SeglogError).code]).toEqual(["Fenced", "ProducerFenced"]);
    ok((await log.produceFrames(topic, [{ partition: 0, bytes: batch(fresh.producerId, fresh.epoch, 0, ["new"]) }]))[0]);
    expect((await readAll(log, topic, 0)).map(([, v]) => v)).toEqual(["x", "old", "new"]);
    const unknown = await log.produceFrames(topic, [{ partition: 0, bytes: batch(987654321, 0, 0, ["?"]) }]).catch((e: unknown) => e);
    expect((unknown as SeglogError).code).toBe("UnknownProducerId");
  });

  it("wraps sequences past 2^31 − 1 to 0, as Kafka's do: a batch across the wrap, the batch after it, and a duplicate of the first", async () => {
    const { log, dynamo } = testLog();
    const topic = uniqueName("wrap");
    const { topic: t } = await log.createTopic({ name: topic, partitions: 1 });
    const p = await log.initProducer();
    ok((await log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, 0, ["first"]) }]))[0]);
    const max = 2 ** 31 - 1;
    await setNextSequence(dynamo, t.topicId, 0, p.producerId, max - 1);
    const across = batch(p.producerId, p.epoch, max - 1, ["max-1", "max", "0"]);
    expect(ok((await log.produceFrames(topic, [{ partition: 0, bytes: across }]))[0])).toMatchObject({ baseOffset: 1, lastOffset: 3 });
    expect(ok((await log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, 1, ["1"]) }]))[0])).toMatchObject({ baseOffset: 4 });
    const again = ok((await log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, max - 1, ["max-1", "max", "0"]) }]))[0]);
    expect(again).toMatchObject({ baseOffset: 1, lastOffset: 3 });
    expect(await readAll(log, topic, 0)).toEqual([[0, "first"], [1, "max-1"], [2, "max"], [3, "0"], [4, "1"]]);
  });

  it("costs one claim write per batch on top of reserve and commit (and one PUT per request); a registry read per request only for transactional ids", async () => {
    const counted = testLog();
    const topic = uniqueName("idcost");
    await counted.log.createTopic({ name: topic, partitions: 3 });
    const p = await counted.log.initProducer();
    const t = await counted.log.initProducer(uniqueName("tx"));
    for (const id of [p, t]) ok((await counted.log.produceFrames(topic, [{ partition: 0, bytes: batch(id.producerId, id.epoch, 0, ["warm"]) }]))[0]);
    const dynamo = countCalls(counted.dynamo);
    const s3 = countCalls(counted.s3);
    const results = await counted.log.produceFrames(topic, [0, 1, 2].map((partition) => ({ partition, bytes: batch(p.producerId, p.epoch, partition === 0 ? 1 : 0, ["v"]) })));
    results.forEach(ok);
    // The epoch of an id issued without a transactional id never changes: read once per instance.
    expect(Object.fromEntries(dynamo)).toEqual({ UpdateItemCommand: 6, PutItemCommand: 3 });
    expect(Object.fromEntries(s3)).toEqual({ PutObjectCommand: 1 });
    dynamo.clear();
    ok((await counted.log.produceFrames(topic, [{ partition: 0, bytes: batch(t.producerId, t.epoch, 1, ["tx"]) }]))[0]);
    // A transactional id can be fenced by a newer instance at any time: its epoch is read every request.
    expect(Object.fromEntries(dynamo)).toEqual({ GetItemCommand: 1, UpdateItemCommand: 2, PutItemCommand: 1 });
  });

  const steps = ["reserve", "claim", "put", "commit"] as const;
  const points: Fault[] = ["hang-before", "hang-after"];
  describe.each(steps.flatMap((step) => points.map((point) => [step, point] as const)))(
    "when the first attempt stops at %s (%s)",
    (step, point) => {
      it("a retry from a second instance stores the batch exactly once, at the offsets it acknowledges", async () => {
        const topic = uniqueName(`crash-${step}`);
        const healthy = testLog({ abortTimeoutMs });
        await healthy.log.createTopic({ name: topic, partitions: 1 });
        const p = await healthy.log.initProducer();
        ok((await healthy.log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, 0, ["zero"]) }]))[0]);

        const first = testLog({ abortTimeoutMs });
        let armed = true;
        const faults = (client: typeof first.dynamo | typeof first.s3) =>
          injectFaults(client, (req) => {
            if (!armed || stepOf(req) !== step) return undefined;
            armed = false;
            return point;
          });
        const held = [faults(first.dynamo), faults(first.s3)];
        const frame = () => [{ partition: 0, bytes: batch(p.producerId, p.epoch, 1, ["one", "two"]) }];
        const attempt1 = first.log.produceFrames(topic, frame());
        while (armed) await sleep(5);

        const second = testLog({ abortTimeoutMs }); // a fresh "instance"
        const retry = ok((await second.log.produceFrames(topic, frame()))[0]);
        held.forEach((h) => h.releaseAll());
        const late = await attempt1.then((r) => r[0]).catch((e: unknown) => ({ partition: 0, error: e as SeglogError }));
        if (late && !("error" in late)) expect(late.baseOffset).toBe(retry.baseOffset); // the first also answers the same offsets
        else expect(["ReservationAborted", "ConcurrentRetry"]).toContain(late?.error.code);

        const after = ok((await healthy.log.produceFrames(topic, [{ partition: 0, bytes: batch(p.producerId, p.epoch, 3, ["three"]) }]))[0]);
        const records = await readAll(healthy.log, topic, 0);
        expect(records.map(([, v]) => v)).toEqual(["zero", "one", "two", "three"]);
        expect(records.find(([, v]) => v === "one")?.[0]).toBe(retry.baseOffset);
        expect(records.find(([, v]) => v === "three")?.[0]).toBe(after.baseOffset);
      });
    },
  );

  it("stress: 4 producers × 250 batches with random timeouts and client retries — every acked record exactly once, in order", async () => {
    const topic = uniqueName("stress");
    const reader = testLog({ abortTimeoutMs: 300 });
    await reader.log.createTopic({ name: topic, partitions: 2 });
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const faultKinds: Fault[] = ["error-before", "error-after"];
    let injected = 0;
    let retries = 0;
    const BATCHES = 250; // about 1,000 requests a producer and 120 faults in all: the suite must stay within 10 minutes
    const producers = await Promise.all(
      Array.from({ length: 4 }, async (_, n) => {
        const instance = testLog({ abortTimeoutMs: 300 });
        for (const client of [instance.dynamo, instance.s3]) {
          injectFaults(client, (req) => {
            if (stepOf(req) === "other" || random() > 0.03) return undefined;
            injected++;
            return faultKinds[Math.floor(random() * faultKinds.length)];
          });
        }
        const id = await reader.log.initProducer();
        const sequence = [0, 0];
        for (let i = 0; i < BATCHES; i++) {
          const partition = i % 2;
          const values = [`p${n}-${i}-a`, `p${n}-${i}-b`];
          const bytes = batch(id.producerId, id.epoch, sequence[partition] ?? 0, values);
          sequence[partition] = (sequence[partition] ?? 0) + values.length;
          for (let attempt = 0; ; attempt++) {
            const r = await instance.log.produceFrames(topic, [{ partition, bytes: Buffer.from(bytes) }]).then((x) => x[0], (e: unknown) => ({ partition, error: e as SeglogError }));
            if (r && !("error" in r)) break;
            if (!r?.error.retriable && r?.error.kind !== "Internal") throw r?.error;
            if (attempt > 20) throw new Error(`batch ${i} of producer ${n} kept failing: ${r?.error.message}`);
            retries++;
          }
        }
        return n;
      }),
    );
    expect(producers).toHaveLength(4);
    expect(injected).toBeGreaterThan(50);
    for (const partition of [0, 1]) {
      const values = (await readAll(reader.log, topic, partition)).map(([, v]) => v);
      expect(values).toHaveLength(4 * BATCHES);
      expect(new Set(values).size).toBe(values.length);
      for (let n = 0; n < 4; n++) {
        const mine = values.filter((v) => v.startsWith(`p${n}-`));
        const expected = Array.from({ length: BATCHES / 2 }, (_, k) => [`p${n}-${2 * k + partition}-a`, `p${n}-${2 * k + partition}-b`]).flat();
        expect(mine).toEqual(expected);
      }
    }
    console.log(`idempotence stress: ${injected} faults injected, ${retries} client retries`);
  }, 240_000);
});
