import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { targetAssignment } from "../../../src/core/groups/assignment.ts";
import type { AssignmentInput, AssignmentLease, TargetEntry } from "../../../src/core/groups/assignment.ts";

const TOPICS = ["a", "b", "c"];

/** Random groups: members with subscriptions, partition counts, and leases owned by anyone (or dead ids). */
const inputArb = (identical: boolean) =>
  fc
    .record({
      memberCount: fc.integer({ min: 1, max: 8 }),
      counts: fc.array(fc.integer({ min: 0, max: 24 }), { minLength: 3, maxLength: 3 }),
      subs: fc.array(fc.subarray(TOPICS, { minLength: 1 }), { minLength: 8, maxLength: 8 }),
      owners: fc.array(fc.integer({ min: -3, max: 7 }), { minLength: 72, maxLength: 72 }),
      revoking: fc.array(fc.boolean(), { minLength: 72, maxLength: 72 }),
    })
    .map(({ memberCount, counts, subs, owners, revoking }): AssignmentInput => {
      const members = Array.from({ length: memberCount }, (_, i) => ({
        memberId: `m${i}`,
        topics: identical ? TOPICS : (subs[i] ?? TOPICS),
      }));
      const partitionCounts = new Map(TOPICS.map((t, i) => [t, counts[i] ?? 0]));
      const leases: AssignmentLease[] = [];
      TOPICS.forEach((topic, ti) => {
        for (let p = 0; p < (counts[ti] ?? 0); p++) {
          const o = owners[ti * 24 + p] ?? -1;
          if (o === -1) continue;
          // Negative or too-large indexes stand for members that are not live.
          const owner = o >= 0 && o < memberCount ? `m${o}` : `dead${o}`;
          leases.push({ topic, partition: p, owner, pendingOwner: null, revoking: revoking[ti * 24 + p] ?? false });
        }
      });
      return { members, partitionCounts, leases };
    });

function countsByMember(input: AssignmentInput, target: Map<string, TargetEntry>, topic?: string): Map<string, number> {
  const counts = new Map(input.members.map((m) => [m.memberId, 0]));
  for (const t of target.values()) {
    if (topic !== undefined && t.topic !== topic) continue;
    counts.set(t.memberId, (counts.get(t.memberId) ?? 0) + 1);
  }
  return counts;
}

const spread = (counts: Iterable<number>): number => {
  const values = [...counts];
  return values.length === 0 ? 0 : Math.max(...values) - Math.min(...values);
};

