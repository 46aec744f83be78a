import { iterateBatches, decodeRecordBatch, recordsOf } from "../core/codec/record-batch.ts";
import { mapConcurrent } from "../core/concurrency.ts";
import { SeglogError, invalid, isSeglogError } from "../core/errors.ts";
import { Admin } from "./admin.ts";
import { SeglogHttp, type ClientOptions } from "./http.ts";

export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

export interface ConsumedRecord extends TopicPartition {
  readonly offset: number;
  readonly timestamp: number;
  readonly key: Uint8Array | null;
  readonly value: Uint8Array | null;
  readonly headers: ReadonlyArray<{ key: string; value: Uint8Array | null }>;
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
   * Bytes of fetches a consumer may have started ahead of `poll()`, as Kafka's fetcher does: after
   * a fetch that left a partition behind its high watermark, the next fetch for it starts at once
   * and its answer waits for the next poll. 0 turns prefetching off. @default 33554432 (32 MiB)
   */
  readonly maxPrefetchBytes?: number;
  /**
   * Where the bytes come from. `storage`: a fetch answers with presigned S3 GETs of the segments
   * and the consumer reads them itself, as WarpStream's agents read object storage: no bytes pass
   * through API Gateway and Lambda. `api`: the fetch function reads them and answers with them
   * (for networks that reach the API but not S3). @default "storage"
   */
  readonly readFrom?: "storage" | "api";
}

/** What a consumer has read so far (Kafka's fetch-manager metrics, in part). */
export interface ConsumerStats {
  /** Fetch requests answered by the API. */
  readonly fetches: number;
  /** S3 GETs of segments the consumer made itself (`readFrom: "storage"`). */
  readonly segmentGets: number;
  /** Bytes of stored batches read, from S3 or through the API. */
  readonly bytesFetched: number;
}

type Position = { tp: TopicPartition; position: number | undefined; highWatermark: number };

/** A fetch's answer, decoded, before it is applied to the partition's position. */
interface Fetched {
  readonly records: ConsumedRecord[];
  readonly nextPosition: number;
  readonly highWatermark: number;
}

/** A fetch started ahead for a partition at position `from`; it never rejects. */
interface Prefetch {
  readonly from: number;
  readonly abort: AbortController;
  readonly answer: Promise<Fetched | undefined>;
}

/** Stored batches read for one fetch, and where the partition's position goes after them. */
interface StoredBytes {
  readonly chunks: readonly Uint8Array[];
  readonly nextPosition: number;
  readonly highWatermark: number;
}

/** One segment named by a fetch answer (`GET …/records` with `Accept: application/vnd.seglog.segments+json`). */
interface Segment {
  readonly baseOffset: number;
  readonly nextOffset: number;
  readonly url: string;
  readonly range?: { readonly start: number; readonly end: number };
}

/** S3 GETs a consumer has in flight for one fetch, as the fetch function does (`getConcurrency`). */
const SEGMENT_GETS_AT_ONCE = 16;

const tpKey = (tp: TopicPartition) => `${tp.topic}\u0000${tp.partition}`;

/**
 * A partition consumer: assign partitions, seek, poll. Fetches binary RecordBatches and decodes
 * them on the client. The group consumer (`group-consumer.ts`) drives one of these.
 */
export class Consumer {
  readonly http: SeglogHttp;
  readonly admin: Admin;
  private readonly autoOffsetReset: OffsetReset;
  private readonly maxBytes: number;
  private readonly maxWaitMs: number;
  private readonly maxPrefetches: number;
  private readonly assigned = new Map<string, Position>();
  private readonly prefetches = new Map<string, Prefetch>();
  private readonly readFrom: "storage" | "api";
  private readonly counts = { fetches: 0, segmentGets: 0, bytesFetched: 0 };

  constructor(options: ConsumerOptions = {}) {
    this.http = new SeglogHttp(options);
    this.admin = new Admin(this.http);
    this.autoOffsetReset = options.autoOffsetReset ?? "latest";
    this.maxBytes = options.maxBytes ?? 1_048_576;
    this.maxWaitMs = options.maxWaitMs ?? 500;
    this.maxPrefetches = Math.floor((options.maxPrefetchBytes ?? 32 * 1_048_576) / this.maxBytes);
    this.readFrom = options.readFrom ?? "storage";
  }

