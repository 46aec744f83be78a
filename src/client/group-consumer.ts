/**
 * A consumer-group member (docs/consumer-groups.md, "What a member must do"). The server
 * computes the assignment; this side only heartbeats, fetches what it holds, commits with each
 * lease's epoch and gives partitions back when told to.
 *
 * A partition is **held** from the heartbeat answer that grants it until this member gives it
 * back (revocation acknowledged, leave) or until the local deadline: the send time of the last
 * successful heartbeat + `sessionTimeoutMs`, on the monotonic clock. Records are handed to the
 * application only while their partition is held, so two members never process one partition
 * at the same time.
 */
import { randomUUID } from "node:crypto";
import { SeglogError, fenced, invalid, isSeglogError } from "../core/errors.ts";
import { MAX_PARTITIONS_PER_REQUEST } from "../core/groups/model.ts";
import { Consumer, checkList, checkSeekTarget, checkTopicPartition, type ConsumedRecord, type ConsumerOptions, type ConsumerStats, type TopicPartition } from "./consumer.ts";
import { pathSegment, sleep } from "./http.ts";
import { MAX_TIMER_MS, oneOf, wholeNumber } from "./options.ts";

export type Delivery = "atLeastOnce" | "atMostOnce";

export type PartitionsHook = (partitions: TopicPartition[]) => void | Promise<void>;

export interface GroupConsumerOptions extends ConsumerOptions {
  readonly groupId: string;
  /** Asked of the server at join; it enforces its own bounds. @default the server's (30000) */
  readonly sessionTimeoutMs?: number;
  /**
   * `atLeastOnce`: offsets are committed after the records were processed (a crash replays
   * them). `atMostOnce`: each fetched batch is committed before it is processed (a crash skips
   * it). Applies when `autoCommit` is on. @default "atLeastOnce"
   */
  readonly delivery?: Delivery;
  /** Commit automatically (per `delivery`, on revocation and on close); false: only `commit()`. @default true */
  readonly autoCommit?: boolean;
  /** At least once: commit processed offsets at most this often, and always on revocation and close; 0 after every batch. @default 5000 */
  readonly autoCommitIntervalMs?: number;
  /** Called before the first record of newly held partitions. */
  readonly onAssigned?: PartitionsHook;
  /** Called when partitions are given back (revocation, close), after their offsets are committed and before the server is told. */
  readonly onRevoked?: PartitionsHook;
  /** Called when partitions were lost without a chance to commit (session deadline passed, fenced, a commit refused). @default onRevoked */
  readonly onLost?: PartitionsHook;
}

export interface GroupBatch extends TopicPartition {
  readonly records: readonly ConsumedRecord[];
  /** False once the partition is no longer held: check it before side effects in a long batch. */
  isHeld(): boolean;
  /**
   * True once the member should return soon: it is asked to give back a partition it holds (this
   * one or another), it is closing, or this partition is no longer held. A long batch checks it
   * between records, resolves the last one it processed, and returns: the member then commits,
   * gives the partition back within the revoke timeout, and reads the rest again. At most once
   * (the batch committed whole before the call), only closing or losing the partition count, and
   * what the batch leaves is skipped.
   */
  shouldStop(): boolean;
  /**
   * Marks the batch processed up to and including `offset`. A handler that calls it has processed
   * only up to the last offset it resolved when it returns; one that never calls it, the whole
   * batch, unless `shouldStop()` told it to stop: a handler that checks it resolves as it goes,
   * so one that resolved nothing processed nothing, and the batch is read again (at worst, a
   * handler that finished without resolving and then asked gets its batch again: a duplicate,
   * never a loss). At most once (`delivery: "atMostOnce"`) the whole batch was committed before
   * the call, and this changes nothing.
   */
  resolveOffset(offset: number): void;
}

export interface RunOptions {
  /** Called for each record in order; exactly one of `eachRecord` and `eachBatch`. */
  readonly eachRecord?: (record: ConsumedRecord) => void | Promise<void>;
  /** Called with each fetched batch of one partition. */
  readonly eachBatch?: (batch: GroupBatch) => void | Promise<void>;
}

interface Assigned extends TopicPartition {
  readonly epoch: number;
  readonly committedOffset: number | null;
  readonly revoking: boolean;
}

interface MemberAnswer {
  readonly sessionTimeoutMs: number;
  readonly heartbeatIntervalMs: number;
  readonly assignment: readonly Assigned[];
}

interface Released extends TopicPartition {
  readonly epoch: number;
}

interface Lease extends TopicPartition {
  readonly key: string;
  readonly epoch: number;
  /** Last offset known committed at this epoch; null when unknown (none yet, or a commit that
   * failed unanswered may have landed), so that the next commit is always sent. */
  committed: number | null;
  /** The next offset to process: what a commit now would store. */
  processed: number;
  /** The id of the topic `processed` is in, as the Consumer told it when records were handed out;
   * undefined: the topic under the name now (after a grant or a seek). A partition paused while
   * its topic is deleted and created again resumes by `autoOffsetReset`, not at this offset. */
  topicId: string | undefined;
  /** A commit was refused: the lease moved on. */
  lost: boolean;
  /** The member's count of seeks and pauses when this partition was last sought (0: never). */
  soughtAt: number;
  /** That count at the seek to `earliest`/`latest` whose lookup is under way, if the latest seek
   * is one: until it lands, none of the partition's records is handed out. */
  seeking: number | undefined;
  /** The same count when it was last paused (0: never). */
  pausedAt: number;
  /** Being given back: its last commit is made or on its way, so a seek would move nothing. */
  releasing: boolean;
}

const keyOf = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;
const tpOf = (tp: TopicPartition): TopicPartition => ({ topic: tp.topic, partition: tp.partition });
const monotonicMs = () => performance.now();

/** Throttled answers the server wants retried at once (docs/consumer-groups.md, heartbeat step 1–2). */
const RETRY_NOW = new Set(["SlowHeartbeat", "StaleHeartbeat"]);
const RETRY_SOON_MS = 100;

