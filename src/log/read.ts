import { decodeRecordBatch, iterateBatches, recordsOf } from "../core/codec/record-batch.ts";
import { SeglogError, TOPIC_DELETED, invalid, notFound, offsetOutOfRange } from "../core/errors.ts";
import { mapConcurrent } from "../core/concurrency.ts";
import { entryObjectKey, partitionPk } from "../core/keys.ts";
import { entryChunks, isShared, rangeFor, type Budget, type ByteRange } from "../core/merge.ts";
import { CommittedWalk, type IndexEntry } from "../core/read-committed.ts";
import type { PartitionAnswer, SegmentLocation, SegmentsAnswer, SharedObject } from "../core/segment-locations.ts";
import { groupRanges } from "../core/range-groups.ts";
import type { SegmentObjects } from "../storage/objects.ts";
import type { Head, Registry, TopicRecord } from "../storage/registry.ts";
import { IndexCache } from "./index-cache.ts";
import type { LogOptions } from "./options.ts";

export interface FetchRequest {
  readonly offset: number;
  readonly maxBytes?: number;
  readonly maxWaitMs?: number;
}

export interface FetchedBatch {
  readonly baseOffset: number;
  /** RecordBatch v2 bytes as stored: one batch, or several back to back from a merged segment.
   * They may start before the requested offset, as in Kafka. */
  readonly bytes: Uint8Array;
}

export interface FetchResult {
  readonly batches: FetchedBatch[];
  /** Where the next fetch should start. */
  readonly nextOffset: number;
  /** End of the committed log as far as this read could see (exact when it reached the tail). */
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** The id of the topic read (`SegmentsAnswer.topicId`). */
  readonly topicId: string;
}

type Wanted = { readonly entry: IndexEntry; readonly range: ByteRange };

/** One partition's answer to a fetch of several, with the object key of each segment. */
type KeyedAnswer = { readonly partition: number } & ((SegmentsAnswer & { readonly keys: readonly string[] }) | { readonly error: SeglogError });

/** A partition to read and where: one entry of a fetch of several partitions. */
export interface PartitionWant {
  readonly partition: number;
  readonly offset: number;
}

interface ReadPlan {
  readonly wanted: readonly Wanted[];
  readonly nextOffset: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

export interface ReadRecord {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: ReadonlyArray<{ key: string; value: Uint8Array | null }>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** How long a walk past the stable hint serves a partition's fetches, how many index pages it
 * reads at most, and how many partitions' it keeps (`Reader.highWatermarkAfter`). */
const TAIL_WALK_EVERY_MS = 1_000;
const TAIL_WALK_PAGES = 10;
const TAIL_WALK_PARTITIONS = 1024;

/** The bytes of a merged segment a lookup by timestamp reads at a time. */
const TIMESTAMP_READ_BYTES = 1024 * 1024;

/** Read committed (docs/produce-and-fetch.md): walk the index, abort stale gaps, GET segments. */
export class Reader {
  private readonly cache: IndexCache;
  /** Per partition, the log end a walk past the stable hint last found for a reader behind, and when (`highWatermarkAfter`). */
  private readonly tails = new Map<string, { end: number; at: number }>();

  constructor(
    private readonly registry: Registry,
    private readonly objects: SegmentObjects,
    private readonly options: LogOptions,
  ) {
    this.cache = new IndexCache(options.indexCacheMs, options.now);
  }

  async fetch(topic: TopicRecord, partition: number, request: FetchRequest): Promise<FetchResult> {
    return this.poll(topic, partition, request, { maxSegments: Number.POSITIVE_INFINITY, budget: "fit" }, undefined, async (plan) => {
      const batches = await this.getAll(topic, partition, plan.wanted, this.options.now() + this.options.readBudgetMs);
      const nextOffset = batches.length < plan.wanted.length ? (plan.wanted[batches.length - 1] as Wanted).range.nextOffset : plan.nextOffset;
      return { found: batches.length, result: { batches, nextOffset, highWatermark: plan.highWatermark, logStartOffset: plan.logStartOffset, topicId: topic.topicId } };
    });
  }

