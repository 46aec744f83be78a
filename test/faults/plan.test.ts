/**
 * Fault plans (test/helpers/faults.ts) on the local stack: decisions that depend only on the
 * seed, every request of a real flow named, and injected faults that the SDK and Seglog treat
 * as they would the real ones.
 */
import { afterAll, describe, expect, it } from "vitest";
import { encodeRecordBatch } from "../../src/core/codec/record-batch.ts";
import { LogTopicCatalog } from "../../src/groups/log-catalog.ts";
import { GroupService } from "../../src/groups/service.ts";
import type { Log } from "../../src/log/log.ts";
import type { ProduceResult } from "../../src/log/writer.ts";
import { DynamoGroupStore } from "../../src/storage/groups-store.ts";
import { FaultPlan, Invocation, attachPlan, currentInvocation, type FaultPlanOptions, type Step } from "../helpers/faults.ts";
import { testLog } from "../helpers/log.ts";
import { testEnv, uniqueName } from "../helpers/stack.ts";

const clients: { destroy(): void }[] = [];
afterAll(() => clients.forEach((c) => c.destroy()));

/** A log whose clients run `plan` and report every request that landed, by step. */
function logWith(options: FaultPlanOptions) {
  const { log, dynamo, s3 } = testLog();
  clients.push(dynamo, s3);
  const plan = new FaultPlan(options);
  const landed: Step[] = [];
  attachPlan(dynamo, "dynamodb", plan, { landed: (_req, step) => landed.push(step) });
  attachPlan(s3, "s3", plan, { landed: (_req, step) => landed.push(step) });
  return { log, dynamo, plan, landed };
}

const frame = (values: string[], producer?: { producerId: number; epoch: number; baseSequence: number }) => ({
  partition: 0,
  bytes: encodeRecordBatch({
    ...(producer ? { producerId: producer.producerId, producerEpoch: producer.epoch, baseSequence: producer.baseSequence } : {}),
    records: values.map((v) => ({ key: null, value: Buffer.from(v) })),
  }),
});

const inInvocation = <T>(name: string, fn: () => Promise<T>) => {
  const invocation = new Invocation(name);
  return { invocation, result: currentInvocation.run(invocation, fn) };
};

const errorOf = (r: ProduceResult | undefined) => (r && "error" in r ? r.error : undefined);

async function newTopic(log: Log, config = {}) {
  const topic = uniqueName("plan");
  await log.createTopic({ name: topic, partitions: 1, config });
  return topic;
}

describe("fault plans", () => {
  it("give the n-th request of a step the same fault for the same seed, however steps interleave", () => {
    const schedule = (seed: number, order: Step[]) => {
      const plan = new FaultPlan({ seed, rates: { error: 0.2, stall: 0.1, "crash-after": 0.05 } });
      for (const step of order) plan.decide({ command: "PutItemCommand", input: {} }, step, "test");
      return plan.schedule.filter((f) => f.step === "commit").map((f) => [f.stepRequest, f.kind, f.holdMs]);
    };
    const commits: Step[] = Array.from({ length: 200 }, () => "commit");
    const reads: Step[] = Array.from({ length: 200 }, () => "read");
    const apart = schedule(42, [...commits, ...reads]);
    const interleaved = schedule(42, commits.flatMap((c, i) => [c, reads[i] as Step]));
    expect(apart.length).toBeGreaterThan(20);
    expect(interleaved).toEqual(apart);
    expect(schedule(43, [...commits, ...reads])).not.toEqual(apart);
  });

  it("names every request of produce, abort, consumer groups and maintenance by its step", async () => {
    const { log, dynamo, landed } = logWith({ seed: 1, rates: {} });
    const topic = await newTopic(log, { "retention.ms": 1 });
    const producer = await log.initProducer();
    await log.produceFrames(topic, [frame(["a", "b"], { ...producer, baseSequence: 0 })]);
    // A write that fails gives its reservation up at once: an abort.
    const failing = logWith({ seed: 1, rates: { error: 1 }, steps: (s) => s === "put" });
    const { result } = inInvocation("produce", () => failing.log.produceFrames(topic, [frame(["c"])]));
    expect(errorOf((await result)[0])?.kind).toBe("Internal");

    const groups = new GroupService({ store: new DynamoGroupStore({ client: dynamo, tableName: testEnv()["SEGLOG_TABLE"] ?? "seglog" }), catalog: new LogTopicCatalog(log) });
    const group = uniqueName("plan-g");
    const joined = await groups.join(group, { topics: [topic] });
    const lease = joined.assignment[0];
    if (lease === undefined) throw new Error("the only member got no lease");
    await groups.commit(group, { memberId: joined.memberId, offsets: [{ topic, partition: 0, epoch: lease.epoch, offset: 2n }] });
    await groups.heartbeat(group, joined.memberId);
    await groups.leave(group, joined.memberId);
    await log.runMaintenance({ topics: [topic] });

    const steps = new Set([...landed, ...failing.landed]);
    const expected: Step[] = ["topic-write", "init-producer", "read", "reserve", "claim", "put", "commit", "abort"];
    expected.push("join", "group-registry", "lease-take", "offset-commit", "renew", "lease-write", "member-write", "retention", "cleanup");
    expect([...steps].sort()).toEqual(expect.arrayContaining(expected.sort()));
    expect(steps.has("other")).toBe(false);
  });

  it("throttle inside the SDK's retries: DynamoDB's and S3's throttling errors come out as Throttled after the SDK tried again", async () => {
    const dynamoThrottled = logWith({ seed: 1, rates: { throttle: 1 }, steps: (s) => s === "reserve" });
    const topic = await newTopic(dynamoThrottled.log);
    const first = inInvocation("produce", () => dynamoThrottled.log.produceFrames(topic, [frame(["x"])]));
    expect(errorOf((await first.result)[0])?.kind).toBe("Throttled");
    expect(dynamoThrottled.plan.schedule.length).toBeGreaterThan(1);
    expect(new Set(dynamoThrottled.plan.schedule.map((f) => `${f.step} ${f.kind}`))).toEqual(new Set(["reserve throttle"]));

    const s3Throttled = logWith({ seed: 1, rates: { throttle: 1 }, steps: (s) => s === "put" });
    const second = inInvocation("produce", () => s3Throttled.log.produceFrames(topic, [frame(["y"])]));
    const error = errorOf((await second.result)[0]);
    expect([error?.kind, error?.code]).toEqual(["Throttled", "ServiceUnavailable"]);
    expect(s3Throttled.plan.schedule.length).toBeGreaterThan(1);
  });

  it("crash an invocation at a step: the request lands, then nothing the invocation sends reaches storage", async () => {
    const crashing = logWith({ seed: 1, rates: { "crash-after": 1 }, steps: (s) => s === "put", maxHoldMs: 1 });
    const topic = await newTopic(crashing.log);
    crashing.landed.length = 0;
    const { invocation, result } = inInvocation("produce", () => crashing.log.produceFrames(topic, [frame(["z"])]));
    expect(errorOf((await result)[0])).toBeDefined();
    expect(invocation.crashed).toBe(true);
    // Neither the commit nor the abort the failed write would send got out.
    expect(crashing.landed.filter((s) => s !== "read")).toEqual(["reserve", "put"]);
    expect(crashing.plan.schedule.map((f) => `${f.step} ${f.kind}`)).toEqual(["put crash-after"]);
  });
});
