/**
 * The SDK's group consumer through the real HTTP API and handlers on the local stack (the log
 * engine's topic catalog, DynamoDB leases): splits, rebalances, takeovers, fencing, two groups.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Admin, GroupConsumer, Producer, type ConsumedRecord, type ConsumerStats, type GroupBatch, type TopicPartition } from "../../../src/client/index.ts";
import { MAX_PARTITIONS_PER_REQUEST } from "../../../src/core/groups/model.ts";
import { routes } from "../../../src/http/app.ts";
import type { FunctionName } from "../../../src/http/router.ts";
import { startLocalApi, type LocalApi } from "../../../src/local/server.ts";
import { handlersFor, testGroups, testLog } from "../../helpers/log.ts";
import { uniqueName } from "../../helpers/stack.ts";
import { connectionFailed, never } from "../../helpers/transport.ts";
import { Tracker, waitFor } from "./tracker.ts";
import { nodeTransport, type Transport } from "../../../src/client/transport.ts";

const SESSION_TIMEOUT_MS = 1500;
const HEARTBEAT_MS = 500; // session / 3, the most the server allows: the widest margin over the takeover margin and clock skew

const { log } = testLog();
const groups = testGroups(log, {
  heartbeatIntervalMs: HEARTBEAT_MS,
  takeoverMarginMs: 100,
  maxClockSkewMs: 25,
  partitionCacheMs: 0,
});
const invoke = handlersFor({ log, groups });
/** One API server per member, so that a member can be cut off (killed) on its own. */
const apis: LocalApi[] = [];
/** Requests each API's handlers are serving: one goes on after the API is closed, its answer lost. */
const serving = new Map<LocalApi, number>();
async function newApi(): Promise<LocalApi> {
  let inFlight = 0;
  const h = (fn: FunctionName) => async (e: unknown) => {
    serving.set(api, ++inFlight);
    try {
      return await invoke(fn, e);
    } finally {
      serving.set(api, --inFlight);
    }
  };
  const api: LocalApi = await startLocalApi({ port: 0, routes: routes as never, handlers: { admin: h("admin"), produce: h("produce"), fetch: h("fetch"), groups: h("groups") } });
  apis.push(api);
  return api;
}

let api: LocalApi;
beforeAll(async () => {
  api = await newApi();
});
afterAll(async () => {
  await Promise.all(apis.map((a) => a.close()));
});

/** The session of members in tests that do not count sessions: one a loaded machine's pauses do
 * not lapse (a member lost for a moment would break their once-each checks). */
const MEMBER_SESSION_MS = 6_000;

const memberOptions = (url: string, groupId: string, sessionTimeoutMs = MEMBER_SESSION_MS) => ({
  url,
  groupId,
  sessionTimeoutMs,
  autoOffsetReset: "earliest" as const,
  maxWaitMs: 200,
});

async function topicWith(partitions: number, perPartition: number): Promise<string> {
  const topic = uniqueName("grp");
  await new Admin({ url: api.url }).createTopic(topic, { partitions });
  await produce(topic, partitions, perPartition, 0);
  return topic;
}

async function produce(topic: string, partitions: number, perPartition: number, from: number): Promise<void> {
  const producer = new Producer({ url: api.url, lingerMs: 5 });
  await Promise.all(
    Array.from({ length: partitions * perPartition }, (_, i) =>
      producer.send(topic, { partition: i % partitions, value: `${i % partitions}:${from + Math.floor(i / partitions)}` }),
    ),
  );
  await producer.close();
}

/** Each partition's offsets 0..n−1 processed, each exactly `times` (or at least once with `times` undefined). */
function expectEveryRecord(tracker: Tracker, partitions: number, n: number, times?: number): void {
  for (let p = 0; p < partitions; p++) {
    const offsets = tracker.processedOffsets(p);
    expect(new Set(offsets), `partition ${p}`).toEqual(new Set(Array.from({ length: n }, (_, i) => i)));
    if (times !== undefined) expect(offsets.length, `partition ${p} processed once each`).toBe(n * times);
  }
}

/** What `call` throws when a member's handler makes it, on the member's first record. */
async function thrownInHandler(topic: string, call: (member: GroupConsumer) => void): Promise<unknown> {
  let thrown: unknown;
  const member = new GroupConsumer(memberOptions(api.url, uniqueName("g")));
  member.subscribe([topic]);
  const done = member.run({
    eachRecord: () => {
      try {
        call(member);
      } catch (e) {
        thrown ??= e;
      }
    },
  });
  await waitFor("a record", () => thrown !== undefined);
  await member.close();
  await done;
  return thrown;
}

const allProcessed = (tracker: Tracker, partitions: number, n: number) => () =>
  Array.from({ length: partitions }, (_, p) => new Set(tracker.processedOffsets(p)).size === n).every(Boolean);

/** A transport that answers 503 to the first `refusals` requests whose path ends with `suffix`. */
function unavailable(suffix: string, refusals: number): { transport: Transport; left: () => number } {
  const transport: Transport = async (request) => {
    if (request.url.pathname.endsWith(suffix) && refusals > 0) {
      refusals--;
      return { status: 503, header: () => undefined, body: new Uint8Array() };
    }
    return nodeTransport(request);
  };
  return { transport, left: () => refusals };
}

/** A member's heartbeats as its transport saw them: when each was sent and answered, and which of
 * the topic's partitions the answer assigned. */
function heartbeatLog(): { transport: Transport; beats: { sentAt: number; answeredAt: number; owned: number[] }[] } {
  const beats: { sentAt: number; answeredAt: number; owned: number[] }[] = [];
  const transport: Transport = async (request) => {
    const sentAt = performance.now();
    const answer = await nodeTransport(request);
    if (/\/members(\/[^/]+\/heartbeat)?$/.test(request.url.pathname) && answer.status === 200) {
      const { assignment } = JSON.parse(Buffer.from(answer.body).toString()) as { assignment: { partition: number }[] };
      beats.push({ sentAt, answeredAt: performance.now(), owned: assignment.map((a) => a.partition) });
    }
    return answer;
  };
  return { transport, beats };
}

/** A transport whose requests to paths ending in one of `suffixes` wait while held; `hold`
 * resolves once none is on its way. */
function heldRequests(...suffixes: string[]): { transport: Transport; hold: () => Promise<void>; release: () => void } {
  let held: Promise<void> | undefined;
  let release = () => {};
  let inFlight = 0;
  const transport: Transport = async (request) => {
    if (!suffixes.some((suffix) => request.url.pathname.endsWith(suffix))) return nodeTransport(request);
    await held;
    inFlight++;
    try {
      return await nodeTransport(request);
    } finally {
      inFlight--;
    }
  };
  return {
    transport,
    hold: async () => {
      held ??= new Promise((resolve) => (release = resolve));
      await waitFor("no request held on its way", () => inFlight === 0);
    },
    release: () => {
      release();
      held = undefined;
    },
  };
}

/**
 * A member of a new group, on a topic of one partition and 5 records, that pauses the partition
 * after 3 of them; the topic is then deleted and created again, and the new one takes 6 records
 * (`0:100`…). The member's heartbeats wait while the name names no topic: one answered then would
 * rightly take the partition away (and grant it again, from the new topic's start, with the next).
 */