  /**
   * A fetch that answers with where the bytes are instead of the bytes: a presigned GET per
   * segment (with the byte range of a merged or shared object), for the client to read from S3
   * itself (docs/produce-and-fetch.md, "Reading from storage"). At most `maxSegmentsPerLocate`.
   */
  async locate(topic: TopicRecord, partition: number, request: FetchRequest, maxSegments = this.options.maxSegmentsPerLocate): Promise<SegmentsAnswer> {
    const { keys: _, ...answer } = await this.locateKeyed(topic, partition, request, maxSegments);
    return answer;
  }

  /** `locate`, with the object key of each segment; from `head` when it was read already. */
  private locateKeyed(topic: TopicRecord, partition: number, request: FetchRequest, maxSegments: number, head?: Head): Promise<SegmentsAnswer & { keys: readonly string[] }> {
    return this.poll(topic, partition, request, { maxSegments, budget: "fill" }, head, async (plan) => {
      const keys = plan.wanted.map(({ entry }) => entryObjectKey(topic, partition, entry));
      const segments = await Promise.all(
        plan.wanted.map(async ({ entry, range }, i): Promise<SegmentLocation> => {
          const part = wholeObject(entry, range) ? undefined : { start: range.start, end: range.end };
          const url = await this.objects.presignGet(keys[i] as string, this.options.segmentUrlExpirySeconds, part);
          const location = { baseOffset: range.base, nextOffset: range.nextOffset, url };
          return part === undefined ? location : { ...location, range: part };
        }),
      );
      return { found: segments.length, result: { segments, nextOffset: plan.nextOffset, highWatermark: plan.highWatermark, logStartOffset: plan.logStartOffset, topicId: topic.topicId, keys } };
    });
  }

  /**
   * `locate` for several partitions of a topic at once, as one Kafka FetchRequest covers every
   * partition a consumer reads: one request and one invocation where there were one per
   * partition. The long poll ends as soon as any partition has news (segments, an offset that
   * moved, or an error), and every partition's answer goes back, empty or not. The partitions
   * share `maxSegmentsPerLocate`, so that the answer stays as small as a single one can be.
   * A partition's own failure (out of range, say) is its answer; the others still read.
   * Segments of several partitions in one object (a produce request's) also get a GET of them
   * together, `objects` (one for each cluster of them in it, `shareObjects`): a consumer reading
   * those partitions makes one GET where it made one each.
   */
  async locateMany(
    topic: TopicRecord,
    wants: readonly PartitionWant[],
    request: { maxBytes?: number; maxWaitMs?: number },
  ): Promise<{ partitions: PartitionAnswer[]; objects: SharedObject[] }> {
    const maxWaitMs = bounded("maxWaitMs", request.maxWaitMs, this.options.defaultMaxWaitMs, 0, this.options.maxWaitMsLimit);
    const deadline = this.options.now() + maxWaitMs;
    const maxSegments = Math.max(1, Math.floor(this.options.maxSegmentsPerLocate / Math.max(1, wants.length)));
    for (;;) {
      // The partitions' heads in one read; should it fail, each partition reads its own (and
      // answers its own error). An error that is not a SeglogError is a bug, and thrown.
      const heads =
        wants.length > 1
          ? await this.registry.getHeads(topic.topicId, wants.map((w) => w.partition)).catch((e: unknown) => {
              if (e instanceof SeglogError) return undefined;
              throw e;
            })
          : undefined;
      const answers = await mapConcurrent(wants, this.options.getConcurrency, async ({ partition, offset }): Promise<KeyedAnswer> => {
        try {
          const want = { offset, maxWaitMs: 0, ...(request.maxBytes === undefined ? {} : { maxBytes: request.maxBytes }) };
          return { partition, ...(await this.locateKeyed(topic, partition, want, maxSegments, heads?.get(partition))) };
        } catch (e) {
          if (e instanceof SeglogError) return { partition, error: e };
          throw e;
        }
      });
      const news = answers.some((a, i) => "error" in a || a.segments.length > 0 || a.nextOffset > (wants[i] as PartitionWant).offset);
      const remaining = deadline - this.options.now();
      if (news || remaining <= 0) return this.shareObjects(answers);
      await sleep(Math.min(this.options.pollIntervalMs, remaining));
    }
  }

