/**
 * Consumer groups: membership, lease assignment, fenced commits, describe and reset
 * (docs/consumer-groups.md). Stateless between calls except for a short partition-count cache,
 * so any number of server instances can serve the same group.
 */
import { randomUUID } from "node:crypto";
import { mapConcurrent } from "../core/concurrency.ts";
import { conflict, fenced, invalid, isSeglogError, noSuchPartition, notFound, SeglogError, unknownTopic } from "../core/errors.ts";
import type { ErrorBody } from "../core/errors.ts";
import { NO_TOPIC, isLive, leaseKey, mayHold } from "../core/groups/model.ts";
import type { GroupSnapshot, LeaseState, MemberState, PartitionRef } from "../core/groups/model.ts";
import { assertGroupEmpty, groupState, planHeartbeat, planLeave, planReset } from "../core/groups/plan.ts";
import type { GroupState, ReleasedLease } from "../core/groups/plan.ts";
import type { GroupStore } from "../storage/groups-store.ts";
import type { TopicCatalog } from "./catalog.ts";
import {
  checkGroupName,
  checkInt,
  checkJoinId,
  checkMemberId,
  checkMetadata,
  checkOffset,
  checkPartitionList,
  checkTopicName,
  checkTopics,
} from "./validate.ts";

export interface GroupServiceOptions {
  readonly store: GroupStore;
  readonly catalog: TopicCatalog;
  /** Default session timeout for joins that do not name one. @default 30000 */
  readonly sessionTimeoutMs?: number;
  /** @default 1000 */
  readonly minSessionTimeoutMs?: number;
  /** @default 300000 */
  readonly maxSessionTimeoutMs?: number;
  /** Heartbeat interval told to members (capped at a third of their session). @default 3000 */
  readonly heartbeatIntervalMs?: number;
  /**
   * Extra wait after an owner's session before its leases may be taken. Must exceed twice the
   * clock skew between server instances. @default 1000
   */
  readonly takeoverMarginMs?: number;
  /** The largest clock difference assumed between server instances. @default 100 */
  readonly maxClockSkewMs?: number;
  /** How long an owner may take to acknowledge a revocation; @default the member's session timeout */
  readonly revokeTimeoutMs?: number;
  /** How long a topic's partition count is cached. @default 5000 */
  readonly partitionCacheMs?: number;
  /** Server clock, epoch milliseconds. @default Date.now */
  readonly now?: () => number;
  /** @default crypto.randomUUID */
  readonly newMemberId?: () => string;
}

export interface AssignedPartition {
  readonly topic: string;
  readonly partition: number;
  readonly epoch: number;
  readonly committedOffset: bigint | null;
  /** Stop fetching, commit, then acknowledge with `released` on the next heartbeat. */
  readonly revoking: boolean;
}

export interface JoinRequest {
  readonly topics: readonly string[];
  /** A live member's id makes the join an idempotent retry; an unknown or dead one is replaced. */
  readonly memberId?: string;
  /**
   * The client's token for this join, the same on each of its retries (a fresh UUID per join): a
   * retry whose earlier attempt made a member that is still live answers that member, where it
   * would otherwise make a second one, and the first, whose answer was lost, would hold its share
   * of partitions until its session lapsed.
   */
  readonly joinId?: string;
  readonly sessionTimeoutMs?: number;
}

export interface JoinResult {
  readonly memberId: string;
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly assignment: readonly AssignedPartition[];
}

export interface HeartbeatRequest {
  /** A new subscription. */
  readonly topics?: readonly string[];
  /** Leases given up since the last heartbeat, with the epoch they were held at. */
  readonly released?: readonly ReleasedLease[];
}

export interface HeartbeatResult {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly assignment: readonly AssignedPartition[];
}

export interface OffsetToCommit {
  readonly topic: string;
  readonly partition: number;
  readonly epoch: number;
  readonly offset: bigint;
  readonly metadata?: string | null;
  /** The id of the topic the offset is in, when the member knows it: an offset in a topic since
   * deleted and created again under the name counts as no commit in the new one. @default the topic under the name now */
  readonly topicId?: string;
}

