import { randomUUID } from "node:crypto";
import { mapConcurrent } from "../core/concurrency.ts";
import { entryObjectKey, mergedObjectKey, partitionPk, segmentObjectKey, segmentPrefix, segmentSk, sharedPrefix } from "../core/keys.ts";
import { MERGE_ROUND_BYTES, MERGE_ROUND_PARTITIONS, entryBytes, expiredReplacements, isMerged, isShared, liveEntries, mergedEntry, planMerges, planReads } from "../core/merge.ts";
import { SeglogError } from "../core/errors.ts";
import type { IndexEntry } from "../core/read-committed.ts";
import { EXPIRED_PAGE, retentionCut } from "../core/retention.ts";
import { MAX_PARTITIONS, MAX_SEGMENT_BYTES } from "../core/topic-config.ts";
import type { SegmentObjects } from "../storage/objects.ts";
import type { Head, Registry, TopicRecord } from "../storage/registry.ts";
import type { LogOptions } from "./options.ts";
import type { Reader } from "./read.ts";

export interface MaintenanceOptions {
  /** Stop starting new work after this long. @default 60000 */
  readonly budgetMs?: number;
  /** Objects no committed segment references are deleted once this old, and a deleted topic's data
   * once its delete is. Longer than the produce timeout plus the abort timeout, so that an object
   * whose commit may still land is never taken, nor a batch that reserved its offsets before the
   * delete and commits after it left behind. @default 900000 (15 min) */
  readonly orphanMinAgeMs?: number;
  /** The last run of small segments is merged once its newest is this old (a full run at once).
   * @default 600000 (10 min) */
  readonly mergeAfterMs?: number;
  /** Replaced segments (items and objects) are deleted this long after their merge: longer than
   * any fetch, so a reader that found them just before the merge still reads them, and longer than
   * a fetch function's cached index entries (60 s) plus the segment URLs it gives consumers (5 min).
   * @default 900000 */
  readonly mergeGraceMs?: number;
  /** Index items per Query page while deleting. @default 500 */
  readonly pageSize?: number;
  /** Only these topics (and their tombstones). @default every topic */
  readonly topics?: readonly string[];
  /** Where a run starts (a number in [0, 1)): which topic, which of its partitions, and whether
   * deleted topics' data goes first. @default Math.random */
  readonly random?: () => number;
  /**
   * Whether the run sweeps: reads each partition's whole index, deletes what merges replaced, and
   * lists the objects to collect orphans and shared objects no item names. A run that does not
   * aborts stale reservations, applies retention by time and merges, reading only the expired
   * start of each index and what was not merged yet (a topic with `retention.bytes` is read
   * whole): the scheduled function sweeps once an hour and runs light in between (`isSweepRun`).
   * @default true
   */
  readonly sweep?: boolean;
  /**
   * Drops what consumer groups keep of a deleted topic (its leases and committed offsets), before
   * its data goes; true once nothing is left to drop, else the topic waits for a later run. The
   * app wires it (src/http/app.ts, `maintain`); without it groups keep a deleted topic's leases.
   */
  readonly dropGroupOffsets?: DropGroupOffsets;
}

export type DropGroupOffsets = (deleted: { readonly name: string; readonly topicId: string }, outOfTime: () => boolean) => Promise<boolean>;

/**
 * Whether the scheduled run at `scheduledAt` (EventBridge's `time`) sweeps: the first run of each
 * `sweepIntervalMinutes`, counted from the epoch, whatever the minute the schedule started at. A
 * schedule fires within its minute, not on its 0th second, so the time counts in whole minutes:
 * runs are then exactly `intervalMinutes` apart. A run without a time (invoked by hand) sweeps.
 */
export function isSweepRun(scheduledAt: string | undefined, intervalMinutes: number, sweepIntervalMinutes: number): boolean {
  const at = scheduledAt === undefined ? Number.NaN : Date.parse(scheduledAt);
  if (!Number.isFinite(at) || sweepIntervalMinutes <= intervalMinutes) return true;
  const minute = Math.floor(at / 60_000);
  return Math.floor(minute / sweepIntervalMinutes) !== Math.floor((minute - intervalMinutes) / sweepIntervalMinutes);
}

