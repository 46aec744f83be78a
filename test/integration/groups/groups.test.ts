/**
 * Consumer groups end to end on the local stack's DynamoDB, with real time: members run real
 * heartbeat loops against GroupService over DynamoGroupStore. The topic catalog is a fake (the
 * log engine's is exercised through the HTTP API in consumer.test.ts); everything below the SDK
 * is real.
 */
import { afterAll, describe, expect, it } from "vitest";
import { SeglogError } from "../../../src/core/errors.ts";
import { GroupService } from "../../../src/groups/service.ts";
import type { AssignedPartition } from "../../../src/groups/service.ts";
import { DynamoGroupStore } from "../../../src/storage/groups-store.ts";
import { testClients, testEnv, uniqueName } from "../../helpers/stack.ts";
import { FakeCatalog } from "../../unit/groups/fakes.ts";

const SESSION_TIMEOUT_MS = 1500;
const HEARTBEAT_MS = 250;

const { dynamo } = testClients();
const store = new DynamoGroupStore({ client: dynamo, tableName: testEnv()["SEGLOG_TABLE"] ?? "seglog" });
const catalog = new FakeCatalog();
const service = new GroupService({
  store,
  catalog,
  sessionTimeoutMs: SESSION_TIMEOUT_MS,
  heartbeatIntervalMs: HEARTBEAT_MS,
  takeoverMarginMs: 100,
  maxClockSkewMs: 25,
  partitionCacheMs: 0,
});
afterAll(() => dynamo.destroy());

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitFor(what: string, ok: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** A group member as the SDK will run one: heartbeat loop, acknowledges revocations at once. */
class LoopMember {
  assignment: readonly AssignedPartition[] = [];
  /** Every answer, to check that partitions a member keeps are never interrupted. */
  readonly answers: (readonly AssignedPartition[])[] = [];
  /** Each heartbeat answered: when it was sent and answered, and the partitions it held then. */
  readonly heartbeats: { sentAt: number; answeredAt: number; owned: number[] }[] = [];
  /** When the last heartbeat answered was sent: the server's session deadline is after this… */
  lastSuccessAt = 0;
  /** …and no later than this (when its answer came) plus the session timeout. */
  lastAnsweredAt = 0;
  private stopped = false;
  private readonly loop: Promise<void>;

  private constructor(
    readonly group: string,
    readonly memberId: string,
    assignment: readonly AssignedPartition[],
  ) {
    this.assignment = assignment;
    this.lastSuccessAt = this.lastAnsweredAt = Date.now();
    this.loop = this.run();
  }

  static async join(group: string, topics: string[]): Promise<LoopMember> {
    const joined = await service.join(group, { topics, sessionTimeoutMs: SESSION_TIMEOUT_MS });
    return new LoopMember(group, joined.memberId, joined.assignment);
  }

  owned(): number[] {
    return this.assignment.filter((a) => !a.revoking).map((a) => a.partition);
  }

  epochOf(partition: number): number {
    const a = this.assignment.find((x) => x.partition === partition);
    if (a === undefined) throw new Error(`${this.memberId} does not hold ${partition}`);
    return a.epoch;
  }

  /** Stops heartbeating without leaving, like a crashed process. */
  async kill(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  async leave(): Promise<void> {
    await this.kill();
    await service.leave(this.group, this.memberId);
  }

  private async run(): Promise<void> {
    while (!this.stopped) {
      const revoking = this.assignment.filter((a) => a.revoking);
      if (revoking.length === 0) await sleep(HEARTBEAT_MS);
      if (this.stopped) return;
      const released = revoking.map(({ topic, partition, epoch }) => ({ topic, partition, epoch }));
      const sentAt = Date.now();
      try {
        const answer = await service.heartbeat(this.group, this.memberId, { released });
        this.assignment = answer.assignment;
        this.answers.push(answer.assignment);
        this.lastSuccessAt = sentAt;
        this.lastAnsweredAt = Date.now();
        this.heartbeats.push({ sentAt, answeredAt: this.lastAnsweredAt, owned: this.owned() });
      } catch (error) {
        if (error instanceof SeglogError && error.kind === "Fenced") return;
        // As the SDK does: a retriable answer (a heartbeat too slow to answer safely, under load)
        // is heartbeated past, not the member's end.
        if (error instanceof SeglogError && error.retriable) continue;
        throw error;
      }
    }
  }
}

const counts = (members: LoopMember[]) => members.map((m) => m.owned().length);
const balanced = (members: LoopMember[], each: number) => counts(members).every((c) => c === each);

async function kindOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "ok";
  } catch (e) {
    if (e instanceof SeglogError) return e.kind;
    throw e;
  }
}

