/**
 * The target assignment: balanced and sticky, and deterministic in its input so that every
 * server computing it from the same group state gets the same answer.
 *
 * Per topic (in name order) with n partitions and m subscribed members, everyone gets ⌊n/m⌋ and
 * n mod m members get one more: first those with the fewest extras so far in earlier topics (so
 * identical subscriptions balance overall), then those owning the most settled (non-revoking)
 * partitions of this topic (so stickiness wins ties), then the smaller id. Each member keeps as
 * many of its partitions as its quota allows, settled ones first; the rest go to the pending owner
 * if it has room, else to the member with the most room.
 */
import { leaseKey } from "./model.ts";
import type { PartitionRef } from "./model.ts";

export interface AssignmentMember {
  readonly memberId: string;
  readonly topics: readonly string[];
}

export interface AssignmentLease {
  readonly topic: string;
  readonly partition: number;
  readonly owner: string | null;
  readonly pendingOwner: string | null;
  readonly revoking: boolean;
}

export interface AssignmentInput {
  /** Live members only. */
  readonly members: readonly AssignmentMember[];
  /** Partition count per topic; topics missing here have no partitions. */
  readonly partitionCounts: ReadonlyMap<string, number>;
  readonly leases: readonly AssignmentLease[];
}

export interface TargetEntry extends PartitionRef {
  readonly memberId: string;
}

/** Target owner per `leaseKey` for every partition of every subscribed topic. */
export function targetAssignment(input: AssignmentInput): Map<string, TargetEntry> {
  const target = new Map<string, TargetEntry>();
  const members = [...input.members].sort((a, b) => compareIds(a.memberId, b.memberId));
  const leaseByKey = new Map(input.leases.map((l) => [leaseKey(l), l]));
  const extras = new Map(members.map((m) => [m.memberId, 0]));
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort(compareIds);

  for (const topic of topics) {
    const n = input.partitionCounts.get(topic) ?? 0;
    const subscribers = members.filter((m) => m.topics.includes(topic)).map((m) => m.memberId);
    if (n === 0 || subscribers.length === 0) continue;
    const subscribed = new Set(subscribers);

    // Current holdings in this topic, settled partitions first, then by partition number.
    const owned = new Map<string, { partition: number; revoking: boolean }[]>(
      subscribers.map((id) => [id, []]),
    );
    for (let p = 0; p < n; p++) {
      const lease = leaseByKey.get(leaseKey({ topic, partition: p }));
      if (lease?.owner != null && subscribed.has(lease.owner)) {
        owned.get(lease.owner)?.push({ partition: p, revoking: lease.revoking });
      }
    }
    for (const list of owned.values()) {
      list.sort((a, b) => Number(a.revoking) - Number(b.revoking) || a.partition - b.partition);
    }
    const settled = (id: string) => (owned.get(id) ?? []).filter((o) => !o.revoking).length;

    const base = Math.floor(n / subscribers.length);
    const extraCount = n % subscribers.length;
    const byPreference = [...subscribers].sort(
      (a, b) =>
        (extras.get(a) ?? 0) - (extras.get(b) ?? 0) ||
        settled(b) - settled(a) ||
        (owned.get(b)?.length ?? 0) - (owned.get(a)?.length ?? 0) ||
        compareIds(a, b),
    );
    const room = new Map<string, number>();
    byPreference.forEach((id, i) => {
      const quota = base + (i < extraCount ? 1 : 0);
      if (i < extraCount) extras.set(id, (extras.get(id) ?? 0) + 1);
      const keep = (owned.get(id) ?? []).slice(0, quota);
      for (const o of keep) target.set(leaseKey({ topic, partition: o.partition }), { topic, partition: o.partition, memberId: id });
      room.set(id, quota - keep.length);
    });

    for (let p = 0; p < n; p++) {
      const key = leaseKey({ topic, partition: p });
      if (target.has(key)) continue;
      const pending = leaseByKey.get(key)?.pendingOwner ?? null;
      let chosen: string | undefined;
      if (pending !== null && (room.get(pending) ?? 0) > 0) {
        chosen = pending;
      } else {
        for (const id of subscribers) {
          if ((room.get(id) ?? 0) > (chosen === undefined ? 0 : (room.get(chosen) ?? 0))) chosen = id;
        }
      }
      if (chosen === undefined) throw new Error("assignment invariant: quotas must cover all partitions");
      target.set(key, { topic, partition: p, memberId: chosen });
      room.set(chosen, (room.get(chosen) ?? 0) - 1);
    }
  }
  return target;
}

/** Code-unit order, independent of locale. */
function compareIds(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