describe("target assignment", () => {
  it("assigns every partition of a subscribed topic to one of its subscribers, balanced per topic", () => {
    fc.assert(
      fc.property(inputArb(false), (input) => {
        const target = targetAssignment(input);
        for (const topic of TOPICS) {
          const subscribers = input.members.filter((m) => m.topics.includes(topic)).map((m) => m.memberId);
          const n = subscribers.length === 0 ? 0 : (input.partitionCounts.get(topic) ?? 0);
          const entries = [...target.values()].filter((t) => t.topic === topic);
          expect(entries.map((e) => e.partition).sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
          for (const e of entries) expect(subscribers).toContain(e.memberId);
          const perTopic = countsByMember(input, target, topic);
          expect(spread(subscribers.map((id) => perTopic.get(id) ?? 0))).toBeLessThanOrEqual(1);
        }
      }),
    );
  });

  it("balances the totals when every member subscribes to the same topics", () => {
    fc.assert(
      fc.property(inputArb(true), (input) => {
        expect(spread(countsByMember(input, targetAssignment(input)).values())).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("is sticky: a live owner with at most ⌊n/m⌋ partitions of a topic keeps them all", () => {
    fc.assert(
      fc.property(inputArb(false), (input) => {
        const target = targetAssignment(input);
        for (const topic of TOPICS) {
          const subscribers = input.members.filter((m) => m.topics.includes(topic)).map((m) => m.memberId);
          const floor = Math.floor((input.partitionCounts.get(topic) ?? 0) / Math.max(1, subscribers.length));
          for (const owner of subscribers) {
            const leases = input.leases.filter((l) => l.topic === topic && l.owner === owner);
            if (leases.length > floor) continue;
            for (const l of leases) expect(target.get(`${topic}#${l.partition}`)?.memberId).toBe(owner);
          }
        }
      }),
    );
  });

  it("moves only the necessary partitions of a topic", () => {
    const singleTopic = inputArb(true).map((input) => ({
      ...input,
      members: input.members.map((m) => ({ ...m, topics: ["a"] })),
      leases: input.leases.map((l) => ({ ...l, revoking: false })),
    }));
    fc.assert(
      fc.property(singleTopic, (input) => {
        const target = targetAssignment(input);
        const live = new Set(input.members.map((m) => m.memberId));
        const n = input.partitionCounts.get("a") ?? 0;
        const m = input.members.length;
        const floor = Math.floor(n / m);
        const owned = new Map<string, number>();
        let moved = 0;
        for (const l of input.leases) {
          if (l.topic !== "a" || l.owner === null || !live.has(l.owner)) continue;
          owned.set(l.owner, (owned.get(l.owner) ?? 0) + 1);
          if (target.get(`a#${l.partition}`)?.memberId !== l.owner) moved++;
        }
        // Optimal: the n mod m extra slots go to those owning the most; everyone sheds down to
        // its slot.
        const sizes = [...owned.values()].sort((a, b) => b - a);
        const optimal = sizes.reduce((sum, size, i) => sum + Math.max(0, size - (i < n % m ? floor + 1 : floor)), 0);
        expect(moved).toBe(optimal);
      }),
    );
  });

  it("is a fixed point: once every partition is with its target owner, the target stays", () => {
    fc.assert(
      fc.property(inputArb(false), (input) => {
        const target = targetAssignment(input);
        const settled: AssignmentInput = {
          ...input,
          leases: [...target.values()].map((t) => ({ ...t, owner: t.memberId, pendingOwner: null, revoking: false })),
        };
        expect(targetAssignment(settled)).toEqual(target);
      }),
    );
  });

  it("does not depend on the order members and leases are listed in", () => {
    fc.assert(
      fc.property(inputArb(false), (input) => {
        const reversed = { ...input, members: [...input.members].reverse(), leases: [...input.leases].reverse() };
        expect(targetAssignment(reversed)).toEqual(targetAssignment(input));
      }),
    );
  });

  it("splits 12 partitions 4/4/4, then moves exactly 3 to a fourth member", () => {
    const three = ["m1", "m2", "m3"].map((memberId) => ({ memberId, topics: ["a"] }));
    const counts = new Map([["a", 12]]);
    const first = targetAssignment({ members: three, partitionCounts: counts, leases: [] });
    expect([...countsByMember({ members: three, partitionCounts: counts, leases: [] }, first).values()]).toEqual([4, 4, 4]);
    const leases = [...first.values()].map((t) => ({ ...t, owner: t.memberId, pendingOwner: null, revoking: false }));
    const four = [...three, { memberId: "m4", topics: ["a"] }];
    const second = targetAssignment({ members: four, partitionCounts: counts, leases });
    expect([...countsByMember({ members: four, partitionCounts: counts, leases }, second).values()]).toEqual([3, 3, 3, 3]);
    const moved = [...second.values()].filter((t) => first.get(`a#${t.partition}`)?.memberId !== t.memberId);
    expect(moved.map((t) => t.memberId)).toEqual(["m4", "m4", "m4"]);
  });

  it("gives a freed partition to the member it was revoked for", () => {
    const members = ["m1", "m2", "m3"].map((memberId) => ({ memberId, topics: ["a"] }));
    const leases: AssignmentLease[] = [
      { topic: "a", partition: 0, owner: "m1", pendingOwner: null, revoking: false },
      { topic: "a", partition: 1, owner: null, pendingOwner: "m3", revoking: false },
      { topic: "a", partition: 2, owner: "m2", pendingOwner: null, revoking: false },
    ];
    const target = targetAssignment({ members, partitionCounts: new Map([["a", 3]]), leases });
    expect(target.get("a#1")?.memberId).toBe("m3");
  });
});