export interface CommitRequest {
  readonly memberId: string;
  readonly offsets: readonly OffsetToCommit[];
  /** Increases with each commit request of the member (a retry repeats it): a request that
   * lands after a later one of the same member and epoch is refused instead of moving the
   * checkpoint back. Without it, commits at the epoch land in arrival order. */
  readonly sequence?: number;
}

export interface PartitionOutcome {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  /** Null when applied; otherwise nothing changed for this partition. */
  readonly error: ErrorBody["error"] | null;
}

export interface CommitResult {
  readonly partitions: readonly PartitionOutcome[];
}

export interface MemberDescription {
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly live: boolean;
  readonly sessionTimeoutMs: number;
  readonly joinedAt: number;
  readonly lastHeartbeatAt: number;
  readonly expiresAt: number;
  readonly partitions: number;
}

export interface PartitionDescription {
  readonly topic: string;
  readonly partition: number;
  /** The lease owner as stored (possibly a dead member: see `ownerLive`). */
  readonly owner: string | null;
  readonly ownerLive: boolean;
  readonly epoch: number;
  readonly committedOffset: bigint | null;
  readonly metadata: string | null;
  readonly revoking: boolean;
  readonly pendingOwner: string | null;
  /** Null when the topic or partition no longer exists. */
  readonly logEndOffset: bigint | null;
  /** logEndOffset − committedOffset; null without a committed offset. */
  readonly lag: bigint | null;
}

export interface GroupDescription {
  readonly group: string;
  readonly state: GroupState;
  readonly members: readonly MemberDescription[];
  readonly partitions: readonly PartitionDescription[];
}

export type ResetTarget =
  | { readonly earliest: true }
  | { readonly latest: true }
  | { readonly timestamp: number }
  | { readonly offset: bigint };

export interface ResetRequest {
  readonly topic: string;
  readonly to: ResetTarget;
  /** Compute the new offsets without writing them. */
  readonly dryRun?: boolean;
}

export interface ResetOutcome {
  readonly partition: number;
  readonly previousOffset: bigint | null;
  readonly offset: bigint;
  readonly error: ErrorBody["error"] | null;
}

export interface ResetResult {
  readonly topic: string;
  readonly dryRun: boolean;
  readonly partitions: readonly ResetOutcome[];
}

const DEFAULTS = {
  sessionTimeoutMs: 30_000,
  minSessionTimeoutMs: 1_000,
  maxSessionTimeoutMs: 300_000,
  heartbeatIntervalMs: 3_000,
  takeoverMarginMs: 1_000,
  maxClockSkewMs: 100,
  partitionCacheMs: 5_000,
} as const;

/** DynamoDB TTL is only a backstop: members are deleted an hour after they could be taken over. */
const TTL_GRACE_MS = 3_600_000;

/** A heartbeat's released partitions written at once (each its own lease item, on the group's
 * partition key: all of 1,000 at once would be throttled). */
const RELEASES_AT_ONCE = 16;
/** A reset's offset lookups in flight at once (each a read or a few of the log's index). */
const RESET_LOOKUPS_AT_ONCE = 16;
/** A reset's conditional lease writes in flight at once. */
const RESET_WRITES_AT_ONCE = 32;

export class GroupService {
  private readonly store: GroupStore;
  private readonly catalog: TopicCatalog;
  private readonly sessionTimeoutMs: number;
  private readonly minSessionTimeoutMs: number;
  private readonly maxSessionTimeoutMs: number;
  private readonly heartbeatIntervalMs: number;
  private readonly takeoverMarginMs: number;
  private readonly maxClockSkewMs: number;
  private readonly revokeTimeoutMs: number | undefined;
  private readonly partitionCacheMs: number;
  private readonly now: () => number;
  private readonly newMemberId: () => string;
  private readonly partitionCache = new Map<string, { count: number; topicId: string | undefined; at: number }>();

