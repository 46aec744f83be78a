import { MAX_TIMESTAMP, MAX_UNCOMPRESSED_RATIO, decodeRecordBatch, patchBaseOffset } from "../core/codec/record-batch.ts";
import { SeglogError, TOPIC_DELETED, conflict, fenced, invalid, isSeglogError, notFound, tooLarge } from "../core/errors.ts";
import { claimedRecords, decide, nextSequence, type ClaimedBatch } from "../core/idempotence.ts";
import { segmentObjectKey, sharedObjectKey } from "../core/keys.ts";
import type { IndexEntry } from "../core/read-committed.ts";
import type { SegmentObjects } from "../storage/objects.ts";
import { MAX_EPOCH, type Producers } from "../storage/producers.ts";
import type { Registry, TopicRecord } from "../storage/registry.ts";
import type { LogOptions } from "./options.ts";
import type { Topics } from "./topics.ts";

/** A client's RecordBatch that passed every check; its bytes are stored as they came. */
export interface CheckedBatch {
  readonly bytes: Uint8Array;
  readonly records: number;
  /** Offsets the batch takes: `lastOffsetDelta + 1`. */
  readonly span: number;
  readonly firstTs: number;
  readonly maxTs: number;
  /** Kafka's idempotence fields; `producerId` −1 means a plain batch. */
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

export interface AppendResult {
  readonly partition: number;
  readonly baseOffset: number;
  readonly lastOffset: number;
  readonly count: number;
  /** The topic the batch landed in: a topic created again under the name has another id. */
  readonly topicId: string;
}

export type AppendOutcome = AppendResult | { readonly partition: number; readonly error: SeglogError };

/** A batch's place in the log, taken before it is written. */
interface Reservation {
  readonly topic: TopicRecord;
  readonly partition: number;
  readonly seq: number;
  readonly baseOffset: number;
}

/**
 * Checks one RecordBatch v2 as Kafka's broker does before accepting it: size against the
 * topic's `max.message.bytes`, CRC and structure (by decoding it, bounded), consecutive offset
 * deltas, and no transactional or control batches (Seglog has no transactions).
 */
export function checkBatch(bytes: Uint8Array, maxMessageBytes: number): CheckedBatch {
  if (bytes.byteLength > maxMessageBytes) {
    throw tooLarge(
      `Record batch of ${bytes.byteLength} bytes exceeds the topic's max.message.bytes (${maxMessageBytes})`,
    );
  }
  const batch = decodeRecordBatch(bytes, { maxUncompressedBytes: MAX_UNCOMPRESSED_RATIO * maxMessageBytes });
  if (batch.isTransactional || batch.isControl) {
    throw invalid("Transactional and control batches are not supported", "UnsupportedBatch");
  }
  if (batch.timestampType !== "create") {
    throw invalid("Producers must send CreateTime timestamps", "UnsupportedBatch");
  }
  const n = batch.records.length;
  if (n === 0) throw invalid("Record batch holds no records", "CorruptRecord");
  if (batch.lastOffsetDelta !== n - 1 || batch.records.some((r, i) => r.offsetDelta !== i)) {
    throw invalid("Record offset deltas must be 0..n-1 in order", "CorruptRecord");
  }
  const producerId = Number(batch.producerId);
  if (producerId >= 0 && (batch.producerEpoch < 0 || batch.baseSequence < 0)) {
    throw invalid("An idempotent batch needs a producer epoch and a base sequence ≥ 0", "InvalidProducerFields");
  }
  // The index keeps the records' own largest timestamp, as Kafka's broker sets it, not the
  // header's: a producer that wrote a wrong one would misplace timestamp lookups and retention.
  // Every timestamp must be one the JSON body and the SDK accept too: a negative one (which Kafka's
  // producer refuses) would be past every retention at once, one over 2^52 ms lose precision.
  const base = Number(batch.baseTimestamp);
  if (!isTimestamp(base)) throw badTimestamp("The batch's base timestamp", base);
  let maxTs = base;
  for (let i = 0; i < n; i++) {
    const ts = base + Number((batch.records[i] as (typeof batch.records)[number]).timestampDelta);
    if (!isTimestamp(ts)) throw badTimestamp(`Record ${i}'s timestamp`, ts);
    maxTs = Math.max(maxTs, ts);
  }
  return {
    bytes,
    records: n,
    span: n,
    firstTs: base,
    maxTs,
    producerId: producerId >= 0 ? producerId : -1,
    producerEpoch: batch.producerEpoch,
    baseSequence: batch.baseSequence,
  };
}

const isTimestamp = (ts: number): boolean => ts >= 0 && ts <= MAX_TIMESTAMP;
const badTimestamp = (which: string, ts: number) => invalid(`${which} is ${ts}: timestamps are epoch milliseconds from 0 to ${MAX_TIMESTAMP}`, "InvalidTimestamp");

/** Producer ids whose fixed epoch one function instance remembers; past it, it starts over. */
const FIXED_EPOCHS_KEPT = 10_000;

/**
 * The produce protocol: reserve → write → commit (docs/produce-and-fetch.md), with a claim on
 * the producer's state beside the write for idempotent batches (docs/idempotent-producer.md).
 */
export class Appender {
  /** Registered epochs of producer ids that can never change, by id (see `checkProducer`). */
  private readonly fixedEpochs = new Map<number, number>();