export interface MaintenanceReport {
  readonly runId: string;
  /** Whether the run swept (`MaintenanceOptions.sweep`). */
  readonly sweep: boolean;
  /** Merged segments written, and the small segments they replaced. */
  merges: number;
  segmentsMerged: number;
  /** Segments deleted by retention. */
  segmentsDeleted: number;
  /** Retention's deletions and replaced segments' copies, once their grace period is over. */
  bytesFreed: number;
  orphansDeleted: number;
  /** Shared objects (several partitions' batches of one produce request) no index item names any more. */
  sharedObjectsDeleted: number;
  reservationsAborted: number;
  topicsDeleted: number;
  partitionsVisited: number;
  /** Partitions or topics whose work stopped on an error; the next run picks them up. */
  failures: number;
  lastError?: string;
  /** True when the budget ran out before every partition was visited. */
  incomplete: boolean;
  durationMs: number;
}

/**
 * The maintenance run (docs/maintenance.md): per partition, abort stale reservations, apply
 * retention (log start first, then objects, then index items), delete what merges replaced once
 * their grace period is over; merge runs of small segments, a few partitions' together; collect
 * orphaned objects; then remove deleted topics' data. Every step is idempotent or conditional, so two runs at once,
 * or a run after a crash at any step, are safe.
 */