  constructor(options: GroupServiceOptions) {
    this.store = options.store;
    this.catalog = options.catalog;
    this.minSessionTimeoutMs = options.minSessionTimeoutMs ?? DEFAULTS.minSessionTimeoutMs;
    this.maxSessionTimeoutMs = options.maxSessionTimeoutMs ?? DEFAULTS.maxSessionTimeoutMs;
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? DEFAULTS.sessionTimeoutMs;
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs;
    this.takeoverMarginMs = options.takeoverMarginMs ?? DEFAULTS.takeoverMarginMs;
    this.maxClockSkewMs = options.maxClockSkewMs ?? DEFAULTS.maxClockSkewMs;
    this.revokeTimeoutMs = options.revokeTimeoutMs;
    this.partitionCacheMs = options.partitionCacheMs ?? DEFAULTS.partitionCacheMs;
    this.now = options.now ?? Date.now;
    this.newMemberId = options.newMemberId ?? randomUUID;
    checkInt(this.sessionTimeoutMs, "sessionTimeoutMs", this.minSessionTimeoutMs, this.maxSessionTimeoutMs);
    checkInt(this.heartbeatIntervalMs, "heartbeatIntervalMs", 1);
    checkInt(this.maxClockSkewMs, "maxClockSkewMs", 0);
    checkInt(this.takeoverMarginMs, "takeoverMarginMs", 2 * this.maxClockSkewMs + 1);
    checkInt(this.partitionCacheMs, "partitionCacheMs", 0);
    if (this.revokeTimeoutMs !== undefined) checkInt(this.revokeTimeoutMs, "revokeTimeoutMs", 1);
  }

  /** Joins a group; the assignment may start empty and fill on later heartbeats. */
  async join(group: string, request: JoinRequest): Promise<JoinResult> {
    checkGroupName(group);
    const topics = checkTopics(request.topics);
    const sessionTimeoutMs = checkInt(
      request.sessionTimeoutMs ?? this.sessionTimeoutMs,
      "sessionTimeoutMs",
      this.minSessionTimeoutMs,
      this.maxSessionTimeoutMs,
    );
    const joinId = request.joinId === undefined ? undefined : checkJoinId(request.joinId);
    const retried = request.memberId !== undefined ? checkMemberId(request.memberId) : joinId === undefined ? undefined : await this.memberOfJoin(group, joinId);
    if (retried !== undefined) {
      const renewedAt = this.now();
      const renewed = await this.store.renewMember(group, retried, { now: renewedAt, ttl: this.ttl(renewedAt), topics });
      if (!renewed.renewed && renewed.reason === "stale") throw staleRequest();
      if (renewed.renewed) {
        try {
          const result = await this.reconcile(group, retried, renewedAt, renewed.previousExpiresAt, []);
          return { memberId: retried, ...result };
        } catch (e) {
          // Fenced meanwhile (a revocation it never heard of timed out): a join makes a new member.
          if (!(isSeglogError(e) && e.kind === "Fenced")) throw e;
        }
      }
    }
    const memberId = this.newMemberId();
    const now = this.now();
    const member: MemberState = {
      memberId,
      topics,
      sessionTimeoutMs,
      joinedAt: now,
      lastHeartbeatAt: now,
      expiresAt: now + sessionTimeoutMs,
      ...(joinId === undefined ? {} : { joinId }),
    };
    if (!(await this.store.createMember(group, member, this.ttl(now)))) {
      throw conflict(`member id ${memberId} is already taken`, { retriable: true });
    }
    await this.store.registerGroup(group, now);
    const result = await this.reconcile(group, memberId, now, member.expiresAt, []);
    return { memberId, ...result };
  }

  /**
   * Keeps the member alive and answers its current leases. Throws `Fenced` when the member is
   * unknown, its session expired, or it ignored a revocation: it holds nothing and must rejoin.
   */
  async heartbeat(group: string, memberId: string, request: HeartbeatRequest = {}): Promise<HeartbeatResult> {
    checkGroupName(group);
    checkMemberId(memberId);
    const topics = request.topics === undefined ? undefined : checkTopics(request.topics);
    const released = checkPartitionList(request.released ?? [], "released", true).map((r) => ({
      topic: checkTopicName(r.topic),
      partition: checkInt(r.partition, "partition", 0),
      epoch: checkInt(r.epoch, "epoch", 1),
    }));
    const renewedAt = this.now();
    const renewed = await this.store.renewMember(group, memberId, {
      now: renewedAt,
      ttl: this.ttl(renewedAt),
      ...(topics === undefined ? {} : { topics }),
    });
    if (!renewed.renewed) throw renewed.reason === "stale" ? staleRequest() : unknownMember(group, memberId);
    return this.reconcile(group, memberId, renewedAt, renewed.previousExpiresAt, released);
  }

