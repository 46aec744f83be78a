import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { SeglogError } from "../../../src/core/errors.ts";
import { partitionPk } from "../../../src/core/keys.ts";
import type { Log } from "../../../src/log/log.ts";
import { decodeStored } from "../../../src/log/read.ts";
import { injectFaults } from "../../helpers/faults.ts";
import { countCalls, testLog } from "../../helpers/log.ts";
import { testEnv, uniqueName } from "../../helpers/stack.ts";

const env = testEnv();
const bucket = env["SEGLOG_BUCKET"] ?? "seglog";
const table = env["SEGLOG_TABLE"] ?? "seglog";
const b = (s: string) => Buffer.from(s);

async function objectKeys(ctx: ReturnType<typeof testLog>, prefix: string): Promise<string[]> {
  const out = await ctx.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (out.Contents ?? []).map((o) => o.Key ?? "");
}

async function itemKeys(ctx: ReturnType<typeof testLog>, pk: string): Promise<string[]> {
  const out = await ctx.dynamo.send(new QueryCommand({ TableName: table, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: pk } } }));
  return (out.Items ?? []).map((i) => i["sk"]?.S ?? "");
}

async function values(log: Log, topic: string, partition: number, offset: number): Promise<string[]> {
  const r = await log.fetch(topic, partition, { offset, maxWaitMs: 0, maxBytes: 10_000_000 });
  return r.batches.flatMap((x) => [...decodeStored(x.bytes)].filter((rec) => rec.offset >= offset).map((rec) => Buffer.from(rec.value ?? []).toString()));
}

async function setup(config: Record<string, number>) {
  const ctx = testLog();
  const topic = uniqueName("ret");
  const { topic: t } = await ctx.log.createTopic({ name: topic, partitions: 1, config });
  return { ctx, topic, prefix: `log/${topic}/${t.topicId}/0/`, pk: partitionPk(t.topicId, 0) };
}

