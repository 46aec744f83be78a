/**
 * The lease state machine as pure functions: what each conditional write requires and produces.
 * The DynamoDB adapter encodes exactly these conditions as expressions; the in-memory store and
 * the planner call these functions directly.
 */
import type { LeaseExpectation, LeaseState, LeaseWrite, OffsetCommit } from "./model.ts";

export function leaseMatches(lease: LeaseState | undefined, expect: LeaseExpectation): boolean {
  if (!expect.exists) return lease === undefined;
  return lease !== undefined && lease.owner === expect.owner && lease.epoch === expect.epoch;
}

/** The lease after `write`, or null when its condition does not hold (nothing changes). */
export function applyLeaseWrite(lease: LeaseState | undefined, write: LeaseWrite): LeaseState | null {
  if (!leaseMatches(lease, write.expect)) return null;
  const base: LeaseState = lease ?? {
    topic: write.topic,
    partition: write.partition,
    owner: null,
    epoch: 0,
    checkpoint: null,
    metadata: null,
    pendingOwner: null,
    revokeRequestedAt: null,
    updatedAt: write.now,
  };
  const change = write.change;
  switch (change.type) {
    case "acquire":
      return {
        ...base,
        owner: change.owner,
        epoch: base.epoch + 1,
        pendingOwner: null,
        revokeRequestedAt: null,
        updatedAt: write.now,
      };
    case "revoke":
      return {
        ...base,
        pendingOwner: change.pendingOwner,
        revokeRequestedAt: base.revokeRequestedAt ?? write.now,
        updatedAt: write.now,
      };
    case "unrevoke":
      return { ...base, pendingOwner: null, revokeRequestedAt: null, updatedAt: write.now };
    case "release":
      // pendingOwner stays as a hint: the freed lease goes to the member it was revoked for.
      return { ...base, owner: null, epoch: base.epoch + 1, revokeRequestedAt: null, updatedAt: write.now };
    case "reset":
      return {
        ...withCheckpointTopic(base, change.topicId),
        owner: null,
        epoch: base.epoch + 1,
        checkpoint: change.checkpoint,
        metadata: null,
        pendingOwner: null,
        revokeRequestedAt: null,
        updatedAt: write.now,
      };
  }
}

/** The lease after a commit, or null when the committer is not the owner at that epoch. */
export function applyCommit(lease: LeaseState | undefined, commit: OffsetCommit): LeaseState | null {
  if (lease === undefined || lease.owner !== commit.memberId || lease.epoch !== commit.epoch) return null;
  const last = lease.commitSequence;
  const committed = { ...withCheckpointTopic(lease, commit.topicId), checkpoint: commit.offset, metadata: commit.metadata, updatedAt: commit.now };
  if (commit.sequence === null) return committed;
  if (last !== undefined && last.epoch === commit.epoch && last.sequence > commit.sequence) return null;
  return { ...committed, commitSequence: { epoch: commit.epoch, sequence: commit.sequence } };
}

function withCheckpointTopic(lease: LeaseState, topicId: string | undefined): LeaseState {
  const { checkpointTopicId: _, ...rest } = lease;
  return topicId === undefined ? rest : { ...rest, checkpointTopicId: topicId };
}
