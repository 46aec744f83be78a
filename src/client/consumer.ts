import { iterateBatches, decodeRecordBatch, recordsOf } from "../core/codec/record-batch.ts";
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
}

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
  private readonly assigned = new Map<string, { tp: TopicPartition; position: number | undefined; highWatermark: number }>();

  constructor(options: ConsumerOptions = {}) {
    this.http = new SeglogHttp(options);
    this.admin = new Admin(this.http);
    this.autoOffsetReset = options.autoOffsetReset ?? "latest";
    this.maxBytes = options.maxBytes ?? 1_048_576;
    this.maxWaitMs = options.maxWaitMs ?? 500;
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
    entry.position = typeof to === "number" ? to : (await this.admin.offsetFor(tp.topic, tp.partition, to)).offset;
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

  private async fetchPartition(
    e: { tp: TopicPartition; position: number | undefined; highWatermark: number },
    maxWaitMs: number,
    signal: AbortSignal,
  ): Promise<ConsumedRecord[]> {
    const { topic, partition } = e.tp;
    const position = e.position as number;
    let reply;
    try {
      reply = await this.http.retrying(() =>
        this.http.call({
          method: "GET",
          path: `/v1/topics/${encodeURIComponent(topic)}/partitions/${partition}/records`,
          query: { offset: position, maxBytes: this.maxBytes, maxWaitMs },
          accept: "binary",
          signal,
        }),
        signal,
      );
    } catch (err) {
      if (isSeglogError(err) && err.kind === "OffsetOutOfRange" && this.autoOffsetReset !== "none") {
        await this.resetPosition(e);
        return [];
      }
      throw err;
    }
    if (signal.aborted && reply.bytes === undefined) return [];
    const records: ConsumedRecord[] = [];
    const bytes = reply.bytes ?? new Uint8Array();
    for (const { bytes: batchBytes } of iterateBatches(bytes)) {
      for (const r of recordsOf(decodeRecordBatch(batchBytes))) {
        const offset = Number(r.offset);
        if (offset < position) continue;
        records.push({ topic, partition, offset, timestamp: Number(r.timestamp), key: r.key, value: r.value, headers: r.headers });
      }
    }
    e.position = Number(reply.headers.get("seglog-next-offset") ?? position);
    e.highWatermark = Number(reply.headers.get("seglog-high-watermark") ?? e.highWatermark);
    return records;
  }

  private async resetPosition(e: { tp: TopicPartition; position: number | undefined }): Promise<void> {
    if (this.autoOffsetReset === "none") {
      throw new SeglogError("OffsetOutOfRange", `No valid position for ${e.tp.topic}-${e.tp.partition} and autoOffsetReset is none`);
    }
    e.position = (await this.admin.offsetFor(e.tp.topic, e.tp.partition, this.autoOffsetReset)).offset;
  }
}