  /** Gives up the member's leases at once and removes it. Idempotent. */
  async leave(group: string, memberId: string): Promise<void> {
    checkGroupName(group);
    checkMemberId(memberId);
    const now = this.now();
    const snapshot = await this.store.readGroup(group);
    await Promise.all(planLeave(memberId, snapshot, now).map((w) => this.store.writeLease(group, w)));
    await this.store.deleteMember(group, memberId);
  }

  /**
   * Commits offsets, each only if the member owns the lease at that epoch. Per-partition
   * outcomes; throws `Fenced` when no partition could be committed.
   */
  async commit(group: string, request: CommitRequest): Promise<CommitResult> {
    checkGroupName(group);
    const memberId = checkMemberId(request.memberId);
    const seen = new Set<string>();
    const commits = checkPartitionList(request.offsets, "offsets", false).map((o) => {
      const c = {
        topic: checkTopicName(o.topic),
        partition: checkInt(o.partition, "partition", 0),
        epoch: checkInt(o.epoch, "epoch", 1),
        offset: checkOffset(o.offset),
        metadata: checkMetadata(o.metadata),
        topicId: o.topicId,
      };
      if (seen.has(leaseKey(c))) throw invalid(`partition ${c.topic}/${c.partition} is listed twice`);
      seen.add(leaseKey(c));
      return c;
    });
    const sequence = request.sequence === undefined ? null : checkInt(request.sequence, "sequence", 1);
    const now = this.now();
    // Each checkpoint keeps the id of the topic it is in (`checkpointIn`), read afresh: a commit
    // made just after a topic was created again under its name is in the new one.
    await this.partitionCounts([...new Set(commits.map((c) => c.topic))], now, true);
    const outcomes = await Promise.all(
      commits.map(async (c): Promise<PartitionOutcome> => {
        const topicId = c.topicId ?? this.partitionCache.get(c.topic)?.topicId ?? NO_TOPIC;
        const ok = await this.store.commitOffset(group, { ...c, memberId, now, sequence, topicId });
        const error = ok
          ? null
          : fenced(
              `member ${memberId} does not own ${c.topic}/${c.partition} at epoch ${c.epoch}` +
                (sequence === null ? "" : `, or a later commit of the member (sequence > ${sequence}) landed first`),
              "StaleEpoch",
            ).toJSON().error;
        return { topic: c.topic, partition: c.partition, offset: c.offset, error };
      }),
    );
    const missing = this.missingPartitions(outcomes.filter((p) => p.error !== null));
    const partitions = outcomes.map((p) => {
      const gone = missing.get(leaseKey(p));
      return gone === undefined ? p : { ...p, error: gone.toJSON().error };
    });
    if (partitions.every((p) => p.error !== null)) {
      if (missing.size === partitions.length) throw notFound([...missing.values()].map((e) => e.message).join("; "));
      // Kafka's UNKNOWN_MEMBER_ID when the member is gone (it left, or its session expired).
      const { members } = await this.store.readGroup(group);
      if (!members.some((m) => m.memberId === memberId && isLive(m, now))) throw unknownMember(group, memberId);
      throw fenced(
        `commit refused: member ${memberId} does not own ${describeRefs(partitions)} at the given epoch` +
          (sequence === null ? "" : `, or a later commit of the member (sequence > ${sequence}) landed first`),
        "StaleEpoch",
      );
    }
    return { partitions };
  }

  async list(): Promise<string[]> {
    return this.store.listGroups();
  }