  stats(): ConsumerStats {
    return { ...this.counts };
  }

  /** Replaces the assignment; a partition may carry its starting offset. */
  assign(partitions: ReadonlyArray<TopicPartition & { offset?: number }>): void {
    const previous = new Map(this.assigned);
    this.assigned.clear();
    for (const p of partitions) {
      const tp = { topic: p.topic, partition: p.partition };
      const kept = previous.get(tpKey(tp));
      this.assigned.set(tpKey(tp), { tp, position: p.offset ?? kept?.position, highWatermark: kept?.highWatermark ?? 0 });
    }
    for (const key of this.prefetches.keys()) {
      if (this.assigned.get(key)?.position !== this.prefetches.get(key)?.from) this.dropPrefetch(key);
    }
  }

  /** Every partition of a topic, from its current partition count. */
  async assignTopic(topic: string, offsets: "earliest" | "latest" | undefined = undefined): Promise<void> {
    const { partitions } = await this.admin.describeTopic(topic);
    this.assign([...this.assignment(), ...Array.from({ length: partitions }, (_, partition) => ({ topic, partition }))]);
    if (offsets) for (let partition = 0; partition < partitions; partition++) await this.seek({ topic, partition }, offsets);
  }

  assignment(): TopicPartition[] {
    return [...this.assigned.values()].map((a) => a.tp);
  }

  async seek(tp: TopicPartition, to: number | "earliest" | "latest"): Promise<void> {
    const entry = this.assigned.get(tpKey(tp));
    if (!entry) throw invalid(`${tp.topic}-${tp.partition} is not assigned`);
    this.dropPrefetch(tpKey(tp));
    entry.position = typeof to === "number" ? to : (await this.admin.offsetFor(tp.topic, tp.partition, to)).offset;
    this.dropPrefetch(tpKey(tp)); // one a poll started while the offset was looked up
  }

  position(tp: TopicPartition): number | undefined {
    return this.assigned.get(tpKey(tp))?.position;
  }

  /** Lag by partition as of the last fetch: high watermark − position. */
  lag(tp: TopicPartition): number | undefined {
    const e = this.assigned.get(tpKey(tp));
    return e?.position === undefined ? undefined : Math.max(0, e.highWatermark - e.position);
  }

  /**
   * Fetches from every assigned partition at once and returns as soon as one has records
   * (the other long polls are cancelled, their positions unchanged), or after `maxWaitMs`.
   * Aborting `signal` ends the poll early the same way: the records of fetches that already
   * answered are returned (their positions moved), the others are dropped.
   */
  async poll(options: { maxWaitMs?: number; signal?: AbortSignal } = {}): Promise<ConsumedRecord[]> {
    const entries = [...this.assigned.values()];
    if (entries.length === 0) throw invalid("No partitions assigned");
    for (const e of entries) if (e.position === undefined) await this.resetPosition(e);
    const abort = new AbortController();
    const outer = options.signal;
    if (outer?.aborted) return [];
    const onAbort = () => abort.abort();
    outer?.addEventListener("abort", onAbort, { once: true });
    const maxWaitMs = options.maxWaitMs ?? this.maxWaitMs;
    try {
      const results = await Promise.all(
        entries.map(async (e) => {
          try {
            const records = await this.fetchPartition(e, maxWaitMs, abort.signal);
            if (records.length > 0) abort.abort();
            return records;
          } catch (err) {
            if (abort.signal.aborted && (!isSeglogError(err) || err.retriable || outer?.aborted === true)) return [];
            throw err;
          }
        }),
      );
      return results.flat();
    } finally {
      outer?.removeEventListener("abort", onAbort);
    }
  }

