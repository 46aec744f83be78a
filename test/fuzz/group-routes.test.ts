/**
 * Fuzzes every consumer-group route with bad input; see harness.ts for what each answer must be.
 * Fixtures: a topic to subscribe to; a group with one live member (heartbeats, commits); a group
 * of two members to leave (a member that left is replaced at once); an empty group to join (a
 * member that joined leaves at once); a group with committed offsets and no members to reset.
 */
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LogTopicCatalog } from "../../src/groups/log-catalog.ts";
import { GroupService } from "../../src/groups/service.ts";
import { DynamoGroupStore } from "../../src/storage/groups-store.ts";
import { handlersFor, testGroups, testLog } from "../helpers/log.ts";
import { testEnv, uniqueName } from "../helpers/stack.ts";
import { absent, anyJson, badName, brokenJsonText, extraKeys, intField, mostly, notAString, oddNumber, segment } from "./arbitraries.ts";
import { bodyText, envelope, jsonBody, nameOf, nameRef, pathName, request, unknownName } from "./requests.ts";
import { fuzzRoute, routeTimeoutMs, StorageTracker, summary, type RouteFuzz, type RouteStats } from "./harness.ts";

const fuzzed = testLog();
const storage = new StorageTracker();
storage.watch(fuzzed.dynamo);
storage.watch(fuzzed.s3);
const invoke = handlersFor({
  log: fuzzed.log,
  groups: new GroupService({
    store: new DynamoGroupStore({ client: fuzzed.dynamo, tableName: testEnv()["SEGLOG_TABLE"] ?? "seglog" }),
    catalog: new LogTopicCatalog(fuzzed.log),
  }),
});
/** Sets fixtures up, keeps them alive and reads their state, with clients the tracker does not count. */
const { log } = testLog();
const admin = testGroups(log);

const topic = uniqueName("fz-gtopic");
const live = uniqueName("fz-live");
const leaving = uniqueName("fz-leave");
const joining = uniqueName("fz-join");
const resetting = uniqueName("fz-reset");
const unknown = uniqueName("fz-nogroup");
const SESSION_MS = 300_000;
/** The live group's member, and the members of the group to leave (replaced when one leaves). */
let member = "";
const leavers: string[] = [];
let beatAt = 0;
const results: RouteStats[] = [];

async function joinSettled(group: string): Promise<string> {
  const { memberId } = await admin.join(group, { topics: [topic], sessionTimeoutMs: SESSION_MS });
  await admin.heartbeat(group, memberId);
  return memberId;
}

beforeAll(async () => {
  await log.createTopic({ name: topic, partitions: 2 });
  for (const partition of [0, 1]) {
    await log.produceRecords(topic, [{ key: null, value: Buffer.from("a"), partition }, { key: null, value: Buffer.from("b"), partition }]);
  }
  member = await joinSettled(live);
  leavers.push(await joinSettled(leaving), await joinSettled(leaving));
  for (const id of leavers) await admin.heartbeat(leaving, id);
  await admin.resetOffsets(resetting, { topic, to: { earliest: true } });
  beatAt = Date.now();
});

afterAll(async () => {
  console.log(summary("HTTP fuzz, group routes", results));
  await admin.leave(live, member);
  for (const id of leavers) await admin.leave(leaving, id);
});

/** Heartbeats the fixtures' members once a minute, so that long runs keep them live. */
async function keepAlive(): Promise<boolean> {
  if (Date.now() - beatAt < 60_000) return false;
  await admin.heartbeat(live, member);
  for (const id of leavers) await admin.heartbeat(leaving, id);
  beatAt = Date.now();
  return true;
}

/** What a request could change in a group: its members and its leases with their offsets.
 * Liveness and lag follow from the clock and the log, not from the request. */