  /** Gives the segments that lie in one object GETs of several at once, where such a GET reads at
   * most as many bytes again as they hold (`groupRanges`: other partitions' batches between them
   * are read and left). */
  private async shareObjects(answers: readonly KeyedAnswer[]): Promise<{ partitions: PartitionAnswer[]; objects: SharedObject[] }> {
    const ranges = new Map<string, { start: number; end: number; answer: number; segment: number }[]>();
    answers.forEach((a, answer) => {
      if ("error" in a) return;
      a.segments.forEach(({ range }, segment) => {
        if (range === undefined) return; // a whole object is one partition's
        const key = a.keys[segment] as string;
        const list = ranges.get(key) ?? [];
        list.push({ ...range, answer, segment });
        ranges.set(key, list);
      });
    });
    const shared = [...ranges].flatMap(([key, list]) => groupRanges(list, 2).flatMap((group) => (group.members.length > 1 ? [{ key, group }] : [])));
    const objects = await Promise.all(
      shared.map(async ({ key, group: { start, end } }): Promise<SharedObject> => {
        const range = { start, end };
        return { url: await this.objects.presignGet(key, this.options.segmentUrlExpirySeconds, range), range };
      }),
    );
    const objectOf = answers.map((): (number | undefined)[] => []);
    shared.forEach(({ group }, object) => group.members.forEach((m) => ((objectOf[m.answer] as (number | undefined)[])[m.segment] = object)));
    const partitions = answers.map((a, i): PartitionAnswer => {
      if ("error" in a) return a;
      const { keys: _keys, ...answer } = a;
      const segments = answer.segments.map((segment, j) => {
        const object = objectOf[i]?.[j];
        return object === undefined ? segment : { ...segment, object };
      });
      return { ...answer, segments };
    });
    return { partitions, objects };
  }

  /** The long poll shared by `fetch` and `locate`: plan a read, finish it, and wait for more
   * while it found nothing and the wait is not over. */
  private async poll<T>(
    topic: TopicRecord,
    partition: number,
    request: FetchRequest,
    limits: { readonly maxSegments: number; readonly budget: Budget },
    head: Head | undefined,
    finish: (plan: ReadPlan) => Promise<{ found: number; result: T & { nextOffset: number } }>,
  ): Promise<T & { nextOffset: number }> {
    const maxBytes = bounded("maxBytes", request.maxBytes, this.options.defaultMaxBytes, 1, this.options.maxBytesLimit);
    const maxWaitMs = bounded("maxWaitMs", request.maxWaitMs, this.options.defaultMaxWaitMs, 0, this.options.maxWaitMsLimit);
    const deadline = this.options.now() + maxWaitMs;
    // A head read before (several partitions' at once) serves the first plan only.
    for (let gone = 0, known = head; ; known = undefined) {
      let found: number;
      let result: T & { nextOffset: number };
      try {
        ({ found, result } = await finish(await this.plan(topic, partition, request.offset, { ...limits, maxBytes }, gone >= 2, known)));
      } catch (e) {
        // Retention or a merge removed a segment or index items between reading the head and
        // reading them: read again (which then answers OffsetOutOfRange, or finds the merged
        // segment). The last tries walk from the log start rather than trusting the offset index.
        if (e instanceof SeglogError && e.code === "SegmentGone" && gone++ < 3) {
          this.cache.forget(partitionPk(topic.topicId, partition));
          continue;
        }
        throw e;
      }
      const remaining = deadline - this.options.now();
      if (found > 0 || result.nextOffset > request.offset || remaining <= 0) return result;
      await sleep(Math.min(this.options.pollIntervalMs, remaining));
    }
  }

  /** The committed end of the log. */
  async highWatermark(topic: TopicRecord, partition: number): Promise<{ head: Head; highWatermark: number }> {
    const head = await this.head(topic, partition);
    return { head, highWatermark: await this.committedEnd(topic, partition, head) };
  }

  /** The committed ends of several partitions of a topic: their heads read together
   * (`Registry.getHeads`), each then walked from its stable hint, `getConcurrency` at a time. */
  async highWatermarks(topic: TopicRecord, partitions: readonly number[]): Promise<Map<number, { head: Head; highWatermark: number }>> {
    const heads = await this.registry.getHeads(topic.topicId, partitions);
    const ends = await mapConcurrent(partitions, this.options.getConcurrency, async (partition) => {
      const head = heads.get(partition);
      if (!head) throw topicDeleted(topic);
      return { head, highWatermark: await this.committedEnd(topic, partition, head) };
    });
    return new Map(partitions.map((p, i) => [p, ends[i] as { head: Head; highWatermark: number }]));
  }