  /** A prefetched answer when there is one for the current position, else a fetch now. */
  private async fetchPartition(e: Position, maxWaitMs: number, signal: AbortSignal): Promise<ConsumedRecord[]> {
    const key = tpKey(e.tp);
    const ahead = this.prefetches.get(key);
    let fetched: Fetched | undefined;
    if (ahead !== undefined && ahead.from === e.position) {
      const aborted = new Promise<"aborted">((resolve) => signal.addEventListener("abort", () => resolve("aborted"), { once: true }));
      const answer = await Promise.race([ahead.answer, aborted]);
      if (answer === "aborted") return []; // kept for the next poll
      this.prefetches.delete(key);
      fetched = answer; // undefined when it failed: fetch again below, which reports the error
    } else if (ahead !== undefined) {
      this.dropPrefetch(key);
    }
    try {
      fetched ??= await this.fetchFrom(e.tp, e.position as number, maxWaitMs, signal);
    } catch (err) {
      if (isSeglogError(err) && err.kind === "OffsetOutOfRange" && this.autoOffsetReset !== "none") {
        await this.resetPosition(e);
        return [];
      }
      throw err;
    }
    if (fetched === undefined) return [];
    e.position = fetched.nextPosition;
    e.highWatermark = fetched.highWatermark;
    if (e.position < e.highWatermark && this.prefetches.size < this.maxPrefetches) this.prefetch(key, e.tp, e.position);
    return fetched.records;
  }

  private prefetch(key: string, tp: TopicPartition, from: number): void {
    const abort = new AbortController();
    const answer = this.fetchFrom(tp, from, 0, abort.signal).catch(() => undefined);
    this.prefetches.set(key, { from, abort, answer });
  }

  private dropPrefetch(key: string): void {
    this.prefetches.get(key)?.abort.abort();
    this.prefetches.delete(key);
  }

  /** One fetch (with the client's retries); undefined when `signal` ended it first. */
  private async fetchFrom(tp: TopicPartition, position: number, maxWaitMs: number, signal: AbortSignal): Promise<Fetched | undefined> {
    const read = this.readFrom === "storage" ? () => this.readSegments(tp, position, maxWaitMs, signal) : () => this.fetchBytes(tp, position, maxWaitMs, signal);
    const answer = await this.http.retrying(read, signal);
    if (answer === undefined) return undefined;
    const records: ConsumedRecord[] = [];
    for (const chunk of answer.chunks) {
      for (const { bytes: batchBytes } of iterateBatches(chunk)) {
        for (const r of recordsOf(decodeRecordBatch(batchBytes))) {
          const offset = Number(r.offset);
          if (offset < position) continue;
          records.push({ topic: tp.topic, partition: tp.partition, offset, timestamp: Number(r.timestamp), key: r.key, value: r.value, headers: r.headers });
        }
      }
    }
    return { records, nextPosition: answer.nextPosition, highWatermark: answer.highWatermark };
  }

  private fetchCall(tp: TopicPartition, position: number, maxWaitMs: number, signal: AbortSignal, accept: "binary" | "segments") {
    return this.http.call({
      method: "GET",
      path: `/v1/topics/${encodeURIComponent(tp.topic)}/partitions/${tp.partition}/records`,
      query: { offset: position, maxBytes: this.maxBytes, maxWaitMs },
      accept,
      signal,
    });
  }

  /** The bytes through the API: one binary fetch. */
  private async fetchBytes(tp: TopicPartition, position: number, maxWaitMs: number, signal: AbortSignal): Promise<StoredBytes | undefined> {
    const reply = await this.fetchCall(tp, position, maxWaitMs, signal, "binary");
    if (signal.aborted && reply.bytes === undefined) return undefined;
    this.counts.fetches++;
    this.counts.bytesFetched += reply.bytes?.byteLength ?? 0;
    return {
      chunks: reply.bytes === undefined ? [] : [reply.bytes],
      nextPosition: Number(reply.headers.get("seglog-next-offset") ?? position),
      highWatermark: Number(reply.headers.get("seglog-high-watermark") ?? 0),
    };
  }