async function groupState(group: string): Promise<unknown> {
  try {
    const d = await admin.describe(group);
    return {
      members: d.members.map(({ memberId, topics, sessionTimeoutMs, joinedAt, lastHeartbeatAt }) => ({ memberId, topics, sessionTimeoutMs, joinedAt, lastHeartbeatAt })),
      partitions: d.partitions.map(({ topic: t, partition, owner, epoch, committedOffset, metadata, revoking, pendingOwner }) => ({
        t,
        partition,
        owner,
        epoch,
        committedOffset,
        metadata,
        revoking,
        pendingOwner,
      })),
    };
  } catch (e) {
    if ((e as { kind?: string }).kind === "NotFound") return "absent";
    throw e;
  }
}

// ---- Values --------------------------------------------------------------------------------

/** A topic name in a body: the fixture topic mostly, else unknown, invalid or not a string. */
const topicValue = (valid: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: unknownName }, { weight: 1, arbitrary: badName }, { weight: 1, arbitrary: notAString });

const topicList = (valid: fc.Arbitrary<string>) =>
  fc.oneof(
    { weight: 6, arbitrary: fc.array(topicValue(valid), { minLength: 1, maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constantFrom([], Array.from({ length: 101 }, (_, i) => `nx-t${i}`)) },
    { weight: 1, arbitrary: notAString },
  );

/** A member id from the fixtures (by index), a valid unknown one, or an invalid one. */
type MemberRef = { readonly pool: number; readonly how: number } | { readonly id: string; readonly how: number };

const badMemberId = fc.oneof(badName, fc.constantFrom("a#b", "x".repeat(129), "a/b", "a b"));
const memberRef: fc.Arbitrary<MemberRef> = fc.oneof(
  { weight: 7, arbitrary: fc.record({ pool: fc.nat({ max: 1 }), how: fc.nat({ max: 19 }) }) },
  { weight: 1, arbitrary: fc.record({ id: fc.stringMatching(/^[a-zA-Z0-9._:-]{1,40}$/), how: fc.nat({ max: 19 }) }) },
  { weight: 2, arbitrary: fc.record({ id: badMemberId, how: fc.nat({ max: 19 }) }) },
);
const memberOf = (ref: MemberRef, pool: readonly string[]) => ("pool" in ref ? (pool[ref.pool % pool.length] as string) : ref.id);

/** A member id in a body: the fixture's member or anything else. */
const memberValue = fc.oneof(
  { weight: 6, arbitrary: fc.constant("the-member") },
  { weight: 1, arbitrary: fc.stringMatching(/^[a-zA-Z0-9._:-]{1,40}$/) },
  { weight: 1, arbitrary: badMemberId },
  { weight: 1, arbitrary: notAString },
);
const theMember = (v: unknown) => (v === "the-member" ? member : v);

const fuzzes: RouteFuzz<any>[] = [];
const add = <T>(route: RouteFuzz<T>) => fuzzes.push(route);

// ---- Membership ------------------------------------------------------------------------------

add({
  route: "POST /v1/groups/{group}/members",
  fn: "groups",
  input: fc.record({
    env: envelope,
    group: nameRef(2, { unknown: 0 }),
    body: jsonBody(
      fc.record({
        topics: topicList(fc.constant(topic)),
        sessionTimeoutMs: fc.oneof(intField(fc.integer({ min: 1000, max: SESSION_MS })), fc.constantFrom(999, SESSION_MS + 1)),
        memberId: fc.oneof({ weight: 6, arbitrary: absent }, { weight: 1, arbitrary: memberValue }),
      }),
    ),
  }),
  request: ({ env, group, body }) =>
    request(env, "POST", `/v1/groups/${pathName(group, [joining, unknown])}/members`, {
      body: bodyText(body, (f) => ({ ...f, memberId: theMember(f.memberId) })),
    }),
  state: async () => Promise.all([joining, unknown].map(groupState)),
  accepted: async ({ group }, result) => {
    // A join the fixtures did not plan (the live member's id renews it; any other id is new): leave again.
    const { memberId } = JSON.parse(result.body) as { memberId: string };
    if (memberId !== member) await admin.leave(nameOf(group, [joining, unknown]), memberId);
  },
});

const releasedEntry = fc.tuple(
  fc.record(
    {
      topic: topicValue(fc.constant(topic)),
      partition: intField(fc.integer({ min: 0, max: 2 })),
      epoch: intField(fc.integer({ min: 1, max: 6 })),
    },
    { requiredKeys: [] },
  ),
  extraKeys,
);

add({
  route: "POST /v1/groups/{group}/members/{memberId}/heartbeat",
  fn: "groups",
  input: fc.record({
    env: envelope,
    group: nameRef(1),
    memberId: memberRef,
    body: fc.oneof(
      { weight: 1, arbitrary: absent },
      {
        weight: 6,
        arbitrary: jsonBody(
          fc.record(
            {
              // The one valid subscription is the member's own: another would start a revocation
              // that, unanswered, fences the member (a state change of its own).
              topics: fc.oneof({ weight: 1, arbitrary: fc.constant([topic]) }, { weight: 2, arbitrary: topicList(fc.constant(topic)).filter((t) => !(Array.isArray(t) && t.length === 1 && t[0] === topic)) }),
              released: fc.oneof(
                { weight: 1, arbitrary: fc.constant([]) },
                { weight: 1, arbitrary: anyJson },
                { weight: 3, arbitrary: fc.array(releasedEntry.map(([r, x]) => ({ ...r, ...x })), { minLength: 1, maxLength: 2 }) },
              ),
            },
            { requiredKeys: [] },
          ),
        ),
      },
    ),
  }),
  request: ({ env, group, memberId, body }) =>
    request(env, "POST", `/v1/groups/${pathName(group, [live])}/members/${segment(memberOf(memberId, [member]), memberId.how)}/heartbeat`, {
      ...(body === undefined ? {} : { body: bodyText(body) }),
    }),
  state: () => groupState(live),
  refresh: keepAlive,
});

add({
  route: "DELETE /v1/groups/{group}/members/{memberId}",
  fn: "groups",
  input: fc.record({ env: envelope, group: nameRef(1), memberId: memberRef, body: fc.option(brokenJsonText) }),
  request: ({ env, group, memberId, body }) =>
    request(env, "DELETE", `/v1/groups/${pathName(group, [leaving])}/members/${segment(memberOf(memberId, leavers), memberId.how)}`, {
      ...(body === null ? {} : { body }),
    }),
  state: () => groupState(leaving),
  refresh: keepAlive,
  accepted: async ({ group, memberId }) => {
    const index = leavers.indexOf(memberOf(memberId, leavers));
    if (nameOf(group, [leaving]) === leaving && index >= 0) leavers[index] = await joinSettled(leaving);
  },
});

// ---- Commits -------------------------------------------------------------------------------

/** The live member's lease epochs by partition, as the commit route's state last read them. */
const epochs = new Map<number, number>();
/** Above every sequence the cases make up, and rising. */
let commitSequence = 2 ** 41;

const withCurrentEpoch = (o: unknown) => {
  if (typeof o !== "object" || o === null || (o as { epoch?: unknown }).epoch !== "current") return o;
  const entry = o as { partition?: unknown };
  return { ...entry, epoch: epochs.get(entry.partition as number) ?? 1 };
};

/** Offsets to commit: each field seldom wrong, so that commits also land, or are fenced. */
const offsetEntry = fc.tuple(
  fc.record(
    {
      topic: mostly(fc.constant(topic), fc.oneof(unknownName, badName, notAString)),
      partition: mostly(fc.integer({ min: 0, max: 1 }), fc.oneof(oddNumber, fc.constantFrom(2, undefined, "0"))),
      // "current": the epoch the live member holds the partition at now (released leases come back at the next one).
      epoch: mostly(fc.oneof({ weight: 4, arbitrary: fc.constant("current") }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 4 }) }), fc.oneof(oddNumber, fc.constantFrom(0, undefined, "1"))),
      offset: mostly(fc.integer({ min: 0, max: 10 }), fc.oneof(oddNumber, fc.constantFrom(undefined, "1", null))),
      metadata: fc.oneof({ weight: 3, arbitrary: absent }, { weight: 1, arbitrary: fc.oneof(fc.constant(null), fc.string({ maxLength: 10 })) }, { weight: 1, arbitrary: fc.oneof(fc.constant("m".repeat(4097)), notAString) }),
    },
    { requiredKeys: [] },
  ),
  extraKeys,
);