  async describe(group: string): Promise<GroupDescription> {
    checkGroupName(group);
    const now = this.now();
    const snapshot = await this.store.readGroup(group);
    if (snapshot.members.length === 0 && snapshot.leases.length === 0 && !(await this.store.groupExists(group))) {
      throw notFound(`group ${group} does not exist`);
    }
    const liveIds = new Set(snapshot.members.filter((m) => isLive(m, now)).map((m) => m.memberId));
    const subscribed = snapshot.members.filter((m) => liveIds.has(m.memberId)).flatMap((m) => m.topics);
    const topics = [...new Set([...subscribed, ...snapshot.leases.map((l) => l.topic)])].sort();
    const counts = await this.partitionCounts(topics, now);
    const leases = new Map(snapshot.leases.map((l) => [leaseKey(l), l]));

    const refs: { topic: string; partition: number }[] = [];
    for (const topic of topics) {
      const fromLeases = snapshot.leases.filter((l) => l.topic === topic).map((l) => l.partition + 1);
      const n = Math.max(counts.get(topic) ?? 0, ...fromLeases);
      for (let partition = 0; partition < n; partition++) refs.push({ topic, partition });
    }
    // Each topic's log ends in one read of its heads, not one per partition.
    const ends = new Map(await Promise.all(topics.map(async (topic) => [topic, await this.highWatermarksOrNone(topic, counts.get(topic) ?? 0)] as const)));
    const partitions = refs.map((ref): PartitionDescription => {
      const lease = leases.get(leaseKey(ref));
      const logEndOffset = ends.get(ref.topic)?.get(ref.partition) ?? null;
      const committedOffset = this.committedOffset(lease);
      return {
        ...ref,
        owner: lease?.owner ?? null,
        ownerLive: lease?.owner != null && liveIds.has(lease.owner),
        epoch: lease?.epoch ?? 0,
        committedOffset,
        metadata: lease?.metadata ?? null,
        revoking: lease?.revokeRequestedAt != null,
        pendingOwner: lease?.pendingOwner ?? null,
        logEndOffset,
        lag: logEndOffset === null || committedOffset === null ? null : logEndOffset - committedOffset,
      };
    });
    const owned = (id: string) => snapshot.leases.filter((l) => l.owner === id).length;
    return {
      group,
      state: groupState(snapshot, counts, now),
      members: snapshot.members
        .map((m) => ({
          memberId: m.memberId,
          topics: m.topics,
          live: liveIds.has(m.memberId),
          sessionTimeoutMs: m.sessionTimeoutMs,
          joinedAt: m.joinedAt,
          lastHeartbeatAt: m.lastHeartbeatAt,
          expiresAt: m.expiresAt,
          partitions: owned(m.memberId),
        }))
        .sort((a, b) => a.joinedAt - b.joinedAt || (a.memberId < b.memberId ? -1 : 1)),
      partitions,
    };
  }

  /**
   * Sets the committed offsets of one topic's partitions. Refused with `Conflict` while any member
   * is live or could still be processing; per-partition outcomes otherwise.
   */
  async resetOffsets(group: string, request: ResetRequest): Promise<ResetResult> {
    checkGroupName(group);
    const topic = checkTopicName(request.topic);
    const to = checkResetTarget(request.to);
    const dryRun = request.dryRun ?? false;
    const now = this.now();
    const snapshot = await this.store.readGroup(group);
    assertGroupEmpty(snapshot, now, this.takeoverMarginMs);
    const { partitions: n, topicId } = await this.catalog.describe(topic);
    // The log ends of all partitions in one read where that is the target; other lookups a few at
    // a time (3,000 partitions at once took 3–10 s, all of them in flight together).
    const all = Array.from({ length: n }, (_, p) => p);
    const ends = "latest" in to ? await this.catalog.highWatermarks(topic, all) : new Map<number, bigint>();
    const resolved = await mapConcurrent(all, RESET_LOOKUPS_AT_ONCE, async (p) => [p, ends.get(p) ?? (await this.resolveOffset(topic, p, to))] as const);
    const offsets = new Map(resolved);
    const previous = new Map(snapshot.leases.filter((l) => l.topic === topic).map((l) => [l.partition, checkpointIn(l, topicId)]));
    const writes = planReset({ snapshot, topic, topicId, offsets, now, takeoverMarginMs: this.takeoverMarginMs });
    if (!dryRun) {
      // Empty still, after the lookups: a member that joined meanwhile refuses the whole reset,
      // where it would have left some partitions reset and others not.
      assertGroupEmpty(await this.store.readGroup(group), this.now(), this.takeoverMarginMs);
      await this.store.registerGroup(group, now);
    }
    const partitions = await mapConcurrent(
      writes,
      RESET_WRITES_AT_ONCE,
      async (w): Promise<ResetOutcome> => {
        const offset = w.change.type === "reset" ? w.change.checkpoint : 0n;
        const ok = dryRun || (await this.store.writeLease(group, w)) !== null;
        return {
          partition: w.partition,
          previousOffset: previous.get(w.partition) ?? null,
          offset,
          error: ok
            ? null
            : conflict(`${topic}/${w.partition} changed during the reset (a member joined?)`).toJSON().error,
        };
      },
    );
    partitions.sort((a, b) => a.partition - b.partition);
    if (partitions.length > 0 && partitions.every((p) => p.error !== null)) {
      throw conflict(`reset of ${topic} in group ${group} lost to concurrent changes (a member joined?)`);
    }
    return { topic, dryRun, partitions };
  }