describe("consumer groups on DynamoDB", () => {
  it("splits 12 partitions 4/4/4, then 3/3/3/3 without interrupting the partitions that stay", async () => {
    const topic = uniqueName("orders");
    const group = uniqueName("g");
    catalog.createTopic(topic, 12);
    const members: LoopMember[] = [];
    for (let i = 0; i < 3; i++) members.push(await LoopMember.join(group, [topic]));
    await waitFor("4/4/4", () => balanced(members, 4));
    const before = new Map(members.flatMap((m) => m.owned().map((p) => [p, m])));

    const answered = members.map((m) => m.answers.length);
    const fourth = await LoopMember.join(group, [topic]);
    const all = [...members, fourth];
    await waitFor("3/3/3/3", () => balanced(all, 3));
    const moved = all.flatMap((m) => m.owned().filter((p) => before.get(p) !== m));
    expect(moved.sort((a, b) => a - b)).toEqual([...fourth.owned()].sort((a, b) => a - b));
    expect(moved).toHaveLength(3);
    // The partitions an old member kept were in every answer it got, never revoking.
    members.forEach((m, i) => {
      const kept = m.owned();
      const sinceFourthJoined = m.answers.slice(answered[i]);
      expect(sinceFourthJoined.length).toBeGreaterThan(1);
      for (const answer of sinceFourthJoined) {
        for (const p of kept) expect(answer.find((a) => a.partition === p)?.revoking).toBe(false);
      }
    });
    const d = await service.describe(group);
    expect(d.state).toBe("Stable");
    expect(d.members.filter((m) => m.live).map((m) => m.partitions)).toEqual([3, 3, 3, 3]);
    await Promise.all(all.map((m) => m.leave()));
    expect((await service.describe(group)).state).toBe("Empty");
  });

  it("moves a killed member's partitions once its session lapses, within two of each heir's heartbeats after, from its last commit", async () => {
    const topic = uniqueName("orders");
    const group = uniqueName("g");
    catalog.createTopic(topic, 12);
    const members = [await LoopMember.join(group, [topic]), await LoopMember.join(group, [topic]), await LoopMember.join(group, [topic])];
    await waitFor("4/4/4", () => balanced(members, 4));
    const [a, b, victim] = members as [LoopMember, LoopMember, LoopMember];
    const lost = victim.owned();
    const p = lost[0] ?? -1;
    await service.commit(group, { memberId: victim.memberId, offsets: [{ topic, partition: p, epoch: victim.epochOf(p), offset: 77n }] });

    await victim.kill();
    await waitFor("the lost partitions to move", () => balanced([a, b], 6), 10 * SESSION_TIMEOUT_MS);
    // The session timeout plus two heartbeats, counted in heartbeats, not milliseconds, so that a
    // slow DynamoDB does not decide it: each lost partition went to its heir with an answer that
    // came after the victim's deadline (nobody got it before), to a heartbeat sent no later than
    // the heir's second one sent after it.
    for (const lostPartition of lost) {
      const heir = [a, b].find((m) => m.owned().includes(lostPartition)) as LoopMember;
      const took = heir.heartbeats.find((h) => h.owned.includes(lostPartition));
      expect(took?.answeredAt).toBeGreaterThanOrEqual(victim.lastSuccessAt + SESSION_TIMEOUT_MS);
      const secondSurelyAfter = heir.heartbeats.filter((h) => h.sentAt >= victim.lastAnsweredAt + SESSION_TIMEOUT_MS)[1];
      expect(took?.sentAt).toBeLessThanOrEqual(secondSurelyAfter?.sentAt ?? Number.POSITIVE_INFINITY);
    }
    const heir = [a, b].find((m) => m.owned().includes(p));
    expect(heir?.assignment.find((x) => x.partition === p)?.committedOffset).toBe(77n);
    await Promise.all([a.leave(), b.leave()]);
  });

  it("refuses a zombie's commit with an old epoch and keeps the committed offset", async () => {
    const topic = uniqueName("orders");
    const group = uniqueName("g");
    catalog.createTopic(topic, 2);
    const zombie = await LoopMember.join(group, [topic]);
    const epoch = zombie.epochOf(0);
    await service.commit(group, { memberId: zombie.memberId, offsets: [{ topic, partition: 0, epoch, offset: 10n }] });
    await zombie.kill();
    const heir = await LoopMember.join(group, [topic]);
    await waitFor("the heir to own both", () => heir.owned().length === 2, 2 * SESSION_TIMEOUT_MS);
    expect(heir.epochOf(0)).toBeGreaterThan(epoch);

    const zombieCommit = service.commit(group, { memberId: zombie.memberId, offsets: [{ topic, partition: 0, epoch, offset: 3n }] });
    expect(await kindOf(zombieCommit)).toBe("Fenced");
    const stale = service.commit(group, { memberId: heir.memberId, offsets: [{ topic, partition: 0, epoch, offset: 3n }] });
    expect(await kindOf(stale)).toBe("Fenced");
    const d = await service.describe(group);
    expect(d.partitions.find((x) => x.partition === 0)).toMatchObject({ owner: heir.memberId, committedOffset: 10n });
    await heir.leave();
  });

  it("refuses to reset offsets while members are live, then resets to the latest offsets", async () => {
    const topic = uniqueName("orders");
    const group = uniqueName("g");
    catalog.createTopic(topic, 3);
    for (let p = 0; p < 3; p++) catalog.setOffsets(topic, p, 0n, BigInt(100 + p));
    const m = await LoopMember.join(group, [topic]);
    expect(await kindOf(service.resetOffsets(group, { topic, to: { latest: true } }))).toBe("Conflict");
    await m.leave();
    const reset = await service.resetOffsets(group, { topic, to: { latest: true } });
    expect(reset.partitions.map((p) => [p.offset, p.error])).toEqual([[100n, null], [101n, null], [102n, null]]);
    const d = await service.describe(group);
    expect(d.partitions.map((p) => p.lag)).toEqual([0n, 0n, 0n]);
    const back = await service.join(group, { topics: [topic] });
    expect(back.assignment.map((a) => a.committedOffset)).toEqual([100n, 101n, 102n]);
    await service.leave(group, back.memberId);
  });

  it("starts a topic deleted and created again under its name as if the group had committed nothing there, as Kafka drops a deleted topic's offsets", async () => {
    const topic = uniqueName("recreated");
    const group = uniqueName("g");
    catalog.createTopic(topic, 2);
    for (let p = 0; p < 2; p++) catalog.setOffsets(topic, p, 0n, 5n);
    const before = await LoopMember.join(group, [topic]);
    await service.commit(group, { memberId: before.memberId, offsets: [{ topic, partition: 0, epoch: before.epochOf(0), offset: 3n }] });
    await before.leave();
    const reset = await service.resetOffsets(group, { topic, to: { offset: 2n } });
    expect(reset.partitions.map((p) => p.previousOffset)).toEqual([3n, null]);
    expect((await service.describe(group)).partitions.map((p) => p.committedOffset)).toEqual([2n, 2n]);

    // A member that commits once the topic is gone (as the SDK does on giving partitions back).
    const holder = await service.join(group, { topics: [topic] });
    catalog.deleteTopic(topic);
    await service.commit(group, { memberId: holder.memberId, offsets: [{ topic, partition: 0, epoch: holder.assignment[0]!.epoch, offset: 7n }] });
    await service.leave(group, holder.memberId);
    catalog.createTopic(topic, 2);
    for (let p = 0; p < 2; p++) catalog.setOffsets(topic, p, 0n, 10n);
    expect((await service.describe(group)).partitions.map((p) => [p.committedOffset, p.lag])).toEqual([[null, null], [null, null]]);
    const after = await service.join(group, { topics: [topic] });
    expect(after.assignment.map((a) => a.committedOffset)).toEqual([null, null]);
    // What the group commits in the new topic counts, as ever.
    await service.commit(group, { memberId: after.memberId, offsets: [{ topic, partition: 1, epoch: after.assignment[1]!.epoch, offset: 4n }] });
    expect((await service.describe(group)).partitions.map((p) => p.committedOffset)).toEqual([null, 4n]);
    await service.leave(group, after.memberId);
  });

  it("keeps two groups on one topic independent", async () => {
    const topic = uniqueName("orders");
    const [g1, g2] = [uniqueName("g1"), uniqueName("g2")];
    catalog.createTopic(topic, 12);
    const one = [await LoopMember.join(g1, [topic]), await LoopMember.join(g1, [topic])];
    const two = await LoopMember.join(g2, [topic]);
    await waitFor("6/6 and 12", () => balanced(one, 6) && two.owned().length === 12);
    const p = one[0]?.owned()[0] ?? -1;
    await service.commit(g1, { memberId: one[0]!.memberId, offsets: [{ topic, partition: p, epoch: one[0]!.epochOf(p), offset: 5n }] });
    expect(await kindOf(service.commit(g2, { memberId: one[0]!.memberId, offsets: [{ topic, partition: p, epoch: 1, offset: 9n }] }))).toBe("Fenced");
    const [d1, d2] = await Promise.all([service.describe(g1), service.describe(g2)]);
    expect(d1.partitions.find((x) => x.partition === p)?.committedOffset).toBe(5n);
    expect(d2.partitions.find((x) => x.partition === p)?.committedOffset).toBeNull();
    expect(await service.list()).toEqual(expect.arrayContaining([g1, g2]));
    await Promise.all([...one, two].map((m) => m.leave()));
  });
});
