/**
 * Planning: from (group snapshot, now) to the conditional writes one request should make.
 * A heartbeat changes only the caller's own leases and the leases it acquires, so concurrent
 * heartbeats of different members rarely contend (docs/consumer-groups.md, "Flows").
 */
import { conflict } from "../errors.ts";
import { targetAssignment } from "./assignment.ts";
import { isLive, leaseKey, mayHold, takeableAt } from "./model.ts";
import type { GroupSnapshot, LeaseState, LeaseWrite, MemberState, PartitionRef } from "./model.ts";
import { applyLeaseWrite } from "./transitions.ts";

export interface ReleasedLease extends PartitionRef {
  readonly epoch: number;
}

export interface HeartbeatPlanInput {
  readonly memberId: string;
  readonly snapshot: GroupSnapshot;
  readonly partitionCounts: ReadonlyMap<string, number>;
  /** Leases the member acknowledges having given up (after being told to revoke, or voluntarily). */
  readonly released: readonly ReleasedLease[];
  readonly now: number;
  readonly takeoverMarginMs: number;
  /** How long an owner may take to acknowledge a revocation before it is fenced. */
  readonly revokeTimeoutMs: number;
}

export interface HeartbeatPlan {
  /** Applied first: the rest of the plan assumes they succeeded. */
  readonly releases: readonly LeaseWrite[];
  /** The member ignored a revocation for too long: expire its session instead of going on. */
  readonly fence: boolean;
  readonly writes: readonly LeaseWrite[];
  /** Dead members that own nothing, for the live member with the smallest id to delete. */
  readonly deleteMembers: readonly MemberState[];
}

export function planHeartbeat(input: HeartbeatPlanInput): HeartbeatPlan {
  const { memberId: me, now } = input;
  const members = new Map(input.snapshot.members.map((m) => [m.memberId, m]));
  const leases = new Map(input.snapshot.leases.map((l) => [leaseKey(l), l]));

  const releases: LeaseWrite[] = [];
  for (const r of input.released) {
    const lease = leases.get(leaseKey(r));
    if (lease === undefined || lease.owner !== me || lease.epoch !== r.epoch) continue;
    const write: LeaseWrite = {
      topic: r.topic,
      partition: r.partition,
      expect: { exists: true, owner: me, epoch: r.epoch },
      change: { type: "release" },
      now,
    };
    releases.push(write);
    const next = applyLeaseWrite(lease, write);
    if (next !== null) leases.set(leaseKey(r), next);
  }

  const overdue = [...leases.values()].some(
    (l) => l.owner === me && l.revokeRequestedAt !== null && now - l.revokeRequestedAt > input.revokeTimeoutMs,
  );
  if (overdue) return { releases, fence: true, writes: [], deleteMembers: [] };

  const live = [...members.values()].filter((m) => isLive(m, now));
  const target = targetAssignment({
    members: live,
    partitionCounts: input.partitionCounts,
    leases: [...leases.values()].map((l) => ({ ...l, revoking: l.revokeRequestedAt !== null })),
  });

  const writes: LeaseWrite[] = [];
  for (const lease of leases.values()) {
    if (lease.owner !== me) continue;
    const to = target.get(leaseKey(lease))?.memberId ?? null;
    const expect = { exists: true, owner: me, epoch: lease.epoch } as const;
    if (to !== me) {
      if (lease.revokeRequestedAt === null || lease.pendingOwner !== to) {
        writes.push({ ...ref(lease), expect, change: { type: "revoke", pendingOwner: to }, now });
      }
    } else if (lease.revokeRequestedAt !== null) {
      writes.push({ ...ref(lease), expect, change: { type: "unrevoke" }, now });
    }
  }

  for (const [key, to] of target) {
    if (to.memberId !== me) continue;
    const lease = leases.get(key);
    if (lease === undefined) {
      writes.push({ ...ref(to), expect: { exists: false }, change: { type: "acquire", owner: me }, now });
    } else if (lease.owner !== me && takeable(lease, members, now, input.takeoverMarginMs)) {
      writes.push({
        ...ref(lease),
        expect: { exists: true, owner: lease.owner, epoch: lease.epoch },
        change: { type: "acquire", owner: me },
        now,
      });
    }
  }

  const cleaner = live.map((m) => m.memberId).sort()[0];
  const owners = new Set([...leases.values()].map((l) => l.owner));
  const deleteMembers =
    cleaner === me
      ? [...members.values()].filter(
          (m) => now > takeableAt(m, input.takeoverMarginMs) && !owners.has(m.memberId),
        )
      : [];

  return { releases, fence: false, writes, deleteMembers };
}