  private async committedEnd(topic: TopicRecord, partition: number, head: Head): Promise<number> {
    return (await this.walk(topic, partition, head, { seq: head.stableSeq, base: head.stableOffset }, () => false)).end;
  }

  /**
   * Walks a partition to its tail for the maintenance function: aborts every stale reservation
   * (even when no consumer reads), and moves the stable hint to the end of the decided prefix.
   */
  async settle(topic: TopicRecord, partition: number): Promise<{ head: Head; decidedSeq: number; decidedOffset: number; aborted: number }> {
    const head = await this.head(topic, partition);
    const walk = await this.walk(topic, partition, head, { seq: head.stableSeq, base: head.stableOffset }, () => false, 1);
    return { head, decidedSeq: walk.nextSeq, decidedOffset: walk.end, aborted: walk.aborted };
  }

  /** First committed offset whose timestamp is ≥ `timestampMs`, or the high watermark if none. */
  async offsetForTimestamp(
    topic: TopicRecord,
    partition: number,
    timestampMs: number,
  ): Promise<{ offset: number; timestamp: number | null }> {
    const { head, highWatermark } = await this.highWatermark(topic, partition);
    let fromSeq = head.startSeq;
    for (;;) {
      const page = await this.registry.segments(topic.topicId, partition, fromSeq, this.options.indexPageSize);
      for (const entry of page.entries) {
        if (entry.seq < fromSeq) continue; // replaced by a merged entry on this page
        fromSeq = entry.toSeq + 1;
        if (entry.base >= highWatermark) return { offset: highWatermark, timestamp: null };
        if (entry.state !== "C" || entry.maxTs < timestampMs) continue;
        // A merged segment (up to segment.bytes) a range at a time: a reset of a group's
        // partitions makes 16 of these lookups at once.
        for (const range of entryChunks(entry, TIMESTAMP_READ_BYTES)) {
          const bytes = await this.objects.get(entryObjectKey(topic, partition, entry), range);
          for (const record of decodeStored(bytes)) {
            if (record.timestamp >= timestampMs && record.offset >= head.logStartOffset) {
              return { offset: record.offset, timestamp: record.timestamp };
            }
          }
        }
      }
      if (!page.more) return { offset: highWatermark, timestamp: null };
    }
  }

  /** Which committed segments (and byte ranges) hold up to `maxBytes` from `offset`. */
  private async plan(
    topic: TopicRecord,
    partition: number,
    offset: number,
    { maxBytes, maxSegments, budget }: { readonly maxBytes: number; readonly maxSegments: number; readonly budget: Budget },
    fromLogStart: boolean,
    known?: Head,
  ): Promise<ReadPlan> {
    const head = known ?? (await this.head(topic, partition));
    if (!Number.isSafeInteger(offset) || offset < head.logStartOffset || offset > head.nextOffset) {
      throw outOfRange(offset, head.logStartOffset, offset > head.nextOffset ? head.nextOffset : undefined);
    }
    const logStart = { seq: head.startSeq, base: head.logStartOffset };
    const start =
      offset >= head.stableOffset
        ? { seq: head.stableSeq, base: head.stableOffset }
        : fromLogStart
          ? logStart
          : (this.cache.startFor(partitionPk(topic.topicId, partition), offset) ?? (await this.indexedStart(topic, partition, offset, logStart)));
    const walk = await this.walk(topic, partition, head, start, (w) => bytesFrom(w.entries, offset) >= maxBytes, this.options.stableAdvanceSeqs, true);
    let bytes = 0;
    let nextOffset = offset;
    const wanted: Wanted[] = [];
    for (const entry of walk.entries) {
      if (entry.base + entry.count <= offset) continue;
      if (bytes >= maxBytes || (entry.state === "C" && wanted.length >= maxSegments)) break;
      nextOffset = entry.base + entry.count;
      if (entry.state === "C") {
        const range = rangeFor(entry, Math.max(offset, entry.base), maxBytes - bytes, wanted.length === 0, budget);
        if (range === undefined) {
          nextOffset = Math.max(offset, entry.base); // what does not fit waits for the next fetch
          break;
        }
        wanted.push({ entry, range });
        bytes += range.end - range.start;
        nextOffset = range.nextOffset;
        if (nextOffset < entry.base + entry.count) break; // the budget ends inside a merged segment
      }
    }
    if (walk.stopped && offset > walk.end) throw outOfRange(offset, head.logStartOffset, walk.end);
    return { wanted, nextOffset, highWatermark: await this.highWatermarkAfter(topic, partition, head, walk), logStartOffset: head.logStartOffset };
  }

