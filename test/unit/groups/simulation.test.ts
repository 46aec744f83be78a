/**
 * A deterministic simulation of a consumer group: a seeded PRNG and a fake clock drive members
 * through the real GroupService (three server instances with skewed clocks) over an in-memory
 * store whose every call is a separate scheduling point, so concurrent requests interleave at
 * the granularity of single DynamoDB requests. Members join, heartbeat late, lose responses,
 * crash, pause (zombies that wake up and commit with old epochs), leave and come back; partitions
 * are added mid-run.
 *
 * After every step: no partition is held by two members, lease epochs and committed offsets never
 * go backwards. At the end, after a calm period: the assignment is balanced and settled.
 *
 * A member *holds* a lease from receiving a heartbeat answer listing it until it sends the
 * release acknowledgement, crashes, or reaches its local deadline (send time of its last
 * successful heartbeat + sessionTimeoutMs) — what the client SDK must implement.
 *
 * `SEGLOG_SIM_SEEDS=1,2,…` picks the seeds (default 1–8); a failure names its seed and time.
 */
import { describe, expect, it } from "vitest";
import { isSeglogError } from "../../../src/core/errors.ts";
import { leaseKey } from "../../../src/core/groups/model.ts";
import type { GroupSnapshot, LeaseState, LeaseWrite, MemberState, OffsetCommit, PartitionRef } from "../../../src/core/groups/model.ts";
import type { ReleasedLease } from "../../../src/core/groups/plan.ts";
import { MemoryGroupStore } from "../../../src/groups/memory-store.ts";
import { GroupService } from "../../../src/groups/service.ts";
import type { AssignedPartition } from "../../../src/groups/service.ts";
import type { GroupStore, MemberRenewal } from "../../../src/storage/groups-store.ts";
import { FakeCatalog, Rng } from "./fakes.ts";

const GROUP = "sim";
const MARGIN_MS = 150;
const MAX_SKEW_MS = 50;
const SERVER_SKEWS_MS = [-25, 0, 25];
const REQUEST_TIMEOUT_MS = 2500;
const TOPICS: Record<string, number> = { a: 8, b: 5 };
const SUBSCRIPTIONS = [["a", "b"], ["a", "b"], ["a", "b"], ["a", "b"], ["a"], ["b"], ["a", "b"]];

/** Fake time, timers, and the store calls waiting for their turn. */
class Scheduler {
  now = 0;
  private gates: { readyAt: number; resolve: () => void }[] = [];
  private timers: { at: number; seq: number; fn: () => void }[] = [];
  private seq = 0;

  constructor(private readonly rng: Rng) {}

  gate(delayMs: number): Promise<void> {
    return new Promise((resolve) => this.gates.push({ readyAt: this.now + delayMs, resolve }));
  }

  after(delayMs: number, fn: () => void): void {
    this.timers.push({ at: this.now + delayMs, seq: this.seq++, fn });
  }

  /** Runs one ready store call, or moves the clock on and fires what is due. */
  async step(onTick: () => void): Promise<void> {
    const ready = this.gates.filter((g) => g.readyAt <= this.now);
    if (ready.length > 0 && this.rng.chance(0.7)) {
      const gate = this.rng.pick(ready);
      this.gates.splice(this.gates.indexOf(gate), 1);
      gate.resolve();
    } else {
      this.now += 1 + this.rng.int(10);
      const due = this.timers.filter((t) => t.at <= this.now).sort((x, y) => x.at - y.at || x.seq - y.seq);
      this.timers = this.timers.filter((t) => t.at > this.now);
      for (const t of due) t.fn();
      onTick();
    }
    await new Promise((resolve) => setImmediate(resolve));
  }
}

/**
 * Every call waits for the scheduler twice, before it reaches the table and before its answer
 * gets back, so requests interleave call by call and clocks read around a call are off by both.
 */
class GatedStore implements GroupStore {
  constructor(
    private readonly inner: MemoryGroupStore,
    private readonly gate: () => Promise<void>,
  ) {}