/** Leave: give up every lease the member owns. */
export function planLeave(memberId: string, snapshot: GroupSnapshot, now: number): LeaseWrite[] {
  return snapshot.leases
    .filter((l) => l.owner === memberId)
    .map((l) => ({
      ...ref(l),
      expect: { exists: true, owner: memberId, epoch: l.epoch },
      change: { type: "release" },
      now,
    }));
}

export interface ResetPlanInput {
  readonly snapshot: GroupSnapshot;
  readonly topic: string;
  /** The topic's id, kept with each checkpoint (`LeaseState.checkpointTopicId`). */
  readonly topicId?: string;
  /** New committed offset per partition. */
  readonly offsets: ReadonlyMap<number, bigint>;
  readonly now: number;
  readonly takeoverMarginMs: number;
}

/**
 * Reset: only while no member may still be processing (live, or within its session plus the
 * margin). Each write is conditional on the epoch as read, so a member that joins meanwhile and
 * acquires a lease makes that partition's reset fail rather than be silently overwritten.
 */
export function planReset(input: ResetPlanInput): LeaseWrite[] {
  assertGroupEmpty(input.snapshot, input.now, input.takeoverMarginMs);
  const leases = new Map(input.snapshot.leases.map((l) => [leaseKey(l), l]));
  return [...input.offsets].map(([partition, checkpoint]): LeaseWrite => {
    const lease = leases.get(leaseKey({ topic: input.topic, partition }));
    return {
      topic: input.topic,
      partition,
      expect: lease === undefined ? { exists: false } : { exists: true, owner: lease.owner, epoch: lease.epoch },
      change: input.topicId === undefined ? { type: "reset", checkpoint } : { type: "reset", checkpoint, topicId: input.topicId },
      now: input.now,
    };
  });
}

/** Throws `Conflict` (GroupNotEmpty) while any member is live or may still be processing. */
export function assertGroupEmpty(snapshot: GroupSnapshot, now: number, takeoverMarginMs: number): void {
  const busy = snapshot.members.filter((m) => mayHold(m, now, takeoverMarginMs));
  if (busy.length > 0) {
    const waitMs = Math.max(...busy.map((m) => takeableAt(m, takeoverMarginMs))) - now;
    throw conflict(
      `group has ${busy.length} active member(s) (one that stopped without leaving counts until its session timeout passes); offsets can be reset only while the group is empty`,
      { code: "GroupNotEmpty", retryAfterMs: Math.max(1, waitMs) },
    );
  }
}

export type GroupState = "Empty" | "Reconciling" | "Stable";

/** Empty without live members; Stable when every partition is with its target owner, unmarked. */
export function groupState(
  snapshot: GroupSnapshot,
  partitionCounts: ReadonlyMap<string, number>,
  now: number,
): GroupState {
  const live = snapshot.members.filter((m) => isLive(m, now));
  if (live.length === 0) return "Empty";
  const leases = new Map(snapshot.leases.map((l) => [leaseKey(l), l]));
  const target = targetAssignment({
    members: live,
    partitionCounts,
    leases: snapshot.leases.map((l) => ({ ...l, revoking: l.revokeRequestedAt !== null })),
  });
  for (const [key, to] of target) {
    const lease = leases.get(key);
    if (lease?.owner !== to.memberId || lease.revokeRequestedAt !== null) return "Reconciling";
  }
  const targeted = new Set(target.keys());
  const stray = snapshot.leases.some(
    (l) => l.owner !== null && !targeted.has(leaseKey(l)) && live.some((m) => m.memberId === l.owner),
  );
  return stray ? "Reconciling" : "Stable";
}

function takeable(
  lease: LeaseState,
  members: ReadonlyMap<string, MemberState>,
  now: number,
  takeoverMarginMs: number,
): boolean {
  if (lease.owner === null) return true;
  const owner = members.get(lease.owner);
  // Member ids are never reused, so a missing member item means it left or was deleted after
  // becoming takeable.
  return owner === undefined || now > takeableAt(owner, takeoverMarginMs);
}

function ref(r: PartitionRef): PartitionRef {
  return { topic: r.topic, partition: r.partition };
}