async function pausedAcrossRecreation() {
  const topic = await topicWith(1, 5);
  const p0 = { topic, partition: 0 };
  const seen: string[] = [];
  const heartbeats = heldRequests("/heartbeat");
  const group = uniqueName("g");
  const member = new GroupConsumer({ ...memberOptions(api.url, group), transport: heartbeats.transport });
  member.subscribe([topic]);
  const done = member.run({
    eachRecord: async (r) => {
      seen.push(Buffer.from(r.value ?? []).toString());
      if (seen.length === 3) member.pause([p0]);
    },
  });
  await waitFor("3 records, then paused", () => seen.length === 3 && member.paused().length === 1);
  const admin = new Admin({ url: api.url });
  const epochOf = async () => (await admin.describeGroup(group)).partitions.find((p) => p.topic === topic && p.partition === 0)?.epoch;
  const epoch = await epochOf();
  await heartbeats.hold();
  await admin.deleteTopic(topic);
  await admin.createTopic(topic, { partitions: 1 });
  heartbeats.release();
  await produce(topic, 1, 6, 100);
  return { topic, p0, seen, group, member, done, admin, epoch, epochOf };
}

describe("the group consumer", () => {
  it("splits 12 partitions 4/4/4 and processes every record once; a fourth member makes it 3/3/3/3 without pausing the partitions that stay", async () => {
    const topic = await topicWith(12, 20);
    const group = uniqueName("g");
    const tracker = new Tracker();
    const names = ["a", "b", "c"];
    const members = names.map((n) => tracker.member(n, memberOptions(api.url, group), [topic]));
    await waitFor("4/4/4 and 240 records", () => names.every((n) => tracker.holding(n).length === 4) && allProcessed(tracker, 12, 20)());
    expectEveryRecord(tracker, 12, 20, 1);
    const before = new Map(names.map((n) => [n, tracker.holding(n)]));
    const revokedBefore = new Map(names.map((n) => [n, tracker.revoked.get(n)?.length ?? 0]));

    const fourth = tracker.member("d", memberOptions(api.url, group), [topic]);
    await produce(topic, 12, 20, 20);
    const all = [...names, "d"];
    await waitFor("3/3/3/3 and 480 records", () => all.every((n) => tracker.holding(n).length === 3) && allProcessed(tracker, 12, 40)());
    expectEveryRecord(tracker, 12, 40, 1);
    for (const n of names) {
      // Each old member gave back exactly one partition; the three it kept were held throughout.
      expect(tracker.revoked.get(n)?.slice(revokedBefore.get(n))).toHaveLength(1);
      expect(tracker.lost.get(n) ?? []).toHaveLength(0);
      const kept = tracker.holding(n);
      expect(before.get(n)).toEqual(expect.arrayContaining(kept));
      for (const p of kept) expect(tracker.holds.get(`${topic}/${p}`)?.filter((h) => h.member === n)).toHaveLength(1);
    }
    const given = names.flatMap((n) => tracker.revoked.get(n)?.slice(revokedBefore.get(n)) ?? []);
    expect(tracker.holding("d")).toEqual(given.map((tp) => tp.partition).sort((x, y) => x - y));

    await Promise.all([...members, fourth].map((m) => m.consumer.close()));
    await Promise.all([...members, fourth].map((m) => m.done));
    tracker.expectNoOverlap();
    const d = await new Admin({ url: api.url }).describeGroup(group);
    expect(d.state).toBe("Empty");
    expect(d.partitions.map((p) => [p.committedOffset, p.lag])).toEqual(Array.from({ length: 12 }, () => [40, 0]));
  });

  it.each([
    ["atLeastOnce", "eachRecord"],
    ["atMostOnce", "eachRecord"],
    ["atLeastOnce", "eachBatch"],
    ["atMostOnce", "eachBatch"],
  ] as const)("gives a partition back when asked, not after the rest of a long poll; the next owner starts where it stopped, and nothing is skipped (%s, %s)", async (delivery, handler) => {
    const topic = await topicWith(2, 150);
    const group = uniqueName("g");
    const tracker = new Tracker();
    // At least once, 20 ms a record: a poll of both partitions' 300 records takes 6 s, four
    // session timeouts. At most once a partition's batch, committed, is handed out whole: 5 ms a
    // record keeps one within the revoke timeout.
    const slow = tracker.member("slow", { ...memberOptions(api.url, group), delivery }, [topic], delivery === "atLeastOnce" ? 20 : 5, handler);
    await waitFor("slow processing", () => tracker.processed.length >= 10);
    const other = tracker.member("other", { ...memberOptions(api.url, group), delivery }, [topic]);
    await waitFor("1/1 and 300 records", () => tracker.holding("slow").length === 1 && tracker.holding("other").length === 1 && allProcessed(tracker, 2, 150)());
    expectEveryRecord(tracker, 2, 150, 1);
    const given = tracker.revoked.get("slow") ?? [];
    expect(given).toHaveLength(1);
    expect(tracker.lost.get("slow") ?? []).toEqual([]);
    if (delivery === "atLeastOnce") {
      // It stopped part way through the partition it gave back.
      const givenBack = (given[0] as { partition: number }).partition;
      expect(tracker.processed.filter((p) => p.member === "slow" && p.partition === givenBack).length).toBeLessThan(150);
    }
    await Promise.all([slow, other].map((m) => m.consumer.close()));
    await Promise.all([slow, other].map((m) => m.done));
    tracker.expectNoOverlap();
  });

  it("an eachBatch handler told to stop before its first record processed none of it: the batch is read again, nothing is skipped", async () => {
    const topic = await topicWith(2, 50);
    const group = uniqueName("g");
    const seen = new Map<number, Set<number>>([[0, new Set()], [1, new Set()]]);
    let calls = 0;
    let stoppedAtFirst = 0;
    // As the README has it: check shouldStop() between records, resolve what was processed, return.
    const handler = (setupMs: number) => async (batch: GroupBatch) => {
      calls++;
      await new Promise((resolve) => setTimeout(resolve, setupMs)); // opening a transaction, say
      for (const [i, r] of batch.records.entries()) {
        if (batch.shouldStop()) {
          if (i === 0) stoppedAtFirst++;
          return;
        }
        seen.get(batch.partition)?.add(r.offset);
        batch.resolveOffset(r.offset);
      }
    };
    const first = new GroupConsumer(memberOptions(api.url, group));
    first.subscribe([topic]);
    const firstDone = first.run({ eachBatch: handler(1500) });
    await waitFor("the first member's first batch", () => calls > 0);
    // Joins while that batch's setup runs: the first member is asked to give a partition back.
    const second = new GroupConsumer(memberOptions(api.url, group));
    second.subscribe([topic]);
    const secondDone = second.run({ eachBatch: handler(0) });
    await waitFor("every record of both partitions", () => [...seen.values()].every((s) => s.size === 50), 20_000);
    expect(stoppedAtFirst).toBeGreaterThan(0);
    await Promise.all([first.close(), second.close()]);
    await Promise.all([firstDone, secondDone]);
    const d = await new Admin({ url: api.url }).describeGroup(group);
    expect(d.partitions.map((p) => p.committedOffset)).toEqual([50, 50]);
  });

  it("moves a killed member's partitions within the session timeout plus two heartbeats and resumes them from its last commit", async () => {
    const topic = await topicWith(12, 20);
    const group = uniqueName("g");
    const tracker = new Tracker();
    const victimApi = await newApi();
    const [aBeats, bBeats, victimBeats] = [heartbeatLog(), heartbeatLog(), heartbeatLog()];
    const a = tracker.member("a", { ...memberOptions(api.url, group, SESSION_TIMEOUT_MS), transport: aBeats.transport }, [topic]);
    const b = tracker.member("b", { ...memberOptions(api.url, group, SESSION_TIMEOUT_MS), transport: bBeats.transport }, [topic]);
    // The victim commits rarely, so that it has processed records it never committed.
    const victim = tracker.member("victim", { ...memberOptions(victimApi.url, group, SESSION_TIMEOUT_MS), autoCommitIntervalMs: 60_000, maxAttempts: 2, transport: victimBeats.transport }, [topic]);
    await waitFor("4/4/4 and 240 records", () => ["a", "b", "victim"].every((n) => tracker.holding(n).length === 4) && allProcessed(tracker, 12, 20)());
    await produce(topic, 12, 10, 20);
    await waitFor("270 records", allProcessed(tracker, 12, 30));
    const lostPartitions = tracker.holding("victim");
    const admin = new Admin({ url: api.url });
    const committed = new Map((await admin.describeGroup(group)).partitions.map((p) => [p.partition, p.committedOffset ?? 0]));
    // The victim processed records of its partitions that it never committed.
    for (const p of lostPartitions) expect(committed.get(p), `partition ${p}`).toBeLessThan(30);
    const seen = tracker.processed.length;

    await victimApi.close(); // no leave, no heartbeat, no commit: as if the process died
    // A heartbeat the API took before it closed may still renew the session, its answer lost.
    await waitFor("the victim's last request served", () => serving.get(victimApi) === 0);
    const lastServed = performance.now();
    await waitFor("the victim's partitions to move", () => tracker.holding("a").length + tracker.holding("b").length === 12, 6 * SESSION_TIMEOUT_MS);
    // The session timeout plus two heartbeats, counted in heartbeats, not milliseconds (as in
    // groups.test.ts), so that a slow machine does not decide it: each lost partition went to its
    // heir in an answer that came after the victim's session ended (nobody got it before), to a
    // heartbeat sent no later than the heir's second one sent after that (the session renewed
    // last by the victim's last request the API served, answered or not).
    const last = victimBeats.beats.at(-1);
    const renewedBy = Math.max(last?.answeredAt ?? 0, lastServed);
    for (const p of lostPartitions) {
      const heirBeats = [aBeats, bBeats].map((h) => h.beats.filter((x) => x.sentAt >= (last?.answeredAt ?? 0))).find((beats) => beats.some((x) => x.owned.includes(p))) ?? [];
      const took = heirBeats.find((x) => x.owned.includes(p));
      expect(took?.answeredAt, `partition ${p}`).toBeGreaterThanOrEqual((last?.sentAt ?? 0) + SESSION_TIMEOUT_MS);
      const secondSurelyAfter = heirBeats.filter((x) => x.sentAt >= renewedBy + SESSION_TIMEOUT_MS)[1];
      expect(took?.sentAt, `partition ${p}`).toBeLessThanOrEqual(secondSurelyAfter?.sentAt ?? Number.POSITIVE_INFINITY);
    }
    expect(tracker.lost.get("victim")?.map((tp) => tp.partition).sort((x, y) => x - y)).toEqual(lostPartitions);
    expect([tracker.holding("a").length, tracker.holding("b").length]).toEqual([6, 6]);

    await produce(topic, 12, 10, 30);
    await waitFor("every record", allProcessed(tracker, 12, 40));
    expectEveryRecord(tracker, 12, 40);
    for (const p of lostPartitions) {
      // The heir starts where the victim last committed (replaying what it processed since).
      const heirs = tracker.processed.slice(seen).filter((x) => x.partition === p && x.member !== "victim");
      expect(heirs[0]?.offset, `partition ${p}`).toBe(committed.get(p));
    }
    await Promise.all([a.consumer.close(), b.consumer.close(), victim.consumer.close()]);
    await expect(victim.done).rejects.toThrow(/Cannot reach Seglog/);
    tracker.expectNoOverlap();
  });

  it("commits where a reset past deleted records moved it, so that a later member does not reset again and skip what came meanwhile", async () => {
    const topic = await topicWith(1, 10);
    const group = uniqueName("g");
    const admin = new Admin({ url: api.url });
    const first = new GroupConsumer({ ...memberOptions(api.url, group), autoCommit: false });
    first.subscribe([topic]);
    const firstDone = first.run({ eachRecord: () => undefined });
    await waitFor("the first member's partition", () => first.assignment().length === 1);
    await first.commit([{ topic, partition: 0, offset: 3 }]);
    await first.close();
    await firstDone;
    // Retention deletes the committed position's records.
    await admin.alterTopic(topic, { config: { "retention.ms": 0 } });
    await log.runMaintenance({ topics: [topic] });
    await admin.alterTopic(topic, { config: { "retention.ms": 86_400_000 } });
    expect((await log.describeTopic(topic)).partitions[0]?.logStartOffset).toBe(10);

    const tracker = new Tracker();
    const latest = { ...memberOptions(api.url, group), autoOffsetReset: "latest" as const, autoCommitIntervalMs: 50 };
    const second = tracker.member("second", latest, [topic]);
    await waitFor("the second member's partition", () => tracker.holding("second").length === 1);
    for (let i = 0; i < 100 && (await admin.describeGroup(group)).partitions[0]?.committedOffset !== 10; i++) await new Promise((r) => setTimeout(r, 50));
    await second.consumer.close();
    await second.done;
    expect((await admin.describeGroup(group)).partitions[0]?.committedOffset).toBe(10);
    await produce(topic, 1, 5, 10);
    const third = tracker.member("third", latest, [topic]);
    await waitFor("the records produced while no member ran", () => tracker.processed.length === 5);
    expect(tracker.processedOffsets(0)).toEqual([10, 11, 12, 13, 14]);
    await third.consumer.close();
    await third.done;
  });

  it("refuses a zombie's commit with an old epoch (409 Fenced) and keeps the committed offset", async () => {
    const topic = await topicWith(2, 5);
    const group = uniqueName("g");
    const post = (path: string, body: unknown) =>
      fetch(`${api.url}/v1/groups/${group}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    // A bare HTTP member: joins, commits, then stops heartbeating.
    const joined = (await (await post("/members", { topics: [topic], sessionTimeoutMs: SESSION_TIMEOUT_MS })).json()) as {
      memberId: string;
      assignment: { partition: number; epoch: number }[];
    };
    expect(joined.assignment.map((x) => x.partition)).toEqual([0, 1]);
    // A session the service does not allow is refused with the range it does.
    for (const sessionTimeoutMs of [-1, 999, 1.5, "30000"]) {
      const refused = await post("/members", { topics: [topic], sessionTimeoutMs });
      expect({ status: refused.status, error: ((await refused.json()) as { error: { kind: string; message: string } }).error }).toMatchObject({
        status: 400,
        error: { kind: "Invalid", message: "sessionTimeoutMs must be an integer in [1000, 300000]" },
      });
    }
    const epoch = joined.assignment[0]?.epoch ?? 0;
    const first = await post("/commits", { memberId: joined.memberId, offsets: [{ topic, partition: 0, epoch, offset: 3 }] });
    expect(first.status).toBe(200);
    // A commit's sequence is optional, so null is its absence; one out of range names its range.
    const nullSequence = await post("/commits", { memberId: joined.memberId, offsets: [{ topic, partition: 0, epoch, offset: 3 }], sequence: null });
    expect(nullSequence.status).toBe(200);
    const badId = await post("/commits", { memberId: joined.memberId, offsets: [{ topic, partition: 0, epoch, offset: 3, topicId: "old" }] });
    expect({ status: badId.status, error: ((await badId.json()) as { error: { message: string } }).error.message }).toEqual({
      status: 400,
      error: 'offsets[0].topicId must be a topic\'s id (32 hex digits), not "old"',
    });
    const zeroSequence = await post("/commits", { memberId: joined.memberId, offsets: [{ topic, partition: 0, epoch, offset: 3 }], sequence: 0 });
    expect({ status: zeroSequence.status, error: ((await zeroSequence.json()) as { error: { message: string } }).error.message }).toEqual({
      status: 400,
      error: `a commit body.sequence must be an integer from 1 to ${Number.MAX_SAFE_INTEGER}`,
    });

    const tracker = new Tracker();
    const heir = tracker.member("heir", memberOptions(api.url, group), [topic]);
    await waitFor("the heir to take both partitions", () => tracker.holding("heir").length === 2, 4 * SESSION_TIMEOUT_MS);
    await waitFor("the heir to process the rest", () => tracker.processedOffsets(0).length === 2);
    expect(tracker.processedOffsets(0)).toEqual([3, 4]);

    const zombie = await post("/commits", { memberId: joined.memberId, offsets: [{ topic, partition: 0, epoch, offset: 1 }] });
    expect(zombie.status).toBe(409);
    expect(((await zombie.json()) as { error: { kind: string } }).error.kind).toBe("Fenced");
    const late = await post(`/members/${joined.memberId}/heartbeat`, {});
    expect(late.status).toBe(409);
    await heir.consumer.close();
    const d = await new Admin({ url: api.url }).describeGroup(group);
    expect(d.partitions.find((p) => p.partition === 0)?.committedOffset).toBe(5);
  });

  it("commits more than 1,000 partitions at once in requests of 1,000 (the server's bound), every offset landing", async () => {
    const partitions = MAX_PARTITIONS_PER_REQUEST + 1;
    const topic = uniqueName("wide");
    await new Admin({ url: api.url }).createTopic(topic, { partitions });
    const group = uniqueName("g");
    // This member's API counts the partitions of each commit request it passes on.
    const commits: number[] = [];
    const h = (fn: FunctionName) => (e: unknown) => {
      const event = e as { rawPath?: string; body?: string; isBase64Encoded?: boolean };
      if (fn === "groups" && event.rawPath?.endsWith("/commits")) {
        const body = JSON.parse(Buffer.from(event.body ?? "", event.isBase64Encoded ? "base64" : "utf8").toString()) as { offsets: unknown[] };
        commits.push(body.offsets.length);
      }
      return invoke(fn, e);
    };
    const counted = await startLocalApi({ port: 0, routes: routes as never, handlers: { admin: h("admin"), produce: h("produce"), fetch: h("fetch"), groups: h("groups") } });
    apis.push(counted);
    const held = new Set<number>();
    const consumer = new GroupConsumer({
      ...memberOptions(counted.url, group),
      autoCommit: false,
      sessionTimeoutMs: 10_000,
      onAssigned: (tps) => tps.forEach((tp) => held.add(tp.partition)),
    });
    consumer.subscribe([topic]);
    const done = consumer.run({ eachBatch: () => undefined });
    await waitFor("every partition held", () => held.size === partitions, 60_000);
    await consumer.commit(Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 0 })));
    expect(commits).toEqual([MAX_PARTITIONS_PER_REQUEST, 1]);
    const d = await new Admin({ url: api.url }).describeGroup(group);
    expect(d.partitions.filter((p) => p.committedOffset === 0)).toHaveLength(partitions);
    await consumer.close();
    await done;
  }, 120_000);

  it("gives two groups every record each", async () => {
    const topic = await topicWith(6, 15);
    const [g1, g2] = [uniqueName("g1"), uniqueName("g2")];
    const one = new Tracker();
    const two = new Tracker();
    const members = [
      one.member("x", memberOptions(api.url, g1), [topic]),
      one.member("y", memberOptions(api.url, g1), [topic]),
      two.member("z", memberOptions(api.url, g2), [topic]),
    ];
    await waitFor("both groups to process all 90", () => allProcessed(one, 6, 15)() && allProcessed(two, 6, 15)());
    await waitFor("3/3 in the first group", () => one.holding("x").length === 3 && one.holding("y").length === 3);
    expectEveryRecord(one, 6, 15, 1);
    expectEveryRecord(two, 6, 15, 1);
    await Promise.all(members.map((m) => m.consumer.close()));
    one.expectNoOverlap();
    const admin = new Admin({ url: api.url });
    expect(await admin.listGroups()).toEqual(expect.arrayContaining([g1, g2]));
  });

  it("replays a failed record at least once, or skips the rest of its batch at most once", async () => {
    const topic = await topicWith(1, 10);
    const committedOf = async (group: string) => (await new Admin({ url: api.url }).describeGroup(group)).partitions[0]?.committedOffset;
    const failAt4 = (seen: number[]) => (r: ConsumedRecord) => {
      if (r.offset === 4) throw new Error("boom");
      seen.push(r.offset);
    };

    const atLeastOnce = uniqueName("g");
    const first: number[] = [];
    const failing = new GroupConsumer(memberOptions(api.url, atLeastOnce));
    failing.subscribe([topic]);
    await expect(failing.run({ eachRecord: failAt4(first) })).rejects.toThrow("boom");
    expect(first).toEqual([0, 1, 2, 3]);
    expect(await committedOf(atLeastOnce)).toBe(4); // what was processed, then it left
    const tracker = new Tracker();
    const next = tracker.member("next", memberOptions(api.url, atLeastOnce), [topic]);
    await waitFor("the rest", () => tracker.processedOffsets(0).length === 6);
    expect(tracker.processedOffsets(0)).toEqual([4, 5, 6, 7, 8, 9]);
    await next.consumer.close();

    // An eachBatch handler that throws: what it resolved before was processed, and is committed.
    const batchGroup = uniqueName("g");
    const resolving = new GroupConsumer(memberOptions(api.url, batchGroup));
    resolving.subscribe([topic]);
    const failing4 = (b: GroupBatch) => {
      for (const r of b.records) {
        if (r.offset === 4) throw new Error("boom");
        b.resolveOffset(r.offset);
      }
    };
    await expect(resolving.run({ eachBatch: failing4 })).rejects.toThrow("boom");
    expect(await committedOf(batchGroup)).toBe(4);

    const atMostOnce = uniqueName("g");
    const second: number[] = [];
    const committing = new GroupConsumer({ ...memberOptions(api.url, atMostOnce), delivery: "atMostOnce" });
    committing.subscribe([topic]);
    await expect(committing.run({ eachRecord: failAt4(second) })).rejects.toThrow("boom");
    expect(second).toEqual([0, 1, 2, 3]);
    const skippedTo = (await committedOf(atMostOnce)) ?? 0;
    expect(skippedTo).toBeGreaterThan(4); // the batch was committed before it was processed
    const after = new Tracker();
    const resumed = after.member("after", { ...memberOptions(api.url, atMostOnce), delivery: "atMostOnce" }, [topic]);
    await produce(topic, 1, 2, 10);
    await waitFor("the new records", () => after.processedOffsets(0).includes(11));
    expect(after.processedOffsets(0)[0]).toBe(skippedTo);
    await resumed.consumer.close();
  });

  it("seeks a held partition as Kafka's seek does: from a handler (the rest of its batch is not handed out), from onAssigned, and commits the position sought", async () => {
    const topic = await topicWith(1, 10);
    const admin = new Admin({ url: api.url });
    const tp = { topic, partition: 0 };
    const committed = async (group: string) => (await admin.describeGroup(group)).partitions.map((p) => p.committedOffset);

    // eachRecord: at offset 5, back to 2; 2..5 come again, then the rest.
    const back = uniqueName("g");
    const replayed: number[] = [];
    const rewinder = new GroupConsumer(memberOptions(api.url, back));
    rewinder.subscribe([topic]);
    const rewound = rewinder.run({
      eachRecord: async (r) => {
        replayed.push(r.offset);
        if (r.offset === 5 && replayed.length === 6) await rewinder.seek(tp, 2);
      },
    });
    await waitFor("offsets 0–5, then 2–9", () => replayed.length === 14);
    await rewinder.close();
    await rewound;
    expect(replayed).toEqual([0, 1, 2, 3, 4, 5, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(await committed(back)).toEqual([10]);

    // eachBatch: a seek forward at offset 3 stops the batch there; what it resolved after does not count.
    const ahead = uniqueName("g");
    const skipped: number[] = [];
    let stopAfterSeek: boolean | undefined;
    const skipper = new GroupConsumer(memberOptions(api.url, ahead));
    skipper.subscribe([topic]);
    const skipping = skipper.run({
      eachBatch: async (b) => {
        for (const r of b.records) {
          skipped.push(r.offset);
          b.resolveOffset(r.offset);
          if (r.offset === 3) {
            await skipper.seek(tp, 8);
            stopAfterSeek = b.shouldStop();
            b.resolveOffset(b.records.at(-1)?.offset ?? r.offset);
            return;
          }
        }
      },
    });
    await waitFor("offsets 0–3, then 8 and 9", () => skipped.at(-1) === 9);
    await skipper.close();
    await skipping;
    expect(skipped).toEqual([0, 1, 2, 3, 8, 9]);
    expect(stopAfterSeek).toBe(true);
    expect(await committed(ahead)).toEqual([10]);

    // A seek to "earliest" nobody awaits holds from the call: the rest of the batch is not handed
    // out while its offset is looked up.
    const unawaited = uniqueName("g");
    const again: number[] = [];
    const restarter = new GroupConsumer(memberOptions(api.url, unawaited));
    restarter.subscribe([topic]);
    const restarting = restarter.run({
      eachRecord: async (r) => {
        again.push(r.offset);
        if (r.offset === 3 && again.length === 4) void restarter.seek(tp, "earliest");
      },
    });
    await waitFor("offsets 0–3, then 0–9", () => again.length >= 14);
    await restarter.close();
    await restarting;
    expect(again).toEqual([0, 1, 2, 3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // One whose lookup fails moves nothing: the partition goes on from where processing stopped.
    let refuse = false;
    const refusingLookups: Transport = async (request) =>
      refuse && request.url.pathname.endsWith("/offsets")
        ? { status: 400, header: (name) => (name === "content-type" ? "application/json" : undefined), body: Buffer.from('{"error":{"kind":"Invalid","message":"refused here","retriable":false}}') }
        : nodeTransport(request);
    const unmoved: number[] = [];
    let lookupFailed: unknown;
    const stayer = new GroupConsumer({ ...memberOptions(api.url, uniqueName("g")), transport: refusingLookups });
    stayer.subscribe([topic]);
    const staying = stayer.run({
      eachRecord: async (r) => {
        unmoved.push(r.offset);
        if (r.offset !== 3) return;
        refuse = true;
        stayer.seek(tp, "earliest").catch((e: unknown) => (lookupFailed = e));
      },
    });
    await waitFor("offsets 0–9", () => unmoved.at(-1) === 9);
    await stayer.close();
    await staying;
    expect(unmoved).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(lookupFailed).toMatchObject({ kind: "Invalid", message: expect.stringContaining("refused here") });

    // onAssigned: start at 7; and "latest", committed before any record came.
    const fromSeven = uniqueName("g");
    const late: number[] = [];
    const seven: GroupConsumer = new GroupConsumer({ ...memberOptions(api.url, fromSeven), onAssigned: async () => seven.seek(tp, 7) });
    seven.subscribe([topic]);
    const sevenDone = seven.run({ eachRecord: (r) => void late.push(r.offset) });
    await waitFor("offsets 7–9", () => late.length === 3);
    await seven.close();
    await sevenDone;
    expect(late).toEqual([7, 8, 9]);

    const atEnd = uniqueName("g");
    let sought = false;
    const latest: GroupConsumer = new GroupConsumer({
      ...memberOptions(api.url, atEnd),
      onAssigned: async () => {
        await latest.seek(tp, "latest");
        sought = true;
      },
    });
    latest.subscribe([topic]);
    const latestDone = latest.run({ eachRecord: () => expect.fail("nothing comes after the end") });
    await waitFor("the seek to the end", () => sought);
    await latest.close();
    await latestDone;
    expect(await committed(atEnd)).toEqual([10]);

    // Only a running member, only its own partitions.
    // The checks throw at once, as Java's seek does (so a seek nobody awaits cannot reject unheard).
    expect(() => new GroupConsumer(memberOptions(api.url, uniqueName("g"))).seek(tp, 0)).toThrow(expect.objectContaining({ kind: "Invalid", message: expect.stringContaining("not running") }));
    const notHeld = await thrownInHandler(topic, (member) => void member.seek({ topic, partition: 1 }, 0));
    expect(notHeld).toMatchObject({ kind: "Invalid", message: expect.stringContaining("not held") });

    // In onRevoked the partition's last commit is made: a seek there would move nothing, and says so.
    let inRevoke: unknown;
    const leaving: GroupConsumer = new GroupConsumer({
      ...memberOptions(api.url, uniqueName("g")),
      onRevoked: ([first]) => {
        try {
          if (first) void leaving.seek(first, 0);
        } catch (e) {
          inRevoke = e;
        }
      },
    });
    leaving.subscribe([topic]);
    let records = 0;
    const leavingDone = leaving.run({ eachRecord: () => void records++ });
    await waitFor("a record", () => records > 0);
    await leaving.close();
    await leavingDone;
    expect(inRevoke).toMatchObject({ kind: "Fenced", message: expect.stringContaining("being given back") });
  });

  it("a seek from outside the handlers holds when the assignment changes under its offset lookup, and at most once when it lands while the batch's commit is on its way", async () => {
    const topic = await topicWith(1, 10);
    const tp = { topic, partition: 0 };

    // "earliest" is looked up while a grant (a second topic subscribed) reassigns the member's partitions.
    const other = await topicWith(1, 1);
    let lookups = 0;
    const slowLookups: Transport = async (request) => {
      if (request.url.pathname.endsWith("/offsets")) {
        lookups++;
        await new Promise((resolve) => setTimeout(resolve, 800));
      }
      return nodeTransport(request);
    };
    const again: number[] = [];
    const rereader = new GroupConsumer({ ...memberOptions(api.url, uniqueName("g")), transport: slowLookups });
    rereader.subscribe([topic]);
    const rereading = rereader.run({ eachRecord: (r) => void (r.topic === topic && again.push(r.offset)) });
    await waitFor("the first pass", () => again.length === 10);
    const sought = rereader.seek(tp, "earliest");
    rereader.subscribe([topic, other]);
    await waitFor("the other topic's partition", () => rereader.assignment().length === 2);
    await sought;
    await waitFor("the second pass", () => again.length === 20);
    await rereader.close();
    await rereading;
    expect(lookups).toBeGreaterThan(0);
    expect(again).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => i)]);

    // At most once: the seek lands while the first batch's commit is on the wire.
    let skipper: GroupConsumer | undefined;
    let seekDuringCommit: Promise<void> | undefined;
    const seekOnFirstCommit: Transport = async (request) => {
      if (request.url.pathname.endsWith("/commits") && seekDuringCommit === undefined) seekDuringCommit = skipper?.seek(tp, 5);
      return nodeTransport(request);
    };
    const got: number[] = [];
    skipper = new GroupConsumer({ ...memberOptions(api.url, uniqueName("g")), delivery: "atMostOnce", transport: seekOnFirstCommit });
    skipper.subscribe([topic]);
    const skipping = skipper.run({ eachBatch: (b) => void got.push(...b.records.map((r) => r.offset)) });
    await waitFor("offsets from 5", () => got.at(-1) === 9);
    await seekDuringCommit;
    await skipper.close();
    await skipping;
    expect(got).toEqual([5, 6, 7, 8, 9]);
  });

  it("fetches nothing of a partition while its seek's offset is looked up, then reads it from where the seek moved it", async () => {
    const topic = await topicWith(1, 10);
    const tp = { topic, partition: 0 };
    let member: GroupConsumer | undefined;
    let atLookup: ConsumerStats | undefined;
    let atAnswer: ConsumerStats | undefined;
    // The lookup takes a while, and records land meanwhile: they are not fetched from the old
    // position only to be dropped.
    let seeking = false; // the join's own lookup (a new group starts at earliest) goes as usual
    const slowLookups: Transport = async (request) => {
      if (!seeking || !request.url.pathname.endsWith("/offsets")) return nodeTransport(request);
      atLookup = member?.stats();
      await produce(topic, 1, 10, 10);
      await new Promise((resolve) => setTimeout(resolve, 600)); // a few long polls' time (maxWaitMs 200)
      atAnswer = member?.stats();
      return nodeTransport(request);
    };
    const got: number[] = [];
    member = new GroupConsumer({ ...memberOptions(api.url, uniqueName("g")), transport: slowLookups });
    member.subscribe([topic]);
    const running = member.run({ eachRecord: (r) => void got.push(r.offset) });
    await waitFor("the first pass", () => got.length === 10);
    seeking = true;
    await member.seek(tp, "earliest");
    await waitFor("all of it again, from the start", () => got.length === 30);
    await member.close();
    await running;
    expect(atLookup).toBeDefined();
    expect(atAnswer?.segmentGets).toBe(atLookup?.segmentGets);
    expect(atAnswer?.bytesFetched).toBe(atLookup?.bytesFetched);
    expect(got).toEqual([...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 20 }, (_, i) => i)]);
  });

  it("rides out an outage while it looks up where a partition without a committed offset starts, instead of run() failing", async () => {
    const topic = await topicWith(1, 5);
    const group = uniqueName("g");
    // More than one lookup's attempts (maxAttempts 2): the lookup itself fails twice.
    const offsetsDown = unavailable("/offsets", 5);
    const got: number[] = [];
    const member = new GroupConsumer({ ...memberOptions(api.url, group), autoOffsetReset: "earliest", maxAttempts: 2, initialBackoffMs: 5, transport: offsetsDown.transport });
    member.subscribe([topic]);
    const done = member.run({ eachRecord: (r) => void got.push(r.offset) });
    await waitFor("the records", () => got.length === 5);
    await member.close();
    await done;
    expect(offsetsDown.left()).toBe(0);
    expect(got).toEqual([0, 1, 2, 3, 4]);
  });

  it("at most once, rides out commits the API cannot take: none of their batch is handed out, and it is read again once a commit lands", async () => {
    const topic = await topicWith(1, 5);
    const group = uniqueName("g");
    const busyCommits = unavailable("/commits", 3); // the first commit's two attempts, and the next one's first
    const got: number[] = [];
    const member = new GroupConsumer({ ...memberOptions(api.url, group), delivery: "atMostOnce", maxAttempts: 2, initialBackoffMs: 5, transport: busyCommits.transport });
    member.subscribe([topic]);
    const done = member.run({ eachRecord: (r) => void got.push(r.offset) });
    await waitFor("the records", () => got.length === 5);
    await member.close();
    await done; // run() did not fail on the refused commits
    expect(busyCommits.left()).toBe(0);
    expect(got).toEqual([0, 1, 2, 3, 4]);
    expect((await new Admin({ url: api.url }).describeGroup(group)).partitions.map((p) => p.committedOffset)).toEqual([5]);

    // A commit that lands unanswered while the member closes: its batch is not handed out, and the
    // close commits what was processed, though that is the offset the member last heard committed.
    await produce(topic, 1, 5, 5);
    const lost = new GroupConsumer({
      ...memberOptions(api.url, group),
      delivery: "atMostOnce",
      maxAttempts: 2,
      initialBackoffMs: 5,
      transport: async (request) => {
        const answer = await nodeTransport(request);
        if (!(request.url.pathname.endsWith("/commits") && String(request.body).includes('"offset":10'))) return answer;
        void lost.close();
        return { status: 503, header: () => undefined, body: new Uint8Array() };
      },
    });
    lost.subscribe([topic]);
    const more: number[] = [];
    await lost.run({ eachRecord: (r) => void more.push(r.offset) });
    expect(more).toEqual([]);
    expect((await new Admin({ url: api.url }).describeGroup(group)).partitions.map((p) => p.committedOffset)).toEqual([5]);
  });

  it("pauses and resumes held partitions as Kafka's pause does: nothing more of them is handed out, the member keeps them, and a seek while paused moves where they resume", async () => {
    const topic = await topicWith(2, 5);
    const group = uniqueName("g");
    const p0 = { topic, partition: 0 };
    const seen: Record<number, number[]> = { 0: [], 1: [] };
    const member = new GroupConsumer(memberOptions(api.url, group));
    member.subscribe([topic]);
    const done = member.run({
      eachRecord: async (r) => {
        seen[r.partition]?.push(r.offset);
        if (r.partition === 0 && r.offset === 0) member.pause([p0]); // the rest of its batch is not handed out
      },
    });
    await waitFor("partition 1's records", () => seen[1]?.length === 5);
    await new Promise((resolve) => setTimeout(resolve, 600)); // polls go on: none of partition 0
    expect(seen[0]).toEqual([0]);
    expect(member.paused()).toEqual([p0]);
    expect(member.assignment()).toHaveLength(2); // still held
    await member.seek(p0, 3); // while paused: where it resumes
    member.resume([p0]);
    expect(member.paused()).toEqual([]);
    await waitFor("partition 0's records from 3", () => seen[0]?.length === 3);
    await member.close();
    await done;
    expect(seen).toEqual({ 0: [0, 3, 4], 1: [0, 1, 2, 3, 4] });
    expect((await new Admin({ url: api.url }).describeGroup(group)).partitions.map((p) => p.committedOffset)).toEqual([5, 5]);

    expect(() => member.pause([p0])).toThrow(expect.objectContaining({ kind: "Invalid", message: expect.stringContaining("not running") }));
    const notHeld = await thrownInHandler(topic, (member) => member.resume([{ topic, partition: 7 }]));
    expect(notHeld).toMatchObject({ kind: "Invalid", message: expect.stringContaining("not held") });
    const noPartition = await thrownInHandler(topic, (member) => member.pause([{ topic } as TopicPartition]));
    expect(noPartition).toMatchObject({ kind: "Invalid", message: "A partition must be a whole number ≥ 0, not undefined" });
  });

  it("resumes a partition paused while its topic was deleted and created again from the new topic's start, not from the old topic's offset (which skipped the new topic's first records)", async () => {
    const { member, done, seen, p0, epoch, epochOf } = await pausedAcrossRecreation();
    member.resume([p0]);
    await waitFor("the new topic's 6 records", () => seen.length >= 9);
    // The member kept the partition throughout (not taken away and granted afresh, which starts over anyway).
    expect(await epochOf()).toBe(epoch);
    await member.close();
    await done;
    expect(seen).toEqual(["0:0", "0:1", "0:2", ...Array.from({ length: 6 }, (_, i) => `0:${100 + i}`)]);
  });

  it("commits a partition paused across its topic's re-creation as the old topic's offset, which the next member does not start the new topic at (it skipped that many records)", async () => {
    const { member, done, group, admin, topic } = await pausedAcrossRecreation();
    await member.close(); // commits where processing stopped: offset 3 of the old topic
    await done;
    expect((await admin.describeGroup(group)).partitions.find((p) => p.partition === 0)?.committedOffset).toBeNull();
    const next: string[] = [];
    const heir = new GroupConsumer(memberOptions(api.url, group));
    heir.subscribe([topic]);
    const heirDone = heir.run({ eachRecord: async (r) => void next.push(Buffer.from(r.value ?? []).toString()) });
    await waitFor("the new topic's 6 records", () => next.length >= 6);
    await heir.close();
    await heirDone;
    expect(next).toEqual(Array.from({ length: 6 }, (_, i) => `0:${100 + i}`));
  });

  it("resumes a partition paused after it started over on a recreated topic from where it was in the new topic, not by a second reset that skipped what came while it was paused", async () => {
    const topic = uniqueName("grp");
    const admin = new Admin({ url: api.url });
    await admin.createTopic(topic, { partitions: 1 });
    const p0 = { topic, partition: 0 };
    const seen: string[] = [];
    // Heartbeats and fetches wait while the topic is deleted, created again and written to: the
    // first fetch of the new topic reads a record there, and starts over by the reset.
    const held = heldRequests("/heartbeat", "/records");
    let newId: string | undefined;
    let answersOfNew = 0;
    const transport: Transport = async (request) => {
      const answer = await held.transport(request);
      if (newId !== undefined && request.url.pathname.endsWith("/records") && Buffer.from(answer.body).toString().includes(newId)) answersOfNew++;
      return answer;
    };
    const group = uniqueName("g");
    const member = new GroupConsumer({ ...memberOptions(api.url, group), autoOffsetReset: "latest", transport });
    member.subscribe([topic]);
    const done = member.run({ eachRecord: async (r) => void seen.push(Buffer.from(r.value ?? []).toString()) });
    await waitFor("the partition", () => member.assignment().length === 1);
    await produce(topic, 1, 3, 0);
    await waitFor("3 records", () => seen.length === 3);
    await held.hold();
    await admin.deleteTopic(topic);
    newId = (await admin.createTopic(topic, { partitions: 1 })).topicId;
    await produce(topic, 1, 4, 100);
    held.release();
    await waitFor("fetches of the new topic after its reset", () => answersOfNew >= 2);
    expect(seen).toEqual(["0:0", "0:1", "0:2"]); // the reset to the latest passed the new topic's first 4
    member.pause([p0]);
    await produce(topic, 1, 6, 200);
    member.resume([p0]);
    const whilePaused = () => seen.filter((v) => /^0:2\d\d$/.test(v));
    await waitFor("what came while it was paused", () => whilePaused().length >= 6);
    await member.close();
    await done;
    expect(whilePaused()).toEqual(Array.from({ length: 6 }, (_, i) => `0:${200 + i}`));
  });

  it("pauses, resumes and seeks from outside the handlers (a timer, say) without a record twice or lost, and commits while everything is paused", async () => {
    const topic = await topicWith(1, 5);
    const group = uniqueName("g");
    const p0 = { topic, partition: 0 };
    const seen: number[] = [];
    const member = new GroupConsumer({ ...memberOptions(api.url, group), autoCommitIntervalMs: 1000 });
    member.subscribe([topic]);
    const done = member.run({
      eachRecord: async (r) => {
        if (r.offset === 4 && seen.length === 4) member.pause([p0]); // and stays paused past the commit interval
        if (r.offset === 1 && seen.length === 1) {
          // Backpressure flickers off and on while record 1 is processed.
          setTimeout(() => {
            member.pause([p0]);
            setTimeout(() => member.resume([p0]), 5);
          }, 5);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
        seen.push(r.offset);
      },
    });
    await waitFor("every record", () => seen.length === 5);
    // All paused: no record comes, and the processed offset is committed on time all the same.
    const admin = new Admin({ url: api.url });
    let committed: (number | null)[] = [];
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 100))) {
      committed = (await admin.describeGroup(group)).partitions.map((p) => p.committedOffset);
      if (committed[0] === 5) break;
    }
    expect(committed).toEqual([5]);
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    const sought = member.seek(p0, "earliest"); // not awaited, as Kafka's seek returns at once
    member.resume([p0]);
    await sought;
    await waitFor("every record again", () => seen.length === 10);
    await member.close();
    await done;
    expect(seen).toEqual([0, 1, 2, 3, 4, 0, 1, 2, 3, 4]);
  });

  it("joins once, whatever else the member is asked meanwhile: close() during a join leaves no member behind, and a resume timer does not call joins off", async () => {
    const topic = await topicWith(2, 5);
    const group = uniqueName("g");
    const admin = new Admin({ url: api.url });

    // A backpressure timer that resumes whatever is paused, from before the member has joined.
    const seen: number[] = [];
    const member = new GroupConsumer(memberOptions(api.url, group));
    member.subscribe([topic]);
    const done = member.run({ eachRecord: (r) => void seen.push(r.offset) });
    const timer = setInterval(() => member.resume(member.paused()), 5);
    try {
      await waitFor("every record", () => seen.length === 10);
    } finally {
      clearInterval(timer);
    }
    expect((await admin.describeGroup(group)).members).toHaveLength(1);

    // A second member closed while the server has taken its join and the answer is on its way.
    const slowAnswers: Transport = async (request) => {
      const answer = await nodeTransport(request);
      if (request.method === "POST" && request.url.pathname.endsWith("/members")) await new Promise((resolve) => setTimeout(resolve, 300));
      return answer;
    };
    const second = new GroupConsumer({ ...memberOptions(api.url, group), transport: slowAnswers });
    second.subscribe([topic]);
    const secondDone = second.run({ eachRecord: () => undefined });
    await new Promise((resolve) => setTimeout(resolve, 150));
    await second.close();
    await secondDone;
    expect((await admin.describeGroup(group)).members).toHaveLength(1);
    await member.close();
    await done;
  });

  it("joins once though the server took its first join and the answer was lost: the retry is answered with that member, not a second one that would hold its partitions for a session", async () => {
    const topic = await topicWith(4, 5);
    const group = uniqueName("g");
    const joins: string[] = [];
    const losesFirstJoin: Transport = async (request) => {
      const answer = await nodeTransport(request);
      if (request.method === "POST" && request.url.pathname.endsWith("/members")) {
        joins.push(String(request.body));
        if (joins.length === 1) throw connectionFailed("ECONNRESET");
      }
      return answer;
    };
    const member = new GroupConsumer({ ...memberOptions(api.url, group), transport: losesFirstJoin, initialBackoffMs: 5 });
    member.subscribe([topic]);
    let processed = 0;
    const done = member.run({ eachRecord: () => void processed++ });
    await waitFor("the records", () => processed === 20);
    const described = await new Admin({ url: api.url }).describeGroup(group);
    expect(described.members.map((m) => m.memberId)).toEqual([member.memberId]);
    expect(described.partitions.map((p) => p.owner)).toEqual([0, 1, 2, 3].map(() => member.memberId));
    // Both attempts carried the same token.
    expect(joins).toHaveLength(2);
    expect(new Set(joins.map((body) => (JSON.parse(body) as { joinId: string }).joinId)).size).toBe(1);
    await member.close();
    await done;
  });

  it("commits what a batch handler resolved when it calls commit() before it returns, as KafkaJS does, where it committed the batch's start", async () => {
    const topic = await topicWith(1, 10);
    const group = uniqueName("g");
    const member = new GroupConsumer({ ...memberOptions(api.url, group), autoCommit: false });
    member.subscribe([topic]);
    let seen = 0;
    const done = member.run({
      eachBatch: async (batch) => {
        for (const r of batch.records) batch.resolveOffset(r.offset);
        await member.commit();
        seen += batch.records.length;
        if (seen === 10) void member.close();
      },
    });
    await done;
    const [p0] = (await new Admin({ url: api.url }).describeGroup(group)).partitions;
    expect(p0?.committedOffset).toBe(10);
  });

  it("with autoCommitIntervalMs 0 commits after every batch, as documented, not after every record", async () => {
    const topic = await topicWith(1, 50);
    let commits = 0;
    const counting: Transport = async (request) => {
      if (request.method === "POST" && request.url.pathname.endsWith("/commits")) commits++;
      return nodeTransport(request);
    };
    const member = new GroupConsumer({ ...memberOptions(api.url, uniqueName("g")), autoCommitIntervalMs: 0, transport: counting });
    member.subscribe([topic]);
    let processed = 0;
    const done = member.run({ eachRecord: () => void processed++ });
    await waitFor("the records", () => processed === 50);
    await member.close();
    await done;
    // One per poll's batch and one as it leaves, where it made 50 (one a record).
    expect(commits).toBeGreaterThan(0);
    expect(commits).toBeLessThan(10);
  });

  it("run() against an API it cannot reach rejects after maxAttempts, as the SDK's other calls do, where it waited silently", async () => {
    const lost = new GroupConsumer({ url: "http://127.0.0.1:9", groupId: uniqueName("g"), maxAttempts: 3, initialBackoffMs: 5 });
    lost.subscribe(["t"]);
    await expect(lost.run({ eachRecord: () => undefined })).rejects.toMatchObject({
      kind: "Internal",
      code: "Unreachable",
      retriable: false,
      message: expect.stringMatching(/^Cannot reach Seglog at http:\/\/127\.0\.0\.1:9: ECONNREFUSED, after 3 attempts to join group/),
    });
    expect(lost.memberId).toBeUndefined();

    // A host that takes the connection and never answers is out of reach too.
    const silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as AddressInfo).port;
    try {
      const waiting = new GroupConsumer({ url: `http://127.0.0.1:${port}`, groupId: uniqueName("g"), sessionTimeoutMs: 300, maxAttempts: 2, initialBackoffMs: 5 });
      waiting.subscribe(["t"]);
      await expect(waiting.run({ eachRecord: () => undefined })).rejects.toMatchObject({
        code: "Unreachable",
        message: expect.stringMatching(/did not answer within 300 ms, after 2 attempts to join group/),
      });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }

    // Some other server, answering 503 to everything: given up on after as many attempts.
    const busy = createServer((_, res) => res.writeHead(503).end());
    await new Promise<void>((resolve) => busy.listen(0, "127.0.0.1", resolve));
    try {
      const refused = new GroupConsumer({ url: `http://127.0.0.1:${(busy.address() as AddressInfo).port}`, groupId: uniqueName("g"), maxAttempts: 3, initialBackoffMs: 5 });
      refused.subscribe(["t"]);
      await expect(refused.run({ eachRecord: () => undefined })).rejects.toMatchObject({ retriable: false, message: expect.stringMatching(/after 3 attempts to join group/) });
    } finally {
      busy.close();
    }
    // A url without its scheme cannot be asked at all: refused when the consumer is made.
    for (const url of ["127.0.0.1:9", "localhost:9", "ftp://localhost:9"]) {
      expect(() => new GroupConsumer({ url, groupId: uniqueName("g") })).toThrow(expect.objectContaining({ kind: "Invalid", message: `url must be an http:// or https:// address, not "${url}"` }));
    }
  });

  it("closes within about two sessions when its API goes silent (takes connections, never answers): the commit is not retried past the session, the leave is sent once", async () => {
    const topic = await topicWith(1, 5);
    let silent = false;
    const transport: Transport = (request) => (silent ? never(request.signal) : nodeTransport(request));
    const member = new GroupConsumer({ ...memberOptions(api.url, uniqueName("g"), SESSION_TIMEOUT_MS), transport });
    member.subscribe([topic]);
    let processed = 0;
    const done = member.run({ eachRecord: () => void processed++ });
    await waitFor("the records", () => processed === 5);
    silent = true;
    const closing = performance.now();
    await member.close();
    // Before, the commit had no timeout at all: close() never returned. The commit's attempts
    // share what is left of the session; the leave then has one attempt of a session.
    expect(performance.now() - closing).toBeLessThan(3 * SESSION_TIMEOUT_MS);
    // run() reports the leave it could not send (the session lapses without it).
    await expect(done).rejects.toMatchObject({ code: "RequestTimeout", message: expect.stringContaining(`within ${SESSION_TIMEOUT_MS} ms`) });
  });

  it("honours autoOffsetReset none and latest, manual commits, partitions added to a topic and a subscribed topic created after the member joined", async () => {
    const topic = await topicWith(2, 5);
    const admin = new Admin({ url: api.url });

    const strict = new GroupConsumer({ ...memberOptions(api.url, uniqueName("g")), autoOffsetReset: "none" });
    strict.subscribe([topic]);
    await expect(strict.run({ eachRecord: () => undefined })).rejects.toMatchObject({ kind: "OffsetOutOfRange" });

    const manualGroup = uniqueName("g");
    const batches: string[] = [];
    const manual = new GroupConsumer({ ...memberOptions(api.url, manualGroup), autoCommit: false });
    manual.subscribe([topic]);
    const manualDone = manual.run({
      eachBatch: async (b) => {
        batches.push(`${b.partition}:${b.records.map((r) => r.offset).join(",")}`);
        if (b.partition === 0 && b.isHeld()) await manual.commit([{ topic, partition: 0, offset: (b.records.at(-1)?.offset ?? 0) + 1 }]);
      },
    });
    await waitFor("both partitions' batches", () => batches.some((b) => b.startsWith("0:")) && batches.some((b) => b.startsWith("1:")));
    await manual.close();
    await manualDone;
    const committed = (await admin.describeGroup(manualGroup)).partitions.map((p) => p.committedOffset);
    expect(committed).toEqual([5, null]);
    // Outside run() it holds nothing to commit for: saying so, not committing nothing quietly.
    await expect(manual.commit()).rejects.toMatchObject({ kind: "Invalid", message: expect.stringContaining("not running") });
    await expect(new GroupConsumer(memberOptions(api.url, manualGroup)).commit()).rejects.toMatchObject({ kind: "Invalid" });

    const tracker = new Tracker();
    const late = uniqueName("late"); // no such topic yet: the member waits for it, holding none of it
    const latest = tracker.member("latest", { ...memberOptions(api.url, uniqueName("g")), autoOffsetReset: "latest" }, [topic, late]);
    await waitFor("both partitions", () => tracker.holding("latest").length === 2);
    await admin.alterTopic(topic, { partitions: 3 });
    await admin.createTopic(late, { partitions: 1 });
    await waitFor("the added partition and the topic created since", () => tracker.holding("latest").length === 4);
    await produce(topic, 3, 1, 100);
    await produce(late, 1, 1, 0);
    await waitFor("one new record per partition", () => tracker.processed.length === 4);
    expect(tracker.processed.map((p) => [p.partition, p.offset]).sort()).toEqual([[0, 0], [0, 5], [1, 5], [2, 0]]);
    await latest.consumer.close();
    tracker.expectNoOverlap();
  });
});