  async readGroup(group: string): Promise<GroupSnapshot> {
    await this.gate();
    const result = await this.inner.readGroup(group);
    await this.gate();
    return result;
  }
  async readMembers(group: string): Promise<MemberState[]> {
    await this.gate();
    const result = await this.inner.readMembers(group);
    await this.gate();
    return result;
  }
  async readLeases(group: string, topic: string): Promise<LeaseState[]> {
    await this.gate();
    const result = await this.inner.readLeases(group, topic);
    await this.gate();
    return result;
  }
  async deleteLease(group: string, lease: PartitionRef, expect: { readonly owner: string | null; readonly epoch: number }): Promise<boolean> {
    await this.gate();
    const result = await this.inner.deleteLease(group, lease, expect);
    await this.gate();
    return result;
  }
  async createMember(group: string, member: MemberState): Promise<boolean> {
    await this.gate();
    const result = await this.inner.createMember(group, member);
    await this.gate();
    return result;
  }
  async renewMember(group: string, memberId: string, renewal: MemberRenewal) {
    await this.gate();
    const result = await this.inner.renewMember(group, memberId, renewal);
    await this.gate();
    return result;
  }
  async expireMember(group: string, memberId: string, lastHeartbeatAt: number, now: number): Promise<boolean> {
    await this.gate();
    const result = await this.inner.expireMember(group, memberId, lastHeartbeatAt, now);
    await this.gate();
    return result;
  }
  async deleteMember(group: string, memberId: string, ifLastHeartbeatAt?: number): Promise<boolean> {
    await this.gate();
    const result = await this.inner.deleteMember(group, memberId, ifLastHeartbeatAt);
    await this.gate();
    return result;
  }
  async writeLease(group: string, write: LeaseWrite): Promise<LeaseState | null> {
    await this.gate();
    const result = await this.inner.writeLease(group, write);
    await this.gate();
    return result;
  }
  async commitOffset(group: string, commit: OffsetCommit): Promise<boolean> {
    await this.gate();
    const result = await this.inner.commitOffset(group, commit);
    await this.gate();
    return result;
  }
  async registerGroup(group: string): Promise<void> {
    await this.gate();
    const result = await this.inner.registerGroup(group);
    await this.gate();
    return result;
  }
  async groupExists(group: string): Promise<boolean> {
    await this.gate();
    const result = await this.inner.groupExists(group);
    await this.gate();
    return result;
  }
  async listGroups(): Promise<string[]> {
    await this.gate();
    const result = await this.inner.listGroups();
    await this.gate();
    return result;
  }
}

interface Held {
  readonly topic: string;
  readonly partition: number;
  readonly epoch: number;
  readonly revoking: boolean;
  position: bigint;
}

type Result<T> = { ok: true; value: T } | { ok: false; error: unknown };

class Sim {
  readonly rng: Rng;
  readonly sched: Scheduler;
  readonly store = new MemoryGroupStore();
  readonly catalog = new FakeCatalog();
  readonly services: GroupService[];
  readonly clients: SimClient[];
  chaos = true;
  stats = { heartbeats: 0, fenced: 0, slow: 0, zombieCommitsRefused: 0, crashes: 0, pauses: 0, leaves: 0, takeovers: 0 };

  constructor(readonly seed: number) {
    this.rng = new Rng(seed);
    this.sched = new Scheduler(this.rng);
    for (const [topic, n] of Object.entries(TOPICS)) this.catalog.createTopic(topic, n);
    const gated = new GatedStore(this.store, () => this.sched.gate(this.storeDelay()));
    let ids = 0;
    this.services = SERVER_SKEWS_MS.map(
      (skew, i) =>
        new GroupService({
          store: gated,
          catalog: this.catalog,
          heartbeatIntervalMs: 300,
          takeoverMarginMs: MARGIN_MS,
          maxClockSkewMs: MAX_SKEW_MS,
          partitionCacheMs: 500,
          now: () => this.sched.now + skew,
          newMemberId: () => `s${i}-m${++ids}`,
        }),
    );
    this.clients = SUBSCRIPTIONS.map((topics, i) => new SimClient(this, `c${i}`, topics, this.rng.pick([1000, 1500, 2000])));
  }