  /**
   * The heartbeat after the member's renewal: read the group, apply the plan, answer the
   * member's leases. `renewedAt` is the clock reading the renewal was conditioned on and
   * `previousExpiresAt` how long the member had left then.
   */
  private async reconcile(
    group: string,
    memberId: string,
    renewedAt: number,
    previousExpiresAt: number,
    released: readonly ReleasedLease[],
  ): Promise<HeartbeatResult> {
    // `now` is read before the Query: a takeover decision must not use a clock reading later than
    // the state it is based on.
    const now = this.now();
    const snapshot = await this.store.readGroup(group);
    const me = snapshot.members.find((m) => m.memberId === memberId);
    if (me === undefined || !isLive(me, now)) throw unknownMember(group, memberId);
    this.assertRenewalFresh(renewedAt, previousExpiresAt);

    const counts = await this.partitionCounts(subscribedTopics(snapshot, now), now);
    const plan = planHeartbeat({
      memberId,
      snapshot,
      partitionCounts: counts,
      released,
      now,
      takeoverMarginMs: this.takeoverMarginMs,
      revokeTimeoutMs: this.revokeTimeoutMs ?? me.sessionTimeoutMs,
    });
    const leases = new Map(snapshot.leases.map((l) => [leaseKey(l), l]));
    const apply = async (w: (typeof plan.writes)[number]) => {
      const next = await this.store.writeLease(group, w);
      if (next === null) leases.delete(leaseKey(w));
      else leases.set(leaseKey(w), next);
    };
    await mapConcurrent(plan.releases, RELEASES_AT_ONCE, apply); // written one at a time, 1,000 took 5.7 s
    if (plan.fence) {
      await this.store.expireMember(group, memberId, me.lastHeartbeatAt, now);
      throw fenced(
        `member ${memberId} did not release revoked partitions within the revocation timeout; rejoin`,
        "RevokeTimeout",
      );
    }
    await Promise.all(plan.writes.map(apply));
    await Promise.all(plan.deleteMembers.map((m) => this.store.deleteMember(group, m.memberId, m.lastHeartbeatAt)));
    // A granted partition starts at its committed offset, which is the checkpoint's only if it is
    // in the topic under the name now: read afresh, not from the cache, so that a topic deleted
    // and created again within `partitionCacheMs` does not start at the old topic's offset.
    const granted = [...new Set(plan.writes.filter((w) => w.change.type === "acquire").map((w) => w.topic))];
    if (granted.length > 0) await this.partitionCounts(granted, now, true);

    return {
      sessionTimeoutMs: me.sessionTimeoutMs,
      heartbeatIntervalMs: Math.max(1, Math.min(this.heartbeatIntervalMs, Math.floor(me.sessionTimeoutMs / 3))),
      assignment: [...leases.values()]
        .filter((l) => l.owner === memberId)
        .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
        .map((lease) => ({
          topic: lease.topic,
          partition: lease.partition,
          epoch: lease.epoch,
          committedOffset: this.committedOffset(lease),
          revoking: lease.revokeRequestedAt !== null,
        })),
    };
  }