  constructor(
    private readonly registry: Registry,
    private readonly objects: SegmentObjects,
    private readonly producers: Producers,
    private readonly topics: Topics,
    private readonly options: Pick<LogOptions, "now">,
  ) {}

  /**
   * Fences zombies once per request: the batch's epoch must be the producer id's registered one.
   * A transactional id's epoch moves when a newer instance starts, so it is read every time; the
   * epoch of an id issued without one never moves, so one read per function instance serves all
   * its later requests (docs/idempotent-producer.md).
   */
  async checkProducer(producerId: number, epoch: number): Promise<void> {
    let registered = this.fixedEpochs.get(producerId);
    if (registered === undefined) {
      const registration = await this.producers.registration(producerId);
      if (!registration) throw invalid(`Unknown producer id ${producerId}; call InitProducerId first`, "UnknownProducerId");
      registered = registration.epoch;
      if (registration.fixed) {
        if (this.fixedEpochs.size >= FIXED_EPOCHS_KEPT) this.fixedEpochs.clear();
        this.fixedEpochs.set(producerId, registered);
      }
    }
    if (registered > MAX_EPOCH) throw fenced(`Producer ${producerId} has used up its epochs: its transactional id went on with a new producer id`, "ProducerFenced");
    if (epoch < registered) throw fenced(`Producer ${producerId} epoch ${epoch} was fenced by epoch ${registered}`, "ProducerFenced");
    if (epoch > registered) throw invalid(`Producer ${producerId} has no epoch ${epoch} yet`, "InvalidProducerEpoch");
  }

