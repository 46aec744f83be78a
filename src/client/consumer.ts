import { setMaxListeners } from "node:events";
import { iterateBatches, decodeRecordBatch, recordsOf } from "../core/codec/record-batch.ts";
import { SeglogError, invalid, isSeglogError } from "../core/errors.ts";
import { positionAfter } from "../core/segment-locations.ts";
import { Admin } from "./admin.ts";
import { SeglogHttp, pathSegment, type ClientOptions } from "./http.ts";
import { Locator } from "./locator.ts";
import { SharedReads, readSegments, type SegmentReadOptions } from "./segment-reads.ts";
import { oneOf, wholeNumber } from "./options.ts";

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** Keys, values and header values are Node `Buffer`s, as KafkaJS gives them: `value.toString()` is the text. */
export interface ConsumedRecord extends TopicPartition {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: ReadonlyArray<{ key: string; value: Buffer | null }>;
}

/** Kafka's `auto.offset.reset`: where to go when there is no position or it is out of range. */
export type OffsetReset = "earliest" | "latest" | "none";

export interface ConsumerOptions extends ClientOptions {
  /** @default "latest" (Kafka's default) */
  readonly autoOffsetReset?: OffsetReset;
  /** Per partition and fetch. @default 1048576 */
  readonly maxBytes?: number;
  /** Long poll per fetch. @default 500 */
  readonly maxWaitMs?: number;
  /**
   * Bytes of fetches a consumer may have started ahead of `poll()`, as Kafka's fetcher does: while
   * a partition is behind its high watermark, its next two fetches start as soon as the answer
   * before each says where it begins (a segments answer says so before its GETs end, so the next
   * fetch finds its segments while these are read), and their answers wait for the next polls.
   * Each counts `maxBytes`. 0 turns prefetching off. @default 33554432 (32 MiB)
   */
  readonly maxPrefetchBytes?: number;
  /**
   * Where the bytes come from. `storage`: a fetch answers with presigned S3 GETs of the segments
   * and the consumer reads them itself, as WarpStream's agents read object storage: no bytes pass
   * through API Gateway and Lambda. `api`: the fetch function reads them and answers with them
   * (for networks that reach the API but not S3). @default "storage"
   */
  readonly readFrom?: "storage" | "api";
  /** S3 GETs in flight at once per fetch (`readFrom: "storage"`), as the fetch function reads. @default 16 */
  readonly segmentReadsAtOnce?: number;
  /** Each S3 GET of a segment, its body included, is given up (and retried) after this long. @default 30000 */
  readonly segmentReadTimeoutMs?: number;
}

/** What a consumer has read so far (Kafka's fetch-manager metrics, in part). */
export interface ConsumerStats {
  /** Fetch requests answered by the API. */
  readonly fetches: number;
  /** S3 GETs the consumer made itself (`readFrom: "storage"`): one per segment, or one for the
   * segments several of its partitions have in one object. */
  readonly segmentGets: number;
  /** Bytes of stored batches read, from S3 or through the API. */
  readonly bytesFetched: number;
}

/** An assigned partition: where it reads, the id of the topic its position is in (from the first
 * answer that gave one, or as assigned), and `highWatermark` as its last fetch answered
 * (undefined before one did). */
type Position = { tp: TopicPartition; position: number | undefined; highWatermark: number | undefined; topicId?: string | undefined };

/** A fetch's answer, decoded, before it is applied to the partition's position. */
interface Fetched {
  readonly records: ConsumedRecord[];
  readonly nextPosition: number;
  readonly highWatermark: number;
  readonly topicId: string | undefined;
}

/**
 * Fetches a partition may have going at once: the one a poll waits for (or that waits for the
 * next poll), and the one after it, which finds its segments while the first one's GETs run.
 */
const READ_AHEAD = 2;

/** Where a partition's next fetch starts, and the high watermark an answer gave with it. */
interface NextFetch {
  readonly from: number;
  readonly highWatermark: number;
}

