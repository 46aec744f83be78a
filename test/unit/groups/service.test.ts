import { describe, expect, it } from "vitest";
import { SeglogError } from "../../../src/core/errors.ts";
import { MemoryGroupStore } from "../../../src/groups/memory-store.ts";
import { GroupService } from "../../../src/groups/service.ts";
import type { AssignedPartition, GroupServiceOptions } from "../../../src/groups/service.ts";
import { FakeCatalog } from "./fakes.ts";

const T = 1500;
const MARGIN = 300;

function setup(options: Partial<GroupServiceOptions> = {}) {
  const clock = { now: 1_000_000 };
  const catalog = new FakeCatalog().createTopic("orders", 12).createTopic("audit", 4);
  const store = new MemoryGroupStore();
  let ids = 0;
  const service = new GroupService({
    store,
    catalog,
    sessionTimeoutMs: T,
    heartbeatIntervalMs: 300,
    takeoverMarginMs: MARGIN,
    maxClockSkewMs: 50,
    partitionCacheMs: 0,
    now: () => clock.now,
    newMemberId: () => `m${++ids}`,
    ...options,
  });
  return { clock, catalog, store, service };
}

type Service = GroupService;

/** A well-behaved member: acknowledges revocations on its next heartbeat. */
class Member {
  assignment: readonly AssignedPartition[] = [];
  constructor(
    readonly service: Service,
    readonly group: string,
    readonly memberId: string,
  ) {}

  static async join(service: Service, group: string, topics: string[]): Promise<Member> {
    const joined = await service.join(group, { topics });
    const m = new Member(service, group, joined.memberId);
    m.assignment = joined.assignment;
    return m;
  }

  async heartbeat(): Promise<readonly AssignedPartition[]> {
    const released = this.assignment.filter((a) => a.revoking).map(({ topic, partition, epoch }) => ({ topic, partition, epoch }));
    this.assignment = (await this.service.heartbeat(this.group, this.memberId, { released })).assignment;
    return this.assignment;
  }

  owned(topic = "orders"): number[] {
    return this.assignment.filter((a) => a.topic === topic && !a.revoking).map((a) => a.partition);
  }
}

async function rounds(members: Member[], n: number, clock?: { now: number }) {
  for (let i = 0; i < n; i++) {
    for (const m of members) await m.heartbeat();
    if (clock) clock.now += 100;
  }
}

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof SeglogError) return `${e.kind}${e.code === undefined ? "" : `/${e.code}`}`;
    throw e;
  }
}