  service(): GroupService {
    return this.rng.pick(this.services);
  }

  /** Latency of one store call: usually small; in chaos, sometimes as long as SDK retries. */
  storeDelay(): number {
    if (this.chaos && this.rng.chance(0.03)) return this.rng.int(2500);
    return this.rng.int(8);
  }

  netDelay(): number {
    if (this.chaos && this.rng.chance(0.02)) return this.rng.int(1500);
    return this.rng.int(15);
  }

  /** Sends a request over the simulated network; delivers its result (or a timeout) once. */
  request<T>(client: SimClient, call: () => Promise<T>, onResult: (r: Result<T>) => void): void {
    const incarnation = client.incarnation;
    let done = false;
    const finish = (r: Result<T>) => {
      if (done || incarnation !== client.incarnation) return;
      done = true;
      client.deliver(() => onResult(r));
    };
    this.sched.after(this.netDelay(), () => {
      void call().then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      ).then((r) => {
        if (this.chaos && this.rng.chance(0.02)) return;
        this.sched.after(this.netDelay(), () => finish(r));
      });
    });
    this.sched.after(REQUEST_TIMEOUT_MS, () => finish({ ok: false, error: new Error("request timed out") }));
  }
}

class SimClient {
  memberId: string | null = null;
  state: "up" | "crashed" | "paused" = "up";
  incarnation = 0;
  holdings = new Map<string, Held>();
  localDeadline = -Infinity;
  busy = false;
  committing = false;
  nextJoinAt = 0;
  nextHeartbeatAt = 0;
  nextCommitAt = 0;
  heartbeatIntervalMs = 300;
  pendingAcks: ReleasedLease[] = [];
  handledRevocations = new Set<string>();
  /** `key@epoch` of every lease this member has released: it must never hold them again. */
  acknowledged = new Set<string>();
  private deferred: (() => void)[] = [];

  constructor(
    readonly sim: Sim,
    readonly name: string,
    readonly topics: string[],
    readonly sessionTimeoutMs: number,
  ) {}

  holds(key: string, now: number): boolean {
    return this.state !== "crashed" && this.holdings.has(key) && now < this.localDeadline;
  }

  deliver(fn: () => void): void {
    if (this.state === "paused") this.deferred.push(fn);
    else if (this.state === "up") fn();
  }

  tick(): void {
    const { sched, rng, chaos } = this.sim;
    if (this.state !== "up") return;
    if (chaos && rng.chance(0.0004)) return this.crash();
    if (chaos && rng.chance(0.0004)) return this.pause(rng.int(3000));
    if (chaos && this.memberId !== null && !this.busy && rng.chance(0.0002)) return this.leave();
    if (!this.busy) {
      if (this.memberId === null && sched.now >= this.nextJoinAt) this.join();
      else if (this.memberId !== null && sched.now >= this.nextHeartbeatAt) this.heartbeat();
    }
    if (!this.committing && this.memberId !== null && sched.now >= this.nextCommitAt) this.commitProgress();
  }

  private join(): void {
    const sentAt = this.sim.sched.now;
    this.busy = true;
    this.sim.request(
      this,
      () => this.sim.service().join(GROUP, { topics: this.topics, sessionTimeoutMs: this.sessionTimeoutMs }),
      (r) => {
        this.busy = false;
        if (!r.ok) {
          this.nextJoinAt = this.sim.sched.now + 100;
          return;
        }
        this.memberId = r.value.memberId;
        this.heartbeatIntervalMs = r.value.heartbeatIntervalMs;
        this.accept(sentAt, r.value.assignment);
      },
    );
  }

