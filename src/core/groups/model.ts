/**
 * The state of a consumer group as stored: member items and lease items (docs/consumer-groups.md).
 * Times are epoch milliseconds from the server's clock; offsets are bigint.
 */

/** Max partitions in one commit, and in one heartbeat's `released` list: each is a write of its own. */
export const MAX_PARTITIONS_PER_REQUEST = 1000;

export interface MemberState {
  readonly memberId: string;
  /** Topics this member subscribes to, sorted and unique. */
  readonly topics: readonly string[];
  readonly sessionTimeoutMs: number;
  readonly joinedAt: number;
  readonly lastHeartbeatAt: number;
  /** Heartbeats are accepted while `now < expiresAt`; a fenced member has `expiresAt` in the past. */
  readonly expiresAt: number;
  /** The client's token for the join that made this member: a retry of that join answers it. */
  readonly joinId?: string;
}

/** The topic id a commit keeps when the topic does not exist (deleted under the member, which
 * commits on giving its partitions back): no topic created later has it. */
export const NO_TOPIC = "-";

export interface LeaseState {
  readonly topic: string;
  readonly partition: number;
  readonly owner: string | null;
  /** Bumped by every change of owner (acquire, release, reset); commits name it. */
  readonly epoch: number;
  /** Committed offset: the next offset to consume. */
  readonly checkpoint: bigint | null;
  /** The id of the topic the checkpoint was committed in: a topic deleted and created again
   * under the name has another, and the checkpoint is not its (absent: not known). */
  readonly checkpointTopicId?: string;
  readonly metadata: string | null;
  /** The member the target gives this partition to while the owner is asked to revoke. */
  readonly pendingOwner: string | null;
  /** Set while the owner has been asked to revoke (kept from the first request). */
  readonly revokeRequestedAt: number | null;
  readonly updatedAt: number;
  /** The sequence of the last commit that named one, and the epoch it was made at: a commit at
   * that epoch with a lower sequence arrived late and is refused. */
  readonly commitSequence?: { readonly epoch: number; readonly sequence: number };
}

export interface GroupSnapshot {
  readonly members: readonly MemberState[];
  readonly leases: readonly LeaseState[];
}

export interface PartitionRef {
  readonly topic: string;
  readonly partition: number;
}

/** The state a conditional lease write requires: absent, or exactly this owner and epoch. */
export type LeaseExpectation =
  | { readonly exists: false }
  | { readonly exists: true; readonly owner: string | null; readonly epoch: number };

export type LeaseChange =
  | { readonly type: "acquire"; readonly owner: string }
  | { readonly type: "revoke"; readonly pendingOwner: string | null }
  | { readonly type: "unrevoke" }
  | { readonly type: "release" }
  | { readonly type: "reset"; readonly checkpoint: bigint; readonly topicId?: string };

/** One planned single-item conditional write on a lease. */
export interface LeaseWrite extends PartitionRef {
  readonly expect: LeaseExpectation;
  readonly change: LeaseChange;
  readonly now: number;
}

/** A commit: applies only while the lease has this owner and epoch. */
export interface OffsetCommit extends PartitionRef {
  readonly memberId: string;
  readonly epoch: number;
  readonly offset: bigint;
  readonly metadata: string | null;
  readonly now: number;
  /** The topic's id as the server knows it (see `LeaseState.checkpointTopicId`). */
  readonly topicId?: string;
  /** Increases with each commit request of the member; null: not ordered (any commit at the epoch lands). */
  readonly sequence: number | null;
}

export const leaseKey = (ref: PartitionRef): string => `${ref.topic}#${ref.partition}`;

export const isLive = (member: MemberState, now: number): boolean => now < member.expiresAt;

/** When others may take this member's leases: after its own deadline plus a margin for skew. */
export const takeableAt = (member: MemberState, takeoverMarginMs: number): number =>
  member.lastHeartbeatAt + member.sessionTimeoutMs + takeoverMarginMs;

/** Whether the member may still be processing: live, or within its session plus the margin. */
export const mayHold = (member: MemberState, now: number, takeoverMarginMs: number): boolean =>
  now <= takeableAt(member, takeoverMarginMs);