/**
 * A consumer-group member: `subscribe(topics)`, then `run({ eachRecord })` until `close()`.
 * Fetches through a partition {@link Consumer}.
 */
export class GroupConsumer {
  readonly groupId: string;
  /** The group's routes, under its name checked once. */
  private readonly path: string;
  private readonly consumer: Consumer;
  private readonly sessionTimeoutAskedMs: number | undefined;
  private readonly delivery: Delivery;
  private readonly autoCommit: boolean;
  private readonly autoCommitIntervalMs: number;
  private readonly autoOffsetReset: "earliest" | "latest" | "none";
  private readonly onAssigned: PartitionsHook | undefined;
  private readonly onRevoked: PartitionsHook | undefined;
  private readonly onLost: PartitionsHook | undefined;

  private topics: string[] = [];
  private topicsChanged = false;
  private currentMemberId: string | undefined;
  private sessionTimeoutMs = 0;
  private heartbeatIntervalMs = 0;
  /** Monotonic ms: nothing is held from then on unless a later heartbeat succeeds. */
  private deadline = 0;
  private answer: readonly Assigned[] = [];
  private fencedFlag = false;
  private failure: unknown;
  private readonly leases = new Map<string, Lease>();
  /** The highest epoch given back per partition: never resumed at or below it. */
  private readonly releasedEpochs = new Map<string, number>();
  /** The highest epoch per partition at which a commit was refused: it can never be this member's again. */
  private readonly refusedEpochs = new Map<string, number>();
  /** Acknowledgements to send until an answer no longer lists the lease at that epoch. */
  private readonly pendingAcks = new Map<string, Released>();

  private running = false;
  private closing = false;
  private finished: Promise<void> = Promise.resolve();
  private wakeup = new AbortController();
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private deadlineTimer: NodeJS.Timeout | undefined;
  private heartbeating = false;
  private heartbeatAgain = false;
  private heartbeatsStopped = true;
  private commits: Promise<unknown> = Promise.resolve();
  private commitSequence = 0;
  private lastCommitAt = 0;
  /** Seeks and pauses so far: records a poll returned before a partition's seek or pause are not handed out. */
  private moves = 0;
  /** Held partitions not fetched until resumed (`pause`), by key. */
  private readonly pausedKeys = new Set<string>();
  /** Resumed since the run loop last assigned the partition Consumer: they go on from their processed offset. */
  private readonly resumedKeys = new Set<string>();
  /** A pause or resume the run loop has yet to give the partition Consumer (between polls, never during one). */
  private fetchingChanged = false;

  constructor(options: GroupConsumerOptions) {
    if (typeof options.groupId !== "string" || options.groupId === "") throw invalid("groupId is required");
    this.path = `/v1/groups/${pathSegment(options.groupId, "group")}`;
    this.groupId = options.groupId;
    this.consumer = new Consumer(options);
    // The server holds the session to its own bounds (1 s to 5 min by default); these are the client's timers'.
    wholeNumber("sessionTimeoutMs", options.sessionTimeoutMs, 1, MAX_TIMER_MS);
    wholeNumber("autoCommitIntervalMs", options.autoCommitIntervalMs, 0, MAX_TIMER_MS);
    if (options.autoCommit !== undefined && typeof options.autoCommit !== "boolean") throw invalid(`autoCommit must be true or false, not ${JSON.stringify(options.autoCommit)}`);
    this.sessionTimeoutAskedMs = options.sessionTimeoutMs;
    this.delivery = options.delivery ?? "atLeastOnce";
    this.autoCommit = options.autoCommit ?? true;
    this.autoCommitIntervalMs = options.autoCommitIntervalMs ?? 5000;
    this.autoOffsetReset = options.autoOffsetReset ?? "latest";
    this.onAssigned = options.onAssigned;
    this.onRevoked = options.onRevoked;
    this.onLost = options.onLost ?? options.onRevoked;
    oneOf("delivery", this.delivery, ["atLeastOnce", "atMostOnce"]);
  }

  /** The id the server gave this member; undefined before joining and after leaving. */
  get memberId(): string | undefined {
    return this.currentMemberId;
  }

  /** What this member's fetches have read so far. */
  stats(): ConsumerStats {
    return this.consumer.stats();
  }