  private heartbeat(): void {
    const memberId = this.memberId;
    if (memberId === null) return;
    const sentAt = this.sim.sched.now;
    const released = this.pendingAcks;
    this.pendingAcks = [];
    // Acknowledging a revocation is the moment the member stops holding the lease.
    for (const r of released) {
      this.holdings.delete(leaseKey(r));
      this.acknowledged.add(`${leaseKey(r)}@${r.epoch}`);
    }
    this.busy = true;
    this.sim.stats.heartbeats++;
    this.sim.request(
      this,
      () => this.sim.service().heartbeat(GROUP, memberId, { released }),
      (r) => {
        this.busy = false;
        if (r.ok) {
          this.accept(sentAt, r.value.assignment);
        } else if (isSeglogError(r.error) && r.error.kind === "Fenced") {
          this.sim.stats.fenced++;
          this.holdings.clear();
          this.memberId = null;
          this.nextJoinAt = this.sim.sched.now;
        } else {
          if (isSeglogError(r.error) && r.error.code === "SlowHeartbeat") this.sim.stats.slow++;
          this.nextHeartbeatAt = this.sim.sched.now + 50;
        }
      },
    );
  }

  /** A successful answer: the leases listed are held until `sentAt + sessionTimeoutMs`. */
  private accept(sentAt: number, assignment: readonly AssignedPartition[]): void {
    const now = this.sim.sched.now;
    this.localDeadline = sentAt + this.sessionTimeoutMs;
    // Sometimes late (a busy event loop): the member comes close to, or past, its deadline.
    const late = this.sim.chaos && this.sim.rng.chance(0.05) ? this.sim.rng.int(this.sessionTimeoutMs) : 0;
    this.nextHeartbeatAt = now + this.heartbeatIntervalMs + late;
    const next = new Map<string, Held>();
    for (const a of assignment) {
      const key = leaseKey(a);
      // Released at this epoch already: never resume it; the acknowledgement may have been lost.
      if (this.acknowledged.has(`${key}@${a.epoch}`)) {
        if (!this.pendingAcks.some((r) => leaseKey(r) === key)) {
          this.pendingAcks.push({ topic: a.topic, partition: a.partition, epoch: a.epoch });
        }
        continue;
      }
      const prev = this.holdings.get(key);
      const position = prev !== undefined && prev.epoch === a.epoch ? prev.position : (a.committedOffset ?? 0n);
      next.set(key, { topic: a.topic, partition: a.partition, epoch: a.epoch, revoking: a.revoking, position });
      const revocation = `${key}@${a.epoch}`;
      if (a.revoking && !this.handledRevocations.has(revocation)) {
        this.handledRevocations.add(revocation);
        this.commitThenAck(a);
      }
    }
    this.holdings = next;
  }

  /** Told to revoke: commit what was processed, then acknowledge on the next heartbeat, soon. */
  private commitThenAck(a: AssignedPartition): void {
    const memberId = this.memberId;
    const held = this.holdings.get(leaseKey(a));
    if (memberId === null) return;
    const offset = held !== undefined && held.epoch === a.epoch ? held.position : (a.committedOffset ?? 0n);
    this.sim.request(
      this,
      () => this.sim.service().commit(GROUP, { memberId, offsets: [{ topic: a.topic, partition: a.partition, epoch: a.epoch, offset }] }),
      () => {
        this.pendingAcks.push({ topic: a.topic, partition: a.partition, epoch: a.epoch });
        this.nextHeartbeatAt = Math.min(this.nextHeartbeatAt, this.sim.sched.now);
      },
    );
  }