/** How a fetch ended: its answer (undefined when it was called off), or its error. */
type Outcome = { readonly fetched: Fetched | undefined } | { readonly error: unknown };

/** A partition's fetch from position `from`, kept until a poll takes its answer. */
interface PendingFetch {
  readonly from: number;
  readonly maxWaitMs: number;
  /** Started ahead of the polls (counts against `maxPrefetchBytes`), not by a poll. */
  readonly ahead: boolean;
  readonly abort: AbortController;
  /** Never rejects. */
  readonly outcome: Promise<Outcome>;
  /** Set when the fetch has ended; a fetch called off ends with no answer. */
  ended?: Outcome;
  /** Where the fetch after it starts: from its answer, before that answer's segments are read,
   * then from what it read; none when it failed or was called off. */
  next?: NextFetch;
}

/** How a fetch takes part in reading ahead (`Consumer.readAhead`). */
interface Pipeline {
  /** Its segments are read only once this settles (the fetch before it has ended): one
   * partition's GETs go one fetch at a time. False: that fetch ended short of where this one
   * starts (a failed GET), so this one's answer would be dropped, and it reads nothing. */
  readonly after: Promise<boolean>;
  /** Told where the next fetch starts as soon as the answer says, before its segments are read. */
  readonly located: (next: NextFetch) => void;
}

/** Stored batches read for one fetch, and where the partition's position goes after them. */
interface StoredBytes {
  readonly chunks: readonly Uint8Array[];
  readonly nextPosition: number;
  readonly highWatermark: number;
  readonly topicId: string | undefined;
}

const tpKey = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

/**
 * A partition consumer: assign partitions, seek, poll. Reads the RecordBatches from S3 with the
 * URLs a fetch names (or, with `readFrom: "api"`, as the fetch's binary answer) and decodes them on
 * the client. The group consumer (`group-consumer.ts`) drives one of these.
 */
export class Consumer {
  readonly http: SeglogHttp;
  readonly admin: Admin;
  private readonly autoOffsetReset: OffsetReset;
  private readonly maxBytes: number;
  private readonly maxWaitMs: number;
  private readonly maxPrefetches: number;
  private readonly assigned = new Map<string, Position>();
  /** Per partition, its fetches in offset order: the first starts at the partition's position. */
  private readonly fetches = new Map<string, PendingFetch[]>();
  /** "api" from the first answer of a server too old to name segments. */
  private readFrom: "storage" | "api";
  private readonly segmentReads: Omit<SegmentReadOptions, "signal"> & { readonly shared: SharedReads };
  private readonly counts = { fetches: 0, segmentGets: 0, bytesFetched: 0 };
  private readonly locator: Locator;

  constructor(options: ConsumerOptions = {}) {
    this.http = new SeglogHttp(options);
    this.admin = new Admin(this.http);
    this.autoOffsetReset = options.autoOffsetReset ?? "latest";
    this.maxBytes = options.maxBytes ?? 1_048_576;
    this.locator = new Locator(this.http, this.maxBytes, () => this.counts.fetches++);
    wholeNumber("maxWaitMs", options.maxWaitMs, 0);
    this.maxWaitMs = options.maxWaitMs ?? 500;
    wholeNumber("maxPrefetchBytes", options.maxPrefetchBytes, 0);
    this.maxPrefetches = Math.floor((options.maxPrefetchBytes ?? 32 * 1_048_576) / this.maxBytes);
    this.readFrom = options.readFrom ?? "storage";
    this.segmentReads = {
      transport: this.http.transport,
      concurrency: options.segmentReadsAtOnce ?? 16,
      timeoutMs: options.segmentReadTimeoutMs ?? 30_000,
      shared: new SharedReads(),
      got: () => this.counts.segmentGets++,
    };
    for (const [name, value] of Object.entries({ maxBytes: this.maxBytes, segmentReadsAtOnce: this.segmentReads.concurrency, segmentReadTimeoutMs: this.segmentReads.timeoutMs })) {
      if (!Number.isSafeInteger(value) || value < 1) throw invalid(`${name} must be a whole number ≥ 1, not ${value}`);
    }
    oneOf("autoOffsetReset", this.autoOffsetReset, ["earliest", "latest", "none"]);
    oneOf("readFrom", this.readFrom, ["storage", "api"]);
  }