add({
  route: "POST /v1/groups/{group}/commits",
  fn: "groups",
  input: fc.record({
    env: envelope,
    group: nameRef(1),
    body: jsonBody(
      fc.record({
        memberId: memberValue,
        offsets: fc.oneof(
          { weight: 6, arbitrary: fc.array(offsetEntry.map(([o, x]) => ({ ...o, ...x })), { minLength: 1, maxLength: 2 }) },
          { weight: 1, arbitrary: fc.constantFrom([], undefined) },
          { weight: 1, arbitrary: anyJson },
        ),
        // The member's commit sequence (optional): "next" is above every earlier one; an older one is refused.
        sequence: fc.oneof(
          { weight: 4, arbitrary: absent },
          { weight: 3, arbitrary: fc.constant("next") },
          { weight: 1, arbitrary: fc.integer({ min: 1, max: 2 ** 40 }) },
          { weight: 1, arbitrary: intField(fc.integer({ min: 1, max: 3 })) },
        ),
      }),
    ),
  }),
  request: ({ env, group, body }) =>
    request(env, "POST", `/v1/groups/${pathName(group, [live])}/commits`, {
      body: bodyText(body, (f) => ({
        ...f,
        memberId: theMember(f.memberId),
        sequence: f.sequence === "next" ? ++commitSequence : f.sequence,
        offsets: Array.isArray(f.offsets) ? f.offsets.map(withCurrentEpoch) : f.offsets,
      })),
    }),
  state: async () => {
    const state = await groupState(live);
    for (const p of (state as { partitions: { t: string; partition: number; epoch: number }[] }).partitions) {
      if (p.t === topic) epochs.set(p.partition, p.epoch);
    }
    return state;
  },
  refresh: keepAlive,
});