  /** Processes a few records of every held partition and commits them, one commit at a time. */
  private commitProgress(): void {
    const memberId = this.memberId;
    const now = this.sim.sched.now;
    this.nextCommitAt = now + 200 + this.sim.rng.int(300);
    if (memberId === null) return;
    const offsets = [...this.holdings.entries()]
      .filter(([key, h]) => this.holds(key, now) && !h.revoking)
      .map(([, h]) => {
        h.position += BigInt(1 + this.sim.rng.int(5));
        return { topic: h.topic, partition: h.partition, epoch: h.epoch, offset: h.position };
      });
    if (offsets.length === 0) return;
    this.committing = true;
    this.sim.request(
      this,
      () => this.sim.service().commit(GROUP, { memberId, offsets }),
      () => {
        this.committing = false;
      },
    );
  }

  private crash(): void {
    this.sim.stats.crashes++;
    this.state = "crashed";
    this.incarnation++;
    this.holdings.clear();
    this.pendingAcks = [];
    this.deferred = [];
    this.busy = false;
    this.committing = false;
    this.sim.sched.after(this.sim.rng.int(3000), () => this.restart());
  }

  restart(): void {
    if (this.state !== "crashed") return;
    this.state = "up";
    this.memberId = null;
    this.localDeadline = -Infinity;
    this.nextJoinAt = this.sim.sched.now;
  }

  private pause(ms: number): void {
    this.sim.stats.pauses++;
    this.state = "paused";
    this.sim.sched.after(ms, () => this.resume());
  }

  /** Wakes up and, like a process after a GC pause, commits before checking anything. */
  resume(): void {
    if (this.state !== "paused") return;
    this.state = "up";
    const memberId = this.memberId;
    const stale = [...this.holdings.values()];
    if (memberId !== null && stale.length > 0) {
      const offsets = stale.map((h) => ({ topic: h.topic, partition: h.partition, epoch: h.epoch, offset: h.position + 1n }));
      void this.sim.service().commit(GROUP, { memberId, offsets }).then(
        (r) => (this.sim.stats.zombieCommitsRefused += r.partitions.filter((p) => p.error !== null).length),
        () => (this.sim.stats.zombieCommitsRefused += offsets.length),
      );
    }
    const deferred = this.deferred;
    this.deferred = [];
    for (const fn of deferred) fn();
  }

  private leave(): void {
    const memberId = this.memberId;
    if (memberId === null) return;
    this.sim.stats.leaves++;
    this.holdings.clear();
    this.pendingAcks = [];
    this.memberId = null;
    this.busy = true;
    this.sim.request(
      this,
      () => this.sim.service().leave(GROUP, memberId),
      () => {
        this.busy = false;
        this.nextJoinAt = this.sim.sched.now + this.sim.rng.int(1000);
      },
    );
  }
}

async function simulate(seed: number, chaosMs: number, calmMs: number): Promise<Sim> {
  const sim = new Sim(seed);
  const epochs = new Map<string, number>();
  const epochStart = new Map<string, bigint>();
  const fail = (message: string) => {
    throw new Error(`seed ${seed} at t=${sim.sched.now}: ${message}`);
  };

  const check = async () => {
    const now = sim.sched.now;
    const holders = new Map<string, string[]>();
    for (const c of sim.clients) {
      for (const [key, h] of c.holdings) {
        if (c.holds(key, now)) holders.set(key, [...(holders.get(key) ?? []), `${c.name}(${c.memberId}@${h.epoch})`]);
      }
    }
    for (const [key, who] of holders) if (who.length > 1) fail(`${key} is held by ${who.join(" and ")}`);
    // Each step runs at most one store call, so every lease change is seen here. Within an
    // epoch the owner may commit out of order (a timed-out commit landing late), but never below
    // where the epoch started: only a fenced writer could do that, and it must not.
    for (const lease of (await sim.store.readGroup(GROUP)).leases) {
      const key = leaseKey(lease);
      const seen = epochs.get(key) ?? 0;
      if (lease.epoch < seen) fail(`${key} epoch went back from ${seen} to ${lease.epoch}`);
      if (lease.epoch > seen) {
        if (lease.owner !== null && seen > 0) sim.stats.takeovers++;
        epochs.set(key, lease.epoch);
        const before = epochStart.get(key);
        if (before !== undefined && (lease.checkpoint ?? -1n) < before) {
          fail(`${key} committed offset went back from ${before} to ${lease.checkpoint} across epoch ${lease.epoch}`);
        }
        epochStart.set(key, lease.checkpoint ?? -1n);
      }
      const start = epochStart.get(key) ?? -1n;
      if ((lease.checkpoint ?? -1n) < start) {
        fail(`${key} committed offset ${lease.checkpoint} is below ${start}, where epoch ${lease.epoch} began`);
      }
    }
  };

  const tick = () => {
    for (const c of sim.clients) c.tick();
  };
  let grown = false;
  while (sim.sched.now < chaosMs) {
    if (!grown && sim.sched.now > chaosMs / 2) {
      sim.catalog.addPartitions("a", 11);
      grown = true;
    }
    await sim.sched.step(tick);
    await check();
  }
  sim.chaos = false;
  for (const c of sim.clients) {
    c.restart();
    c.resume();
  }
  while (sim.sched.now < chaosMs + calmMs) {
    await sim.sched.step(tick);
    await check();
  }
  return sim;
}