  stats(): ConsumerStats {
    return { ...this.counts };
  }

  /**
   * Replaces the assignment; a partition may carry its starting offset, and with it the id of the
   * topic that offset is in (`topicId(tp)`): if the topic under the name is another by the first
   * fetch (deleted and created again), the partition starts over by `autoOffsetReset`. An offset
   * without one is in the topic there now.
   */
  assign(partitions: ReadonlyArray<TopicPartition & { offset?: number; topicId?: string }>): void {
    // Checked before anything changes: an assignment refused leaves the one before in place.
    checkList(partitions, "assign");
    for (const p of partitions) {
      checkTopicPartition(p);
      if (p.offset !== undefined) checkOffset(p.offset);
      if (p.topicId !== undefined && (typeof p.topicId !== "string" || p.offset === undefined)) throw invalid(`A topicId comes with an offset, as a string, not ${JSON.stringify(p.topicId)}`);
    }
    const previous = new Map(this.assigned);
    this.assigned.clear();
    for (const p of partitions) {
      const tp = { topic: p.topic, partition: p.partition };
      const kept = previous.get(tpKey(tp));
      // A position given here is in the topic it names, or as it is now, whose id the first answer tells.
      this.assigned.set(tpKey(tp), { tp, position: p.offset ?? kept?.position, highWatermark: kept?.highWatermark, topicId: p.offset === undefined ? kept?.topicId : p.topicId });
    }
    for (const [key, chain] of this.fetches) {
      if (this.assigned.get(key)?.position !== chain[0]?.from) this.dropFetches(key);
    }
  }

  /** Every partition of a topic, from its current partition count. */
  async assignTopic(topic: string, offsets: "earliest" | "latest" | undefined = undefined): Promise<void> {
    const { partitions } = await this.admin.topicMetadata(topic);
    this.assign([...this.assignment(), ...Array.from({ length: partitions }, (_, partition) => ({ topic, partition }))]);
    if (offsets) for (let partition = 0; partition < partitions; partition++) await this.seek({ topic, partition }, offsets);
  }

  assignment(): TopicPartition[] {
    return [...this.assigned.values()].map((a) => a.tp);
  }

  async seek(tp: TopicPartition, to: number | "earliest" | "latest"): Promise<void> {
    const key = tpKey(tp);
    if (!this.assigned.has(key)) throw invalid(`${tp.topic}-${tp.partition} is not assigned`);
    checkSeekTarget(to);
    this.dropFetches(key);
    const position = typeof to === "number" ? to : (await this.admin.offsetFor(tp.topic, tp.partition, to)).offset;
    // Looked up again: an assignment made while the offset was looked up replaced the entry.
    const entry = this.assigned.get(key);
    if (!entry) throw invalid(`${tp.topic}-${tp.partition} was unassigned while its offset was looked up`);
    entry.position = position;
    // A position set now is in the topic as it is now: the next answer names its id (as after `assign`).
    entry.topicId = undefined;
    this.dropFetches(key); // one a poll started while the offset was looked up
  }

  position(tp: TopicPartition): number | undefined {
    return this.assigned.get(tpKey(tp))?.position;
  }

  /** The id of the topic the partition's position is in, once a fetch has told it: a topic deleted
   * and created again under its name has another. */
  topicId(tp: TopicPartition): string | undefined {
    return this.assigned.get(tpKey(tp))?.topicId;
  }