  /**
   * Drops every group's leases of a deleted topic, committed offsets and all, as Kafka drops a
   * deleted topic's offsets: maintenance calls it with the topic's tombstone, which stays until
   * this answers true (src/http/app.ts). Otherwise each heartbeat of a group keeps reading them,
   * for ever. What stays, for a later call:
   * - a group's leases while a member that may be live subscribes to the name: it would acquire
   *   them again, and their epochs must not start over under it;
   * - under a name taken again, the partitions the topic there now has, and any lease whose
   *   checkpoint is that topic's (its old checkpoints are not the new topic's: `checkpointIn`);
   * - a lease a member may still hold, until a later call (its heartbeats revoke it).
   * Each delete is conditional on the owner and epoch read: a lease taken, reset or committed to
   * since (each at another epoch) stays. True once nothing is left to drop but a recreated
   * topic's, which stays for good.
   */
  async dropDeletedTopic(deleted: { readonly name: string; readonly topicId: string }, outOfTime: () => boolean): Promise<boolean> {
    const describe = () =>
      this.catalog.describe(deleted.name).catch((e: unknown) => {
        if (isSeglogError(e) && e.kind === "NotFound") return undefined;
        throw e;
      });
    let current = await describe();
    let done = true;
    for (const group of await this.store.listGroups()) {
      if (outOfTime()) return false;
      const leases = await this.store.readLeases(group, deleted.name);
      // A checkpoint of a topic other than the deleted one may be of one created since: read the name again.
      const others = (l: LeaseState) => l.checkpoint !== null && l.checkpointTopicId !== undefined && l.checkpointTopicId !== deleted.topicId && l.checkpointTopicId !== NO_TOPIC;
      if (leases.some((l) => others(l) && l.checkpointTopicId !== current?.topicId)) current = await describe();
      const ours = leases.filter((l) => current === undefined || (l.partition >= current.partitions && !(others(l) && l.checkpointTopicId === current.topicId)));
      if (ours.length === 0) continue;
      const now = this.now();
      const mayBeLive = (await this.store.readMembers(group)).filter((m) => mayHold(m, now, this.takeoverMarginMs));
      if (mayBeLive.some((m) => m.topics.includes(deleted.name))) {
        done = false; // a later call, once no member subscribes to the name
        continue;
      }
      const held = new Set(mayBeLive.map((m) => m.memberId));
      const free = ours.filter((l) => l.owner === null || !held.has(l.owner));
      const dropped = await mapConcurrent(free, RELEASES_AT_ONCE, (l) => this.store.deleteLease(group, l, { owner: l.owner, epoch: l.epoch }), outOfTime);
      if (free.length < ours.length || dropped.length < free.length || dropped.includes(false)) done = false;
    }
    return done;
  }

  /** The live member an earlier attempt of this join made, if any. */
  private async memberOfJoin(group: string, joinId: string): Promise<string | undefined> {
    const now = this.now();
    return (await this.store.readMembers(group)).find((m) => m.joinId === joinId && isLive(m, now))?.memberId;
  }

  /**
   * A renewal that reached the table late (a slow or retried request) may have landed after
   * another server judged the member dead and began taking its leases; answering leases from the
   * Query that followed could then hand a partition to two members. The renewal is safe if it was
   * decided with enough of the member's session left to cover everything since (see the doc).
   */
  private assertRenewalFresh(renewedAt: number, previousExpiresAt: number): void {
    const elapsedMs = this.now() - renewedAt;
    const slackMs = previousExpiresAt - renewedAt + this.takeoverMarginMs - 2 * this.maxClockSkewMs;
    if (elapsedMs >= slackMs) {
      throw new SeglogError("Throttled", "heartbeat was too slow to answer safely; send the next one now", {
        code: "SlowHeartbeat",
        retryAfterMs: 0,
      });
    }
  }

  /** The lease's checkpoint in the topic of its name as last read (`partitionCounts`). */
  private committedOffset(lease: LeaseState | undefined): bigint | null {
    return checkpointIn(lease, lease === undefined ? undefined : this.partitionCache.get(lease.topic)?.topicId);
  }