  /**
   * Appends a request's batches. One batch gets an object of its own; several share one object,
   * their bytes back to back, so that a request costs one S3 PUT however many partitions it
   * carries. A partition's batches go in order: after a failure its later batches are not
   * written (that would reorder them) and share its error. Partitions go in parallel.
   */
  async appendAll(topic: TopicRecord, batches: readonly { partition: number; batch: CheckedBatch }[], recreated: "go-on" | "refuse" = "go-on"): Promise<AppendOutcome[]> {
    const only = batches.length === 1 ? batches[0] : undefined;
    if (only) {
      try {
        return [await this.append(topic, only.partition, only.batch, recreated)];
      } catch (e) {
        if (!isSeglogError(e)) throw e;
        return [{ partition: only.partition, error: e }];
      }
    }
    const results: AppendOutcome[] = new Array(batches.length);
    const byPartition = indexesBy(batches.map((b) => b.partition));
    const span = (i: number) => (batches[i] as (typeof batches)[number]).batch.span;
    // An error that is not a SeglogError is a bug: the request's reservations are given up (so
    // that readers need not wait for the abort timeout) and it is thrown once all have settled.
    const bugs: unknown[] = [];
    // 1. Reserve every batch's offsets. A partition stops at its first failure.
    const reserved: (Reservation | undefined)[] = new Array(batches.length);
    const failures = new Map<number, SeglogError>();
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        for (const i of indexes) {
          try {
            reserved[i] = await this.reserve(topic, partition, span(i), recreated);
          } catch (e) {
            if (isSeglogError(e)) failures.set(partition, e);
            else bugs.push(e);
            return;
          }
        }
      }),
    );
    if (bugs.length > 0) {
      await Promise.all(reserved.map((r, i) => r && this.abortRange(r.topic.topicId, r.partition, r.seq, r.baseOffset, span(i)).catch(() => false)));
      throw bugs[0];
    }
    // 2. One object per topic id (a topic recreated under the request gives a second) with every
    // reserved batch, each at its own offsets.
    const placed = new Map<number, { written: Promise<void>; objectKey: string; position: number }>();
    const byTopicId = indexesBy(reserved.map((r) => r?.topic.topicId));
    for (const indexes of byTopicId.values()) {
      const first = reserved[indexes[0] as number] as Reservation;
      const objectKey = sharedObjectKey(first.topic.name, first.topic.topicId, first.partition, first.baseOffset);
      const parts = indexes.map((i) => {
        const { bytes } = (batches[i] as (typeof batches)[number]).batch;
        patchBaseOffset(bytes, BigInt((reserved[i] as Reservation).baseOffset));
        return bytes;
      });
      const written = this.objects.put(objectKey, Buffer.concat(parts));
      written.catch(() => undefined); // each batch's commit step awaits it and reports its failure
      let position = 0;
      indexes.forEach((i, k) => {
        placed.set(i, { written, objectKey, position });
        position += (parts[k] as Uint8Array).byteLength;
      });
    }
    // 3. Claim (idempotent batches), wait for the object, commit: a partition's batches in order.
    // From its first failure on (a reservation that was not taken, or a batch that did not land),
    // a partition's later reservations are aborted and share that failure.
    await Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        let failure: SeglogError | undefined;
        let broken = false;
        for (const i of indexes) {
          const r = reserved[i];
          if (!r) failure ??= failures.get(partition);
          if (failure || broken || !r) {
            if (r) await this.abortRange(r.topic.topicId, partition, r.seq, r.baseOffset, span(i)).catch(() => false);
            if (failure) results[i] = { partition, error: failure };
            continue;
          }
          const { written, objectKey, position } = placed.get(i) as { written: Promise<void>; objectKey: string; position: number };
          try {
            results[i] = await this.complete(r, (batches[i] as (typeof batches)[number]).batch, written, { objectKey, position });
          } catch (e) {
            if (isSeglogError(e)) {
              failure = e;
              results[i] = { partition, error: e };
            } else {
              bugs.push(e);
              broken = true;
            }
          }
        }
      }),
    );
    if (bugs.length > 0) throw bugs[0];
    return results;
  }

  /** One batch, in an object of its own named by its base offset. */
  private async append(topic: TopicRecord, partition: number, batch: CheckedBatch, recreated: "go-on" | "refuse"): Promise<AppendResult> {
    const reservation = await this.reserve(topic, partition, batch.span, recreated);
    patchBaseOffset(batch.bytes, BigInt(reservation.baseOffset));
    const key = segmentObjectKey(reservation.topic.name, reservation.topic.topicId, partition, reservation.baseOffset);
    return this.complete(reservation, batch, this.objects.put(key, batch.bytes));
  }

  /**
   * The rest of the protocol once the batch's object is being written: claim the sequence
   * (idempotent batches), wait for the write, commit the index item. The object is named by this
   * reservation's own offsets (or shares one with other batches of the request), which no other
   * batch can take, so it is written while the claim is decided: a batch that turns out a
   * duplicate (or fenced, or out of order) leaves unreferenced bytes for collection, as a crash
   * after the PUT would.
   */
  private async complete(
    reservation: Reservation,
    batch: CheckedBatch,
    written: Promise<void>,
    shared?: { objectKey: string; position: number },
  ): Promise<AppendResult> {
    const { seq, baseOffset, partition } = reservation;
    const topicId = reservation.topic.topicId;
    const result = { partition, baseOffset, lastOffset: baseOffset + batch.span - 1, count: batch.records, topicId };
    // Settles either way; it also marks a failed write as handled while the claim is decided.
    const writeSettled = written.then(() => undefined, () => undefined);
    if (batch.producerId >= 0) {
      let earlier: ClaimedBatch | undefined;
      try {
        earlier = await this.claim(topicId, partition, batch, { e: batch.producerEpoch, b: batch.baseSequence, l: nextSequence(batch.baseSequence, batch.records - 1), o: baseOffset, q: seq });
      } catch (e) {
        await writeSettled;
        throw e;
      }
      if (earlier) {
        await writeSettled;
        return { ...result, baseOffset: earlier.o, lastOffset: earlier.o + batch.span - 1 };
      }
    }
    let committed: boolean;
    try {
      await written;
      committed = await this.registry.decide(topicId, partition, {
        seq,
        toSeq: seq,
        state: "C",
        base: baseOffset,
        count: batch.span,
        records: batch.records,
        bytes: batch.bytes.byteLength,
        firstTs: batch.firstTs,
        maxTs: batch.maxTs,
        at: this.options.now(),
        ...shared,
      });
    } catch (e) {
      // A failed write (throttled, timed out) gives its reservation up at once, so that readers
      // need not wait for the abort timeout. If this abort fails too, they will abort it then.
      await this.abortRange(topicId, partition, seq, baseOffset, batch.span).catch(() => false);
      throw e;
    }
    if (!committed) {
      throw new SeglogError(
        "Conflict",
        `The reservation at offset ${baseOffset} was aborted before it committed (a retry of this batch took it over, or the write was too slow); send the batch again`,
        { retriable: true, code: "ReservationAborted" },
      );
    }
    return result;
  }

  /**
   * Claims the batch's sequence for our reservation. Returns undefined when this attempt owns the
   * batch and goes on to write it, or the earlier attempt's claim when that one already landed
   * (a duplicate: answer with its offsets). Our own reservation is aborted at once whenever we
   * do not write, so readers do not wait for the abort timeout.
   */
  private async claim(topicId: string, partition: number, batch: CheckedBatch, mine: ClaimedBatch): Promise<ClaimedBatch | undefined> {
    const { producerId } = batch;
    const abortOwn = () => this.abort(topicId, partition, mine);
    for (let attempt = 0; attempt < 5; attempt++) {
      if (await this.producers.claim(topicId, partition, producerId, mine)) return undefined;
      const state = await this.producers.state(topicId, partition, producerId);
      const d = decide(state, { producerId, epoch: mine.e, baseSeq: mine.b, lastSeq: mine.l });
      switch (d.action) {
        case "claim":
          continue;
        case "fenced":
          await abortOwn();
          throw fenced(`Producer ${producerId} epoch ${mine.e} was fenced by epoch ${d.epoch}`, "ProducerFenced");
        case "out-of-order":
          await abortOwn();
          throw conflict(`Out of order sequence ${mine.b} for producer ${producerId}; expected ${d.expected}`, {
            code: "OutOfOrderSequence",
          });
        case "history":
        case "pending": {
          const entry = await this.registry.segment(topicId, partition, d.of.q);
          if (entry?.state === "C") {
            await abortOwn();
            return d.of;
          }
          if (d.action === "history") {
            await abortOwn();
            throw conflict(`Sequence ${mine.b} of producer ${producerId} was aborted and cannot be written again`, {
              code: "OutOfOrderSequence",
            });
          }
          if (!entry) {
            const removed = await this.removedSinceDecided(topicId, partition, d.of.q);
            if (removed === undefined) continue; // decided meanwhile: decide again
            if (removed) {
              await abortOwn();
              throw new SeglogError(
                "Conflict",
                `Sequence ${mine.b} of producer ${producerId} was decided at offset ${d.of.o}, and its segment has been removed since (by retention, or merged): whether it was stored is no longer known, and it is not written again`,
                { retriable: false, code: "UnknownBatchOutcome" },
              );
            }
          }
          // The earlier attempt crashed or is still running: abort it (exactly one of its commit
          // and this abort wins), then take its claim over.
          if (!entry && !(await this.abort(topicId, partition, d.of))) continue;
          if (await this.producers.replacePending(topicId, partition, producerId, d.of, mine)) return undefined;
        }
      }
    }
    await abortOwn();
    throw new SeglogError("Conflict", "The producer state kept changing under this batch; send it again", {
      retriable: true,
      code: "ConcurrentRetry",
    });
  }

  /**
   * Whether the index item of `seq`, missing, was decided and then removed (below the log start
   * by retention, or into a merged segment): the partition's decided prefix reaches past it. Its
   * retry then cannot tell whether it was committed: an abort would succeed over a committed
   * batch's removed item, and the batch would be stored twice. (Retention keeps an aborted
   * write's item for `ABORTED_KEPT_MS`, so that a retry in time finds it aborted and writes.)
   */
  private async removedSinceDecided(topicId: string, partition: number, seq: number): Promise<boolean | undefined> {
    const head = await this.registry.getHead(topicId, partition);
    // Read again after the head: a first attempt that committed since, and a reader that moved
    // the stable hint past it, is decided and there (undefined: go by what it says).
    if ((await this.registry.segment(topicId, partition, seq)) !== undefined) return undefined;
    return head !== undefined && seq < Math.max(head.stableSeq, head.startSeq);
  }

  /** Aborts one claimed reservation, with its exact offset range. */
  private abort(topicId: string, partition: number, c: ClaimedBatch): Promise<boolean> {
    return this.abortRange(topicId, partition, c.q, c.o, claimedRecords(c));
  }

  private abortRange(topicId: string, partition: number, seq: number, base: number, count: number): Promise<boolean> {
    const entry: IndexEntry = {
      seq,
      toSeq: seq,
      state: "A",
      base,
      count,
      records: 0,
      bytes: 0,
      firstTs: 0,
      maxTs: 0,
      at: this.options.now(),
    };
    return this.registry.decide(topicId, partition, entry);
  }

  private async reserve(topic: TopicRecord, partition: number, span: number, recreated: "go-on" | "refuse"): Promise<Reservation> {
    const first = await this.registry.reserve(topic.topicId, partition, span, this.options.now());
    if (first) return { ...first, topic, partition };
    // No head under this topicId: the cached topic was deleted or recreated. Re-read once.
    const fresh = await this.topics.get(topic.name);
    if (fresh.topicId !== topic.topicId && recreated === "refuse") {
      throw notFound(`Topic '${topic.name}' (id ${topic.topicId}) was deleted and created again`, TOPIC_DELETED);
    }
    if (fresh.topicId !== topic.topicId && partition < fresh.partitions) {
      const second = await this.registry.reserve(fresh.topicId, partition, span, this.options.now());
      if (second) return { ...second, topic: fresh, partition };
    }
    throw notFound(`Topic '${topic.name}' has no partition ${partition}`);
  }
}

/** The indexes of each key, in order; undefined keys are left out. */
function indexesBy<K>(keys: readonly (K | undefined)[]): Map<K, number[]> {
  const out = new Map<K, number[]>();
  keys.forEach((key, i) => {
    if (key === undefined) return;
    const indexes = out.get(key);
    if (indexes) indexes.push(i);
    else out.set(key, [i]);
  });
  return out;
}