  /** Lag by partition as of the last fetch: high watermark − position; undefined until a fetch
   * of the partition answered (as Kafka's `records-lag` is unknown until then). */
  lag(tp: TopicPartition): number | undefined {
    const e = this.assigned.get(tpKey(tp));
    return e?.position === undefined || e.highWatermark === undefined ? undefined : Math.max(0, e.highWatermark - e.position);
  }

  /**
   * Waits until a partition's fetch answers with records (or all answer with none, after at
   * most `maxWaitMs` at the end of the log), and returns the records of every fetch that has
   * answered by then. A fetch still under way is not called off: the next poll takes its answer
   * (so a partition far behind is not starved by one whose answers come first). Aborting
   * `signal` ends the poll early the same way. When a partition's fetch fails, the poll fails
   * and returns nothing: no partition moves (but one whose offset was out of range is reset, by
   * `autoOffsetReset`), so the next poll reads the records of those that answered again.
   */
  async poll(options: { maxWaitMs?: number; signal?: AbortSignal } = {}): Promise<ConsumedRecord[]> {
    const assigned = [...this.assigned.values()];
    if (assigned.length === 0) throw invalid("No partitions assigned");
    for (const e of assigned) if (e.position === undefined) await this.resetPosition(e);
    // Only what is still assigned once positions were looked up is fetched: after close(), nothing.
    const entries = assigned.filter((e) => this.assigned.get(tpKey(e.tp)) === e);
    if (entries.length === 0) return [];
    const outer = options.signal;
    if (outer?.aborted) return [];
    wholeNumber("maxWaitMs", options.maxWaitMs, 0);
    const maxWaitMs = options.maxWaitMs ?? this.maxWaitMs;
    const heads = entries.map((e) => ({ e, fetch: this.nextFetch(e, maxWaitMs) }));
    const told = (f: PendingFetch) => f.ended !== undefined && ("error" in f.ended || (f.ended.fetched?.records.length ?? 0) > 0);
    let stop = () => {};
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    outer?.addEventListener("abort", stop, { once: true });
    try {
      let waiting = heads.filter((h) => h.fetch.ended === undefined);
      while (waiting.length > 0 && !heads.some((h) => told(h.fetch)) && !outer?.aborted) {
        await Promise.race([stopped, ...waiting.map((h) => h.fetch.outcome)]);
        waiting = waiting.filter((h) => h.fetch.ended === undefined);
      }
    } finally {
      outer?.removeEventListener("abort", stop);
    }
    const answered: { e: Position; from: number; fetched: Fetched }[] = [];
    let failure: { error: unknown } | undefined;
    for (const { e, fetch } of heads) {
      const key = tpKey(e.tp);
      const ended = fetch.ended;
      if (ended === undefined) continue; // the next poll takes its answer
      if (this.fetches.get(key)?.[0] === fetch) this.fetches.get(key)?.shift();
      // Dropped after it answered (a seek, an assignment or close() while the poll waited).
      if (fetch.abort.signal.aborted || this.assigned.get(key) !== e) continue;
      if ("fetched" in ended) {
        if (ended.fetched !== undefined) answered.push({ e, from: fetch.from, fetched: ended.fetched });
        continue;
      }
      this.dropFetches(key);
      if (isSeglogError(ended.error) && ended.error.kind === "OffsetOutOfRange" && this.autoOffsetReset !== "none") await this.resetPosition(e);
      else if (!outer?.aborted) failure ??= { error: ended.error };
    }
    if (failure !== undefined) {
      for (const { e } of answered) this.dropFetches(tpKey(e.tp));
      throw failure.error;
    }
    // A partition whose topic was deleted and created again under its name (another id) starts
    // over as one without a position, by autoOffsetReset: the old position means nothing in the
    // new topic, and reading on from it would skip the new topic's first records.
    const recreated = new Set<Position>();
    for (const { e, fetched } of answered) {
      if (e.topicId === undefined || fetched.topicId === undefined || fetched.topicId === e.topicId) continue;
      recreated.add(e);
      this.dropFetches(tpKey(e.tp));
      await this.resetPosition(e);
    }
    // A partition sought (or assigned anew) while a reset or a recreated topic was looked up above
    // keeps where it was put: its answer is from the old position.
    const current = answered.filter((a) => !recreated.has(a.e) && this.assigned.get(tpKey(a.e.tp)) === a.e && a.e.position === a.from);
    for (const { e, fetched } of current) {
      e.topicId ??= fetched.topicId;
      e.position = fetched.nextPosition;
      e.highWatermark = fetched.highWatermark;
      const key = tpKey(e.tp);
      // Fetches started from where the answer said reading goes on, when it ended short of that.
      if (this.fetches.get(key)?.[0]?.from !== e.position) this.dropFetches(key);
      this.readAhead(key, e.tp, { from: e.position, highWatermark: e.highWatermark });
    }
    return current.flatMap((a) => a.fetched.records);
  }