describe("maintenance", () => {
  it.each([
    ["a sweep", true],
    ["a light run", false],
  ])("applies retention by time in %s: log start first, then objects and index items; readers below get OffsetOutOfRange", async (_, sweep) => {
    const { ctx, topic, prefix, pk } = await setup({ "retention.ms": 60_000 });
    const old = Date.now() - 120_000;
    for (let i = 0; i < 5; i++) await ctx.log.produceRecords(topic, [{ key: null, value: b(`old${i}`), timestamp: old + i }]);
    for (let i = 0; i < 2; i++) await ctx.log.produceRecords(topic, [{ key: null, value: b(`new${i}`) }]);
    const report = await ctx.log.runMaintenance({ topics: [topic], sweep });
    expect(report.sweep).toBe(sweep);
    expect(report.segmentsDeleted).toBeGreaterThanOrEqual(5);
    const [state] = (await ctx.log.describeTopic(topic)).partitions;
    expect(state).toMatchObject({ logStartOffset: 5, highWatermark: 7 });
    expect(await objectKeys(ctx, prefix)).toHaveLength(2);
    expect((await itemKeys(ctx, pk)).filter((k) => k.startsWith("S#"))).toHaveLength(2);
    const err = await ctx.log.fetch(topic, 0, { offset: 0 }).catch((e: unknown) => e);
    expect((err as SeglogError).kind).toBe("OffsetOutOfRange");
    expect(await values(ctx.log, topic, 0, 5)).toEqual(["new0", "new1"]);
    expect(await ctx.log.offsetFor(topic, 0, "earliest")).toMatchObject({ offset: 5 });
  });

  it("purges a partition whose retention.ms is set to 0, as Kafka users do, and goes on from where it was", async () => {
    const { ctx, topic, prefix } = await setup({});
    for (let i = 0; i < 3; i++) await ctx.log.produceRecords(topic, [{ key: null, value: b(`v${i}`), timestamp: Date.now() - 10 }]);
    await ctx.log.alterTopic(topic, { config: { "retention.ms": 0 } });
    expect((await ctx.log.runMaintenance({ topics: [topic] })).segmentsDeleted).toBe(3);
    expect((await ctx.log.describeTopic(topic)).partitions[0]).toMatchObject({ logStartOffset: 3, highWatermark: 3 });
    expect(await objectKeys(ctx, prefix)).toEqual([]);
    await ctx.log.alterTopic(topic, { config: { "retention.ms": -1 } });
    await ctx.log.produceRecords(topic, [{ key: null, value: b("after") }]);
    expect(await values(ctx.log, topic, 0, 3)).toEqual(["after"]);
  });

  it("stops a purge of many segments when its budget is spent, page by page, and the next runs finish it", async () => {
    const { ctx, topic, prefix, pk } = await setup({});
    for (let i = 0; i < 40; i += 10) await Promise.all(Array.from({ length: 10 }, (_, j) => ctx.log.produceRecords(topic, [{ key: null, value: b(`v${i + j}`) }])));
    await ctx.log.alterTopic(topic, { config: { "retention.ms": 0 } });
    // A clock that moves 1 ms each time it is read: the budget runs out part way through the pages.
    let reads = 0;
    const started = Date.now();
    const stepping = testLog({ now: () => started + reads++ });
    const run = () => stepping.log.runMaintenance({ topics: [topic], pageSize: 5, budgetMs: 12, sweep: false });
    const first = await run();
    expect(first).toMatchObject({ incomplete: true, partitionsVisited: 1 });
    expect(first.segmentsDeleted).toBeGreaterThan(0);
    expect(first.segmentsDeleted).toBeLessThan(40);
    // The log start moved first: nothing left below it is read, and later runs delete the rest.
    expect((await ctx.log.describeTopic(topic)).partitions[0]).toMatchObject({ logStartOffset: 40, highWatermark: 40 });
    let deleted = first.segmentsDeleted;
    for (let runs = 0; runs < 40 && (await itemKeys(ctx, pk)).some((k) => k.startsWith("S#")); runs++) deleted += (await run()).segmentsDeleted;
    expect((await itemKeys(ctx, pk)).filter((k) => k.startsWith("S#"))).toEqual([]);
    expect(await objectKeys(ctx, prefix)).toEqual([]);
    expect(deleted).toBe(40);
  });

  it("re-reads the index when a segment disappears under a fetch", async () => {
    const { ctx, topic } = await setup({ "retention.ms": 60_000 });
    await ctx.log.produceRecords(topic, [{ key: null, value: b("old"), timestamp: Date.now() - 120_000 }]);
    await ctx.log.produceRecords(topic, [{ key: null, value: b("new") }]);
    const reader = testLog();
    let raced = false;
    reader.s3.middlewareStack.add(
      (next, context) => async (args) => {
        if (!raced && context.commandName === "GetObjectCommand") {
          raced = true;
          await ctx.log.runMaintenance({ topics: [topic] }); // retention deletes the segment this fetch is about to read
        }
        return next(args);
      },
      { step: "initialize", name: "raceRetention" },
    );
    const err = await reader.log.fetch(topic, 0, { offset: 0, maxWaitMs: 0 }).catch((e: unknown) => e);
    expect(raced).toBe(true);
    expect((err as SeglogError).kind).toBe("OffsetOutOfRange");
    expect(await values(reader.log, topic, 0, 1)).toEqual(["new"]);
  });

  it("applies retention by size per partition", async () => {
    const { ctx, topic, prefix } = await setup({ "retention.bytes": 1 });
    for (let i = 0; i < 4; i++) await ctx.log.produceRecords(topic, [{ key: null, value: b(`v${i}`) }]);
    const batchBytes = (await ctx.log.fetch(topic, 0, { offset: 3 })).batches[0]?.bytes.byteLength ?? 0;
    await ctx.log.alterTopic(topic, { config: { "retention.bytes": batchBytes * 2 } });
    await ctx.log.runMaintenance({ topics: [topic] });
    expect((await ctx.log.describeTopic(topic)).partitions[0]).toMatchObject({ logStartOffset: 2, highWatermark: 4 });
    expect(await objectKeys(ctx, prefix)).toHaveLength(2);
    expect(await values(ctx.log, topic, 0, 2)).toEqual(["v2", "v3"]);
    // As Kafka: a segment goes only if what stays still meets the limit, and never the newest.
    await ctx.log.alterTopic(topic, { config: { "retention.bytes": batchBytes + 1 } });
    await ctx.log.runMaintenance({ topics: [topic] });
    expect((await ctx.log.describeTopic(topic)).partitions[0]).toMatchObject({ logStartOffset: 2, highWatermark: 4 });
    await ctx.log.alterTopic(topic, { config: { "retention.bytes": 1 } });
    await ctx.log.runMaintenance({ topics: [topic] });
    expect(await values(ctx.log, topic, 0, 3)).toEqual(["v3"]);
  });

  it("starts each run at a topic, and a partition of it, picked at random: a budget the first ones use up does not leave a later one's retention undone for ever", async () => {
    const ctx = testLog();
    const [first, later] = [uniqueName("ret-a"), uniqueName("ret-z")];
    await ctx.log.createTopic({ name: first, partitions: 32 });
    await ctx.log.createTopic({ name: later, partitions: 256, config: { "retention.ms": 60_000 } });
    await ctx.log.produceRecords(later, [{ key: null, value: b("old"), partition: 248, timestamp: Date.now() - 120_000 }]);
    await ctx.log.produceRecords(later, [{ key: null, value: b("new"), partition: 248 }]);
    const logStart = async () => (await ctx.log.describeTopic(later)).partitions[248]?.logStartOffset;
    // A budget of some of the 288 partitions' visits: every run began at the first topic's first
    // partition, in name order, so the later topic's last ones never had their turn.
    const report = await ctx.log.runMaintenance({ topics: [first, later], budgetMs: 1000, random: () => 0.99 });
    expect(report.incomplete).toBe(true);
    expect(await logStart()).toBe(1);
  });

  it("picks up after a crash at each step of a delete, losing nothing and leaving nothing behind", async () => {
    for (const failing of ["DeleteObjectsCommand", "BatchWriteItemCommand", "UpdateItemCommand"]) {
      const { topic, prefix, pk } = await setup({ "retention.ms": 60_000 });
      const crashing = testLog();
      let armed = true;
      for (const client of [crashing.dynamo, crashing.s3]) {
        injectFaults(client, (req) => {
          const isAdvance = req.command === "UpdateItemCommand" && String(req.input["UpdateExpression"]).includes("logStartOffset");
          if (!armed || req.command !== failing || (failing === "UpdateItemCommand" && !isAdvance)) return undefined;
          armed = false;
          return "error-after";
        });
      }
      const old = Date.now() - 120_000;
      for (let i = 0; i < 3; i++) await crashing.log.produceRecords(topic, [{ key: null, value: b(`old${i}`), timestamp: old }]);
      await crashing.log.produceRecords(topic, [{ key: null, value: b("kept") }]);
      expect((await crashing.log.runMaintenance({ topics: [topic] })).failures).toBe(1);
      expect(armed).toBe(false);
      expect((await crashing.log.runMaintenance({ topics: [topic] })).failures).toBe(0);
      expect(await objectKeys(crashing, prefix)).toHaveLength(1);
      expect((await itemKeys(crashing, pk)).filter((k) => k.startsWith("S#"))).toHaveLength(1);
      expect(await values(crashing.log, topic, 0, 3)).toEqual(["kept"]);
    }
  });

  it("aborts stale reservations even when no consumer reads", async () => {
    const ctx = testLog({ abortTimeoutMs: 300 });
    const topic = uniqueName("stale");
    await ctx.log.createTopic({ name: topic, partitions: 1 });
    const stalled = testLog({ abortTimeoutMs: 300 });
    const held = injectFaults(stalled.dynamo, (req) => (req.command === "PutItemCommand" && (req.input["Item"] as { st?: { S?: string } }).st?.S === "C" ? "hang-before" : undefined));
    void stalled.log.produceRecords(topic, [{ key: null, value: b("never") }]).catch(() => undefined);
    // Its commit hangs (the reservation made), then the reservation outlives the abort timeout.
    while (held.held === 0) await new Promise((r) => setTimeout(r, 10));
    await new Promise((r) => setTimeout(r, 400));
    const report = await ctx.log.runMaintenance({ topics: [topic] });
    expect(report.reservationsAborted).toBeGreaterThanOrEqual(1);
    expect((await ctx.log.describeTopic(topic)).partitions[0]?.highWatermark).toBe(1);
  });

  it("a light run reads only the ends of the index, whatever its merged history, lists nothing and leaves orphans to the next sweep", async () => {
    const { ctx, topic, prefix } = await setup({ "segment.bytes": 16 * 1024 });
    // 60 batches of 6 KB, merged two by two into 30 merged segments, then 5 batches not merged yet
    // (two full runs of two, which a light run merges, and one that waits for mergeAfterMs).
    const big = (i: number) => b(`v${i}`.padEnd(6000, "."));
    for (let i = 0; i < 60; i++) await ctx.log.produceRecords(topic, [{ key: null, value: big(i) }]);
    const eager = { topics: [topic], mergeAfterMs: 0, mergeGraceMs: 0 };
    expect((await ctx.log.runMaintenance(eager)).merges).toBe(30);
    await ctx.log.runMaintenance(eager); // the replaced items and objects go
    for (let i = 60; i < 65; i++) await ctx.log.produceRecords(topic, [{ key: null, value: big(i) }]);
    const orphan = `${prefix}00000000000000000999.log`;
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: orphan, Body: b("junk") }));
    await new Promise((r) => setTimeout(r, 1100)); // S3's LastModified has 1 s resolution

    const runs = { light: testLog(), sweep: testLog() };
    const calls = { light: { dynamo: countCalls(runs.light.dynamo), s3: countCalls(runs.light.s3) }, sweep: { dynamo: countCalls(runs.sweep.dynamo), s3: countCalls(runs.sweep.s3) } };
    const light = await runs.light.log.runMaintenance({ topics: [topic], sweep: false, orphanMinAgeMs: 1, pageSize: 5 });
    expect(light).toMatchObject({ sweep: false, merges: 2, orphansDeleted: 0, failures: 0 });
    expect(calls.light.s3.get("ListObjectsV2Command") ?? 0).toBe(0);
    expect(await objectKeys(ctx, prefix)).toContain(orphan);

    const sweep = await runs.sweep.log.runMaintenance({ topics: [topic], sweep: true, orphanMinAgeMs: 1, pageSize: 5 });
    expect(sweep).toMatchObject({ sweep: true, merges: 0, orphansDeleted: 1, failures: 0 });
    expect(calls.sweep.s3.get("ListObjectsV2Command")).toBeGreaterThan(0);
    expect(await objectKeys(ctx, prefix)).not.toContain(orphan);
    // The sweep reads the 35 items in pages of 5 (and the 2 merged and 4 replaced ones); the light
    // run one page of where retention stops, and the 5 not merged.
    const queries = { light: calls.light.dynamo.get("QueryCommand") ?? 0, sweep: calls.sweep.dynamo.get("QueryCommand") ?? 0 };
    console.log(`index Queries over 30 merged and 5 new segments, pages of 5: light run ${queries.light}, sweep ${queries.sweep}`);
    expect(queries.sweep).toBeGreaterThanOrEqual(8);
    expect(queries.light).toBeLessThanOrEqual(queries.sweep - 4);
    expect((await values(ctx.log, topic, 0, 0)).map((v) => v.slice(0, 4))).toEqual(Array.from({ length: 65 }, (_, i) => `v${i}`.padEnd(4, ".").slice(0, 4)));
  });

  it("collects orphaned objects only once they are old enough", async () => {
    const { ctx, topic, prefix } = await setup({});
    await ctx.log.produceRecords(topic, [{ key: null, value: b("real") }]);
    const orphan = `${prefix}00000000000000000099.log`;
    await ctx.s3.send(new PutObjectCommand({ Bucket: bucket, Key: orphan, Body: b("junk") }));
    await ctx.log.runMaintenance({ topics: [topic], orphanMinAgeMs: 3_600_000 });
    expect(await objectKeys(ctx, prefix)).toContain(orphan);
    await new Promise((r) => setTimeout(r, 1100)); // S3's LastModified has 1 s resolution
    const report = await ctx.log.runMaintenance({ topics: [topic], orphanMinAgeMs: 1 });
    expect(report.orphansDeleted).toBeGreaterThanOrEqual(1);
    expect(await objectKeys(ctx, prefix)).toHaveLength(1);
    expect(await values(ctx.log, topic, 0, 0)).toEqual(["real"]);
  });

  it("finds a chosen topic's tombstone among more than a run takes (25)", async () => {
    const ctx = testLog();
    const others = Array.from({ length: 30 }, () => uniqueName("other"));
    for (const name of others) await ctx.log.createTopic({ name, partitions: 1 });
    await Promise.all(others.map((name) => ctx.log.deleteTopic(name)));
    const topic = uniqueName("mine");
    const { topic: t } = await ctx.log.createTopic({ name: topic, partitions: 1 });
    await ctx.log.produceRecords(topic, [{ key: null, value: b("x") }]);
    await ctx.log.deleteTopic(topic);
    expect((await ctx.log.runMaintenance({ topics: [topic], orphanMinAgeMs: 0 })).topicsDeleted).toBe(1);
    expect(await objectKeys(ctx, `log/${topic}/${t.topicId}/`)).toEqual([]);
    expect(await itemKeys(ctx, "DELETED")).not.toContain(t.topicId);
    await ctx.log.runMaintenance({ topics: others, orphanMinAgeMs: 0 }); // leave no tombstones behind for other tests
  });

  it("keeps a deleted topic's data until a produce that reserved before the delete has committed, then removes all of it", async () => {
    const ctx = testLog();
    const topic = uniqueName("late");
    const { topic: t } = await ctx.log.createTopic({ name: topic, partitions: 1 });
    await ctx.log.produceRecords(topic, [{ key: null, value: b("before") }]);
    const slow = testLog();
    const held = injectFaults(slow.s3, (req) => (req.command === "PutObjectCommand" ? "hang-before" : undefined));
    const late = slow.log.produceRecords(topic, [{ key: null, value: b("late") }]);
    while (held.held === 0) await new Promise((r) => setTimeout(r, 10));
    await ctx.log.deleteTopic(topic);
    // A run now (the delete is younger than the produce timeout allows for) leaves the data.
    expect((await ctx.log.runMaintenance({ topics: [topic] })).topicsDeleted).toBe(0);
    held.releaseAll();
    expect(await late).toMatchObject([{ partition: 0, baseOffset: 1 }]);
    // Once the delete is old enough, everything goes: the late batch's object and item too.
    expect((await ctx.log.runMaintenance({ topics: [topic], orphanMinAgeMs: 0 })).topicsDeleted).toBe(1);
    expect(await objectKeys(ctx, `log/${topic}/${t.topicId}/`)).toEqual([]);
    expect(await itemKeys(ctx, partitionPk(t.topicId, 0))).toEqual([]);
    expect(await itemKeys(ctx, "DELETED")).not.toContain(t.topicId);
  });

  it("removes a deleted topic's data at once, and keeps its tombstone for later runs while the groups' leases of it cannot all be dropped yet", async () => {
    const ctx = testLog();
    const topic = uniqueName("held");
    const { topic: t } = await ctx.log.createTopic({ name: topic, partitions: 1 });
    await ctx.log.produceRecords(topic, [{ key: null, value: b("kept") }]);
    await ctx.log.deleteTopic(topic);
    const asked: unknown[] = [];
    let dropped = false;
    const dropGroupOffsets = async (deleted: { name: string; topicId: string }) => (asked.push([deleted.name, deleted.topicId]), dropped);
    expect((await ctx.log.runMaintenance({ topics: [topic], orphanMinAgeMs: 0, dropGroupOffsets })).topicsDeleted).toBe(0);
    expect(await itemKeys(ctx, "DELETED")).toContain(t.topicId);
    // The data goes though the leases wait (a member may subscribe to the name for as long as it likes).
    expect(await objectKeys(ctx, `log/${topic}/${t.topicId}/`)).toEqual([]);
    expect(await itemKeys(ctx, partitionPk(t.topicId, 0))).toEqual([]);
    // A later run asks the groups again, and lists no data of it.
    const calls = countCalls(ctx.s3);
    expect((await ctx.log.runMaintenance({ topics: [topic], orphanMinAgeMs: 0, dropGroupOffsets, sweep: false })).topicsDeleted).toBe(0);
    expect(calls.get("ListObjectsV2Command") ?? 0).toBe(0);
    dropped = true;
    expect((await ctx.log.runMaintenance({ topics: [topic], orphanMinAgeMs: 0, dropGroupOffsets })).topicsDeleted).toBe(1);
    expect(await itemKeys(ctx, "DELETED")).not.toContain(t.topicId);
    expect(asked).toEqual([[topic, t.topicId], [topic, t.topicId], [topic, t.topicId]]);
  });

  it("removes the heads of partitions an alter added while a delete won the race for the topic item", async () => {
    const ctx = testLog();
    const topic = uniqueName("raced");
    const { topic: t } = await ctx.log.createTopic({ name: topic, partitions: 2 });
    // The alter's heads go in; its write of the topic item waits until the delete has marked it.
    const altering = testLog();
    const held = injectFaults(altering.dynamo, (req) => (req.command === "PutItemCommand" && (req.input["Item"] as Record<string, { S?: string }>)["pk"]?.S === "TOPIC" ? "hang-before" : undefined));
    const alter = altering.log.alterTopic(topic, { partitions: 5 }).then(() => "altered", (e: { code?: string }) => e.code);
    while (held.held === 0) await new Promise((r) => setTimeout(r, 10));
    await ctx.log.deleteTopic(topic);
    held.releaseAll();
    expect(await alter).toBe("VersionMismatch");
    expect(await itemKeys(ctx, partitionPk(t.topicId, 4))).toEqual(["HEAD"]);
    expect((await ctx.log.runMaintenance({ topics: [topic], orphanMinAgeMs: 0 })).topicsDeleted).toBe(1);
    for (let p = 0; p < 5; p++) expect(await itemKeys(ctx, partitionPk(t.topicId, p)), `partition ${p}`).toEqual([]);
    expect(await itemKeys(ctx, "DELETED")).not.toContain(t.topicId);
  });

  it("removes a deleted topic with 3 partitions and 1,050 segments (more than one S3 listing), then its items and tombstone", async () => {
    const ctx = testLog();
    const topic = uniqueName("gone");
    const { topic: t } = await ctx.log.createTopic({ name: topic, partitions: 3 });
    for (let i = 0; i < 1050; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => ctx.log.produceRecords(topic, [{ key: null, value: b(`r${i + j}`), partition: (i + j) % 3 }])));
    }
    expect((await ctx.log.describeTopic(topic)).partitions.map((p) => p.highWatermark)).toEqual([350, 350, 350]);
    await ctx.log.deleteTopic(topic);
    let runs = 0;
    while ((await ctx.log.runMaintenance({ topics: [topic], budgetMs: 60_000, orphanMinAgeMs: 0 })).topicsDeleted === 0 && runs++ < 5);
    expect(await objectKeys(ctx, `log/${topic}/${t.topicId}/`)).toEqual([]);
    for (let p = 0; p < 3; p++) expect(await itemKeys(ctx, partitionPk(t.topicId, p))).toEqual([]);
    expect(await itemKeys(ctx, "DELETED")).not.toContain(t.topicId);
    expect((await itemKeys(ctx, "TOPIC"))).not.toContain(topic);
  }, 120_000);
});
