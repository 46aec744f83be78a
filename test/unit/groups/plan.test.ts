import { describe, expect, it } from "vitest";
import { SeglogError } from "../../../src/core/errors.ts";
import type { GroupSnapshot, LeaseState, MemberState } from "../../../src/core/groups/model.ts";
import { groupState, planHeartbeat, planLeave, planReset } from "../../../src/core/groups/plan.ts";
import type { HeartbeatPlanInput } from "../../../src/core/groups/plan.ts";
import { applyCommit, applyLeaseWrite } from "../../../src/core/groups/transitions.ts";

const T = 1000;
const MARGIN = 100;

const member = (memberId: string, lastHeartbeatAt: number, topics = ["t"]): MemberState => ({
  memberId,
  topics,
  sessionTimeoutMs: T,
  joinedAt: 0,
  lastHeartbeatAt,
  expiresAt: lastHeartbeatAt + T,
});

const lease = (partition: number, owner: string | null, epoch: number, more: Partial<LeaseState> = {}): LeaseState => ({
  topic: "t",
  partition,
  owner,
  epoch,
  checkpoint: null,
  metadata: null,
  pendingOwner: null,
  revokeRequestedAt: null,
  updatedAt: 0,
  ...more,
});

const plan = (memberId: string, snapshot: GroupSnapshot, now: number, more: Partial<HeartbeatPlanInput> = {}) =>
  planHeartbeat({
    memberId,
    snapshot,
    partitionCounts: new Map([["t", 2]]),
    released: [],
    now,
    takeoverMarginMs: MARGIN,
    revokeTimeoutMs: T,
    ...more,
  });

const summary = (p: ReturnType<typeof planHeartbeat>) => p.writes.map((w) => `${w.change.type} ${w.partition}`);

describe("heartbeat planning", () => {
  it("acquires absent and free leases targeted to the member", () => {
    const p = plan("a", { members: [member("a", 0)], leases: [lease(1, null, 4)] }, 10);
    expect(p.writes).toEqual([
      { topic: "t", partition: 0, expect: { exists: false }, change: { type: "acquire", owner: "a" }, now: 10 },
      { topic: "t", partition: 1, expect: { exists: true, owner: null, epoch: 4 }, change: { type: "acquire", owner: "a" }, now: 10 },
    ]);
  });

  it("takes a dead member's lease only after its session plus the margin", () => {
    const snapshot = { members: [member("a", 2000), member("dead", 0)], leases: [lease(0, "dead", 3), lease(1, "a", 1)] };
    expect(summary(plan("a", snapshot, T + MARGIN))).toEqual([]);
    expect(plan("a", snapshot, T + MARGIN + 1).writes).toMatchObject([
      { partition: 0, expect: { exists: true, owner: "dead", epoch: 3 }, change: { type: "acquire", owner: "a" } },
    ]);
    // A member whose item is gone (left, or cleaned up) is takeable at once.
    expect(summary(plan("a", { members: [member("a", 0)], leases: [lease(0, "gone", 3), lease(1, "a", 1)] }, 10))).toEqual(["acquire 0"]);
  });

  it("asks an over-share owner to revoke, once, and never takes from a live owner", () => {
    const snapshot = { members: [member("a", 0), member("b", 0)], leases: [lease(0, "a", 1), lease(1, "a", 1)] };
    expect(summary(plan("b", snapshot, 10))).toEqual([]);
    const p = plan("a", snapshot, 10);
    expect(p.writes).toMatchObject([{ partition: 1, change: { type: "revoke", pendingOwner: "b" }, expect: { owner: "a", epoch: 1 } }]);
    const marked = { ...snapshot, leases: [lease(0, "a", 1), lease(1, "a", 1, { pendingOwner: "b", revokeRequestedAt: 10 })] };
    expect(summary(plan("a", marked, 20))).toEqual([]);
    // b died before taking it: a keeps it after all.
    const alone = { members: [member("a", 500)], leases: marked.leases };
    expect(summary(plan("a", alone, 600))).toEqual(["unrevoke 1"]);
  });

  it("releases acknowledged leases first (only at the epoch held) and plans as if they were free", () => {
    const snapshot = { members: [member("a", 0), member("b", 0)], leases: [lease(0, "a", 1), lease(1, "a", 1, { pendingOwner: "b", revokeRequestedAt: 5 })] };
    const stale = plan("a", snapshot, 10, { released: [{ topic: "t", partition: 1, epoch: 7 }] });
    expect(stale.releases).toEqual([]);
    const p = plan("a", snapshot, 10, { released: [{ topic: "t", partition: 1, epoch: 1 }] });
    expect(p.releases).toMatchObject([{ partition: 1, change: { type: "release" }, expect: { owner: "a", epoch: 1 } }]);
    expect(summary(p)).toEqual([]);
    expect(summary(plan("b", { ...snapshot, leases: [lease(0, "a", 1), lease(1, null, 2, { pendingOwner: "b" })] }, 10))).toEqual(["acquire 1"]);
  });

  it("fences an owner that has not acknowledged a revocation within the timeout", () => {
    const snapshot = { members: [member("a", 1000), member("b", 1000)], leases: [lease(0, "a", 1), lease(1, "a", 1, { pendingOwner: "b", revokeRequestedAt: 100 })] };
    expect(plan("a", snapshot, 100 + T).fence).toBe(false);
    expect(plan("a", snapshot, 101 + T)).toMatchObject({ fence: true, writes: [] });
  });

  it("lets only the live member with the smallest id delete dead members that own nothing", () => {
    const snapshot = { members: [member("a", 2000), member("b", 2000), member("dead", 0), member("owner", 0)], leases: [lease(0, "owner", 1)] };
    expect(plan("a", snapshot, 2000).deleteMembers.map((m) => m.memberId)).toEqual(["dead"]);
    expect(plan("b", snapshot, 2000).deleteMembers).toEqual([]);
  });
});