  /**
   * Stops every fetch under way and forgets the assignment. A consumer needs no closing to let
   * its process exit, but fetches started ahead of a poll that will not come go on reading until
   * they end.
   */
  close(): void {
    this.assign([]);
    this.segmentReads.shared.cancel();
  }

  /**
   * The partition's fetch from its position: one already under way or answered (unless it waits
   * longer at the end of the log than this poll may, and has not answered yet), else one started now.
   */
  private nextFetch(e: Position, maxWaitMs: number): PendingFetch {
    const key = tpKey(e.tp);
    const first = this.fetches.get(key)?.[0];
    if (first !== undefined && first.from === e.position && (first.next !== undefined || first.ended !== undefined || first.maxWaitMs <= maxWaitMs)) return first;
    this.dropFetches(key);
    const fetch = this.startFetch(key, e.tp, e.position as number, Promise.resolve(true), maxWaitMs, false);
    this.fetches.set(key, [fetch]);
    return fetch;
  }

  /**
   * Starts fetches for a partition, each from where the one before it says reading goes on
   * (`position` when there is none), until `READ_AHEAD` are going, while the partition is behind
   * its high watermark and the fetches started ahead of the polls stay within `maxPrefetchBytes`.
   */
  private readAhead(key: string, tp: TopicPartition, position: NextFetch): void {
    const chain = this.fetches.get(key) ?? [];
    let ahead = 0;
    for (const c of this.fetches.values()) for (const f of c) if (f.ahead) ahead++;
    for (;;) {
      const last = chain.at(-1);
      const next = last === undefined ? position : last.next;
      if (next === undefined || next.from >= next.highWatermark || chain.length >= READ_AHEAD || ahead >= this.maxPrefetches) break;
      // It reads its segments once the one before it has ended where that one said it would.
      const after = last === undefined ? Promise.resolve(true) : last.outcome.then(() => last.next?.from === next.from);
      chain.push(this.startFetch(key, tp, next.from, after, 0, true));
      ahead++;
    }
    if (chain.length > 0) this.fetches.set(key, chain);
  }

  private startFetch(key: string, tp: TopicPartition, from: number, after: Promise<boolean>, maxWaitMs: number, ahead: boolean): PendingFetch {
    const abort = new AbortController();
    // Each of the fetch's segment reads in flight (`segmentReadsAtOnce`, 16) listens to it: not a
    // leak for Node to warn of past its default of 10 listeners.
    setMaxListeners(0, abort.signal);
    const ended = (outcome: Outcome): Outcome => {
      fetch.ended = abort.signal.aborted ? { fetched: undefined } : outcome;
      const fetched = "fetched" in fetch.ended ? fetch.ended.fetched : undefined;
      fetch.next = fetched && { from: fetched.nextPosition, highWatermark: fetched.highWatermark };
      return fetch.ended;
    };
    const fetch: PendingFetch = {
      from,
      maxWaitMs,
      ahead,
      abort,
      outcome: this.fetchFrom(tp, from, maxWaitMs, abort.signal, {
        after,
        located: (next) => {
          fetch.next = next;
          if (this.fetches.get(key)?.at(-1) === fetch) this.readAhead(key, tp, next);
        },
      }).then(
        (fetched) => ended({ fetched }),
        (error: unknown) => ended({ error }),
      ),
    };
    return fetch;
  }

