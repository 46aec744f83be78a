/**
 * An in-memory `GroupStore` with the same conditional semantics as the DynamoDB adapter (both
 * follow `src/core/groups/transitions.ts`). For unit tests, the simulation, and handler tests.
 */
import { leaseKey } from "../core/groups/model.ts";
import type { GroupSnapshot, LeaseState, LeaseWrite, MemberState, OffsetCommit, PartitionRef } from "../core/groups/model.ts";
import { applyCommit, applyLeaseWrite, leaseMatches } from "../core/groups/transitions.ts";
import type { GroupStore, MemberRenewal, RenewOutcome } from "../storage/groups-store.ts";

interface GroupItems {
  readonly members: Map<string, MemberState>;
  readonly leases: Map<string, LeaseState>;
}

export class MemoryGroupStore implements GroupStore {
  private readonly groups = new Map<string, GroupItems>();
  private readonly registry = new Set<string>();

  async readGroup(group: string): Promise<GroupSnapshot> {
    const items = this.groups.get(group);
    return {
      members: [...(items?.members.values() ?? [])],
      leases: [...(items?.leases.values() ?? [])].sort(
        (a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition),
      ),
    };
  }

  async readMembers(group: string): Promise<MemberState[]> {
    return [...(this.groups.get(group)?.members.values() ?? [])];
  }

  async readLeases(group: string, topic: string): Promise<LeaseState[]> {
    return (await this.readGroup(group)).leases.filter((l) => l.topic === topic);
  }

  async deleteLease(group: string, lease: PartitionRef, expect: { readonly owner: string | null; readonly epoch: number }): Promise<boolean> {
    const items = this.items(group);
    if (!leaseMatches(items.leases.get(leaseKey(lease)), { exists: true, ...expect })) return false;
    items.leases.delete(leaseKey(lease));
    return true;
  }

  async createMember(group: string, member: MemberState): Promise<boolean> {
    const items = this.items(group);
    if (items.members.has(member.memberId)) return false;
    items.members.set(member.memberId, { ...member, topics: [...member.topics] });
    return true;
  }

  async renewMember(group: string, memberId: string, renewal: MemberRenewal): Promise<RenewOutcome> {
    const items = this.items(group);
    const member = items.members.get(memberId);
    if (member === undefined || !(member.expiresAt > renewal.now)) return { renewed: false, reason: "notLive" };
    if (member.lastHeartbeatAt > renewal.now) return { renewed: false, reason: "stale" };
    const next: MemberState = {
      ...member,
      topics: renewal.topics === undefined ? member.topics : [...renewal.topics],
      lastHeartbeatAt: renewal.now,
      expiresAt: renewal.now + member.sessionTimeoutMs,
    };
    items.members.set(memberId, next);
    return { renewed: true, previousExpiresAt: member.expiresAt };
  }

  async expireMember(group: string, memberId: string, lastHeartbeatAt: number, now: number): Promise<boolean> {
    const items = this.items(group);
    const member = items.members.get(memberId);
    if (member?.lastHeartbeatAt !== lastHeartbeatAt) return false;
    items.members.set(memberId, { ...member, expiresAt: now });
    return true;
  }

  async deleteMember(group: string, memberId: string, ifLastHeartbeatAt?: number): Promise<boolean> {
    const items = this.items(group);
    const member = items.members.get(memberId);
    if (ifLastHeartbeatAt !== undefined && member?.lastHeartbeatAt !== ifLastHeartbeatAt) return false;
    items.members.delete(memberId);
    return true;
  }

  async writeLease(group: string, write: LeaseWrite): Promise<LeaseState | null> {
    const items = this.items(group);
    const next = applyLeaseWrite(items.leases.get(leaseKey(write)), write);
    if (next !== null) items.leases.set(leaseKey(write), next);
    return next;
  }

  async commitOffset(group: string, commit: OffsetCommit): Promise<boolean> {
    const items = this.items(group);
    const next = applyCommit(items.leases.get(leaseKey(commit)), commit);
    if (next !== null) items.leases.set(leaseKey(commit), next);
    return next !== null;
  }

  async registerGroup(group: string): Promise<void> {
    this.registry.add(group);
  }

  async groupExists(group: string): Promise<boolean> {
    return this.registry.has(group);
  }

  async listGroups(): Promise<string[]> {
    return [...this.registry].sort();
  }

  private items(group: string): GroupItems {
    let items = this.groups.get(group);
    if (items === undefined) {
      items = { members: new Map(), leases: new Map() };
      this.groups.set(group, items);
    }
    return items;
  }
}