describe("leave, reset and state", () => {
  it("leave releases exactly the member's leases", () => {
    const writes = planLeave("a", { members: [], leases: [lease(0, "a", 2), lease(1, "b", 1)] }, 5);
    expect(writes).toEqual([{ topic: "t", partition: 0, expect: { exists: true, owner: "a", epoch: 2 }, change: { type: "release" }, now: 5 }]);
  });

  it("reset is refused until every member could have been taken over", () => {
    const snapshot = { members: [member("a", 0)], leases: [lease(0, "a", 2)] };
    const offsets = new Map([[0, 9n], [1, 4n]]);
    const attempt = (now: number) => () => planReset({ snapshot, topic: "t", offsets, now, takeoverMarginMs: MARGIN });
    expect(attempt(T + MARGIN)).toThrow(SeglogError);
    expect(attempt(T + MARGIN + 1)()).toEqual([
      { topic: "t", partition: 0, expect: { exists: true, owner: "a", epoch: 2 }, change: { type: "reset", checkpoint: 9n }, now: T + MARGIN + 1 },
      { topic: "t", partition: 1, expect: { exists: false }, change: { type: "reset", checkpoint: 4n }, now: T + MARGIN + 1 },
    ]);
  });

  it("reports Empty, Reconciling and Stable", () => {
    const counts = new Map([["t", 2]]);
    expect(groupState({ members: [member("a", 0)], leases: [] }, counts, T)).toBe("Empty");
    expect(groupState({ members: [member("a", 0)], leases: [lease(0, "a", 1)] }, counts, 10)).toBe("Reconciling");
    expect(groupState({ members: [member("a", 0)], leases: [lease(0, "a", 1), lease(1, "a", 1)] }, counts, 10)).toBe("Stable");
  });
});

describe("lease transitions", () => {
  it("apply only from the expected state, bump the epoch on owner changes, and keep the checkpoint", () => {
    const held = lease(0, "a", 3, { checkpoint: 40n, metadata: "m" });
    const write = (change: Parameters<typeof applyLeaseWrite>[1]["change"], owner: string | null, epoch: number) =>
      applyLeaseWrite(held, { topic: "t", partition: 0, expect: { exists: true, owner, epoch }, change, now: 9 });
    expect(write({ type: "release" }, "a", 2)).toBeNull();
    expect(write({ type: "release" }, "b", 3)).toBeNull();
    expect(write({ type: "release" }, "a", 3)).toMatchObject({ owner: null, epoch: 4, checkpoint: 40n });
    expect(write({ type: "acquire", owner: "b" }, "a", 3)).toMatchObject({ owner: "b", epoch: 4, checkpoint: 40n });
    expect(write({ type: "revoke", pendingOwner: "b" }, "a", 3)).toMatchObject({ owner: "a", epoch: 3, revokeRequestedAt: 9 });
    expect(write({ type: "reset", checkpoint: 1n }, "a", 3)).toMatchObject({ owner: null, epoch: 4, checkpoint: 1n, metadata: null });
    const commit = { topic: "t", partition: 0, memberId: "a", epoch: 3, offset: 50n, metadata: null, now: 9, sequence: null };
    expect(applyCommit(held, commit)).toMatchObject({ checkpoint: 50n });
    expect(applyCommit(held, { ...commit, epoch: 2 })).toBeNull();
    expect(applyCommit(undefined, commit)).toBeNull();
    const ordered = applyCommit(held, { ...commit, sequence: 5 });
    expect(ordered).toMatchObject({ checkpoint: 50n, commitSequence: { epoch: 3, sequence: 5 } });
    expect(applyCommit(ordered ?? undefined, { ...commit, offset: 45n, sequence: 4 })).toBeNull(); // late: would move back
    expect(applyCommit(ordered ?? undefined, { ...commit, offset: 60n, sequence: 5 })).toMatchObject({ checkpoint: 60n }); // a retry
    expect(applyCommit({ ...(ordered as NonNullable<typeof ordered>), epoch: 4 }, { ...commit, epoch: 4, offset: 1n, sequence: 1 })).toMatchObject({ checkpoint: 1n }); // a new epoch starts over
  });
});