  private dropFetches(key: string): void {
    for (const f of this.fetches.get(key) ?? []) f.abort.abort();
    this.fetches.delete(key);
  }

  /**
   * One fetch (with the client's retries); undefined when `signal` ended it first. `pipeline.located`
   * hears where the next fetch starts as soon as an answer says; its segments are read only after
   * `pipeline.after` (the fetch before it has ended).
   */
  private async fetchFrom(tp: TopicPartition, position: number, maxWaitMs: number, signal: AbortSignal, pipeline: Pipeline): Promise<Fetched | undefined> {
    const read = () =>
      this.readFrom === "storage" ? this.fetchSegments(tp, position, maxWaitMs, signal, pipeline) : this.fetchBytes(tp, position, maxWaitMs, signal, pipeline);
    let answer: StoredBytes | undefined;
    try {
      answer = await this.http.retrying(read, signal);
    } catch (e) {
      // S3 out of reach while the API answers: retrying for ever would keep this consumer's
      // partitions (a group member still heartbeats) and read nothing. Say so instead.
      if (isSeglogError(e) && e.code === "StorageUnreachable" && !signal.aborted) {
        throw new SeglogError("Internal", `${e.message}, after ${this.http.maxAttempts} attempts (readFrom: "api" reads through the API instead)`, {
          retriable: false,
          code: "StorageUnreachable",
          cause: e,
        });
      }
      throw e;
    }
    if (answer === undefined) return undefined;
    const records: ConsumedRecord[] = [];
    for (const chunk of answer.chunks) {
      // Views into a Buffer are Buffers: an uncompressed batch's keys and values cost nothing more.
      for (const { bytes: batchBytes } of iterateBatches(asBuffer(chunk))) {
        for (const r of recordsOf(decodeRecordBatch(batchBytes))) {
          const offset = Number(r.offset);
          if (offset < position) continue;
          const headers = r.headers.every((h) => h.value === null || Buffer.isBuffer(h.value)) ? (r.headers as ConsumedRecord["headers"]) : r.headers.map((h) => ({ key: h.key, value: asBuffer(h.value) }));
          records.push({ topic: tp.topic, partition: tp.partition, offset, timestamp: Number(r.timestamp), key: asBuffer(r.key), value: asBuffer(r.value), headers });
        }
      }
    }
    return { records, nextPosition: answer.nextPosition, highWatermark: answer.highWatermark, topicId: answer.topicId };
  }

  private fetchCall(tp: TopicPartition, position: number, maxWaitMs: number, signal: AbortSignal) {
    return this.http.call({
      method: "GET",
      path: `/v1/topics/${pathSegment(tp.topic, "topic")}/partitions/${tp.partition}/records`,
      query: { offset: position, maxBytes: this.maxBytes, maxWaitMs },
      accept: "binary",
      signal,
      timeoutMs: maxWaitMs + this.http.requestTimeoutMs,
    });
  }

  /** The bytes through the API: one binary fetch. */
  private async fetchBytes(tp: TopicPartition, position: number, maxWaitMs: number, signal: AbortSignal, pipeline: Pipeline): Promise<StoredBytes | undefined> {
    const reply = await this.fetchCall(tp, position, maxWaitMs, signal);
    if (signal.aborted && reply.bytes === undefined) return undefined;
    this.counts.fetches++;
    this.counts.bytesFetched += reply.bytes?.byteLength ?? 0;
    const nextPosition = Number(reply.header("seglog-next-offset") ?? position);
    const highWatermark = Number(reply.header("seglog-high-watermark") ?? 0);
    pipeline.located({ from: nextPosition, highWatermark });
    return { chunks: reply.bytes === undefined ? [] : [reply.bytes], nextPosition, highWatermark, topicId: reply.header("seglog-topic-id") };
  }