// ---- Describe, list, reset -----------------------------------------------------------------

add({
  route: "GET /v1/groups",
  fn: "groups",
  input: fc.record({ env: envelope, query: fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 2 }), body: fc.option(brokenJsonText) }),
  request: ({ env, query, body }) => request(env, "GET", "/v1/groups", { query, ...(body === null ? {} : { body }) }),
});

add({
  route: "GET /v1/groups/{group}",
  fn: "groups",
  input: fc.record({ env: envelope, group: nameRef(3) }),
  request: ({ env, group }) => request(env, "GET", `/v1/groups/${pathName(group, [live, resetting, leaving])}`),
});

const resetTo = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom("earliest", "latest") },
  { weight: 2, arbitrary: intField(fc.integer({ min: 0, max: 2 ** 45 })).map((timestamp) => ({ timestamp })) },
  { weight: 2, arbitrary: intField(fc.integer({ min: 0, max: 10 })).map((offset) => ({ offset })) },
  { weight: 2, arbitrary: fc.constantFrom({ timestamp: 1, offset: 1 }, {}, { earliest: true }, "Earliest", "now", { offset: "1" }) },
  { weight: 1, arbitrary: fc.oneof(notAString, absent) },
);

add({
  route: "POST /v1/groups/{group}/reset",
  fn: "groups",
  input: fc.record({
    env: envelope,
    group: nameRef(3, { unknown: 0 }),
    body: jsonBody(
      fc.record({
        topic: mostly(fc.constant(topic), fc.oneof(unknownName, badName, notAString, absent)),
        to: resetTo,
        dryRun: fc.oneof({ weight: 2, arbitrary: absent }, { weight: 2, arbitrary: fc.boolean() }, { weight: 1, arbitrary: notAString }),
      }),
    ),
  }),
  request: ({ env, group, body }) => request(env, "POST", `/v1/groups/${pathName(group, [resetting, live, unknown])}/reset`, { body: bodyText(body) }),
  state: async () => Promise.all([resetting, live, unknown].map(groupState)),
  refresh: keepAlive,
});

describe("HTTP fuzz: consumer-group routes", () => {
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