  /**
   * The high watermark a fetch answers: where its walk ended if that was the tail; else the stable
   * hint, if offsets were reserved up to it and no further. Otherwise the hint is behind (nobody
   * read to the tail since it last moved) and would make a reader far behind look caught up, its
   * lag 0: the partition is walked on from the hint (moving it, past 32 seqs), at most
   * `TAIL_WALK_PAGES` pages, and what it finds serves this instance's fetches of the partition for
   * `TAIL_WALK_EVERY_MS`: a reader catching up while producers write makes about one more Query a
   * second, not one a fetch. The walk reads the index cache, and adds to it only what joins the
   * stretch there, the reader's own; should it fail, the fetch answers what it knew.
   */
  private async highWatermarkAfter(topic: TopicRecord, partition: number, head: Head, walk: CommittedWalk): Promise<number> {
    const known = Math.max(walk.end, head.stableOffset);
    if (walk.stopped || head.nextOffset <= known) return known;
    const key = partitionPk(topic.topicId, partition);
    const now = this.options.now();
    const seen = this.tails.get(key);
    if (seen !== undefined && now - seen.at < TAIL_WALK_EVERY_MS) return Math.max(known, seen.end);
    try {
      const pages = this.options.indexPageSize * TAIL_WALK_PAGES;
      const tail = await this.walk(topic, partition, head, { seq: head.stableSeq, base: head.stableOffset }, (w) => w.entries.length >= pages, this.options.stableAdvanceSeqs, "join");
      this.tails.delete(key);
      this.tails.set(key, { end: tail.end, at: now });
      if (this.tails.size > TAIL_WALK_PARTITIONS) this.tails.delete(this.tails.keys().next().value as string);
      return Math.max(known, tail.end);
    } catch (e) {
      if (!(e instanceof SeglogError)) throw e;
      return Math.max(known, seen?.end ?? 0);
    }
  }

  /** Where the sparse offset index says to walk from: at or a little before `offset`, never
   * below the log start (retention may not have deleted the items there yet). */
  private async indexedStart(topic: TopicRecord, partition: number, offset: number, logStart: { seq: number; base: number }) {
    const hit = await this.registry.segmentAtOffset(topic.topicId, partition, offset);
    return hit !== undefined && hit.seq >= logStart.seq ? hit : logStart;
  }

  private async head(topic: TopicRecord, partition: number): Promise<Head> {
    const head = await this.registry.getHead(topic.topicId, partition);
    if (!head) throw topicDeleted(topic);
    return head;
  }

  /**
   * Walks the index from `start` until the walk stops or `enough` says so after a page. Writes
   * planned aborts (last seq first, stopping at the first lost race, then re-walks) and moves
   * the stable hint forward when this walk proved a long enough decided prefix.
   */
  private async walk(
    topic: TopicRecord,
    partition: number,
    head: Head,
    start: { seq: number; base: number },
    enough: (walk: CommittedWalk) => boolean,
    advanceAtLeast = this.options.stableAdvanceSeqs,
    cached: boolean | "join" = false,
  ): Promise<CommittedWalk & { aborted: number }> {
    const key = partitionPk(topic.topicId, partition);
    let aborted = 0;
    for (let attempt = 0; ; attempt++) {
      const walk = new CommittedWalk(start, head, this.options.now(), this.options.abortTimeoutMs);
      let raced = false;
      // When the oldest entry of this walk was read from DynamoDB: what it caches keeps that age.
      let readAt = this.options.now();
      while (!walk.stopped) {
        const hit = cached ? this.cache.from(key, walk.nextSeq, this.options.indexPageSize) : undefined;
        if (hit) readAt = Math.min(readAt, hit.readAt);
        // Cached entries that reach the head's last seq are the last page: nothing to Query past them.
        const page = hit
          ? { entries: hit.entries, more: (hit.entries.at(-1)?.toSeq ?? walk.nextSeq - 1) + 1 < head.nextSeq }
          : await this.registry.segments(topic.topicId, partition, walk.nextSeq, this.options.indexPageSize);
        walk.feed(page.entries, !page.more);
        for (const entry of walk.aborts.splice(0)) {
          if (!(await this.registry.decide(topic.topicId, partition, entry))) {
            raced = true;
            break;
          }
          aborted++;
        }
        if (raced || enough(walk)) break;
      }
      if (raced) {
        if (attempt >= 3) throw new SeglogError("Internal", "The index kept changing under the reader", { retriable: true });
        continue;
      }
      if (walk.stopped === "moved") {
        throw new SeglogError("Internal", `Index items of ${topic.name}-${partition} moved under the reader; read again`, {
          retriable: true,
          code: "SegmentGone",
        });
      }
      if (start.seq <= head.stableSeq && walk.nextSeq - head.stableSeq >= Math.max(1, advanceAtLeast)) {
        await this.registry.advanceStable(topic.topicId, partition, walk.nextSeq, walk.end);
      }
      if (cached) this.cache.remember(key, walk.entries, readAt, cached === "join");
      return Object.assign(walk, { aborted });
    }
  }