/** Every partition with a live subscribed owner, balanced per topic, unmarked, and held by it. */
async function expectSettled(sim: Sim): Promise<void> {
  const now = sim.sched.now;
  const snapshot = await sim.store.readGroup(GROUP);
  const live = new Map(snapshot.members.filter((m) => now < m.expiresAt).map((m) => [m.memberId, m]));
  const members = sim.clients.map((c) => c.memberId);
  expect(members.every((id) => id !== null && live.has(id)), `seed ${sim.seed}: every client is a live member`).toBe(true);
  expect(live.size).toBe(sim.clients.length);
  const leases = new Map(snapshot.leases.map((l) => [leaseKey(l), l]));
  for (const [topic, n] of Object.entries({ ...TOPICS, a: 11 })) {
    const counts = new Map(sim.clients.filter((c) => c.topics.includes(topic)).map((c) => [c.memberId, 0]));
    for (let p = 0; p < n; p++) {
      const lease = leases.get(leaseKey({ topic, partition: p }));
      expect(lease?.revokeRequestedAt ?? null, `seed ${sim.seed}: ${topic}/${p} unmarked`).toBeNull();
      const owner = lease?.owner ?? "none";
      expect(counts.has(owner), `seed ${sim.seed}: ${topic}/${p} owned by a subscriber, not ${owner}`).toBe(true);
      counts.set(owner, (counts.get(owner) ?? 0) + 1);
      const holder = sim.clients.find((c) => c.memberId === owner);
      expect(holder?.holds(leaseKey({ topic, partition: p }), now), `seed ${sim.seed}: ${topic}/${p} held by its owner`).toBe(true);
    }
    const values = [...counts.values()];
    expect(Math.max(...values) - Math.min(...values), `seed ${sim.seed}: ${topic} balanced`).toBeLessThanOrEqual(1);
  }
  const observer = new GroupService({ store: sim.store, catalog: sim.catalog, takeoverMarginMs: MARGIN_MS, maxClockSkewMs: MAX_SKEW_MS, now: () => now });
  expect((await observer.describe(GROUP)).state).toBe("Stable");
}

const SEEDS = (process.env["SEGLOG_SIM_SEEDS"] ?? "1,2,3,4,5,6,7,8").split(",").map(Number);

describe("consumer group simulation", () => {
  for (const seed of SEEDS) {
    it(`seed ${seed}: never two holders of one partition, and converges once calm`, async () => {
      const sim = await simulate(seed, 30_000, 12_000);
      await expectSettled(sim);
      // The run exercised what it claims to.
      expect(sim.stats.crashes + sim.stats.pauses).toBeGreaterThan(0);
      expect(sim.stats.fenced).toBeGreaterThan(0);
      expect(sim.stats.takeovers).toBeGreaterThan(0);
      expect(sim.stats.slow).toBeGreaterThan(0);
    });
  }
});