  /**
   * The bytes from S3: a fetch that names the segments (the fetches started together for one
   * topic go as one request, `locator.ts`), then the consumer's own GETs of them
   * (`segment-reads.ts`). A failed first GET fails this attempt, and a retry fetches anew (a
   * segment that a merge or retention removed meanwhile is then no longer named).
   */
  private async fetchSegments(tp: TopicPartition, position: number, maxWaitMs: number, signal: AbortSignal, pipeline: Pipeline): Promise<StoredBytes | undefined> {
    const located = await this.locator.locate({ ...tp, position, maxWaitMs, signal });
    if (signal.aborted) return undefined;
    if (located === "bytes") {
      // A Seglog from before reading from storage answers with records: read through it from now on.
      this.readFrom = "api";
      return this.fetchBytes(tp, position, maxWaitMs, signal, pipeline);
    }
    pipeline.located({ from: located.nextOffset, highWatermark: located.highWatermark });
    if (!(await pipeline.after) || signal.aborted) return undefined; // called off while the fetch before it read
    const chunks = await readSegments(located.segments, { ...this.segmentReads, signal });
    for (const chunk of chunks) this.counts.bytesFetched += chunk.byteLength;
    return { chunks, nextPosition: positionAfter(located, chunks.length), highWatermark: located.highWatermark, topicId: located.topicId };
  }

  private async resetPosition(e: Position): Promise<void> {
    if (this.autoOffsetReset === "none") {
      throw new SeglogError("OffsetOutOfRange", `No valid position for ${e.tp.topic}-${e.tp.partition} and autoOffsetReset is none`);
    }
    e.position = (await this.admin.offsetFor(e.tp.topic, e.tp.partition, this.autoOffsetReset)).offset;
    // Looked up in the topic under the name now, which the next answer names: were the old id kept,
    // that answer would read as the topic recreated once more, and reset the position again.
    e.topicId = undefined;
  }
}

/** Partitions given as a list: `Invalid` for anything else. */
export function checkList(list: unknown, what: string): void {
  if (!Array.isArray(list)) throw invalid(`${what} takes a list of { topic, partition }, not ${list === null ? "null" : typeof list}`);
}

/** An offset to read from: checked when it is given, not left to fail every later poll. */
function checkOffset(offset: number): void {
  if (!(Number.isSafeInteger(offset) && offset >= 0)) throw invalid(`An offset must be a whole number ≥ 0, not ${offset}`);
}

/** A partition as `{ topic, partition }`: `Invalid` for anything else. */
export function checkTopicPartition(tp: TopicPartition): void {
  if (typeof tp?.topic !== "string" || tp.topic === "") throw invalid(`A partition is { topic, partition } with topic a topic's name, not ${JSON.stringify(tp?.topic)}`);
  if (!(Number.isSafeInteger(tp.partition) && tp.partition >= 0)) throw invalid(`A partition must be a whole number ≥ 0, not ${tp.partition}`);
}

/** What `seek` takes: an offset, or the log's start or end. */
export function checkSeekTarget(to: number | "earliest" | "latest"): void {
  if (typeof to === "number") checkOffset(to);
  else if (to !== "earliest" && to !== "latest") throw invalid(`seek takes an offset, "earliest" or "latest", not ${JSON.stringify(to)}`);
}

/** The same bytes as a Buffer, without a copy. */
function asBuffer<T extends Uint8Array | null>(bytes: T): T extends null ? null : Buffer;
function asBuffer(bytes: Uint8Array | null): Buffer | null {
  return bytes === null || Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