  /**
   * The bytes from S3: a fetch that names the segments, then a GET of each (16 at once). A GET
   * that fails after the first ends the read with the segments before it, and the next fetch goes
   * on from there; a failed first GET fails this attempt, and a retry fetches anew (a segment that
   * a merge or retention removed meanwhile is then no longer named).
   */
  private async readSegments(tp: TopicPartition, position: number, maxWaitMs: number, signal: AbortSignal): Promise<StoredBytes | undefined> {
    const reply = await this.fetchCall(tp, position, maxWaitMs, signal, "segments");
    if (signal.aborted) return undefined;
    this.counts.fetches++;
    const located = segmentsAnswer(reply.json);
    let failed: { index: number; error: unknown } | undefined;
    const results = await mapConcurrent(
      located.segments.map((segment, index) => ({ segment, index })),
      SEGMENT_GETS_AT_ONCE,
      async ({ segment, index }) => {
        try {
          return await getSegment(segment, signal);
        } catch (error) {
          if (failed === undefined || index < failed.index) failed = { index, error };
          return undefined;
        }
      },
      () => failed !== undefined,
    );
    const end = results.indexOf(undefined);
    const chunks = (end < 0 ? results : results.slice(0, end)) as Uint8Array[];
    if (chunks.length === 0 && failed !== undefined) {
      if (signal.aborted) return undefined;
      throw failed.error;
    }
    this.counts.segmentGets += chunks.length;
    for (const chunk of chunks) this.counts.bytesFetched += chunk.byteLength;
    const last = located.segments[chunks.length - 1];
    return {
      chunks,
      nextPosition: chunks.length < located.segments.length && last !== undefined ? last.nextOffset : located.nextOffset,
      highWatermark: located.highWatermark,
    };
  }

  private async resetPosition(e: Position): Promise<void> {
    if (this.autoOffsetReset === "none") {
      throw new SeglogError("OffsetOutOfRange", `No valid position for ${e.tp.topic}-${e.tp.partition} and autoOffsetReset is none`);
    }
    e.position = (await this.admin.offsetFor(e.tp.topic, e.tp.partition, this.autoOffsetReset)).offset;
  }
}

const isOffset = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** The fetch answer that names segments, checked: a server that answers otherwise is a bug, not data. */
function segmentsAnswer(json: unknown): { segments: Segment[]; nextOffset: number; highWatermark: number } {
  const body = json as { segments?: unknown; nextOffset?: unknown; highWatermark?: unknown } | undefined;
  const segments = body?.segments;
  const valid =
    Array.isArray(segments) &&
    isOffset(body?.nextOffset) &&
    isOffset(body?.highWatermark) &&
    segments.every((x: Partial<Segment> | null) => {
      if (x === null || typeof x !== "object" || !isOffset(x.baseOffset) || !isOffset(x.nextOffset) || typeof x.url !== "string") return false;
      return x.range === undefined || (isOffset(x.range.start) && isOffset(x.range.end) && x.range.end > x.range.start);
    });
  if (!valid) throw new SeglogError("Internal", "The fetch answer names no segments in the expected form", { retriable: false });
  return { segments: segments as Segment[], nextOffset: body?.nextOffset as number, highWatermark: body?.highWatermark as number };
}

/**
 * GETs one segment (or its byte range) from S3 with its presigned URL. A 404 or 403 means the
 * segment is gone (merged or past retention) or the URL expired: retriable, a fresh fetch names
 * what is there now.
 */
async function getSegment(segment: Segment, signal: AbortSignal): Promise<Uint8Array> {
  const { range } = segment;
  const url = new URL(segment.url);
  let res: Response;
  try {
    res = await fetch(url, { headers: range === undefined ? {} : { range: `bytes=${range.start}-${range.end - 1}` }, signal });
  } catch (e) {
    if (signal.aborted) throw e;
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    throw new SeglogError(
      "Internal",
      `Cannot reach S3 at ${url.host} for offset ${segment.baseOffset}: ${cause?.code ?? cause?.message ?? (e as Error).message} (readFrom: "api" reads through the API instead)`,
      { retriable: true, code: "Unreachable", cause: e },
    );
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (res.status === 200 || res.status === 206) {
    const expected = range === undefined ? undefined : range.end - range.start;
    if (expected === undefined || bytes.byteLength === expected) return bytes;
    throw new SeglogError("Internal", `S3 answered ${bytes.byteLength} bytes for a range of ${expected} at offset ${segment.baseOffset}`, { retriable: true });
  }
  if (res.status === 404 || res.status === 403) {
    throw new SeglogError("Internal", `The segment at offset ${segment.baseOffset} is gone or its URL expired (S3 ${res.status}); fetching again`, {
      retriable: true,
      code: "SegmentGone",
    });
  }
  if (res.status === 503) throw new SeglogError("Throttled", `S3 asked to slow down (503) reading offset ${segment.baseOffset}`, { retriable: true });
  throw new SeglogError("Internal", `S3 answered ${res.status} reading offset ${segment.baseOffset}`, { retriable: res.status >= 500 });
}