  private async partitionCounts(topics: readonly string[], now: number, fresh = false): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    await Promise.all(
      topics.map(async (topic) => {
        const cached = this.partitionCache.get(topic);
        if (!fresh && cached !== undefined && now - cached.at < this.partitionCacheMs) {
          counts.set(topic, cached.count);
          return;
        }
        let count = 0;
        let topicId: string | undefined;
        try {
          ({ partitions: count, topicId } = await this.catalog.describe(topic));
        } catch (error) {
          if (!(isSeglogError(error) && error.kind === "NotFound")) throw error;
        }
        this.partitionCache.set(topic, { count, topicId, at: now });
        counts.set(topic, count);
      }),
    );
    return counts;
  }

  /**
   * Of refused commits, those to a partition that does not exist, as Kafka's
   * UNKNOWN_TOPIC_OR_PARTITION, with why: by the partition counts this commit read afresh.
   */
  private missingPartitions(refused: readonly PartitionRef[]): Map<string, SeglogError> {
    const missing = new Map<string, SeglogError>();
    for (const p of refused) {
      const partitions = this.partitionCache.get(p.topic)?.count ?? 0;
      if (p.partition < partitions) continue;
      missing.set(leaseKey(p), partitions === 0 ? unknownTopic(p.topic) : noSuchPartition(p.topic, p.partition, partitions));
    }
    return missing;
  }

  /** The log ends of a topic's first `partitions` partitions; none for a topic gone meanwhile. */
  private async highWatermarksOrNone(topic: string, partitions: number): Promise<Map<number, bigint>> {
    try {
      return await this.catalog.highWatermarks(topic, Array.from({ length: partitions }, (_, p) => p));
    } catch (error) {
      if (isSeglogError(error) && error.kind === "NotFound") return new Map();
      throw error;
    }
  }

  private async resolveOffset(topic: string, partition: number, to: ResetTarget): Promise<bigint> {
    if ("earliest" in to) return this.catalog.logStartOffset(topic, partition);
    const end = await this.catalog.highWatermark(topic, partition);
    if ("latest" in to) return end;
    if ("timestamp" in to) return (await this.catalog.offsetForTimestamp(topic, partition, to.timestamp)) ?? end;
    const start = await this.catalog.logStartOffset(topic, partition);
    return to.offset < start ? start : to.offset > end ? end : to.offset;
  }

  private ttl(now: number): number {
    return Math.ceil((now + this.maxSessionTimeoutMs + this.takeoverMarginMs + TTL_GRACE_MS) / 1000);
  }
}

function subscribedTopics(snapshot: GroupSnapshot, now: number): string[] {
  return [...new Set(snapshot.members.filter((m) => isLive(m, now)).flatMap((m) => m.topics))];
}


/** A lease's checkpoint, unless it was committed in an earlier topic of the name (deleted since):
 * the topic there now starts as if the group had committed nothing, as Kafka drops a deleted
 * topic's offsets. A checkpoint whose topic is not known (committed before ids were kept) counts. */
function checkpointIn(lease: LeaseState | undefined, topicId: string | undefined): bigint | null {
  if (lease === undefined || lease.checkpoint === null) return null;
  const other = lease.checkpointTopicId !== undefined && topicId !== undefined && lease.checkpointTopicId !== topicId;
  return other ? null : lease.checkpoint;
}

function unknownMember(group: string, memberId: string): SeglogError {
  return fenced(`member ${memberId} is not a live member of group ${group}; rejoin`, "UnknownMember");
}

/** A delayed request arrived after a newer heartbeat of the same member: harmless, retry. */
function staleRequest(): SeglogError {
  return new SeglogError("Throttled", "a newer heartbeat of this member was already processed; retry", {
    code: "StaleHeartbeat",
    retryAfterMs: 0,
  });
}

function describeRefs(parts: readonly { topic: string; partition: number }[]): string {
  const names = parts.slice(0, 5).map((p) => `${p.topic}/${p.partition}`);
  return names.join(", ") + (parts.length > 5 ? ` and ${parts.length - 5} more` : "");
}

function checkResetTarget(to: unknown): ResetTarget {
  if (typeof to === "object" && to !== null) {
    const keys = Object.keys(to);
    if (keys.length === 1) {
      if ("earliest" in to && to.earliest === true) return { earliest: true };
      if ("latest" in to && to.latest === true) return { latest: true };
      if ("timestamp" in to) return { timestamp: checkInt(to.timestamp, "timestamp", 0) };
      if ("offset" in to) return { offset: checkOffset(to.offset) };
    }
  }
  throw invalid("to must be one of {earliest: true}, {latest: true}, {timestamp: ms}, {offset: bigint}");
}
