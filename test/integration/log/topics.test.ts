import { describe, expect, it } from "vitest";
import { SeglogError } from "../../../src/core/errors.ts";
import { partitionForKey } from "../../../src/core/partitioner.ts";
import { decodeStored } from "../../../src/log/read.ts";
import { QueryCommand } from "@aws-sdk/client-dynamodb";
import { injectFaults, type RequestInfo } from "../../helpers/faults.ts";
import { testLog } from "../../helpers/log.ts";
import { testEnv, uniqueName } from "../../helpers/stack.ts";

const table = testEnv()["SEGLOG_TABLE"] ?? "seglog";
const itemOf = (r: RequestInfo) => (r.input["Item"] ?? {}) as Record<string, { S?: string } | undefined>;

const { log } = testLog();

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof SeglogError) return e.kind;
    throw e;
  }
  return "ok";
}

describe("topics (the registry)", () => {
  it("creates a topic with Kafka's default config and lists and describes it", async () => {
    const name = uniqueName("orders");
    const { topic } = await log.createTopic({ name, partitions: 3 });
    expect(topic.config).toEqual({ "retention.ms": 604800000, "retention.bytes": -1, "max.message.bytes": 1048588, "segment.bytes": 16777216 });
    expect((await log.listTopics()).map((t) => t.name)).toContain(name);
    const d = await log.describeTopic(name);
    expect(d.partitions).toEqual([0, 1, 2].map((partition) => ({ partition, logStartOffset: 0, highWatermark: 0 })));
  });

  it("takes config at creation and validates it", async () => {
    const name = uniqueName("cfg");
    const { topic } = await log.createTopic({ name, partitions: 1, config: { "retention.ms": 1000, "max.message.bytes": 2048 } });
    expect(topic.config["retention.ms"]).toBe(1000);
    expect(await kindOf(log.createTopic({ name: uniqueName("bad"), partitions: 1, config: { "retention.ms": -5 } }))).toBe("Invalid");
    expect(await kindOf(log.createTopic({ name: uniqueName("bad"), partitions: 1, config: { "cleanup.policy": 1 } as never }))).toBe("Invalid");
    // A value out of range says what the range is.
    await expect(log.createTopic({ name: uniqueName("bad"), partitions: 1, config: { "max.message.bytes": 0 } })).rejects.toThrow(
      'Invalid value for max.message.bytes: 0; it must be an integer from 64 to 4194304',
    );
    await expect(log.createTopic({ name: uniqueName("bad"), partitions: 1, config: { "retention.ms": -5 } })).rejects.toThrow(
      'Invalid value for retention.ms: -5; it must be an integer ≥ -1 (-1 keeps records forever)',
    );
    // a batch must fit Lambda's 6 MB once API Gateway has base64-encoded it: 4 MiB at most
    expect(await kindOf(log.createTopic({ name: uniqueName("bad"), partitions: 1, config: { "max.message.bytes": 4 * 1024 * 1024 + 1 } }))).toBe("Invalid");
    expect(await kindOf(log.createTopic({ name: uniqueName("bad"), partitions: 1, config: { "segment.bytes": 1024 } }))).toBe("Invalid");
    // A merge holds what it reads and the merged copy: at 256 MiB that took 556 MB of maintenance's 512.
    await expect(log.createTopic({ name: uniqueName("bad"), partitions: 1, config: { "segment.bytes": 64 * 1024 * 1024 + 1 } })).rejects.toThrow(
      "Invalid value for segment.bytes: 67108865; it must be an integer from 16384 to 67108864",
    );
  });

  it("gives one success and one Conflict to two concurrent creates of one name", async () => {
    const name = uniqueName("race");
    const results = await Promise.allSettled([
      log.createTopic({ name, partitions: 2 }),
      log.createTopic({ name, partitions: 5 }),
    ]);
    expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    expect((rejected?.reason as SeglogError).kind).toBe("Conflict");
  });

  it("follows Kafka's naming rules, warning on names that mix '.' and '_'", async () => {
    for (const bad of [".", "..", "", "a b", "x".repeat(250), "é", "a/b"]) {
      expect(await kindOf(log.createTopic({ name: bad, partitions: 1 }))).toBe("Invalid");
    }
    const mixed = `${uniqueName("m")}.with_both`;
    const { warning } = await log.createTopic({ name: mixed, partitions: 1 });
    expect(warning).toMatch(/could collide/);
    const max = `z${uniqueName("")}`.padEnd(249, "x");
    expect((await log.createTopic({ name: max, partitions: 1 })).topic.name).toHaveLength(249);
  });

  it("alters only upwards (the same count is refused, as by Kafka): more partitions and changed config, each a versioned write", async () => {
    const name = uniqueName("grow");
    await log.createTopic({ name, partitions: 2 });
    const grown = await log.alterTopic(name, { partitions: 4, config: { "retention.ms": 5000 } });
    expect(grown.partitions).toBe(4);
    expect(grown.version).toBe(2);
    expect(grown.config["retention.ms"]).toBe(5000);
    expect(await kindOf(log.alterTopic(name, { partitions: 3 }))).toBe("Invalid");
    expect(await kindOf(log.alterTopic(name, { partitions: 4 }))).toBe("Invalid"); // as Kafka: not an increase
    // The new partitions take writes at once.
    const [r] = await log.produceRecords(name, [{ key: null, value: Buffer.from("x"), partition: 3 }]);
    expect(r).toMatchObject({ partition: 3, baseOffset: 0 });
  });

  it("deletes a topic at once, and a recreated name gets a fresh topicId and an empty log", async () => {
    const name = uniqueName("gone");
    const first = (await log.createTopic({ name, partitions: 1 })).topic;
    await log.produceRecords(name, [{ key: null, value: Buffer.from("old") }]);
    await log.deleteTopic(name);
    expect((await log.listTopics()).map((t) => t.name)).not.toContain(name);
    expect(await kindOf(log.describeTopic(name))).toBe("NotFound");
    expect(await kindOf(log.fetch(name, 0, { offset: 0, maxWaitMs: 0 }))).toBe("NotFound");
    const second = (await log.createTopic({ name, partitions: 1 })).topic;
    expect(second.topicId).not.toBe(first.topicId);
    expect((await log.describeTopic(name)).partitions[0]?.highWatermark).toBe(0);
  });

  it("leaves function instances that have the topic cached nothing to write to or read once it is deleted, and the name's new topic to go on with", async () => {
    const b = (v: string) => Buffer.from(v, "utf8");
    // Each Log is one function instance, keeping topics for a minute (the default is 5 s).
    const instance = async (name: string) => {
      const fn = testLog({ topicCacheMs: 60_000 }).log;
      await fn.fetch(name, 0, { offset: 0, maxWaitMs: 0 });
      return fn;
    };
    const gone = uniqueName("gone-cached");
    await log.createTopic({ name: gone, partitions: 2 });
    const writer = await instance(gone);
    const readers = [await instance(gone), await instance(gone), await instance(gone)] as const;
    await writer.produceRecords(gone, [{ key: null, value: b("old"), partition: 1 }]);
    await log.deleteTopic(gone);
    const [refused] = await writer.produceRecords(gone, [{ key: null, value: b("lost?"), partition: 0 }]);
    expect(refused && "error" in refused ? refused.error.kind : refused).toBe("NotFound");
    expect(await kindOf(readers[0].fetch(gone, 1, { offset: 0, maxWaitMs: 0 }))).toBe("NotFound");
    expect(await kindOf(readers[1].offsetFor(gone, 1, "latest"))).toBe("NotFound");
    expect(await kindOf(readers[2].locateMany(gone, [{ partition: 0, offset: 0 }, { partition: 1, offset: 0 }], { maxWaitMs: 0 }))).toBe("NotFound");

    const again = uniqueName("recreated-cached");
    await log.createTopic({ name: again, partitions: 2 });
    const stale = [await instance(again), await instance(again), await instance(again), await instance(again)] as const;
    await stale[0].produceRecords(again, [{ key: null, value: b("old"), partition: 0 }]);
    await log.deleteTopic(again);
    const recreated = await log.createTopic({ name: again, partitions: 1 });
    // The answer names the topic the batch landed in: the new one.
    expect(await stale[0].produceRecords(again, [{ key: null, value: b("new"), partition: 0 }])).toEqual([
      { partition: 0, baseOffset: 0, lastOffset: 0, count: 1, topicId: recreated.topic.topicId },
    ]);
    const fetched = await stale[1].fetch(again, 0, { offset: 0, maxWaitMs: 0 });
    expect(fetched.batches.flatMap((x) => [...decodeStored(x.bytes)].map((r) => Buffer.from(r.value ?? []).toString()))).toEqual(["new"]);
    expect(await stale[2].offsetFor(again, 0, "latest")).toEqual({ offset: 1, timestamp: null });
    const located = await stale[3].locateMany(again, [{ partition: 0, offset: 0 }, { partition: 1, offset: 0 }], { maxWaitMs: 0 });
    expect(located.partitions.map((p) => ("error" in p ? p.error.kind : p.nextOffset))).toEqual([1, "NotFound"]);
    expect((await log.describeTopic(again)).partitions.map((p) => p.highWatermark)).toEqual([1]);
  });

  it("ends a long poll within its maxWaitMs though its topic is deleted and created again while it waits, where it waited it all over again on the new topic", async () => {
    const name = uniqueName("poll-recreate");
    await log.createTopic({ name, partitions: 1 });
    const { log: reader, dynamo } = testLog();
    const started = Date.now();
    const polls = [
      reader.fetch(name, 0, { offset: 0, maxWaitMs: 2_000 }),
      reader.locateMany(name, [{ partition: 0, offset: 0 }], { maxWaitMs: 2_000 }),
    ].map((p) => p.then((r) => ({ r, ms: Date.now() - started })));
    await new Promise((r) => setTimeout(r, 1_000));
    // The reader's reads of the name wait while it names no topic: a poll that looked then would
    // rightly answer NotFound, and this test is about the topic made again under the name.
    const isTopicRead = (r: RequestInfo) => r.command === "GetItemCommand" && (r.input["Key"] as { sk?: { S?: string } }).sk?.S === name;
    let between = true;
    const faults = injectFaults(dynamo, (r) => (between && isTopicRead(r) ? "hang-before" : undefined));
    await log.deleteTopic(name);
    const { topic: again } = await log.createTopic({ name, partitions: 1 });
    between = false;
    faults.releaseAll();
    const [fetched, located] = await Promise.all(polls);
    // On the topic there now, and within the wait asked for (it took 3 s and more before).
    expect(fetched?.r).toMatchObject({ nextOffset: 0, topicId: again.topicId });
    expect((located?.r as { partitions: unknown[] } | undefined)?.partitions[0]).toMatchObject({ nextOffset: 0, topicId: again.topicId });
    for (const answer of [fetched, located]) expect(answer?.ms).toBeLessThan(2_900);
  });

  it("partitions records by key on the topic there now when the one an instance has cached was deleted and created again with another count", async () => {
    const name = uniqueName("recreated-keys");
    await log.createTopic({ name, partitions: 3 });
    const stale = testLog({ topicCacheMs: 60_000 }).log;
    await stale.fetch(name, 0, { offset: 0, maxWaitMs: 0 }); // cached: 3 partitions
    await log.deleteTopic(name);
    await log.createTopic({ name, partitions: 2 });
    // One key that the old count put on partition 2 (gone now), one that it put elsewhere than the new count does.
    const keys = Array.from({ length: 100 }, (_, i) => Buffer.from(`k${i}`));
    const gone = keys.find((k) => partitionForKey(k, 3) === 2) as Buffer;
    const moved = keys.find((k) => partitionForKey(k, 3) !== partitionForKey(k, 2) && partitionForKey(k, 3) < 2) as Buffer;
    const results = await stale.produceRecords(name, [
      { key: gone, value: Buffer.from("a") },
      { key: moved, value: Buffer.from("b") },
    ]);
    expect(results.every((r) => !("error" in r))).toBe(true);
    for (const [key, value] of [[gone, "a"], [moved, "b"]] as const) {
      const p = partitionForKey(key, 2);
      const r = await log.fetch(name, p, { offset: 0, maxWaitMs: 0 });
      expect(r.batches.flatMap((x) => [...decodeStored(x.bytes)].map((rec) => Buffer.from(rec.value ?? []).toString())), `partition ${p}`).toContain(value);
    }
  });

  it("leaves a topic whose delete lost to an alter as it was: its records, and no tombstone for maintenance to act on", async () => {
    const name = uniqueName("delete-loses");
    const { topic } = await log.createTopic({ name, partitions: 1 });
    await log.produceRecords(name, [{ key: null, value: Buffer.from("kept") }]);
    const deleter = testLog();
    const isDeletingWrite = (r: RequestInfo) => r.command === "PutItemCommand" && itemOf(r)["state"]?.S === "DELETING";
    const faults = injectFaults(deleter.dynamo, (r) => (isDeletingWrite(r) ? "hang-before" : undefined));
    const deleting = kindOf(deleter.log.deleteTopic(name));
    while (faults.held === 0) await new Promise((r) => setTimeout(r, 10));
    // The tombstone is written and the topic still ACTIVE: maintenance leaves it alone.
    expect((await log.runMaintenance({ topics: [name], orphanMinAgeMs: 0 })).topicsDeleted).toBe(0);
    await log.alterTopic(name, { config: { "retention.ms": 120_000 } });
    faults.releaseAll();
    expect(await deleting).toBe("Conflict");
    await log.runMaintenance({ topics: [name], orphanMinAgeMs: 0 });
    const fetched = await log.fetch(name, 0, { offset: 0, maxWaitMs: 0 });
    expect(fetched.batches.flatMap((x) => [...decodeStored(x.bytes)].map((r) => Buffer.from(r.value ?? []).toString()))).toEqual(["kept"]);
    const tombstones = await deleter.dynamo.send(new QueryCommand({ TableName: table, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: "DELETED" } } }));
    expect((tombstones.Items ?? []).map((i) => i["sk"]?.S)).not.toContain(topic.topicId);
  });

  it("refuses an alter decided on a topic that was deleted and created again under its name meanwhile", async () => {
    const name = uniqueName("stale-alter");
    await log.createTopic({ name, partitions: 1 });
    const alterer = testLog();
    const faults = injectFaults(alterer.dynamo, (r) => (r.command === "PutItemCommand" && itemOf(r)["pk"]?.S === "TOPIC" ? "hang-before" : undefined));
    const altering = kindOf(alterer.log.alterTopic(name, { partitions: 2 }));
    while (faults.held === 0) await new Promise((r) => setTimeout(r, 10));
    await log.deleteTopic(name);
    const { topic: again } = await log.createTopic({ name, partitions: 1 }); // version 1, as the old one was
    await log.produceRecords(name, [{ key: null, value: Buffer.from("new") }]);
    faults.releaseAll();
    expect(await altering).toBe("Conflict");
    const now = await log.describeTopic(name);
    expect({ id: now.topic.topicId, partitions: now.topic.partitions, state: now.topic.state }).toEqual({ id: again.topicId, partitions: 1, state: "ACTIVE" });
    expect(now.partitions.map((p) => p.highWatermark)).toEqual([1]);
  });

  it("gives the loser of two deletes at once NotFound", async () => {
    const name = uniqueName("deleted-twice");
    await log.createTopic({ name, partitions: 3 });
    const slow = testLog();
    const faults = injectFaults(slow.dynamo, (r) => (r.command === "PutItemCommand" && itemOf(r)["state"]?.S === "DELETING" ? "hang-before" : undefined));
    const losing = kindOf(slow.log.deleteTopic(name));
    while (faults.held === 0) await new Promise((r) => setTimeout(r, 10));
    expect(await kindOf(testLog().log.deleteTopic(name))).toBe("ok");
    faults.releaseAll();
    expect(await losing).toBe("NotFound");
  });

  it("finishes a delete that failed after marking the topic when it is retried: instances that have the topic cached can no longer write", async () => {
    const name = uniqueName("delete-retried");
    await log.createTopic({ name, partitions: 2 });
    const cached = testLog({ topicCacheMs: 60_000 }).log;
    await cached.produceRecords(name, [{ key: null, value: Buffer.from("before"), partition: 0 }]);
    const deleter = testLog();
    injectFaults(deleter.dynamo, (r) => (r.command === "BatchWriteItemCommand" ? "error-before" : undefined));
    expect(await kindOf(deleter.log.deleteTopic(name))).not.toBe("ok");
    // Half deleted: the topic is gone for anyone who reads it, but its heads still take records.
    expect(await kindOf(log.describeTopic(name))).toBe("NotFound");
    expect((await cached.produceRecords(name, [{ key: null, value: Buffer.from("after"), partition: 1 }]))[0]).toMatchObject({ count: 1 });
    expect(await kindOf(log.deleteTopic(name))).toBe("NotFound");
    const [refused] = await cached.produceRecords(name, [{ key: null, value: Buffer.from("lost?"), partition: 0 }]);
    expect(refused && "error" in refused ? refused.error.kind : refused).toBe("NotFound");
  });

  it("leaves a topic created under the name while a retried delete removes the old one's heads", async () => {
    const name = uniqueName("delete-retry-race");
    await log.createTopic({ name, partitions: 2 });
    const first = testLog();
    injectFaults(first.dynamo, (r) => (r.command === "BatchWriteItemCommand" ? "error-before" : undefined));
    expect(await kindOf(first.log.deleteTopic(name))).not.toBe("ok");
    const retry = testLog();
    const faults = injectFaults(retry.dynamo, (r) => (r.command === "BatchWriteItemCommand" ? "hang-before" : undefined));
    const retried = kindOf(retry.log.deleteTopic(name));
    while (faults.held === 0) await new Promise((r) => setTimeout(r, 10));
    await log.createTopic({ name, partitions: 3 });
    await log.produceRecords(name, [{ key: null, value: Buffer.from("new"), partition: 0 }]);
    faults.releaseAll();
    expect(await retried).toBe("NotFound");
    expect((await log.describeTopic(name)).partitions.map((p) => p.highWatermark)).toEqual([1, 0, 0]);
  });

  it("reports unknown topics and partitions as NotFound", async () => {
    const name = uniqueName("known");
    await log.createTopic({ name, partitions: 2 });
    expect(await kindOf(log.describeTopic(uniqueName("unknown")))).toBe("NotFound");
    expect(await kindOf(log.fetch(name, 2, { offset: 0 }))).toBe("NotFound");
    expect(await kindOf(log.produceRecords(name, [{ key: null, value: null, partition: 7 }]))).toBe("NotFound");
  });
});