export class Maintenance {
  private readonly budgetMs: number;
  private readonly orphanMinAgeMs: number;
  private readonly mergeAfterMs: number;
  private readonly mergeGraceMs: number;
  private readonly pageSize: number;
  private readonly only: ReadonlySet<string> | undefined;
  private readonly sweep: boolean;
  private readonly random: () => number;
  private readonly dropGroupOffsets: DropGroupOffsets | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly objects: SegmentObjects,
    private readonly reader: Reader,
    private readonly log: Pick<LogOptions, "now"> & { listTopics(): Promise<TopicRecord[]> },
    options: MaintenanceOptions = {},
  ) {
    this.budgetMs = options.budgetMs ?? 60_000;
    this.orphanMinAgeMs = options.orphanMinAgeMs ?? 900_000;
    this.mergeAfterMs = options.mergeAfterMs ?? 600_000;
    this.mergeGraceMs = options.mergeGraceMs ?? 900_000;
    this.pageSize = options.pageSize ?? 500;
    this.only = options.topics ? new Set(options.topics) : undefined;
    this.sweep = options.sweep ?? true;
    this.random = options.random ?? Math.random;
    this.dropGroupOffsets = options.dropGroupOffsets;
  }

  async run(): Promise<MaintenanceReport> {
    const started = this.log.now();
    const report: MaintenanceReport = {
      runId: randomUUID(),
      sweep: this.sweep,
      merges: 0,
      segmentsMerged: 0,
      segmentsDeleted: 0,
      bytesFreed: 0,
      orphansDeleted: 0,
      sharedObjectsDeleted: 0,
      reservationsAborted: 0,
      topicsDeleted: 0,
      partitionsVisited: 0,
      failures: 0,
      incomplete: false,
      durationMs: 0,
    };
    const outOfTime = () => this.log.now() - started > this.budgetMs;
    const chosen = (name: string) => this.only === undefined || this.only.has(name);
    // From a topic, and a partition of it, picked at random, and deleted topics' data first in
    // half the runs: each run starting at the first topic's first partition, a budget used up
    // before the last left the later ones' retention, and deleted topics' data, undone for ever.
    const tombstonesFirst = this.random() < 0.5;
    if (tombstonesFirst) await this.deleteTopicsData(report, chosen, outOfTime);
    for (const topic of rotated((await this.log.listTopics()).filter((t) => chosen(t.name)), this.random())) {
      const shared = new Set<string>();
      const unvisited: number[] = [];
      // A few partitions at a time: their merges together (an object with a batch of each is read
      // once), then, in a sweep, their orphans, naming the objects their merges made.
      const rounds = Array.from({ length: Math.ceil(topic.partitions / MERGE_ROUND_PARTITIONS) }, (_, i) => i * MERGE_ROUND_PARTITIONS);
      for (const from of rotated(rounds, this.random())) {
        const visits: Visit[] = [];
        for (let p = from; p < Math.min(topic.partitions, from + MERGE_ROUND_PARTITIONS); p++) {
          if (outOfTime()) report.incomplete = true;
          else if (await this.isolated(report, async () => void visits.push(await this.visit(topic, p, report, outOfTime)))) continue;
          unvisited.push(p);
        }
        await this.merge(topic, visits, report, outOfTime);
        for (const v of this.sweep ? visits : []) {
          if (outOfTime()) report.incomplete = true;
          else if (!v.failed && (await this.isolated(report, () => this.collectOrphans(topic, v.partition, [...v.standing, ...v.made], v.decidedSeq, report, shared)))) continue;
          unvisited.push(v.partition);
        }
      }
      // Which shared objects no index item names: the visits say for their partitions; the index
      // of a partition whose visit failed is read for it. Nothing is deleted unless all are known.
      if (this.sweep && !outOfTime()) {
        await this.isolated(report, async () => {
          for (const p of unvisited) {
            if (outOfTime()) return void (report.incomplete = true);
            for (const key of await this.sharedNamedBy(topic, p)) shared.add(key);
          }
          if (outOfTime()) return void (report.incomplete = true);
          await this.collectShared(topic, shared, report);
        });
      }
    }
    if (!tombstonesFirst) await this.deleteTopicsData(report, chosen, outOfTime);
    report.durationMs = this.log.now() - started;
    return report;
  }

  /** The data of deleted topics: 25 at most per run, of the chosen topics' tombstones old enough
   * that no produce which reserved before the delete can still commit (however many others there are). */
  private async deleteTopicsData(report: MaintenanceReport, chosen: (name: string) => boolean, outOfTime: () => boolean): Promise<void> {
    const deletedBefore = this.log.now() - this.orphanMinAgeMs;
    const due = (await this.registry.tombstones()).filter((x) => chosen(x.name) && x.deletedAt <= deletedBefore);
    for (const t of rotated(due, this.random()).slice(0, 25)) {
      if (!outOfTime()) await this.isolated(report, async () => void ((await this.deleteTopicData(t, outOfTime)) && report.topicsDeleted++));
      if (outOfTime()) report.incomplete = true; // stopped in it, or before it: a later run goes on
    }
  }

  /** One partition's (or deleted topic's) failure does not stop the others. True if it succeeded. */
  private async isolated(report: MaintenanceReport, work: () => Promise<void>): Promise<boolean> {
    try {
      await work();
      return true;
    } catch (e) {
      report.failures++;
      report.lastError = e instanceof Error ? e.message : String(e);
      return false;
    }
  }

  /**
   * Visits one partition: aborts stale reservations, applies retention and, in a sweep, deletes
   * what merges replaced. Returns the merges to make, which `merge` makes with the other
   * partitions' (a sweep then collects the partition's orphans).
   */
  private async visit(topic: TopicRecord, partition: number, report: MaintenanceReport, outOfTime: () => boolean): Promise<Visit> {
    report.partitionsVisited++;
    const settled = await this.reader.settle(topic, partition);
    report.reservationsAborted += settled.aborted;
    const { head } = settled;
    // Anything below the log start is leftover of an earlier run that stopped between steps.
    await this.dropBelow(topic, partition, head.startSeq, report, outOfTime);
    // The decided index from the log start: whole, or in a light run only as far as retention by time reaches.
    const whole = this.sweep || topic.config["retention.bytes"] >= 0;
    const decided = whole
      ? await this.index(topic, partition, head.startSeq, settled.decidedSeq)
      : await this.expiredStart(topic, partition, head.startSeq, settled.decidedSeq);
    const live = liveEntries(decided);
    const lastDropped = live[retentionCut(live, topic.config, this.log.now()) - 1];
    if (lastDropped) {
      const startSeq = lastDropped.toSeq + 1;
      await this.registry.advanceLogStart(topic.topicId, partition, startSeq, lastDropped.base + lastDropped.count);
      await this.dropBelow(topic, partition, startSeq, report, outOfTime);
    }
    const startSeq = lastDropped ? lastDropped.toSeq + 1 : head.startSeq;
    const visit = { partition, decidedSeq: settled.decidedSeq, standing: [] as IndexEntry[], made: [] as IndexEntry[], failed: false };
    if (!this.sweep) {
      // Merges go on from where the last one was claimed: only that part of the index is read.
      const from = Math.max(startSeq, Math.min(head.mergeFrom, head.mergedSeq));
      const unmerged = whole ? decided.filter((e) => e.seq >= from) : await this.index(topic, partition, from, settled.decidedSeq);
      return { ...visit, runs: this.mergeRuns(topic, head, liveEntries(unmerged)) };
    }
    const kept = decided.filter((e) => e.seq >= startSeq);
    const replaced = await this.deleteReplaced(topic, partition, kept, report, outOfTime);
    const standing = kept.filter((e) => !replaced.has(e.seq));
    return { ...visit, standing, runs: this.mergeRuns(topic, head, liveEntries(standing)) };
  }

  /**
   * Runs of small segments to merge (docs/maintenance.md), oldest first; first, a run that was
   * claimed but whose swap did not happen (a crash), to be finished.
   */
  private mergeRuns(topic: TopicRecord, head: Head, live: readonly IndexEntry[]): MergeRun[] {
    const claimed = live.filter((e) => e.seq >= head.mergeFrom && e.seq < head.mergedSeq);
    const unfinished = claimed[0]?.seq === head.mergeFrom && !isMerged(claimed[0]) ? [{ entries: claimed, claimed: true }] : [];
    const policy = { targetBytes: Math.min(topic.config["segment.bytes"], MAX_SEGMENT_BYTES), mergeAfterMs: this.mergeAfterMs, now: this.log.now() };
    return [...unfinished, ...planMerges(live.filter((e) => e.seq >= head.mergedSeq), policy).map((entries) => ({ entries, claimed: false }))];
  }

  /**
   * Makes the partitions' merges in rounds: each round takes the next run of every partition (up
   * to {@link MERGE_ROUND_BYTES}) and reads their segments together, so that an object holding a
   * batch of each of them (a shared object) is read once, not once per partition. Each run is
   * claimed on its partition's head first, so that runs never overlap; a partition whose claim is
   * refused, or whose merge fails, makes no more merges in this run.
   */
  private async merge(topic: TopicRecord, visits: readonly Visit[], report: MaintenanceReport, outOfTime: () => boolean): Promise<void> {
    for (;;) {
      const round: { visit: Visit; run: MergeRun }[] = [];
      let bytes = 0;
      for (const visit of visits) {
        const run = visit.runs[0];
        if (visit.failed || !run || (round.length > 0 && bytes + runBytes(run) > MERGE_ROUND_BYTES)) continue;
        if (outOfTime()) break;
        visit.runs.shift();
        const first = run.entries[0] as IndexEntry;
        const last = run.entries.at(-1) as IndexEntry;
        let claimed = run.claimed;
        if (!(await this.isolated(report, async () => void (claimed ||= await this.registry.claimMerge(topic.topicId, visit.partition, first.seq, last.seq))))) {
          visit.failed = true;
        }
        if (!claimed || visit.failed) {
          visit.runs.length = 0;
          continue;
        }
        round.push({ visit, run });
        bytes += runBytes(run);
      }
      if (round.length === 0) return;
      await this.mergeRound(topic, round, report);
    }
  }

  /** Reads a round's segments, each object once, then writes each run's merged object and swaps it in. */
  private async mergeRound(topic: TopicRecord, round: readonly { visit: Visit; run: MergeRun }[], report: MaintenanceReport): Promise<void> {
    const committed = round.map(({ run }) => run.entries.filter((e) => e.state === "C"));
    const wanted = round.map(({ visit }, r) =>
      (committed[r] as IndexEntry[]).map((e) => ({ key: entryObjectKey(topic, visit.partition, e), range: entryBytes(e), bytes: e.bytes })),
    );
    const parts = round.map(() => [] as Uint8Array[]);
    const failed = new Map<number, unknown>();
    await mapConcurrent(planReads(wanted), 16, async (read) => {
      try {
        const bytes = await this.objects.get(read.key, read.range);
        if (bytes.byteLength !== read.length) {
          throw new SeglogError("Internal", `Object ${read.key} holds ${bytes.byteLength} bytes where its index items say ${read.length}`);
        }
        for (const piece of read.pieces) (parts[piece.run] as Uint8Array[])[piece.index] = bytes.subarray(piece.at, piece.at + piece.length);
      } catch (e) {
        for (const piece of read.pieces) failed.set(piece.run, e);
      }
    });
    for (const [r, { visit, run }] of round.entries()) {
      const ok = await this.isolated(report, async () => {
        if (failed.has(r)) throw failed.get(r);
        const first = run.entries[0] as IndexEntry;
        const last = run.entries.at(-1) as IndexEntry;
        const key = mergedObjectKey(topic.name, topic.topicId, visit.partition, first.base, last.base + last.count - 1);
        const merged = mergedEntry(run.entries, key, this.log.now());
        await this.objects.put(key, Buffer.concat(parts[r] as Uint8Array[]));
        if (!(await this.registry.replaceWithMerged(topic.topicId, visit.partition, merged))) return;
        await this.registry.dropFromOffsetIndex(topic.topicId, visit.partition, run.entries.slice(1));
        report.merges++;
        report.segmentsMerged += (committed[r] as IndexEntry[]).length;
        visit.made.push(merged);
      });
      if (!ok) {
        visit.failed = true;
        visit.runs.length = 0;
      }
    }
  }

  /**
   * Deletes what merges replaced, once their grace period is over: the old objects first, then
   * the index items in seq order (so a reader that lands on one still finds the rest after it).
   * Returns the seqs of the items deleted.
   */
  private async deleteReplaced(
    topic: TopicRecord,
    partition: number,
    kept: readonly IndexEntry[],
    report: MaintenanceReport,
    outOfTime: () => boolean,
  ): Promise<Set<number>> {
    const deleted = new Set<number>();
    for (const { merged, replaced } of expiredReplacements(kept, this.log.now(), this.mergeGraceMs)) {
      // A sweep deletes an hour's replaced segments: what the budget leaves, the next sweep does.
      if (outOfTime()) {
        report.incomplete = true;
        break;
      }
      const objects = replaced.filter(owned).map((e) => entryObjectKey(topic, partition, e));
      const firstOwned = merged.replacedKey === undefined;
      await this.objects.deleteMany([...(firstOwned ? [segmentObjectKey(topic.name, topic.topicId, partition, merged.base)] : []), ...objects]);
      await this.registry.deleteItems(partitionPk(topic.topicId, partition), replaced.map((e) => segmentSk(e.seq)));
      for (const e of replaced) deleted.add(e.seq);
      // Shared objects' bytes are counted when they go (collectShared); the first item's bytes are the merged ones less the rest.
      const sum = (es: readonly IndexEntry[]) => es.reduce((n, e) => n + (e.state === "C" ? e.bytes : 0), 0);
      report.bytesFreed += sum(replaced.filter(owned)) + (firstOwned ? merged.bytes - sum(replaced) : 0);
    }
    return deleted;
  }

  /** Deletes the objects, then the index items, of every segment below `startSeq`. */
  private async dropBelow(topic: TopicRecord, partition: number, startSeq: number, report: MaintenanceReport, outOfTime: () => boolean): Promise<void> {
    if (startSeq === 0) return;
    for (let covered = -1; ; ) {
      // What is left below the log start is read by no one, and the next run's visit goes on.
      if (outOfTime()) return void (report.incomplete = true);
      const page = await this.registry.segments(topic.topicId, partition, 0, this.pageSize, startSeq);
      if (page.entries.length === 0) return;
      await this.objects.deleteMany(page.entries.filter(owned).map((e) => entryObjectKey(topic, partition, e)));
      await this.registry.deleteItems(partitionPk(topic.topicId, partition), page.entries.map((e) => segmentSk(e.seq)));
      for (const e of page.entries) {
        if (e.state === "C" && e.seq > covered) {
          // (items a merge replaced hold no data of their own; a shared object's bytes are
          // counted when it goes)
          report.segmentsDeleted++;
          if (!isShared(e)) report.bytesFreed += e.bytes;
        }
        covered = Math.max(covered, e.toSeq);
      }
      if (!page.more) return;
    }
  }

  /**
   * Deletes objects that no kept segment references (aborted or crashed writes and merges), once
   * older than `orphanMinAgeMs`. Objects of seqs still undecided are younger than that by
   * construction; the first object a merge replaced is kept for the merge's grace period.
   */
  private async collectOrphans(
    topic: TopicRecord,
    partition: number,
    kept: readonly IndexEntry[],
    decidedSeq: number,
    report: MaintenanceReport,
    shared: Set<string>,
  ): Promise<void> {
    const tail = await this.registry.segments(topic.topicId, partition, decidedSeq, this.pageSize);
    const referenced = new Set(this.named(topic, partition, [...kept, ...tail.entries]));
    for (const key of referenced) if (key.startsWith(sharedPrefix(topic.name, topic.topicId))) shared.add(key);
    const oldEnough = this.log.now() - this.orphanMinAgeMs;
    let token: string | undefined;
    do {
      const page = await this.objects.list(segmentPrefix(topic.name, topic.topicId, partition), token);
      const orphans = page.objects.filter((o) => !referenced.has(o.key) && o.lastModified < oldEnough);
      await this.objects.deleteMany(orphans.map((o) => o.key));
      report.orphansDeleted += orphans.length;
      token = page.next;
    } while (token);
  }

  /**
   * The objects index entries keep: a committed segment's own object (or its shared one), and
   * through a merge's grace period the object of the item the merged one replaced in place.
   */
  private named(topic: TopicRecord, partition: number, entries: readonly IndexEntry[]): string[] {
    const keys: string[] = [];
    for (const e of entries) {
      if (e.state === "C") keys.push(entryObjectKey(topic, partition, e));
      if (isMerged(e) && this.log.now() - e.at < this.mergeGraceMs) keys.push(e.replacedKey ?? segmentObjectKey(topic.name, topic.topicId, partition, e.base));
    }
    return keys;
  }

  /**
   * The index from `fromSeq` (to before `toSeq`) as far as retention by time reaches: up to the
   * first page that holds a segment it keeps, in small pages. Nothing when `retention.ms` is -1.
   */
  private async expiredStart(topic: TopicRecord, partition: number, fromSeq: number, toSeq: number): Promise<IndexEntry[]> {
    const retentionMs = topic.config["retention.ms"];
    if (retentionMs < 0) return [];
    const cutoff = this.log.now() - retentionMs;
    const entries: IndexEntry[] = [];
    for (let from = fromSeq; from < toSeq; ) {
      const page = await this.registry.segments(topic.topicId, partition, from, EXPIRED_PAGE, toSeq);
      entries.push(...page.entries);
      const last = page.entries.at(-1);
      if (!page.more || !last || page.entries.some((e) => e.maxTs >= cutoff)) break;
      from = last.seq + 1;
    }
    return entries;
  }

  /** A partition's index items from `fromSeq` (to before `toSeq`, if given), page by page. */
  private async index(topic: TopicRecord, partition: number, fromSeq: number, toSeq?: number): Promise<IndexEntry[]> {
    const entries: IndexEntry[] = [];
    for (let from = fromSeq; toSeq === undefined || from < toSeq; ) {
      const page = await this.registry.segments(topic.topicId, partition, from, this.pageSize, toSeq);
      entries.push(...page.entries);
      const last = page.entries.at(-1);
      if (!page.more || !last) break;
      from = last.seq + 1;
    }
    return entries;
  }

  /** The shared objects a partition's index items name, from its log start to its tail. */
  private async sharedNamedBy(topic: TopicRecord, partition: number): Promise<string[]> {
    const head = await this.registry.getHead(topic.topicId, partition);
    if (!head) throw new SeglogError("Internal", `Partition ${topic.name}-${partition} has no head`, { retriable: true });
    const prefix = sharedPrefix(topic.name, topic.topicId);
    return this.named(topic, partition, await this.index(topic, partition, head.startSeq)).filter((key) => key.startsWith(prefix));
  }

  /**
   * Deletes the topic's shared objects that no index item names, once older than
   * `orphanMinAgeMs` (as for orphans: a produce whose commit may still land is younger). Index
   * items only ever stop naming an object (retention, merges), never start to name an old one,
   * so the partitions' sets, gathered one after another, hold every object still named.
   */
  private async collectShared(topic: TopicRecord, named: ReadonlySet<string>, report: MaintenanceReport): Promise<void> {
    const oldEnough = this.log.now() - this.orphanMinAgeMs;
    let token: string | undefined;
    do {
      const page = await this.objects.list(sharedPrefix(topic.name, topic.topicId), token);
      const unnamed = page.objects.filter((o) => !named.has(o.key) && o.lastModified < oldEnough);
      await this.objects.deleteMany(unnamed.map((o) => o.key));
      report.sharedObjectsDeleted += unnamed.length;
      report.bytesFreed += unnamed.reduce((n, o) => n + o.size, 0);
      token = page.next;
    } while (token);
  }

  /**
   * The partitions past a deleted topic's count that have heads: an alter writes its new
   * partitions' heads before the topic item, and one whose topic write lost to the delete (or that
   * crashed between the two) left them; no record can be under them, the topic never having had
   * them. An alter writes them in order from the count it read, which is at most the tombstone's,
   * a few at a time (`HEAD_WRITES_IN_FLIGHT`, 16): so they start at the tombstone's count, and a
   * gap in them is shorter than 100. Read 100 to a BatchGetItem until 100 in a row have none.
   */
  private async strayHeads(t: { topicId: string; partitions: number }): Promise<number[]> {
    const found: number[] = [];
    for (let from = t.partitions; from < MAX_PARTITIONS; from += STRAY_HEADS_PAGE) {
      const page = Array.from({ length: Math.min(STRAY_HEADS_PAGE, MAX_PARTITIONS - from) }, (_, i) => from + i);
      const heads = [...(await this.registry.getHeads(t.topicId, page)).keys()];
      if (heads.length === 0) break;
      found.push(...heads);
    }
    return found;
  }

  /** Removes a deleted topic: its data, what groups keep of it, then its tombstone; true once all is gone. */
  private async deleteTopicData(t: { topicId: string; name: string; partitions: number; dataGone: boolean }, outOfTime: () => boolean): Promise<boolean> {
    // A delete writes the tombstone, then marks the topic DELETING: until then (or if that write
    // failed) the topic is live, and its data stays.
    const named = await this.registry.getTopic(t.name);
    if (named?.topicId === t.topicId && named.state === "ACTIVE") return false;
    // What groups keep of it may have to wait (a member gives a lease back, or still subscribes to
    // the name, for as long as it likes): the data goes anyway, once, and the tombstone stays,
    // marked, until a later run has dropped the leases.
    const groupsDone = this.dropGroupOffsets === undefined || (await this.dropGroupOffsets(t, outOfTime));
    if (!t.dataGone) {
      if (!(await this.deleteData(t, outOfTime))) return false;
      if (!groupsDone) await this.registry.markTopicDataGone(t.topicId);
    }
    if (!groupsDone) return false;
    await this.registry.forgetTopic(t.name, t.topicId);
    return true;
  }

  /** A deleted topic's objects and items, in bounded pages; true once nothing is left. */
  private async deleteData(t: { topicId: string; name: string; partitions: number }, outOfTime: () => boolean): Promise<boolean> {
    const prefix = `log/${t.name}/${t.topicId}/`;
    for (;;) {
      if (outOfTime()) return false;
      const page = await this.objects.list(prefix);
      if (page.objects.length === 0) break;
      await this.objects.deleteMany(page.objects.map((o) => o.key));
    }
    const stray = outOfTime() ? [] : await this.strayHeads(t);
    for (const p of [...Array.from({ length: t.partitions }, (_, i) => i), ...stray]) {
      const pk = partitionPk(t.topicId, p);
      for (;;) {
        if (outOfTime()) return false;
        const keys = await this.registry.keysOf(pk, this.pageSize);
        if (keys.length === 0) break;
        await this.registry.deleteItems(pk, keys);
      }
    }
    return true;
  }
}

