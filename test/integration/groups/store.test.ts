import { afterAll, describe, expect, it } from "vitest";
import type { LeaseWrite, MemberState } from "../../../src/core/groups/model.ts";
import { DynamoGroupStore } from "../../../src/storage/groups-store.ts";
import { testClients, testEnv, uniqueName } from "../../helpers/stack.ts";

const { dynamo } = testClients();
const store = new DynamoGroupStore({ client: dynamo, tableName: testEnv()["SEGLOG_TABLE"] ?? "seglog" });
afterAll(() => dynamo.destroy());

const member = (memberId: string, now: number): MemberState => ({
  memberId,
  topics: ["t1", "t2"],
  sessionTimeoutMs: 1000,
  joinedAt: now,
  lastHeartbeatAt: now,
  expiresAt: now + 1000,
});

const lease = (change: LeaseWrite["change"], expect: LeaseWrite["expect"], now = 1): LeaseWrite => ({
  topic: "t1",
  partition: 3,
  expect,
  change,
  now,
});

describe("DynamoGroupStore on the local stack", () => {
  it("creates, renews, expires and deletes members under their conditions", async () => {
    const group = uniqueName("store-m");
    expect(await store.createMember(group, member("a", 1000), 99)).toBe(true);
    expect(await store.createMember(group, member("a", 1000), 99)).toBe(false);
    expect(await store.renewMember(group, "a", { now: 1500, ttl: 99, topics: ["t3"] })).toEqual({ renewed: true, previousExpiresAt: 2000 });
    expect(await store.renewMember(group, "a", { now: 1400, ttl: 99 })).toEqual({ renewed: false, reason: "stale" });
    expect(await store.renewMember(group, "a", { now: 2600, ttl: 99 })).toEqual({ renewed: false, reason: "notLive" });
    expect(await store.renewMember(group, "nobody", { now: 1600, ttl: 99 })).toEqual({ renewed: false, reason: "notLive" });
    const { members } = await store.readGroup(group);
    expect(members).toEqual([{ ...member("a", 1000), topics: ["t3"], lastHeartbeatAt: 1500, expiresAt: 2500 }]);

    expect(await store.expireMember(group, "a", 1499, 1600)).toBe(false);
    expect(await store.expireMember(group, "a", 1500, 1600)).toBe(true);
    expect(await store.renewMember(group, "a", { now: 1700, ttl: 99 })).toEqual({ renewed: false, reason: "notLive" });
    expect(await store.deleteMember(group, "a", 1499)).toBe(false);
    expect(await store.deleteMember(group, "a", 1500)).toBe(true);
    expect(await store.deleteMember(group, "a")).toBe(true);
    expect((await store.readGroup(group)).members).toEqual([]);
  });

  it("keeps a member's joinId, and reads the members alone without the group's leases", async () => {
    const group = uniqueName("store-j");
    expect(await store.createMember(group, { ...member("a", 1000), joinId: "j-1" }, 99)).toBe(true);
    expect(await store.createMember(group, member("b", 1000), 99)).toBe(true);
    expect(await store.writeLease(group, lease({ type: "acquire", owner: "a" }, { exists: false }))).not.toBeNull();
    const members = await store.readMembers(group);
    expect(members.sort((x, y) => x.memberId.localeCompare(y.memberId))).toEqual([{ ...member("a", 1000), joinId: "j-1" }, member("b", 1000)]);
    expect((await store.readGroup(group)).leases).toHaveLength(1);
  });

  it("reads one topic's leases and deletes a lease only at the owner and epoch expected", async () => {
    const group = uniqueName("store-d");
    const on = (topic: string, partition: number): LeaseWrite => ({ topic, partition, expect: { exists: false }, change: { type: "acquire", owner: "a" }, now: 1 });
    for (const w of [on("t1", 0), on("t1", 1), on("t10", 0), on("t", 0)]) expect(await store.writeLease(group, w)).not.toBeNull();
    expect((await store.readLeases(group, "t1")).map((l) => `${l.topic}-${l.partition}`)).toEqual(["t1-0", "t1-1"]);
    expect(await store.deleteLease(group, { topic: "t1", partition: 0 }, { owner: "a", epoch: 2 })).toBe(false);
    expect(await store.deleteLease(group, { topic: "t1", partition: 0 }, { owner: null, epoch: 1 })).toBe(false);
    expect(await store.deleteLease(group, { topic: "t1", partition: 0 }, { owner: "a", epoch: 1 })).toBe(true);
    expect(await store.writeLease(group, { topic: "t1", partition: 1, expect: { exists: true, owner: "a", epoch: 1 }, change: { type: "release" }, now: 2 })).not.toBeNull();
    expect(await store.deleteLease(group, { topic: "t1", partition: 1 }, { owner: null, epoch: 2 })).toBe(true);
    expect((await store.readGroup(group)).leases.map((l) => l.topic).sort()).toEqual(["t", "t10"]);
  });

  it("applies every lease transition only from the expected owner and epoch", async () => {
    const group = uniqueName("store-l");
    expect(await store.writeLease(group, lease({ type: "release" }, { exists: true, owner: "a", epoch: 1 }))).toBeNull();
    const acquired = await store.writeLease(group, lease({ type: "acquire", owner: "a" }, { exists: false }, 10));
    expect(acquired).toEqual({
      topic: "t1", partition: 3, owner: "a", epoch: 1, checkpoint: null, metadata: null, pendingOwner: null, revokeRequestedAt: null, updatedAt: 10,
    });
    expect(await store.writeLease(group, lease({ type: "acquire", owner: "b" }, { exists: false }))).toBeNull();
    expect(await store.writeLease(group, lease({ type: "acquire", owner: "b" }, { exists: true, owner: null, epoch: 1 }))).toBeNull();

    const commit = { topic: "t1", partition: 3, memberId: "a", epoch: 1, offset: 12345678901234567890n, metadata: "x", now: 11, sequence: null };
    // ordered commits: a lower sequence at the same epoch arrived late and is refused; the same one (a retry) lands
    expect(await store.commitOffset(group, { ...commit, offset: 9n, sequence: 7 })).toBe(true);
    expect(await store.commitOffset(group, { ...commit, offset: 8n, sequence: 6 })).toBe(false);
    expect(await store.commitOffset(group, { ...commit, offset: 9n, sequence: 7 })).toBe(true);
    expect((await store.readGroup(group)).leases[0]).toMatchObject({ checkpoint: 9n, commitSequence: { epoch: 1, sequence: 7 } });
    expect(await store.commitOffset(group, commit)).toBe(true);
    expect(await store.commitOffset(group, { ...commit, epoch: 2, offset: 1n })).toBe(false);
    expect(await store.commitOffset(group, { ...commit, memberId: "b", offset: 1n })).toBe(false);
    expect(await store.commitOffset(group, { ...commit, partition: 4 })).toBe(false);

    const revoked = await store.writeLease(group, lease({ type: "revoke", pendingOwner: "b" }, { exists: true, owner: "a", epoch: 1 }, 20));
    expect(revoked).toMatchObject({ owner: "a", epoch: 1, pendingOwner: "b", revokeRequestedAt: 20, checkpoint: 12345678901234567890n, metadata: "x" });
    const again = await store.writeLease(group, lease({ type: "revoke", pendingOwner: null }, { exists: true, owner: "a", epoch: 1 }, 30));
    expect(again).toMatchObject({ pendingOwner: null, revokeRequestedAt: 20, updatedAt: 30 });
    const unrevoked = await store.writeLease(group, lease({ type: "unrevoke" }, { exists: true, owner: "a", epoch: 1 }, 31));
    expect(unrevoked).toMatchObject({ owner: "a", epoch: 1, revokeRequestedAt: null, pendingOwner: null });
    await store.writeLease(group, lease({ type: "revoke", pendingOwner: "b" }, { exists: true, owner: "a", epoch: 1 }, 32));
    const released = await store.writeLease(group, lease({ type: "release" }, { exists: true, owner: "a", epoch: 1 }, 40));
    expect(released).toMatchObject({ owner: null, epoch: 2, pendingOwner: "b", revokeRequestedAt: null, checkpoint: 12345678901234567890n });
    expect(await store.commitOffset(group, { ...commit, offset: 1n })).toBe(false);

    const taken = await store.writeLease(group, lease({ type: "acquire", owner: "b" }, { exists: true, owner: null, epoch: 2 }, 50));
    expect(taken).toMatchObject({ owner: "b", epoch: 3, pendingOwner: null });
    expect(await store.writeLease(group, lease({ type: "reset", checkpoint: 5n }, { exists: true, owner: "b", epoch: 2 }))).toBeNull();
    const reset = await store.writeLease(group, lease({ type: "reset", checkpoint: 5n }, { exists: true, owner: "b", epoch: 3 }, 60));
    expect(reset).toMatchObject({ owner: null, epoch: 4, checkpoint: 5n, metadata: null });
    const created = await store.writeLease(group, { ...lease({ type: "reset", checkpoint: 7n }, { exists: false }, 70), partition: 0 });
    expect(created).toMatchObject({ topic: "t1", partition: 0, owner: null, epoch: 1, checkpoint: 7n });

    expect((await store.readGroup(group)).leases.map((l) => [l.partition, l.epoch, l.checkpoint])).toEqual([
      [0, 1, 7n],
      [3, 4, 5n],
    ]);
  });

  it("registers and lists groups", async () => {
    const group = uniqueName("store-r");
    expect(await store.groupExists(group)).toBe(false);
    await store.registerGroup(group, 1);
    await store.registerGroup(group, 2);
    expect(await store.groupExists(group)).toBe(true);
    expect(await store.listGroups()).toContain(group);
  });
});