  /** Sets the topics; while running, the next heartbeat carries the change. */
  subscribe(topics: readonly string[]): void {
    if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === "string" && t !== "")) {
      throw invalid("subscribe takes a non-empty list of topic names");
    }
    this.topics = [...new Set(topics)].sort();
    if (this.currentMemberId !== undefined) {
      this.topicsChanged = true;
      this.heartbeatNow();
    }
  }

  /** The partitions held now. */
  assignment(): TopicPartition[] {
    return [...this.leases.values()].filter((l) => this.held(l)).map(tpOf);
  }

  /**
   * The lease epoch under which this member holds a partition now (undefined when it does not
   * hold it): a fencing token for downstream writes, like Kafka's generation id. Inside
   * `eachRecord` it is the epoch the record is being processed under.
   */
  leaseEpoch(tp: TopicPartition): number | undefined {
    const lease = this.leases.get(keyOf(tp));
    return lease !== undefined && this.held(lease) ? lease.epoch : undefined;
  }

  /**
   * Joins the group and hands records to `eachRecord` or `eachBatch` until `close()`. Resolves
   * after the member left; rejects with a handler's or hook's error (after committing what was
   * processed and leaving), or with a non-retriable error from the server.
   */
  async run(handlers: RunOptions): Promise<void> {
    if ((handlers.eachRecord === undefined) === (handlers.eachBatch === undefined)) {
      throw invalid("run takes exactly one of eachRecord and eachBatch");
    }
    if (this.topics.length === 0) throw invalid("subscribe to at least one topic before run");
    if (this.running) throw invalid("this consumer is already running");
    if (this.closing) throw invalid("this consumer is closed");
    this.running = true;
    let done!: () => void;
    this.finished = new Promise<void>((resolve) => (done = resolve));
    let error: unknown;
    this.lastCommitAt = monotonicMs();
    try {
      await this.join({ first: true });
      while (!this.closing) {
        if (this.wakeup.signal.aborted) this.wakeup = new AbortController();
        const signal = this.wakeup.signal;
        await this.reconcile();
        if (this.closing) break;
        if (this.fetchingChanged) this.assignFetching();
        if (this.consumer.assignment().length === 0) {
          // Nothing held, or all of it paused: heartbeats go on, and so do commits (a paused
          // partition's processed offset, or where a seek moved it).
          if (this.autoCommitDue()) await this.commitQuietly([...this.leases.values()].filter((l) => this.held(l)));
          await sleep(Math.max(this.heartbeatIntervalMs, RETRY_SOON_MS), signal);
          continue;
        }
        let records: ConsumedRecord[];
        const polledAt = this.moves;
        try {
          records = await this.consumer.poll({ signal });
        } catch (e) {
          // NotFound: the topic was deleted or shrank under us; the server revokes its partitions.
          if (!isSeglogError(e) || !(e.retriable || e.kind === "NotFound")) throw e;
          await sleep(this.consumer.http.backoffMs(3, e), signal);
          continue;
        }
        await this.process(records, handlers, polledAt);
      }
    } catch (e) {
      error = e;
    }
    try {
      await this.shutdown();
    } catch (e) {
      error ??= e;
    } finally {
      this.running = false;
      done();
    }
    if (error !== undefined) throw error;
  }

  /**
   * Stops handing out records (even the rest of a batch), commits what was processed (with
   * `autoCommit`), calls `onRevoked`, and leaves the group; the consumer cannot run again.
   * Resolves once `run()` has returned (its errors are reported by `run()`). Do not await it
   * inside a handler or hook: it waits for the handler to return. (Telling that call apart from
   * the others takes an `AsyncLocalStorage`, which on Node 20 and 22 hooks every promise of the
   * process: `perf consume --group` spent 16 % more CPU with one, docs/consumer-groups.md.)
   */
  async close(): Promise<void> {
    this.closing = true;
    this.wake();
    await this.finished;
  }

  /**
   * Commits offsets (the next offset to consume, as in Kafka) with each lease's epoch: by default
   * the processed position of every held partition. Throws `Fenced` when a partition was no
   * longer this member's (it is then dropped), and `Invalid` outside `run()`: before it, or once
   * `close()` has left the group, this consumer holds nothing to commit for (a commit meant to
   * save what it processed belongs in the handler or `onRevoked`, before it gives them back).
   */
  async commit(offsets?: ReadonlyArray<TopicPartition & { offset: number }>): Promise<void> {
    if (!this.running) throw invalid("commit(): this consumer is not running, so it holds no partitions (commit inside run(), or in onRevoked, before close() gives them back)");
    const entries =
      offsets === undefined
        ? [...this.leases.values()].filter((l) => !l.lost).map((lease) => ({ lease, offset: lease.processed }))
        : (checkList(offsets, "commit"),
          offsets.map((o) => {
            checkTopicPartition(o);
            const lease = this.leases.get(keyOf(o));
            if (lease === undefined || lease.lost) throw invalid(`${o.topic}-${o.partition} is not assigned to this member`);
            if (!Number.isSafeInteger(o.offset) || o.offset < 0) throw invalid("offset must be a non-negative integer");
            return { lease, offset: o.offset };
          }));
    const refused = await this.commitEntries(entries);
    if (refused.length > 0) {
      throw fenced(`commit refused for ${refused.map((l) => `${l.topic}-${l.partition}`).join(", ")}: no longer this member's`, "StaleEpoch");
    }
  }


  /**
   * Moves a held partition's position, as Kafka's `seek`: its next records come from `to` (an
   * offset, or the log's start or end now), in a handler, in `onAssigned`, or anywhere while
   * `run()` runs. From the call, awaited or not, records already fetched from the old position
   * are not handed out: a handler that seeks its own partition gets no more of its batch
   * (`shouldStop()` turns true). The new
   * position is what the next commit stores, as Kafka commits a consumer's position, before any
   * record from it is processed. An offset past either end of the log is reset by
   * `autoOffsetReset` at the next fetch. Throws at once, as Java's `seek` does: `Invalid` outside
   * `run()` or for a partition never held; `Fenced` for one no longer held or being given back
   * (in `onRevoked`), as `commit()` says it. A seek to an offset is done when it returns; one to
   * `earliest`/`latest` when its promise resolves, after a lookup, during which the partition
   * is not fetched (a partition given back meanwhile rejects it, unheard unless it is awaited; a
   * lookup that fails moves nothing).
   */
  seek(tp: TopicPartition, to: number | "earliest" | "latest"): Promise<void> {
    const lease = this.soughtLease(tp);
    checkSeekTarget(to);
    if (typeof to === "number") {
      lease.seeking = undefined; // a lookup under way lands on nothing: this seek came later
      this.move(lease, to);
      return Promise.resolve();
    }
    // The partition counts as sought from now, awaited or not: while the offset is looked up, none
    // of its records is handed out (the rest of a batch included), and from the run loop's next
    // turn it is not fetched either, until the seek lands (or fails) and it is read from there.
    const ticket = ++this.moves;
    lease.seeking = ticket;
    this.fetchingChanged = true;
    this.wake();
    const moved = this.consumer.admin.offsetFor(lease.topic, lease.partition, to).then(
      ({ offset }) => {
        if (lease.seeking !== ticket) return; // a later seek says where it goes on
        lease.seeking = undefined;
        if (this.leases.get(lease.key) !== lease) throw fenced(`seek(): ${tp.topic}-${tp.partition} was given back while its offset was looked up`, "StaleEpoch");
        let sought: Lease;
        try {
          sought = this.soughtLease(tp);
        } catch (e) {
          this.resumeAfterLookup(lease);
          throw e;
        }
        this.move(sought, offset);
      },
      (e: unknown) => {
        if (lease.seeking === ticket) {
          lease.seeking = undefined;
          this.resumeAfterLookup(lease);
        }
        throw e;
      },
    );
    moved.catch(() => undefined); // a seek nobody awaits must not crash the process (await it to hear of it)
    return moved;
  }

  /**
   * A lookup that moved nothing: the partition goes on from where processing stopped, the rest of
   * its batch included, while it is this member's. Its session may have lapsed for a moment (a
   * heartbeat answered late extends it again), so only a lease given back, or being given back,
   * stays unfetched: the run loop drops one that is lost for good.
   */
  private resumeAfterLookup(lease: Lease): void {
    if (this.leases.get(lease.key) === lease && !lease.releasing) this.move(lease, lease.processed, lease.topicId);
  }

  /** The lease a seek moves: a held one's, not one being given back (its last commit is made). */
  private soughtLease(tp: TopicPartition): Lease {
    const lease = this.heldLease("seek", tp);
    if (lease.releasing) throw fenced(`seek(): ${tp.topic}-${tp.partition} is no longer this member's (being given back)`, "StaleEpoch");
    return lease;
  }

  /** Moves a held partition to `offset`, at once: in the topic `topicId` names, or the one there now. */
  private move(lease: Lease, offset: number, topicId?: string): void {
    // A partition the Consumer fetches moves now; one paused, or resumed and not yet assigned
    // again, goes on from its processed offset; one let go of while its offset was looked up is
    // fetched again, from there. So is an offset in a topic known by id: an assignment carries it.
    const fetching = this.consumer.assignment().some((a) => keyOf(a) === lease.key);
    if (fetching && topicId === undefined && !this.resumedKeys.has(lease.key)) void this.consumer.seek(tpOf(lease), offset); // an offset: it waits for nothing
    else if (!this.pausedKeys.has(lease.key)) {
      this.resumedKeys.add(lease.key);
      this.fetchingChanged = true;
    }
    lease.processed = offset;
    lease.topicId = topicId;
    lease.soughtAt = ++this.moves;
    this.wake(); // a poll under way (a seek from outside the handlers) answers and is read again
  }

  /**
   * Stops fetching held partitions, as Kafka's `pause`: the member keeps them (it heartbeats, and
   * commits their processed positions), hands out none of their records already fetched (a
   * handler that pauses its own partition gets no more of its batch; `shouldStop()` turns true),
   * and reads on from where processing stopped once they are resumed. A partition given back and
   * granted again starts unpaused. Throws as `seek` does for a partition not held.
   */
  pause(partitions: readonly TopicPartition[]): void {
    checkList(partitions, "pause");
    const leases = partitions.map((tp) => this.heldLease("pause", tp));
    for (const l of leases) {
      this.pausedKeys.add(l.key);
      l.pausedAt = ++this.moves;
    }
    if (leases.length === 0) return;
    this.fetchingChanged = true;
    this.wake();
  }

  /** Fetches paused partitions again, from where processing of each stopped. */
  resume(partitions: readonly TopicPartition[]): void {
    checkList(partitions, "resume");
    const resumed = partitions.map((tp) => this.heldLease("resume", tp)).filter((l) => this.pausedKeys.delete(l.key));
    for (const l of resumed) this.resumedKeys.add(l.key);
    if (resumed.length === 0) return;
    this.fetchingChanged = true;
    this.wake();
  }

  /** The held partitions paused now. */
  paused(): TopicPartition[] {
    return [...this.leases.values()].filter((l) => this.pausedKeys.has(l.key) && this.held(l)).map(tpOf);
  }

  /** A partition's lease for `what`: `Invalid` outside `run()` or for a partition never held,
   * `Fenced` for one no longer held (its session lapsed, a commit was refused), as `commit()` says it. */
  private heldLease(what: string, tp: TopicPartition): Lease {
    if (!this.running) throw invalid(`${what}(): this consumer is not running, so it holds no partitions (call it in a handler or in onAssigned)`);
    checkTopicPartition(tp);
    const lease = this.leases.get(keyOf(tp));
    if (lease === undefined) throw invalid(`${what}(): ${tp.topic}-${tp.partition} is not held by this member`);
    if (!this.held(lease)) throw fenced(`${what}(): ${tp.topic}-${tp.partition} is no longer this member's`, "StaleEpoch");
    return lease;
  }

  /**
   * Joins, retrying what can be retried. A `first` join that keeps failing (an API out of reach, a
   * wrong url's server answering 5xx) gives up as the SDK's other calls do, after `maxAttempts`:
   * `run()` rejects instead of waiting silently. A member that has run before rejoins until it
   * can, riding out an outage.
   */
  private async join(options: { first: boolean }): Promise<void> {
    const maxAttempts = this.consumer.http.maxAttempts;
    const timeoutMs = this.sessionTimeoutAskedMs ?? 30_000;
    let failures = 0;
    // The same on every attempt: a retry whose earlier attempt the server took, its answer lost,
    // is answered with the member that attempt made instead of a second one.
    const joinId = randomUUID();
    for (let attempt = 1; !this.closing; attempt++) {
      // The first attempt's send time: a retry only makes the local deadline more conservative.
      const sentAt = monotonicMs();
      const timeout = AbortSignal.timeout(timeoutMs);
      try {
        const reply = await this.consumer.http.call({
          method: "POST",
          path: `${this.path}/members`,
          json: { topics: this.topics, joinId, ...(this.sessionTimeoutAskedMs === undefined ? {} : { sessionTimeoutMs: this.sessionTimeoutAskedMs }) },
          // Only its timeout calls it off: a join the server took and nobody heard would leave a
          // member behind that is given partitions until its session lapses. close() waits for it.
          signal: timeout,
          timeoutMs: MAX_TIMER_MS, // the signal's, not the client's requestTimeoutMs
        });
        const joined = reply.json as MemberAnswer & { memberId: string };
        this.currentMemberId = joined.memberId;
        this.topicsChanged = false;
        this.heartbeatsStopped = false;
        this.accept(joined, sentAt, []);
        this.scheduleHeartbeat(sentAt + this.heartbeatIntervalMs);
        return;
      } catch (e) {
        if (this.closing) return;
        // Not a failed request but a request that could not be made (a transport's bug, say).
        if (!isSeglogError(e) && !timeout.aborted) throw e;
        if (isSeglogError(e) && !e.retriable) throw e;
        failures++;
        if (options.first && failures >= maxAttempts) {
          const after = `after ${failures} attempts to join group '${this.groupId}'`;
          if (!isSeglogError(e)) {
            throw new SeglogError("Internal", `Seglog at ${this.consumer.http.url} did not answer within ${timeoutMs} ms, ${after}`, { retriable: false, code: "Unreachable", cause: e });
          }
          throw new SeglogError(e.kind, `${e.message}, ${after}`, { retriable: false, ...(e.code === undefined ? {} : { code: e.code }), cause: e });
        }
        if (this.wakeup.signal.aborted) this.wakeup = new AbortController();
        await sleep(this.consumer.http.backoffMs(Math.min(attempt, 6), isSeglogError(e) ? e : undefined), this.wakeup.signal);
      }
    }
  }

  private accept(answer: MemberAnswer, sentAt: number, acksSent: readonly Released[]): void {
    this.sessionTimeoutMs = answer.sessionTimeoutMs;
    this.heartbeatIntervalMs = answer.heartbeatIntervalMs;
    // An answer arriving after its own request's deadline grants nothing.
    if (monotonicMs() >= sentAt + answer.sessionTimeoutMs) return;
    this.deadline = sentAt + answer.sessionTimeoutMs;
    this.answer = answer.assignment;
    for (const ack of acksSent) {
      const k = keyOf(ack);
      const stillListed = answer.assignment.some((a) => keyOf(a) === k && a.epoch === ack.epoch);
      if (!stillListed && this.pendingAcks.get(k)?.epoch === ack.epoch) this.pendingAcks.delete(k);
    }
    clearTimeout(this.deadlineTimer);
    this.deadlineTimer = setTimeout(() => this.wake(), Math.max(0, this.deadline - monotonicMs()) + 1);
    this.wake();
  }

  private heartbeatNow(): void {
    if (this.heartbeatsStopped) return;
    if (this.heartbeating) this.heartbeatAgain = true;
    else this.scheduleHeartbeat(monotonicMs());
  }

  private scheduleHeartbeat(atMs: number): void {
    clearTimeout(this.heartbeatTimer);
    if (this.heartbeatsStopped) return;
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeat().catch((e: unknown) => {
        this.failure = e;
        this.wake();
      });
    }, Math.max(0, atMs - monotonicMs()));
  }

  private async heartbeat(): Promise<void> {
    const memberId = this.currentMemberId;
    if (memberId === undefined || this.heartbeatsStopped || this.fencedFlag) return;
    this.heartbeating = true;
    const acks = [...this.pendingAcks.values()].slice(0, MAX_PARTITIONS_PER_REQUEST); // the rest go with the next
    const topics = this.topicsChanged ? this.topics : undefined;
    const sentAt = monotonicMs();
    let nextAt = sentAt + this.heartbeatIntervalMs;
    try {
      let reply;
      try {
        reply = await this.consumer.http.call({
          method: "POST",
          path: `${this.path}/members/${encodeURIComponent(memberId)}/heartbeat`,
          json: { ...(acks.length > 0 ? { released: acks } : {}), ...(topics === undefined ? {} : { topics }) },
          timeoutMs: Math.max(this.sessionTimeoutMs, 1),
        });
      } catch (e) {
        if (memberId !== this.currentMemberId || this.heartbeatsStopped) return;
        if (isSeglogError(e) && e.kind === "Fenced") {
          // Lost the session and every lease: stop at once; the run loop rejoins.
          this.fencedFlag = true;
          this.wake();
          return;
        }
        if (isSeglogError(e) && (e.kind === "Invalid" || e.kind === "NotFound")) {
          this.failure = e;
          this.wake();
          return;
        }
        // Throttled, unreachable, timed out: keep processing until the deadline, try again soon.
        const code = isSeglogError(e) ? e.code : undefined;
        const waitMs = code !== undefined && RETRY_NOW.has(code) ? 0 : Math.min(isSeglogError(e) ? (e.retryAfterMs ?? RETRY_SOON_MS) : RETRY_SOON_MS, this.heartbeatIntervalMs);
        nextAt = monotonicMs() + waitMs;
        return;
      }
      if (memberId !== this.currentMemberId || this.heartbeatsStopped) return;
      if (topics !== undefined && topics === this.topics) this.topicsChanged = false;
      this.accept(reply.json as MemberAnswer, sentAt, acks);
      nextAt = sentAt + this.heartbeatIntervalMs;
    } finally {
      this.heartbeating = false;
      if (memberId === this.currentMemberId && !this.fencedFlag && this.failure === undefined) {
        if (this.heartbeatAgain) {
          this.heartbeatAgain = false;
          nextAt = monotonicMs();
        }
        this.scheduleHeartbeat(nextAt);
      }
    }
  }

  private stopHeartbeats(): void {
    this.heartbeatsStopped = true;
    this.heartbeatAgain = false;
    clearTimeout(this.heartbeatTimer);
    clearTimeout(this.deadlineTimer);
  }

  private wake(): void {
    this.wakeup.abort();
  }


  private held(lease: Lease): boolean {
    return (
      !lease.lost &&
      !this.fencedFlag &&
      monotonicMs() < this.deadline &&
      this.leases.get(lease.key) === lease
    );
  }

  /** Brings the held set in line with the latest answer: lost, revoked, then newly granted. */
  private async reconcile(): Promise<void> {
    if (this.failure !== undefined) throw this.failure;
    if (this.fencedFlag) {
      await this.loseAll();
      this.stopHeartbeats();
      this.currentMemberId = undefined;
      this.pendingAcks.clear();
      this.releasedEpochs.clear();
      this.refusedEpochs.clear();
      this.fencedFlag = false;
      this.deadline = 0;
      await this.join({ first: false });
      return;
    }
    if (monotonicMs() >= this.deadline) {
      await this.loseAll();
      return;
    }
    const listed = new Map(this.answer.map((a) => [keyOf(a), a]));
    const lost = [...this.leases.values()].filter((l) => l.lost || listed.get(l.key)?.epoch !== l.epoch);
    for (const l of lost) this.leases.delete(l.key);
    if (lost.length > 0) {
      this.assignFetching();
      if (this.onLost) await this.onLost(lost.map(tpOf));
    }

    const revoking = [...this.leases.values()].filter((l) => listed.get(l.key)?.revoking === true);
    let acknowledge = false;
    if (revoking.length > 0) {
      for (const l of revoking) l.releasing = true;
      if (this.autoCommit) await this.commitQuietly(revoking);
      if (this.onRevoked) await this.onRevoked(revoking.map(tpOf));
      for (const l of revoking) {
        this.leases.delete(l.key);
        this.release(l);
      }
      acknowledge = true;
    }

    const granted: Assigned[] = [];
    for (const a of this.answer) {
      const k = keyOf(a);
      if (a.epoch <= (this.releasedEpochs.get(k) ?? 0)) {
        // Given back already: never resume it at this epoch; the acknowledgement may have been lost.
        if (this.pendingAcks.get(k)?.epoch !== a.epoch) {
          this.pendingAcks.set(k, { ...tpOf(a), epoch: a.epoch });
          acknowledge = true;
        }
      } else if (a.epoch > (this.refusedEpochs.get(k) ?? 0) && !this.leases.has(k)) {
        if (a.revoking) {
          this.release(a);
          acknowledge = true;
        } else granted.push(a);
      }
    }
    if (acknowledge) this.heartbeatNow();

    // A partition given back and granted again starts unpaused, as in Kafka.
    for (const k of this.pausedKeys) if (!this.leases.has(k)) this.pausedKeys.delete(k);
    for (const k of this.resumedKeys) if (!this.leases.has(k)) this.resumedKeys.delete(k);
    if (granted.length > 0 || revoking.length > 0) {
      this.assignFetching(granted.map((a) => ({ ...tpOf(a), ...(a.committedOffset === null ? {} : { offset: a.committedOffset }) })));
    }
    for (const a of granted) {
      if (a.committedOffset === null) {
        if (this.autoOffsetReset === "none") {
          throw new SeglogError("OffsetOutOfRange", `No committed offset for ${a.topic}-${a.partition} and autoOffsetReset is none`);
        }
        if (!(await this.seekToReset(a))) continue; // closing: the partition is neither read nor committed
      }
      const position = this.consumer.position(a) ?? 0;
      this.leases.set(keyOf(a), { ...tpOf(a), key: keyOf(a), epoch: a.epoch, committed: a.committedOffset, processed: position, topicId: undefined, lost: false, soughtAt: 0, seeking: undefined, pausedAt: 0, releasing: false });
    }
    if (granted.length > 0 && this.onAssigned) await this.onAssigned(granted.map(tpOf));
  }

  /**
   * Puts a partition granted without a committed offset where `autoOffsetReset` says, looking the
   * offset up again through an outage as polls do: a member that has joined rides it out. False
   * when the consumer closed first.
   */
  private async seekToReset(tp: TopicPartition): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.consumer.seek(tp, this.autoOffsetReset as "earliest" | "latest");
        return true;
      } catch (e) {
        if (!isSeglogError(e) || !e.retriable) throw e;
        // Not cut short by a wake-up (a heartbeat's answer): that signal stays aborted until the
        // run loop's next turn, and every attempt would follow the last at once.
        await sleep(this.consumer.http.backoffMs(attempt, e));
        if (this.closing) return false;
      }
    }
  }

  /**
   * The partition Consumer fetches the held partitions that are not paused, and `starting` from
   * where each says. One it fetches already goes on from its position; one it did not (paused
   * until now), or one resumed since, from its processed offset.
   */
  private assignFetching(starting: ReadonlyArray<TopicPartition & { offset?: number }> = []): void {
    const moving = new Set(starting.map(keyOf));
    const fetching = new Set(this.consumer.assignment().map(keyOf));
    const kept = [...this.leases.values()].filter((l) => !this.pausedKeys.has(l.key) && l.seeking === undefined && !moving.has(l.key));
    const from = (l: Lease) => (l.topicId === undefined ? { offset: l.processed } : { offset: l.processed, topicId: l.topicId });
    this.consumer.assign([...kept.map((l) => (fetching.has(l.key) && !this.resumedKeys.has(l.key) ? tpOf(l) : { ...tpOf(l), ...from(l) })), ...starting]);
    this.resumedKeys.clear();
    this.fetchingChanged = false;
  }

  /** At least once, whether the processed offsets are due to be committed. */
  private autoCommitDue(): boolean {
    return this.autoCommit && this.delivery !== "atMostOnce" && monotonicMs() - this.lastCommitAt >= this.autoCommitIntervalMs;
  }

  private release(lease: Released): void {
    const k = keyOf(lease);
    this.releasedEpochs.set(k, Math.max(lease.epoch, this.releasedEpochs.get(k) ?? 0));
    this.pendingAcks.set(k, { ...tpOf(lease), epoch: lease.epoch });
  }

  private async loseAll(): Promise<void> {
    const lost = [...this.leases.values()];
    this.leases.clear();
    this.pausedKeys.clear();
    this.resumedKeys.clear();
    this.answer = [];
    this.consumer.assign([]);
    if (lost.length > 0 && this.onLost) await this.onLost(lost.map(tpOf));
  }


  /** `polledAt`: the seeks and pauses made before the poll that returned `records`; a partition
   * sought or paused since hands out none of them (the rest of a batch, once its handler seeks). */
  private async process(records: readonly ConsumedRecord[], handlers: RunOptions, polledAt: number): Promise<void> {
    // Moved by a seek since the poll (what its handler processed after that does not count), or
    // sought and not yet moved (a lookup under way): none of the partition's records goes out.
    const moved = (lease: Lease) => lease.soughtAt > polledAt;
    const sought = (lease: Lease) => moved(lease) || lease.seeking !== undefined;
    const pausedSince = (lease: Lease) => lease.pausedAt > polledAt;
    const batches = new Map<string, { lease: Lease; records: ConsumedRecord[] }>();
    for (const r of records) {
      const k = keyOf(r);
      const lease = this.leases.get(k);
      if (lease === undefined) continue;
      let b = batches.get(k);
      if (b === undefined) batches.set(k, (b = { lease, records: [] }));
      b.records.push(r);
    }
    const atMostOnce = this.autoCommit && this.delivery === "atMostOnce";
    const paused = (lease: Lease) => this.pausedKeys.has(lease.key);
    // Whether the rest of a batch handed out goes on: not once its partition was sought, nor paused
    // (even if resumed since: it is read again from its processed offset), except that at most
    // once the batch was committed whole, so a pause must not skip the rest of it.
    const goesOn = (lease: Lease) => this.held(lease) && !sought(lease) && (atMostOnce || !pausedSince(lease));
    // Between records (or partitions' batches) the member stops when it is asked to give a
    // partition back, so that it gives it back now, not after the rest of a long poll (and is not
    // fenced for holding on past the revoke timeout); and it commits every `autoCommitIntervalMs`
    // on the way. At most once, a partition's batch is committed just before it is handed out
    // (nothing is processed unless its commit landed), and then handed out whole.
    const stop = () => this.closing || this.fencedFlag || this.revokePending();
    for (const { lease, records: rs } of batches.values()) {
      if (stop()) break;
      if (!this.held(lease) || sought(lease) || pausedSince(lease)) continue;
      // What is processed from here on is in the topic these records came from.
      lease.topicId = this.consumer.topicId(lease);
      if (atMostOnce) {
        const end = (rs.at(-1)?.offset ?? lease.processed - 1) + 1;
        let refused: Lease[];
        try {
          refused = await this.commitEntries([{ lease, offset: end }]);
        } catch (e) {
          // The API out of reach past the retries: none of the batch is handed out, and the
          // partition is read again from where processing stopped once the API answers (a commit
          // that landed unheard skips the batch, as at most once allows), as polls ride it out.
          if (!isSeglogError(e) || !e.retriable) throw e;
          // Backs off as a failed poll does, rather than fetch and fail again at once (a wake-up,
          // close() say, ends the wait; one before it, a heartbeat's answer say, does not).
          if (this.wakeup.signal.aborted) this.wakeup = new AbortController();
          await sleep(this.consumer.http.backoffMs(3, e), this.wakeup.signal);
          if (this.held(lease) && !sought(lease)) this.move(lease, lease.processed, lease.topicId);
          continue;
        }
        if (refused.length > 0) continue;
        if (!this.held(lease) || sought(lease)) continue; // sought while the commit was on its way: the seek says where it goes on
        lease.processed = end;
      }
      if (handlers.eachBatch) {
        let resolved: number | undefined;
        let stopped = false;
        const first = rs[0]?.offset ?? lease.processed;
        const last = rs.at(-1)?.offset ?? lease.processed - 1;
        try {
          await handlers.eachBatch({
            ...tpOf(lease),
            records: rs,
            isHeld: () => this.held(lease),
            // At most once the batch was committed whole: stopping part way would skip the rest of a
            // partition still held, so only closing or losing it counts, as between records.
            shouldStop: () => {
              const now = (atMostOnce ? this.closing || this.fencedFlag : stop()) || !goesOn(lease);
              stopped ||= now;
              return now;
            },
            resolveOffset: (offset) => {
              if (!Number.isSafeInteger(offset) || offset < first || offset > last) throw invalid(`resolveOffset: ${offset} is not an offset of this batch (${first}–${last})`);
              resolved = Math.max(offset, resolved ?? offset);
              // Processed from now on, so that a commit() in the handler stores it, as in KafkaJS.
              if (!atMostOnce && !moved(lease)) lease.processed = Math.max(lease.processed, resolved + 1);
            },
          });
        } catch (e) {
          // What it resolved before it threw was processed: committed as run() ends, as KafkaJS
          // does, so that only the rest is read again.
          if (!atMostOnce && !moved(lease) && resolved !== undefined) lease.processed = resolved + 1;
          throw e;
        }
        // A handler told to stop that resolved nothing stopped before its first record: counting
        // the batch processed would commit records nobody processed.
        // A partition sought meanwhile is where the seek put it.
        if (!atMostOnce && !moved(lease)) lease.processed = resolved !== undefined ? resolved + 1 : stopped ? first : last + 1;
      } else if (handlers.eachRecord) {
        for (const r of rs) {
          if (this.closing || !goesOn(lease) || (!atMostOnce && this.revokePending())) break;
          await handlers.eachRecord(r);
          if (!atMostOnce && !moved(lease)) lease.processed = r.offset + 1;
          // Between records only once the interval is up; with 0 ("after every batch") after the batch.
          if (this.autoCommitIntervalMs > 0 && this.autoCommitDue()) await this.commitQuietly([...this.leases.values()].filter((l) => this.held(l)));
        }
      }
    }
    // What the poll returned and no handler was given is read again: its partitions go back to
    // where processing stopped, in the topic it was in, when the run loop assigns them again (a
    // partition given back goes to its next owner from its commit). So does a paused partition,
    // or one resumed and not yet assigned again.
    const waiting = (lease: Lease) => paused(lease) || this.resumedKeys.has(lease.key);
    for (const { lease, records: rs } of batches.values()) {
      const last = rs.at(-1);
      if (last !== undefined && lease.processed <= last.offset && this.leases.get(lease.key) === lease && !sought(lease) && !waiting(lease)) {
        this.resumedKeys.add(lease.key);
        this.fetchingChanged = true;
      }
    }
    // A partition this poll handed out nothing of may still have moved: reset past records
    // retention deleted (OffsetOutOfRange), or past offsets that hold none. That position is what
    // is committed, as Kafka commits a consumer's position, so that the next owner does not start
    // from the old one, reset again later, and skip what came meanwhile.
    for (const lease of this.leases.values()) {
      if (batches.has(lease.key) || !this.held(lease) || waiting(lease) || lease.seeking !== undefined) continue;
      const at = this.consumer.position(tpOf(lease));
      if (at === undefined) continue;
      lease.processed = at;
      lease.topicId = this.consumer.topicId(tpOf(lease));
    }
    if (this.autoCommitDue()) await this.commitQuietly([...this.leases.values()].filter((l) => this.held(l)));
  }

  /** Whether the latest answer asks this member to give back a partition it holds. */
  private revokePending(): boolean {
    return this.answer.some((a) => a.revoking && this.leases.get(keyOf(a))?.epoch === a.epoch);
  }

  /** Commits processed offsets; failures only lose leases (at least once: the next owner replays). */
  private async commitQuietly(leases: readonly Lease[]): Promise<void> {
    try {
      await this.commitEntries(leases.map((lease) => ({ lease, offset: lease.processed })));
    } catch (e) {
      if (!isSeglogError(e)) throw e;
    }
  }

  /**
   * One commit request at a time, so that a partition's commits land in order. Returns the
   * leases whose commit was refused (they are marked lost).
   */
  private commitEntries(entries: ReadonlyArray<{ lease: Lease; offset: number }>): Promise<Lease[]> {
    const memberId = this.currentMemberId;
    const send = async (): Promise<Lease[]> => {
      const todo = entries.filter((e) => e.offset !== e.lease.committed);
      this.lastCommitAt = monotonicMs();
      if (todo.length === 0) return [];
      if (memberId === undefined) return todo.map((e) => this.lose(e.lease));
      const refused: Lease[] = [];
      for (let i = 0; i < todo.length; i += MAX_PARTITIONS_PER_REQUEST) {
        refused.push(...(await this.commitRequest(memberId, todo.slice(i, i + MAX_PARTITIONS_PER_REQUEST))));
      }
      return refused;
    };
    const result = this.commits.then(send, send);
    this.commits = result.catch(() => undefined);
    return result;
  }

  private async commitRequest(memberId: string, todo: ReadonlyArray<{ lease: Lease; offset: number }>): Promise<Lease[]> {
    const body = {
      memberId,
      sequence: ++this.commitSequence, // retries repeat it; a late request cannot move a checkpoint back
      // With the id of the topic the offset is in, when known: an offset of a topic since deleted
      // and created again (a paused partition's, say) is then no commit in the new one.
      offsets: todo.map(({ lease, offset }) => ({ topic: lease.topic, partition: lease.partition, epoch: lease.epoch, offset, ...(lease.topicId === undefined ? {} : { topicId: lease.topicId }) })),
    };
    let reply;
    try {
      reply = await this.withinSession((timeoutMs) => this.consumer.http.call({ method: "POST", path: `${this.path}/commits`, json: body, timeoutMs }));
    } catch (e) {
      // NotFound: every partition is gone (its topic deleted or never there); the leases with it.
      if (isSeglogError(e) && (e.kind === "Fenced" || e.kind === "NotFound")) return todo.map((t) => this.lose(t.lease));
      // Unanswered, it may have landed: what is committed is not known, and the next commit goes
      // out even for the offset known before (a close's, say).
      for (const t of todo) t.lease.committed = null;
      throw e;
    }
    const outcomes = (reply.json as { partitions: Array<TopicPartition & { error: unknown }> }).partitions;
    const refused: Lease[] = [];
    for (const e of todo) {
      const outcome = outcomes.find((o) => o.topic === e.lease.topic && o.partition === e.lease.partition);
      if (outcome !== undefined && outcome.error === null) e.lease.committed = e.offset;
      else refused.push(this.lose(e.lease));
    }
    return refused;
  }

  private lose(lease: Lease): Lease {
    lease.lost = true;
    this.refusedEpochs.set(lease.key, Math.max(lease.epoch, this.refusedEpochs.get(lease.key) ?? 0));
    this.wake();
    return lease;
  }

  /** Commit, revoke, leave: the member holds nothing from the moment the leave is sent. */
  private async shutdown(): Promise<void> {
    this.closing = true;
    this.stopHeartbeats();
    const leases = [...this.leases.values()];
    const held = leases.filter((l) => this.held(l));
    const lost = leases.filter((l) => !this.held(l));
    for (const l of held) l.releasing = true;
    let error: unknown;
    try {
      if (this.autoCommit && held.length > 0) await this.commitQuietly(held);
      if (held.length > 0 && this.onRevoked) await this.onRevoked(held.map(tpOf));
      if (lost.length > 0 && this.onLost) await this.onLost(lost.map(tpOf));
    } catch (e) {
      error = e;
    }
    this.leases.clear();
    this.pausedKeys.clear();
    this.resumedKeys.clear();
    this.consumer.assign([]);
    this.answer = [];
    this.pendingAcks.clear();
    this.releasedEpochs.clear();
    this.refusedEpochs.clear();
    this.fencedFlag = false;
    this.failure = undefined;
    const memberId = this.currentMemberId;
    this.currentMemberId = undefined;
    // Sent once even past the session (which drops the member by itself), so that `run()` reports
    // an API it cannot reach.
    if (memberId !== undefined) {
      const path = `${this.path}/members/${encodeURIComponent(memberId)}`;
      await this.withinSession((timeoutMs) => this.consumer.http.call({ method: "DELETE", path, timeoutMs }));
    }
    if (error !== undefined) throw error;
  }

  /**
   * A commit or a leave, each attempt waiting up to a session for its answer (as a heartbeat
   * does), retried while the session lasts and no longer: past it the leases are gone (a commit
   * would be refused) and the server drops the member by itself. Not cut at what is left of the
   * session: heartbeats move that on while a commit of 1,000 partitions is under way, and one cut
   * at the 502 ms then left failed.
   */
  private withinSession<T>(call: (timeoutMs: number) => Promise<T>): Promise<T> {
    const timeoutMs = Math.max(this.sessionTimeoutMs, 1);
    return this.consumer.http.retrying(() => call(timeoutMs), undefined, { retryOn: () => monotonicMs() < this.deadline });
  }
}