/** Partitions a read of stray heads takes (BatchGetItem's limit), and the gap that ends them. */
const STRAY_HEADS_PAGE = 100;

/** A segment whose object is deleted with its index item; a shared object goes once no item names it. */
const owned = (e: IndexEntry): boolean => e.state === "C" && !isShared(e);

/** A partition's part in a run: the merges to make, and for a sweep what its orphan step needs. */
interface Visit {
  readonly partition: number;
  /** Merges still to make, in order. */
  readonly runs: MergeRun[];
  /** A sweep's kept index entries (those merges replaced left out), and the seq they reach. */
  readonly standing: readonly IndexEntry[];
  readonly decidedSeq: number;
  /** Merged entries this run swapped in. */
  readonly made: IndexEntry[];
  /** Its visit or a merge failed: no more merges, and its shared objects are read again. */
  failed: boolean;
}

interface MergeRun {
  readonly entries: readonly IndexEntry[];
  /** Claimed by an earlier run that did not swap it in (a crash): finished without a new claim. */
  readonly claimed: boolean;
}

const runBytes = (run: MergeRun): number => run.entries.reduce((n, e) => n + (e.state === "C" ? e.bytes : 0), 0);

/** The list from the item at `at` (a fraction of its length, 0 ≤ at < 1) on, then the ones before it. */
function rotated<T>(items: readonly T[], at: number): T[] {
  const from = Math.floor(at * items.length);
  return [...items.slice(from), ...items.slice(0, from)];
}
