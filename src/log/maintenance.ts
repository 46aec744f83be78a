import { randomUUID } from "node:crypto";
import { partitionPk, segmentObjectKey, segmentPrefix, segmentSk } from "../core/keys.ts";
import type { IndexEntry } from "../core/read-committed.ts";
import { retentionCut } from "../core/retention.ts";
import type { SegmentObjects } from "../storage/objects.ts";
import type { Registry, TopicRecord } from "../storage/registry.ts";
import type { LogOptions } from "./options.ts";
import type { Reader } from "./read.ts";

export interface MaintenanceOptions {
  /** Stop starting new work after this long. @default 60000 */
  readonly budgetMs?: number;
  /** Objects no committed segment references are deleted once this old. Longer than the produce
   * timeout plus the abort timeout, so that an object whose commit may still land is never taken.
   * @default 900000 (15 min) */
  readonly orphanMinAgeMs?: number;
  /** Index items per Query page while deleting. @default 500 */
  readonly pageSize?: number;
  /** Only these topics (and their tombstones). @default every topic */
  readonly topics?: readonly string[];
}

export interface MaintenanceReport {
  readonly runId: string;
  segmentsDeleted: number;
  bytesFreed: number;
  orphansDeleted: number;
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
 * retention (log start first, then objects, then index items), and collect orphaned objects;
 * then remove deleted topics' data. Every step is idempotent or conditional, so two runs at once,
 * or a run after a crash at any step, are safe.
 */
export class Maintenance {
  private readonly budgetMs: number;
  private readonly orphanMinAgeMs: number;
  private readonly pageSize: number;
  private readonly only: ReadonlySet<string> | undefined;

  constructor(
    private readonly registry: Registry,
    private readonly objects: SegmentObjects,
    private readonly reader: Reader,
    private readonly log: Pick<LogOptions, "now"> & { listTopics(): Promise<TopicRecord[]> },
    options: MaintenanceOptions = {},
  ) {
    this.budgetMs = options.budgetMs ?? 60_000;
    this.orphanMinAgeMs = options.orphanMinAgeMs ?? 900_000;
    this.pageSize = options.pageSize ?? 500;
    this.only = options.topics ? new Set(options.topics) : undefined;
  }

  async run(): Promise<MaintenanceReport> {
    const started = this.log.now();
    const report: MaintenanceReport = {
      runId: randomUUID(),
      segmentsDeleted: 0,
      bytesFreed: 0,
      orphansDeleted: 0,
      reservationsAborted: 0,
      topicsDeleted: 0,
      partitionsVisited: 0,
      failures: 0,
      incomplete: false,
      durationMs: 0,
    };
    const outOfTime = () => this.log.now() - started > this.budgetMs;
    const chosen = (name: string) => this.only === undefined || this.only.has(name);
    for (const topic of (await this.log.listTopics()).filter((t) => chosen(t.name))) {
      for (let p = 0; p < topic.partitions; p++) {
        if (outOfTime()) report.incomplete = true;
        else await this.isolated(report, () => this.partition(topic, p, report));
      }
    }
    for (const t of (await this.registry.tombstones(25)).filter((x) => chosen(x.name))) {
      if (outOfTime()) report.incomplete = true;
      else await this.isolated(report, async () => void ((await this.deleteTopicData(t, outOfTime)) && report.topicsDeleted++));
    }
    report.durationMs = this.log.now() - started;
    return report;
  }

  /** One partition's (or deleted topic's) failure does not stop the others. */
  private async isolated(report: MaintenanceReport, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (e) {
      report.failures++;
      report.lastError = e instanceof Error ? e.message : String(e);
    }
  }

  private async partition(topic: TopicRecord, partition: number, report: MaintenanceReport): Promise<void> {
    report.partitionsVisited++;
    const settled = await this.reader.settle(topic, partition);
    report.reservationsAborted += settled.aborted;
    const { head } = settled;
    // Anything below the log start is leftover of an earlier run that stopped between steps.
    await this.dropBelow(topic, partition, head.startSeq, report);
    const decided: IndexEntry[] = [];
    for (let from = head.startSeq; from < settled.decidedSeq; ) {
      const page = await this.registry.segments(topic.topicId, partition, from, this.pageSize, settled.decidedSeq);
      decided.push(...page.entries);
      const last = page.entries.at(-1);
      if (!page.more || !last) break;
      from = last.toSeq + 1;
    }
    const cut = retentionCut(decided, topic.config, this.log.now());
    const lastDropped = decided[cut - 1];
    if (lastDropped) {
      const startSeq = lastDropped.toSeq + 1;
      await this.registry.advanceLogStart(topic.topicId, partition, startSeq, lastDropped.base + lastDropped.count);
      await this.dropBelow(topic, partition, startSeq, report);
    }
    await this.collectOrphans(topic, partition, decided.slice(cut), settled.decidedSeq, report);
  }

  /** Deletes the objects, then the index items, of every segment below `startSeq`. */
  private async dropBelow(topic: TopicRecord, partition: number, startSeq: number, report: MaintenanceReport): Promise<void> {
    if (startSeq === 0) return;
    for (;;) {
      const page = await this.registry.segments(topic.topicId, partition, 0, this.pageSize, startSeq);
      if (page.entries.length === 0) return;
      const committed = page.entries.filter((e) => e.state === "C");
      await this.objects.deleteMany(committed.map((e) => e.objectKey ?? segmentObjectKey(topic.name, topic.topicId, partition, e.base)));
      await this.registry.deleteItems(partitionPk(topic.topicId, partition), page.entries.map((e) => segmentSk(e.seq)));
      report.segmentsDeleted += committed.length;
      report.bytesFreed += committed.reduce((n, e) => n + e.bytes, 0);
      if (!page.more) return;
    }
  }

  /**
   * Deletes objects that no kept segment references (aborted or crashed writes), once older than
   * `orphanMinAgeMs`. Objects of seqs still undecided are younger than that by construction.
   */
  private async collectOrphans(
    topic: TopicRecord,
    partition: number,
    kept: readonly IndexEntry[],
    decidedSeq: number,
    report: MaintenanceReport,
  ): Promise<void> {
    const referenced = new Set(kept.filter((e) => e.state === "C").map((e) => e.objectKey ?? segmentObjectKey(topic.name, topic.topicId, partition, e.base)));
    const tail = await this.registry.segments(topic.topicId, partition, decidedSeq, this.pageSize);
    for (const e of tail.entries) if (e.state === "C") referenced.add(e.objectKey ?? segmentObjectKey(topic.name, topic.topicId, partition, e.base));
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

  /** Removes a deleted topic's objects and items in bounded pages; true once nothing is left. */
  private async deleteTopicData(t: { topicId: string; name: string; partitions: number }, outOfTime: () => boolean): Promise<boolean> {
    const prefix = `log/${t.name}/${t.topicId}/`;
    for (;;) {
      if (outOfTime()) return false;
      const page = await this.objects.list(prefix);
      if (page.objects.length === 0) break;
      await this.objects.deleteMany(page.objects.map((o) => o.key));
    }
    for (let p = 0; p < t.partitions; p++) {
      const pk = partitionPk(t.topicId, p);
      for (;;) {
        if (outOfTime()) return false;
        const keys = await this.registry.keysOf(pk, this.pageSize);
        if (keys.length === 0) break;
        await this.registry.deleteItems(pk, keys);
      }
    }
    await this.registry.forgetTopic(t.name, t.topicId);
    return true;
  }
}