describe("GroupService (in-memory store)", () => {
  it("joins, caps the heartbeat interval at a third of the session, and hands out free partitions", async () => {
    const { service } = setup();
    const joined = await service.join("g", { topics: ["orders"], sessionTimeoutMs: 1200 });
    expect(joined).toMatchObject({ memberId: "m1", sessionTimeoutMs: 1200, heartbeatIntervalMs: 300 });
    expect((await service.join("g", { topics: ["orders"], sessionTimeoutMs: 6000 })).heartbeatIntervalMs).toBe(300);
    expect(joined.assignment.map((a) => a.partition)).toEqual([...Array(12).keys()]);
    expect(joined.assignment.every((a) => a.epoch === 1 && a.committedOffset === null && !a.revoking)).toBe(true);
    expect(await service.list()).toEqual(["g"]);
  });

  it("splits 4/4/4, rebalances cooperatively to 3/3/3/3, moving only three partitions", async () => {
    const { service } = setup();
    const members: Member[] = [];
    for (let i = 0; i < 3; i++) members.push(await Member.join(service, "g", ["orders"]));
    await rounds(members, 3);
    expect(members.map((m) => m.owned().length)).toEqual([4, 4, 4]);
    const before = new Map(members.flatMap((m) => m.owned().map((p) => [p, m.memberId])));

    const fourth = await Member.join(service, "g", ["orders"]);
    expect(fourth.assignment).toEqual([]);
    await rounds(members, 1);
    // Each old member is told to revoke exactly one partition, and still holds it.
    expect(members.map((m) => m.assignment.filter((a) => a.revoking).length)).toEqual([1, 1, 1]);
    expect((await fourth.heartbeat()).length).toBe(0);
    await rounds([...members, fourth], 2);
    expect([...members, fourth].map((m) => m.owned().length)).toEqual([3, 3, 3, 3]);
    const moved = [...members, fourth].flatMap((m) => m.owned().filter((p) => before.get(p) !== m.memberId));
    expect(moved).toHaveLength(3);
    expect(fourth.owned()).toEqual(moved.sort((a, b) => a - b));
    expect((await service.describe("g")).state).toBe("Stable");
  });

  it("lets others take a silent member's partitions only after its session plus the margin", async () => {
    const { service, clock } = setup();
    const [a, b, c] = [await Member.join(service, "g", ["orders"]), await Member.join(service, "g", ["orders"]), await Member.join(service, "g", ["orders"])];
    await rounds([a, b, c], 3);
    const lost = c.owned();
    const epochs = new Map(c.assignment.map((x) => [x.partition, x.epoch]));
    const killedAt = clock.now;
    while (clock.now <= killedAt + T + MARGIN) {
      await rounds([a, b], 1);
      expect([...a.owned(), ...b.owned()].filter((p) => lost.includes(p))).toEqual([]);
      clock.now += 100;
    }
    await rounds([a, b], 2);
    expect([a.owned().length, b.owned().length]).toEqual([6, 6]);
    expect(await kindOf(c.heartbeat())).toBe("Fenced/UnknownMember");
    // Every moved lease got a new epoch.
    for (const x of [...a.assignment, ...b.assignment].filter((x) => lost.includes(x.partition))) {
      expect(x.epoch).toBeGreaterThan(epochs.get(x.partition) ?? Infinity);
    }
  });

  it("fences commits with a stale epoch or by a non-owner, and keeps the committed offset", async () => {
    const { service, clock } = setup();
    const a = await Member.join(service, "g", ["orders"]);
    const p0 = a.assignment.find((x) => x.partition === 0);
    expect(p0).toBeDefined();
    const ok = await service.commit("g", { memberId: a.memberId, offsets: [{ topic: "orders", partition: 0, epoch: 1, offset: 42n, metadata: "m" }] });
    expect(ok.partitions).toEqual([{ topic: "orders", partition: 0, offset: 42n, error: null }]);
    // Metadata is stored as UTF-8: one with a lone surrogate could not come back as sent.
    expect(await kindOf(service.commit("g", { memberId: a.memberId, offsets: [{ topic: "orders", partition: 0, epoch: 1, offset: 43n, metadata: "m\ud800" }] }))).toBe("Invalid");

    // a goes silent; b takes everything after the timeout; a's zombie commit is refused.
    const b = await Member.join(service, "g", ["orders"]);
    for (let i = 0; i < 10; i++) {
      clock.now += (T + MARGIN) / 5;
      await b.heartbeat();
    }
    expect(b.owned()).toHaveLength(12);
    expect(b.assignment.find((x) => x.partition === 0)).toMatchObject({ epoch: 2, committedOffset: 42n });
    const zombie = { memberId: a.memberId, offsets: [{ topic: "orders", partition: 0, epoch: 1, offset: 7n }] };
    expect(await kindOf(service.commit("g", zombie))).toBe("Fenced/UnknownMember"); // its session expired: no longer a member, as Kafka's UNKNOWN_MEMBER_ID
    expect(await kindOf(service.commit("g", { ...zombie, memberId: b.memberId }))).toBe("Fenced/StaleEpoch");
    const d = await service.describe("g");
    expect(d.partitions.find((p) => p.topic === "orders" && p.partition === 0)).toMatchObject({ committedOffset: 42n, owner: b.memberId, epoch: 2 });

    const mixed = await service.commit("g", {
      memberId: b.memberId,
      offsets: [
        { topic: "orders", partition: 0, epoch: 2, offset: 50n },
        { topic: "orders", partition: 1, epoch: 1, offset: 50n },
      ],
    });
    expect(mixed.partitions.map((p) => p.error?.kind ?? "ok")).toEqual(["ok", "Fenced"]);
  });

  it("answers NotFound, as Kafka's UNKNOWN_TOPIC_OR_PARTITION, for a commit to a partition or topic that does not exist", async () => {
    const { service, clock } = setup();
    const a = await Member.join(service, "g", ["orders"]);
    const commit = (offsets: Array<{ topic: string; partition: number }>) =>
      service.commit("g", { memberId: a.memberId, offsets: offsets.map((o) => ({ ...o, epoch: 1, offset: 5n })) });
    const mixed = await commit([
      { topic: "orders", partition: 0 },
      { topic: "orders", partition: 12 },
      { topic: "nope", partition: 0 },
    ]);
    expect(mixed.partitions.map((p) => [p.error?.kind ?? "ok", p.error?.message ?? ""])).toEqual([
      ["ok", ""],
      ["NotFound", "Topic 'orders' has no partition 12 (it has 12)"],
      ["NotFound", "Unknown topic 'nope'"],
    ]);
    const missing = await commit([{ topic: "orders", partition: 12 }, { topic: "nope", partition: 3 }]).catch((e: unknown) => e);
    expect(missing).toMatchObject({ kind: "NotFound", message: "Topic 'orders' has no partition 12 (it has 12); Unknown topic 'nope'" });
    // Beside a partition that exists at another epoch, the refusal as a whole is still the fence.
    const stale = service.commit("g", {
      memberId: a.memberId,
      offsets: [
        { topic: "orders", partition: 0, epoch: 9, offset: 5n },
        { topic: "orders", partition: 12, epoch: 1, offset: 5n },
      ],
    });
    expect(await kindOf(stale)).toBe("Fenced/StaleEpoch");
    // A member whose session expired, its item not yet cleaned up, is gone, as one that left.
    clock.now += T + MARGIN + 1;
    expect(await kindOf(service.commit("g", { memberId: a.memberId, offsets: [{ topic: "orders", partition: 0, epoch: 9, offset: 5n }] }))).toBe("Fenced/UnknownMember");
  });

  it("moves a lease on a release acknowledgement at once, and fences an owner that never releases", async () => {
    const { service, clock } = setup();
    const a = await Member.join(service, "g", ["orders"]);
    const b = await Member.join(service, "g", ["orders"]);
    await a.heartbeat();
    expect(a.assignment.filter((x) => x.revoking)).toHaveLength(6);
    await service.heartbeat("g", a.memberId, { released: [a.assignment.find((x) => x.revoking)!].map(({ topic, partition, epoch }) => ({ topic, partition, epoch })) });
    expect((await b.heartbeat()).map((x) => x.partition)).toHaveLength(1);

    // a keeps heartbeating but never acknowledges the other five.
    for (let i = 0; i < 3; i++) {
      clock.now += T / 3;
      expect((await service.heartbeat("g", a.memberId)).assignment.filter((x) => x.revoking)).toHaveLength(5);
      await b.heartbeat();
    }
    clock.now += 10;
    expect(await kindOf(service.heartbeat("g", a.memberId))).toBe("Fenced/RevokeTimeout");
    expect(await kindOf(service.heartbeat("g", a.memberId))).toBe("Fenced/UnknownMember");
    await b.heartbeat();
    expect(b.owned()).toHaveLength(1);
    clock.now += T / 2;
    await b.heartbeat();
    expect(b.owned()).toHaveLength(1);
    clock.now += T / 2 + MARGIN + 1;
    await b.heartbeat();
    expect(b.owned()).toHaveLength(12);
  });

  it("releases a leaving member's leases at once", async () => {
    const { service } = setup();
    const a = await Member.join(service, "g", ["orders"]);
    const b = await Member.join(service, "g", ["orders"]);
    await rounds([a, b], 3);
    await service.leave("g", a.memberId);
    await service.leave("g", a.memberId);
    expect(await b.heartbeat()).toHaveLength(12);
    expect(await kindOf(a.heartbeat())).toBe("Fenced/UnknownMember");
  });

  it("treats a join with a live memberId as a retry and replaces a dead one", async () => {
    const { service, clock } = setup();
    const a = await service.join("g", { topics: ["orders"] });
    const again = await service.join("g", { topics: ["orders", "audit"], memberId: a.memberId });
    expect(again.memberId).toBe(a.memberId);
    expect(again.assignment.filter((x) => x.topic === "audit")).toHaveLength(4);
    clock.now += T;
    const fresh = await service.join("g", { topics: ["orders"], memberId: a.memberId });
    expect(fresh.memberId).not.toBe(a.memberId);
  });

  it("answers a retried join (the same joinId) with the member its earlier attempt made while that member lives, so that a lost answer leaves no second member", async () => {
    const { service, clock } = setup();
    const first = await service.join("g", { topics: ["orders"], joinId: "j-1" }); // its answer lost
    clock.now += 400;
    const retry = await service.join("g", { topics: ["orders"], joinId: "j-1" });
    expect(retry.memberId).toBe(first.memberId);
    expect(retry.assignment).toHaveLength(12);
    expect((await service.describe("g")).members.map((m) => m.memberId)).toEqual([first.memberId]);
    // Another join is another member, and each gets its share at once.
    const other = await service.join("g", { topics: ["orders"], joinId: "j-2" });
    expect(other.memberId).not.toBe(first.memberId);
    // Once the member an attempt made is dead, a retry makes a new one: ids are never reused.
    clock.now += T;
    const late = await service.join("g", { topics: ["orders"], joinId: "j-1" });
    expect([first.memberId, other.memberId]).not.toContain(late.memberId);
  });

  it("makes a new member for a retried join whose earlier member was fenced meanwhile, where it answered Fenced", async () => {
    const { service, clock } = setup({ revokeTimeoutMs: 200 });
    const first = await service.join("g", { topics: ["orders"], joinId: "j-1" }); // its answer lost
    await Member.join(service, "g", ["orders"]); // a second member: the first's share is to move
    clock.now += 50;
    expect((await service.join("g", { topics: ["orders"], joinId: "j-1" })).memberId).toBe(first.memberId); // lost again; revocations asked
    clock.now += 300; // past the revocation timeout, nobody having heard of them
    const late = await service.join("g", { topics: ["orders"], joinId: "j-1" });
    expect(late.memberId).not.toBe(first.memberId);
    expect(await kindOf(service.heartbeat("g", first.memberId))).toBe("Fenced/UnknownMember");
  });

  it("picks up partitions added to a topic, and assigns each topic among its subscribers", async () => {
    const { service, catalog } = setup();
    const a = await Member.join(service, "g", ["orders", "audit"]);
    const b = await Member.join(service, "g", ["orders"]);
    await rounds([a, b], 3);
    expect([a.owned("orders").length, b.owned("orders").length]).toEqual([6, 6]);
    expect([a.owned("audit").length, b.owned("audit").length]).toEqual([4, 0]);
    catalog.addPartitions("orders", 14);
    await rounds([a, b], 3);
    expect([a.owned("orders").length, b.owned("orders").length]).toEqual([7, 7]);
    // b subscribes to audit too: audit splits 2/2.
    await service.heartbeat("g", b.memberId, { topics: ["audit", "orders"] });
    await rounds([a, b], 3);
    expect([a.owned("audit").length, b.owned("audit").length]).toEqual([2, 2]);
  });

  it("caches partition counts for partitionCacheMs", async () => {
    const { service, catalog, clock } = setup({ partitionCacheMs: 5000 });
    const a = await Member.join(service, "g", ["orders"]);
    catalog.addPartitions("orders", 13);
    expect(await a.heartbeat()).toHaveLength(12);
    for (let i = 0; i < 4; i++) {
      clock.now += 1000;
      expect(await a.heartbeat()).toHaveLength(12);
    }
    clock.now += 1000;
    expect(await a.heartbeat()).toHaveLength(13);
  });

  it("files a commit made just after its topic was created again under the name in the new topic, though partition counts are cached", async () => {
    const { service, catalog, clock } = setup({ partitionCacheMs: 5000 });
    const a = await Member.join(service, "g", ["orders"]);
    await service.commit("g", { memberId: a.memberId, offsets: [{ topic: "orders", partition: 0, epoch: 1, offset: 30n }] });
    catalog.deleteTopic("orders");
    catalog.createTopic("orders", 12);
    catalog.setOffsets("orders", 0, 0n, 50n);
    clock.now += 100; // within the cache's 5 s: the member goes on in the new topic, and commits
    await service.commit("g", { memberId: a.memberId, offsets: [{ topic: "orders", partition: 0, epoch: 1, offset: 50n }] });
    clock.now += 5000; // described once the cache knows the new topic
    expect((await service.describe("g")).partitions[0]).toMatchObject({ committedOffset: 50n, lag: 0n });
  });

  it("grants the partitions of a topic created again under the name without the old topic's committed offsets, though partition counts are cached", async () => {
    const { service, catalog, clock } = setup({ partitionCacheMs: 5000 });
    const a = await Member.join(service, "g", ["orders"]);
    await service.commit("g", { memberId: a.memberId, offsets: [{ topic: "orders", partition: 0, epoch: 1, offset: 30n }] });
    await service.leave("g", a.memberId);
    catalog.deleteTopic("orders");
    catalog.createTopic("orders", 12);
    clock.now += 100; // within the cache's 5 s, which still has the old topic's id
    const b = await Member.join(service, "g", ["orders"]);
    expect(b.assignment.find((p) => p.partition === 0)).toMatchObject({ committedOffset: null });
  });

  it("drops every group's leases of a deleted topic, committed offsets and all, once no member may hold them or subscribes to the name", async () => {
    const { service, catalog } = setup();
    const never = () => false;
    const gone = { name: "orders", topicId: "orders-1" };
    const a = await Member.join(service, "g", ["orders", "audit"]);
    const b = await Member.join(service, "h", ["orders"]);
    await service.commit("g", { memberId: a.memberId, offsets: [{ topic: "orders", partition: 0, epoch: 1, offset: 7n }] });
    await service.leave("h", b.memberId);
    catalog.deleteTopic("orders");
    // h's go. a still subscribes to the name in g: its leases stay, so that their epochs go on,
    // and a later call drops them (before, this said done, and nothing came back for them).
    expect(await service.dropDeletedTopic(gone, never)).toBe(false);
    expect((await service.describe("h")).partitions).toEqual([]);
    expect((await service.describe("g")).partitions.filter((p) => p.topic === "orders")).toHaveLength(12);
    // Subscribed elsewhere: its leases are revoked, but a holds them until its next heartbeat.
    a.assignment = (await service.heartbeat("g", a.memberId, { topics: ["audit"] })).assignment;
    expect(await service.dropDeletedTopic(gone, never)).toBe(false);
    expect((await service.describe("g")).partitions.filter((p) => p.topic === "orders")).toHaveLength(12);
    await a.heartbeat(); // released
    expect(await service.dropDeletedTopic(gone, never)).toBe(true);
    expect((await service.describe("g")).partitions.map((p) => p.topic)).toEqual(["audit", "audit", "audit", "audit"]);
  });

  it("under a name taken again, drops only the deleted topic's partitions past the new topic's count", async () => {
    const { service, catalog } = setup();
    const c = await Member.join(service, "k", ["orders"]);
    await service.commit("k", { memberId: c.memberId, offsets: [0, 5, 11].map((partition) => ({ topic: "orders", partition, epoch: 1, offset: 3n })) });
    await service.leave("k", c.memberId);
    catalog.deleteTopic("orders");
    catalog.createTopic("orders", 2); // orders-3
    const d = await Member.join(service, "k", ["audit"]);
    expect(await service.dropDeletedTopic({ name: "orders", topicId: "orders-1" }, () => false)).toBe(true);
    // Partitions 0 and 1 are the new topic's now (the old checkpoint is not: no committed offset).
    expect((await service.describe("k")).partitions.filter((p) => p.topic === "orders").map((p) => [p.partition, p.epoch, p.committedOffset])).toEqual([
      [0, 2, null],
      [1, 2, null],
    ]);
    expect(d.memberId).toBeDefined();
  });

  it("describes members, owners, committed offsets and lag; unknown groups are NotFound", async () => {
    const { service, catalog } = setup();
    catalog.setOffsets("orders", 3, 0n, 100n);
    const a = await Member.join(service, "g", ["orders"]);
    await service.commit("g", { memberId: a.memberId, offsets: [{ topic: "orders", partition: 3, epoch: 1, offset: 60n }] });
    const d = await service.describe("g");
    expect(d.state).toBe("Stable");
    expect(d.members).toMatchObject([{ memberId: a.memberId, live: true, partitions: 12, topics: ["orders"] }]);
    expect(d.partitions).toHaveLength(12);
    expect(d.partitions[3]).toMatchObject({ owner: a.memberId, ownerLive: true, epoch: 1, committedOffset: 60n, logEndOffset: 100n, lag: 40n });
    expect(d.partitions[4]).toMatchObject({ committedOffset: null, lag: null });
    expect(await kindOf(service.describe("nope"))).toBe("NotFound");
  });

  it("resets offsets only while the group is empty, resolving each target through the catalog", async () => {
    const { service, clock, catalog } = setup();
    for (let p = 0; p < 4; p++) catalog.setOffsets("audit", p, 10n, 50n);
    const a = await Member.join(service, "g", ["audit"]);
    await service.commit("g", { memberId: a.memberId, offsets: [{ topic: "audit", partition: 0, epoch: 1, offset: 30n }] });
    expect(await kindOf(service.resetOffsets("g", { topic: "audit", to: { earliest: true } }))).toBe("Conflict/GroupNotEmpty");
    // A member that stopped heartbeating still counts until its leases could be taken.
    clock.now += T + 1;
    expect(await kindOf(service.resetOffsets("g", { topic: "audit", to: { earliest: true } }))).toBe("Conflict/GroupNotEmpty");
    clock.now += MARGIN;

    const dry = await service.resetOffsets("g", { topic: "audit", to: { latest: true }, dryRun: true });
    expect(dry.partitions.map((p) => [p.previousOffset, p.offset])).toEqual([[30n, 50n], [null, 50n], [null, 50n], [null, 50n]]);
    expect((await service.describe("g")).partitions[0]?.committedOffset).toBe(30n);

    const offsetsAfter = async (to: Parameters<Service["resetOffsets"]>[1]["to"]) =>
      (await service.resetOffsets("g", { topic: "audit", to })).partitions.map((p) => p.offset);
    expect(await offsetsAfter({ earliest: true })).toEqual([10n, 10n, 10n, 10n]);
    expect(await offsetsAfter({ offset: 5n })).toEqual([10n, 10n, 10n, 10n]);
    expect(await offsetsAfter({ offset: 99n })).toEqual([50n, 50n, 50n, 50n]);
    expect(await offsetsAfter({ offset: 20n })).toEqual([20n, 20n, 20n, 20n]);
    expect(await offsetsAfter({ timestamp: 25_500 })).toEqual([26n, 26n, 26n, 26n]);
    expect(await offsetsAfter({ timestamp: 99_000 })).toEqual([50n, 50n, 50n, 50n]);
    expect((await service.describe("g")).partitions[0]).toMatchObject({ owner: null, committedOffset: 50n });

    // The zombie's commit cannot undo the reset, and a new member starts from it.
    expect(await kindOf(service.commit("g", { memberId: a.memberId, offsets: [{ topic: "audit", partition: 0, epoch: 1, offset: 31n }] }))).toBe("Fenced/UnknownMember"); // its session expired
    const b = await service.join("g", { topics: ["audit"] });
    expect(b.assignment.map((x) => x.committedOffset)).toEqual([50n, 50n, 50n, 50n]);
    expect(await kindOf(service.resetOffsets("g", { topic: "missing", to: { latest: true } }))).toBe("Conflict/GroupNotEmpty");
  });

  it("refuses a whole reset when a member joins while its offsets are looked up, rather than reset some partitions and not others", async () => {
    const { service, catalog } = setup();
    for (let p = 0; p < 4; p++) catalog.setOffsets("audit", p, 0n, 50n);
    const lookup = catalog.offsetForTimestamp.bind(catalog);
    let joined: Promise<unknown> | undefined;
    catalog.offsetForTimestamp = async (topic, partition, timestampMs) => {
      joined ??= service.join("g", { topics: ["audit"] });
      await joined;
      return lookup(topic, partition, timestampMs);
    };
    expect(await kindOf(service.resetOffsets("g", { topic: "audit", to: { timestamp: 20_000 } }))).toBe("Conflict/GroupNotEmpty");
    expect((await service.describe("g")).partitions.map((p) => p.committedOffset)).toEqual([null, null, null, null]);
  });

  it("refuses to answer a heartbeat whose renewal came too close to expiry to be safe", async () => {
    const { service, clock, store } = setup();
    const a = await service.join("g", { topics: ["orders"] });
    const slowRead = store.readGroup.bind(store);
    store.readGroup = async (group: string) => {
      clock.now += 600;
      return slowRead(group);
    };
    clock.now += T - 100;
    expect(await kindOf(service.heartbeat("g", a.memberId))).toBe("Throttled/SlowHeartbeat");
    // The renewal itself happened: the next heartbeat has a whole session of slack.
    expect((await service.heartbeat("g", a.memberId)).assignment).toHaveLength(12);
  });

  it("does not answer a renewal that landed after another server began taking the member's lease", async () => {
    const { service, clock, catalog, store } = setup();
    catalog.createTopic("solo", 1);
    const a = await service.join("g", { topics: ["solo"] });
    const b = await service.join("g", { topics: ["solo"] });
    expect(a.assignment).toHaveLength(1);

    // Hold back a's renewal and b's lease write, as a slow network or SDK retries would.
    const held: { renewal?: () => void; acquire?: () => void } = {};
    const renew = store.renewMember.bind(store);
    store.renewMember = async (group, memberId, renewal) => {
      if (memberId === a.memberId) await new Promise<void>((resolve) => (held.renewal = resolve));
      return renew(group, memberId, renewal);
    };
    const write = store.writeLease.bind(store);
    store.writeLease = async (group, w) => {
      if (w.change.type === "acquire" && w.change.owner === b.memberId) await new Promise<void>((resolve) => (held.acquire = resolve));
      return write(group, w);
    };
    const stepB = async () => {
      clock.now += 400;
      await service.heartbeat("g", b.memberId);
    };
    await stepB();
    await stepB();
    await stepB();
    // a sends its heartbeat 100 ms before its session ends; its renewal reaches the table only
    // after b has seen a's session end (plus the margin) and decided to take the lease.
    clock.now += 1500 - 1200 - 100;
    const aHeartbeat = kindOf(service.heartbeat("g", a.memberId));
    clock.now += 100 + MARGIN + 1;
    const bHeartbeat = service.heartbeat("g", b.memberId);
    await new Promise((resolve) => setImmediate(resolve));
    expect(held.acquire).toBeDefined();
    held.renewal?.();
    // Answering a now would hand it the lease b is about to own.
    expect(await aHeartbeat).toBe("Throttled/SlowHeartbeat");
    held.acquire?.();
    expect((await bHeartbeat).assignment).toHaveLength(1);
  });

  it("validates its input", async () => {
    const { service } = setup();
    expect(await kindOf(service.join("bad#group", { topics: ["orders"] }))).toBe("Invalid/InvalidGroupName");
    expect(await kindOf(service.join("g", { topics: [] }))).toBe("Invalid/InvalidTopics");
    expect(await kindOf(service.join("g", { topics: ["orders"], sessionTimeoutMs: 10 }))).toBe("Invalid");
    expect(await kindOf(service.heartbeat("g", "m#1"))).toBe("Invalid/InvalidMemberId");
    expect(await kindOf(service.join("g", { topics: ["orders"], joinId: "j#1" }))).toBe("Invalid/InvalidJoinId");
    expect(await kindOf(service.commit("g", { memberId: "m1", offsets: [{ topic: "orders", partition: 0, epoch: 1, offset: -1n }] }))).toBe("Invalid");
    expect(await kindOf(service.resetOffsets("g", { topic: "orders", to: { latest: false } as never }))).toBe("Invalid");
  });

  it("refuses a commit or a heartbeat naming more than 1000 partitions, before it writes anything", async () => {
    const { service, store } = setup();
    const a = await service.join("g", { topics: ["orders"] });
    const many = Array.from({ length: 1001 }, (_, partition) => ({ topic: "orders", partition, epoch: 1, offset: 1n }));
    expect(await kindOf(service.commit("g", { memberId: a.memberId, offsets: many }))).toBe("Invalid");
    expect(await kindOf(service.commit("g", { memberId: a.memberId, offsets: [] }))).toBe("Invalid");
    expect(await kindOf(service.heartbeat("g", a.memberId, { released: many }))).toBe("Invalid");
    expect((await store.readGroup("g")).leases.every((l) => l.checkpoint === null)).toBe(true);
    // 1000 is allowed: the partitions this member does not own are refused one by one.
    const result = await service.commit("g", { memberId: a.memberId, offsets: many.slice(0, 1000) });
    expect(result.partitions).toHaveLength(1000);
    expect(result.partitions.filter((p) => p.error === null)).toHaveLength(12);
  });
});