  /**
   * GETs the wanted objects in parallel: whole, or the byte range of a merged or shared one. No GET starts
   * after `readBy` (the first always does): a fetch far behind on small segments returns what it
   * read in time, and the consumer's next fetch goes on from there. Likewise a failed GET (S3
   * throttling, say) after the first ends the fetch with the batches before it; only a failure of
   * the first fails the fetch.
   */
  private async getAll(topic: TopicRecord, partition: number, wanted: readonly Wanted[], readBy: number): Promise<FetchedBatch[]> {
    let failed: { index: number; error: unknown } | undefined;
    const read = async (index: number): Promise<FetchedBatch | undefined> => {
      const { entry, range } = wanted[index] as Wanted;
      try {
        return { baseOffset: range.base, bytes: await this.objects.get(entryObjectKey(topic, partition, entry), wholeObject(entry, range) ? undefined : range) };
      } catch (error) {
        if (failed === undefined || index < failed.index) failed = { index, error };
        return undefined;
      }
    };
    const indexes = wanted.map((_, i) => i);
    const results = await mapConcurrent(indexes, this.options.getConcurrency, read, () => failed !== undefined || this.options.now() >= readBy);
    const end = results.indexOf(undefined);
    const batches = (end < 0 ? results : results.slice(0, end)) as FetchedBatch[];
    if (batches.length === 0 && failed !== undefined) throw failed.error;
    return batches;
  }
}

/** True when a read of `range` is a read of the entry's whole object (no Range header). */
const wholeObject = (entry: IndexEntry, range: ByteRange): boolean => !isShared(entry) && range.start === 0 && range.end === entry.bytes;

function bytesFrom(entries: readonly IndexEntry[], offset: number): number {
  let bytes = 0;
  for (const e of entries) if (e.state === "C" && e.base + e.count > offset) bytes += e.bytes;
  return bytes;
}

/**
 * Decodes stored batches (one, or several back to back in a merged segment) into records with
 * absolute offsets. The CRC was checked when the batch was produced, so it is not checked again.
 */
export function* decodeStored(bytes: Uint8Array): Generator<ReadRecord> {
  for (const { bytes: one } of iterateBatches(bytes)) {
    for (const r of recordsOf(decodeRecordBatch(one, { verifyCrc: false }))) {
      yield { offset: Number(r.offset), timestamp: r.timestamp, key: r.key, value: r.value, headers: r.headers };
    }
  }
}

function outOfRange(offset: number, logStartOffset: number, highWatermark?: number): SeglogError {
  const range = highWatermark === undefined ? `from ${logStartOffset}` : `${logStartOffset}..${highWatermark}`;
  return offsetOutOfRange(`Offset ${offset} is out of range (the partition holds ${range})`);
}

function bounded(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min) throw invalid(`${name} must be an integer ≥ ${min}`);
  return Math.min(value, max);
}

/** A deleted topic's heads are deleted (`Topics.delete`): a copy of the topic whose head is gone is stale. */
const topicDeleted = (topic: TopicRecord): SeglogError => notFound(`Topic '${topic.name}' (id ${topic.topicId}) was deleted`, TOPIC_DELETED);
