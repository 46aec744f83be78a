import { BATCH_HEADER_BYTES } from "../core/codec/batch-header.ts";
import { BatchBuilder, COMPRESSIONS, MAX_TIMESTAMP, MAX_UNCOMPRESSED_RATIO, loadCompressionCodecs, patchBaseSequence, type Compression, type FieldValue } from "../core/codec/record-batch.ts";
import { SeglogError, errorFromBody, isSeglogError } from "../core/errors.ts";
import { FRAME_HEADER_BYTES, buildFrame } from "../core/frames.ts";
import { nextSequence } from "../core/idempotence.ts";
import { partitionForKey } from "../core/partitioner.ts";
import { isWellFormed } from "../core/unicode.ts";
import { Admin } from "./admin.ts";
import { SeglogHttp, pathSegment, sleep, type ClientOptions, type RetryBounds } from "./http.ts";
import { MAX_TIMER_MS, oneOf, wholeNumber } from "./options.ts";

export interface ProducerRecord {
  readonly key?: string | Uint8Array | null;
  readonly value: string | Uint8Array | null;
  /** By name, where an array gives the name several headers in its order (KafkaJS's `IHeaders`);
   * or as a consumed record gives them, a list of `{key, value}`. */
  readonly headers?: Readonly<Record<string, HeaderValue | readonly HeaderValue[]>> | ReadonlyArray<{ readonly key: string; readonly value: HeaderValue }>;
  readonly partition?: number;
  readonly timestamp?: number;
}

export type HeaderValue = string | Uint8Array | null;

export interface RecordMetadata {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export interface ProducerOptions extends ClientOptions {
  /** Wait up to this long for more records before sending a batch. @default 5 */
  readonly lingerMs?: number;
  /** Send a partition's batch once it holds this many bytes. Each batch is one S3 PUT and its
   * own index writes, so Seglog's default is far larger than Kafka's 16 KiB: 1,000,000 bytes
   * keeps a one-batch request within two of API Gateway's 512 KB metering units. A record that
   * would take a batch past the topic's `max.message.bytes` starts a new batch instead.
   * @default 1000000 */
  readonly batchBytes?: number;
  /** `send` waits while this much is buffered and unsent. @default 33554432 */
  readonly bufferBytes?: number;
  /** @default "none" */
  readonly compression?: Compression;
  /** How long cached partition counts are trusted. @default 30000 */
  readonly metadataMaxAgeMs?: number;
  /** Exactly-once appends under retries (Kafka's default since 3.0). Off saves one DynamoDB write
   * per batch. @default true */
  readonly enableIdempotence?: boolean;
  /** A stable id: a new Producer with the same id fences the older one (ProducerFenced). */
  readonly transactionalId?: string;
  /** How long a batch is retried, counted from its first record (Kafka's `delivery.timeout.ms`):
   * retriable errors are retried until then (and at most `maxAttempts` times, if given), so an
   * outage shorter than this loses nothing. @default 120000 */
  readonly deliveryTimeoutMs?: number;
  /**
   * Where records without a key (or a partition) go. `sticky` (Kafka's default since 2.4) fills
   * one partition's batch at a time: the fewest, fullest batches, one per request. `round-robin`
   * (Kafka's `RoundRobinPartitioner`, except that keyed records still go by their key) deals them
   * out one by one, so every partition's batch fills at once and a request carries them all: one
   * S3 PUT, Lambda invocation and API Gateway request for as many batches as partitions.
   * @default "sticky" */
  readonly partitioner?: Partitioner;
}

export type Partitioner = "sticky" | "round-robin";

interface Pending {
  readonly partition: number;
  /** The batch, written record by record as they join it (behind room for its frame's header);
   * dropped once it is encoded. */
  builder?: BatchBuilder;
  readonly deliveries: Deliveries;
  bytes: number;
  attempts: number;
  /** When its first record came (monotonic ms): it goes `lingerMs` later, full or not. */
  readonly openedAt: number;
  /** Every record's promise has settled and its bytes left the buffer. */
  settled?: boolean;
  /** Its frame of a produce request (the partition, then the RecordBatch), encoded once so that
   * retries resend the same bytes. */
  encoded?: Uint8Array;
  /** An idempotent batch's sequences: its first, the partition's next after it, the producer
   * identity's generation they belong to, and the id of the topic they were given in. */
  sequences?: { readonly base: number; readonly next: number; readonly generation: number; readonly topicId: string };
  /** Why its last attempt failed, for a retry whose delivery timeout passes before it goes. */
  lastError?: SeglogError;
  /** Why the producer id it waits for could not be had, for its delivery timeout's error. */
  identityError?: SeglogError;
}

/** Errors the server gives before it claims any batch's sequences (docs/idempotent-producer.md):
 * the request's checks, and a partition with no head. */
const REFUSED_UNCLAIMED = new Set(["Invalid", "TooLarge", "NotFound"]);

interface TopicState {
  /** The topic's id when last read: a topic deleted and created again under the name has another. */
  topicId: string;
  partitions: number;
  /** The topic's `max.message.bytes`: no batch may grow past it. */
  maxBatchBytes: number;
  fetchedAt: number;
  /** The open batch per partition, filling up. */
  readonly open: Map<number, Pending>;
  /** Sealed batches in send order. */
  readonly ready: Pending[];
  /** Partitions with a request in flight: one at a time keeps each partition in order. */
  readonly inFlight: Set<number>;
  /** Where this topic's null-key records go until the batch there is sealed (Kafka's sticky partitioner). */
  sticky: number | undefined;
  /** The round-robin partitioner's next partition (any integer; taken modulo the partitions). */
  turn: number;
}

const sequenceKey = (topic: string, batch: Pending): string => `${topic}\u0000${batch.partition}`;

/** Records sent to a topic before the producer read it, in send order, until each has queued or failed. */
class Parked {
  readonly records: ParkedRecord[] = [];
  private added = 0;
  private left = 0;
  private readonly waiters: { readonly upTo: number; readonly wake: () => void }[] = [];

  push(record: ParkedRecord): void {
    this.records.push(record);
    this.added++;
  }

  /** The first `count` records, which leave. */
  take(count = this.records.length): ParkedRecord[] {
    const out = this.records.splice(0, count);
    this.left += out.length;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i] as Parked["waiters"][number];
      if (w.upTo <= this.left) {
        this.waiters.splice(i, 1);
        w.wake();
      }
    }
    return out;
  }

  /** Settles once every record parked so far has left (records parked later are not waited for). */
  drained(): Promise<void> {
    const upTo = this.added;
    if (this.left >= upTo) return Promise.resolve();
    return new Promise((wake) => this.waiters.push({ upTo, wake }));
  }
}

interface ParkedRecord {
  readonly partition: number | undefined;
  readonly entry: Entry;
  readonly size: number;
  /** Its `deliveryTimeoutMs` from its send, on the monotonic clock. */
  readonly deadline: number;
  readonly resolve: (delivered: Promise<RecordMetadata>) => void;
  readonly reject: (error: unknown) => void;
}

/** A record as it joins its batch: checked, stamped, and still the caller's own values. */
interface Entry {
  readonly key: FieldValue;
  readonly value: FieldValue;
  readonly timestamp: number;
  readonly headers?: ReadonlyArray<{ readonly key: string; readonly value: FieldValue }>;
}

/** A key, value or header value as the batch will take it: `what` (and a header's `name`) for the error any other type gets. */
function fieldOf(v: HeaderValue | undefined, what: string, name?: string): FieldValue {
  if (v === null || v === undefined) return null;
  const which = name === undefined ? what : `${what} ${JSON.stringify(name)}`;
  if (v instanceof Uint8Array) return v;
  if (typeof v === "string") {
    // As the JSON produce route: UTF-8 cannot hold a lone surrogate, and it would be stored changed.
    if (!isWellFormed(v)) throw new SeglogError("Invalid", `A record's ${which} is not well-formed Unicode (a lone surrogate): send its bytes`);
    return v;
  }
  throw new SeglogError("Invalid", `A record's ${which} must be a string, bytes or null, not ${typeof v}`);
}

function headersOf(headers: NonNullable<ProducerRecord["headers"]>): { key: string; value: FieldValue }[] {
  if (Array.isArray(headers)) {
    return (headers as ReadonlyArray<{ key: string; value: HeaderValue }>).map((h, i) => {
      if (typeof h?.key !== "string") throw new SeglogError("Invalid", `A record's header ${i} must be {key, value} with a string key`);
      return { key: headerKey(h.key), value: fieldOf(h.value, "header", h.key) };
    });
  }
  // A Map or a string would read as no headers, or as one a character: refused, not stored changed.
  if (typeof headers !== "object" || Object.getPrototypeOf(headers) !== Object.prototype) {
    throw new SeglogError("Invalid", "A record's headers are an object of key: value, or an array of {key, value}");
  }
  return Object.entries(headers).flatMap(([k, v]) => (Array.isArray(v) ? (v as readonly HeaderValue[]) : [v as HeaderValue]).map((one) => ({ key: headerKey(k), value: fieldOf(one, "header", k) })));
}

function headerKey(key: string): string {
  if (!isWellFormed(key)) throw new SeglogError("Invalid", "A record's header key is not well-formed Unicode (a lone surrogate)");
  return key;
}

/**
 * A record, checked (as Kafka's serializers run in `send`), with a timestamp from the send if it
 * has none, as Kafka's producer stamps it in `send`: not when it gets buffer space, nor when its
 * batch goes, up to lingerMs later. Its bytes are the caller's until it joins a batch, which
 * copies them: at once, in `send`, unless it waits (see {@link owned}).
 */
function entryOf(record: ProducerRecord): Entry {
  if (typeof record !== "object" || record === null || Array.isArray(record)) {
    throw new SeglogError("Invalid", `A record is { key?, value, headers?, partition?, timestamp? }, not ${record === null ? "null" : Array.isArray(record) ? "an array" : typeof record}`);
  }
  // As Kafka's ProducerRecord refuses a negative one, and the JSON produce route any outside these.
  if (record.timestamp !== undefined && !(Number.isSafeInteger(record.timestamp) && record.timestamp >= 0 && record.timestamp <= MAX_TIMESTAMP)) {
    throw new SeglogError("Invalid", `A record's timestamp must be whole milliseconds from 0 to 2^52, not ${record.timestamp}`);
  }
  return {
    key: fieldOf(record.key, "key"),
    value: fieldOf(record.value, "value"),
    timestamp: record.timestamp ?? Date.now(),
    headers: record.headers == null ? undefined : headersOf(record.headers),
  };
}

const copyOf = (v: FieldValue): FieldValue => (v instanceof Uint8Array ? Buffer.from(v) : v);

/** The record with copies of its bytes, for one that waits before it joins a batch: as Kafka's
 * producer copies a record at send, a buffer the caller changes or reuses afterwards must not
 * change what is sent. */
function owned(entry: Entry): Entry {
  return {
    key: copyOf(entry.key),
    value: copyOf(entry.value),
    timestamp: entry.timestamp,
    headers: entry.headers?.map((h) => ({ key: h.key, value: copyOf(h.value) })),
  };
}

/** A key's bytes for the partitioner; a string key is written into `scratch` when it fits. */
function keyBytes(key: Uint8Array | string, scratch: Buffer): Uint8Array {
  if (typeof key !== "string") return key;
  if (key.length * 3 > scratch.length) return Buffer.from(key, "utf8");
  return scratch.subarray(0, scratch.write(key, "utf8"));
}

/** Kafka's `buffer.memory` default: what `send` lets be buffered and unsent before it waits. */
export const DEFAULT_BUFFER_BYTES = 32 * 1024 * 1024;

/** Kafka's `delivery.timeout.ms` default: how long a record may take, retries included. */
export const DEFAULT_DELIVERY_TIMEOUT_MS = 120_000;

/** Lambda takes at most 6 MB per invocation, and API Gateway hands it a binary body in base64
 * (4 bytes per 3): a request carries at most this many bytes of batches. */
export const MAX_REQUEST_BYTES = 4 * 1024 * 1024;

const byteLengthOf = (v: FieldValue): number => (v === null ? 0 : typeof v === "string" ? Buffer.byteLength(v, "utf8") : v.byteLength);

/** A record's size in a batch, about: its bytes and Kafka's varint framing around them (16 bytes is generous). */
function recordSize(record: Entry): number {
  let size = 16 + byteLengthOf(record.key) + byteLengthOf(record.value);
  if (record.headers !== undefined) for (const h of record.headers) size += 4 + byteLengthOf(h.key) + byteLengthOf(h.value);
  return size;
}

/** Room a new batch starts with at least. */
const MIN_BATCH_CAPACITY = 1024;

/** Whether a record of `size` bytes joins the partition's open batch within the topic's `max.message.bytes`. */
function fits(state: TopicState, partition: number, size: number): boolean {
  return BATCH_HEADER_BYTES + (state.open.get(partition)?.bytes ?? 0) + size <= state.maxBatchBytes;
}

/** Marks a promise handled (one function, not one per record). */
const ignore = (): undefined => undefined;

/**
 * The promises of a batch's records. Each is derived from the batch's own promise, whose
 * reactions run in the order they were added, so one function a batch gives each record its
 * offset: a record costs its promise and one array slot, not resolvers and closures of its own,
 * as a producer holds many thousands of records at once.
 */
class Deliveries {
  private readonly records: Promise<RecordMetadata>[] = [];
  private readonly batch: Promise<number>;
  private readonly settle: { resolve: (baseOffset: number) => void; reject: (e: unknown) => void };
  /** Gives the records their metadata, in order. */
  private readonly next: (baseOffset: number) => RecordMetadata;

  constructor(topic: string, partition: number) {
    let settle: Deliveries["settle"] | undefined;
    this.batch = new Promise<number>((resolve, reject) => (settle = { resolve, reject }));
    this.settle = settle as Deliveries["settle"];
    let delivered = 0;
    this.next = (baseOffset) => ({ topic, partition, offset: baseOffset + delivered++ });
  }

  /** How many records the batch holds. */
  get count(): number {
    return this.records.length;
  }

  /** The next record's promise. */
  add(): Promise<RecordMetadata> {
    const record = this.batch.then(this.next);
    this.records.push(record);
    return record;
  }

  resolve(baseOffset: number): void {
    this.settle.resolve(baseOffset);
  }

  /** A rejection is that record's only report, as a Java producer's callback is: a promise nobody
   * awaits yet (sent, then `close()` awaited first) is marked handled, so it does not crash the
   * process as unhandled. */
  reject(error: unknown): void {
    for (const record of this.records) record.catch(ignore);
    this.settle.reject(error);
  }
}

/**
 * Kafka's adaptive sticky partitioner (KIP-794): the next partition for null-key records, drawn
 * at random with weight `deepest + 1 − depth` per partition, where depth counts its unsent and
 * in-flight batches. Partitions that drain faster get more records, so no partition's queue
 * runs long while the others sit idle.
 */
export function pickStickyPartition(depths: readonly number[], random: number): number {
  const top = Math.max(...depths) + 1;
  let r = random * depths.reduce((sum, d) => sum + top - d, 0);
  for (let p = 0; p < depths.length; p++) {
    r -= top - (depths[p] as number);
    if (r < 0) return p;
  }
  return depths.length - 1;
}

/**
 * Batches records per partition by `lingerMs` and `batchBytes`, partitions on the client
 * (murmur2 for keys, sticky or round-robin for null keys), sends binary RecordBatch frames, and retries
 * retriable failures with backoff, one request per partition at a time so order holds.
 */
export class Producer {
  private readonly http: SeglogHttp;
  private readonly admin: Admin;
  private readonly lingerMs: number;
  private readonly batchBytes: number;
  private readonly bufferBytes: number;
  private readonly compression: Compression;
  private readonly metadataMaxAgeMs: number;
  private readonly topics = new Map<string, TopicState>();
  /** Where a string key is written for the partitioner to hash. */
  private readonly scratch = Buffer.allocUnsafeSlow(1024);
  private readonly metadata = new Map<string, Promise<TopicState>>();
  private timer: NodeJS.Timeout | undefined;
  /** When the timer fires (monotonic ms). */
  private timerAt = Number.POSITIVE_INFINITY;
  private buffered = 0;
  private waiters: (() => void)[] = [];
  private sending = new Set<Promise<void>>();
  /** The last admission: each waits for the one before it, and it settles only after the record
   * it admitted has joined its batch (flush and close wait for it). */
  private admission: Promise<unknown> = Promise.resolve();
  /** Records in the admission queue: while there are any, a new one queues behind them. */
  private waiting = 0;
  /** Per topic, the records waiting for the producer's first read of it, before the queue (see
   * {@link afterFirstRead}); flush and close wait for them to be queued. */
  private readonly firstReads = new Map<string, Parked>();
  /** Flushes to wake when a record starts waiting for buffer space. */
  private readonly stalls = new Set<() => void>();
  private closed = false;
  /** Aborted once `close()` has flushed: a background read of a topic's metadata stops with it. */
  private readonly closing = new AbortController();
  private readonly idempotent: boolean;
  private readonly transactionalId: string | undefined;
  private readonly partitioner: Partitioner;
  private identity: Promise<{ producerId: number; epoch: number }> | undefined;
  /** Counts the identities given up (`resetIdentity`): sequences belong to one. */
  private generation = 0;
  /** Why a Producer with a `transactionalId` can send no new batch (`resetIdentity`). */
  private unusable: SeglogError | undefined;
  /**
   * The next sequence number per topic-partition, under the current identity, and the topic (by
   * id) it counts in: the one whose answer last took the partition's batch, else the one the
   * producer knew when it gave the sequences. A topic created again under its name knows this
   * producer from sequence 0 on each partition it has not taken a batch for since.
   */
  private readonly sequences = new Map<string, { next: number; topicId: string }>();
  private readonly deliveryTimeoutMs: number;
  /** Attempts per batch: unbounded unless `maxAttempts` is given; `deliveryTimeoutMs` bounds them. */
  private readonly maxBatchAttempts: number;

  constructor(options: ProducerOptions = {}) {
    this.http = new SeglogHttp(options);
    this.admin = new Admin(this.http);
    this.lingerMs = options.lingerMs ?? 5;
    if (!(this.lingerMs >= 0 && this.lingerMs <= MAX_TIMER_MS)) {
      throw new SeglogError("Invalid", `lingerMs must be between 0 and ${MAX_TIMER_MS}, not ${this.lingerMs}`);
    }
    this.batchBytes = options.batchBytes ?? 1_000_000;
    this.bufferBytes = options.bufferBytes ?? DEFAULT_BUFFER_BYTES;
    for (const [name, bytes] of [["batchBytes", this.batchBytes], ["bufferBytes", this.bufferBytes]] as const) {
      // A buffer of 0 bytes would hold every send back for ever.
      if (!(Number.isSafeInteger(bytes) && bytes > 0)) throw new SeglogError("Invalid", `${name} must be a whole number of bytes above 0, not ${bytes}`);
    }
    this.compression = options.compression ?? "none";
    this.metadataMaxAgeMs = options.metadataMaxAgeMs ?? 30_000;
    this.idempotent = options.enableIdempotence ?? true;
    this.transactionalId = options.transactionalId;
    this.partitioner = options.partitioner ?? "sticky";
    // At most what a timer can wait: Node fires a longer one after 1 ms, and batches waiting for their deadline spun.
    wholeNumber("deliveryTimeoutMs", options.deliveryTimeoutMs, 1, MAX_TIMER_MS);
    wholeNumber("metadataMaxAgeMs", options.metadataMaxAgeMs, 0, MAX_TIMER_MS);
    this.deliveryTimeoutMs = options.deliveryTimeoutMs ?? DEFAULT_DELIVERY_TIMEOUT_MS;
    if (!(this.deliveryTimeoutMs > this.lingerMs)) {
      // Kafka likewise requires delivery.timeout.ms ≥ linger.ms + request.timeout.ms.
      throw new SeglogError("Invalid", `deliveryTimeoutMs must be above lingerMs (${this.lingerMs}), not ${this.deliveryTimeoutMs}: a batch waits lingerMs before it is sent`);
    }
    this.maxBatchAttempts = options.maxAttempts ?? Number.POSITIVE_INFINITY;
    oneOf("partitioner", this.partitioner, ["sticky", "round-robin"]);
    oneOf("compression", this.compression, COMPRESSIONS);
  }

  /** Kafka's InitProducerId, once per identity, retried as a batch is (until `deliveryTimeoutMs`). */
  producerIdentity(): Promise<{ producerId: number; epoch: number }> {
    this.identity ??= this.initProducerId();
    this.identity.catch(() => (this.identity = undefined));
    return this.identity;
  }

  /** Retried as a batch is, so that an outage a batch would ride out does not fail the identity it waits for. */
  private async initProducerId(): Promise<{ producerId: number; epoch: number }> {
    const json = this.transactionalId === undefined ? {} : { transactionalId: this.transactionalId };
    const bounds = { maxAttempts: this.maxBatchAttempts, deadline: performance.now() + this.deliveryTimeoutMs };
    // close() calls off one that no batch waits for any more (theirs expired meanwhile).
    const signal = this.closing.signal;
    const reply = await this.http.retrying(() => this.http.call({ method: "POST", path: "/v1/producers", json, signal }), signal, bounds);
    return reply.json as { producerId: number; epoch: number };
  }

  /**
   * The topic's partitions, as Kafka's `partitionsFor`: read if the producer does not know the
   * topic yet (retried through an outage until `deliveryTimeoutMs`, as a record's first read is),
   * so that records sent after it join their batches at once. Fails with `NotFound` for a topic
   * that does not exist.
   */
  async partitionsFor(topic: string): Promise<{ topic: string; partition: number }[]> {
    if (this.closed) throw new SeglogError("Invalid", "The producer is closed");
    const state = await this.topicState(topic);
    return Array.from({ length: state.partitions }, (_, partition) => ({ topic, partition }));
  }

  /**
   * Queues a record; the promise settles when the server acknowledged it (or gave up). Its
   * rejection is that record's only report, as a Java producer's callback is: a promise nobody
   * awaits yet (sent, then `close()` awaited first) does not crash the process as unhandled.
   * Admitted at once when nothing waits: no async step, no promise but the record's own (a
   * producer sends many records per millisecond).
   */
  send(topic: string, record: ProducerRecord): Promise<RecordMetadata> {
    let result: Promise<RecordMetadata>;
    try {
      if (this.closed) throw new SeglogError("Invalid", "The producer is closed");
      if (this.unusable) throw this.unusable;
      if (typeof topic !== "string") throw new SeglogError("Invalid", `send takes a topic's name and a record, send(topic, record), not ${typeof topic === "object" ? "an object" : typeof topic}`);
      const entry = entryOf(record);
      const { partition } = record;
      if (partition !== undefined && !(Number.isSafeInteger(partition) && partition >= 0)) {
        throw new SeglogError("Invalid", `A record's partition must be a whole number ≥ 0, not ${partition}`);
      }
      const size = recordSize(entry);
      if (size > this.bufferBytes) {
        // As Kafka's producer refuses a record larger than buffer.memory: it could never be buffered beside another.
        throw new SeglogError("TooLarge", `The record is ${size} bytes when encoded, more than the producer's buffer holds (bufferBytes, Kafka's buffer.memory: ${this.bufferBytes}): raise it or send smaller records`);
      }
      if (!this.topics.has(topic) || this.firstReads.has(topic)) result = this.afterFirstRead(topic, partition, owned(entry), size);
      else return this.enqueue(topic, partition, entry, size); // marked handled if it fails
    } catch (e) {
      result = Promise.reject(e);
    }
    result.catch(ignore);
    return result;
  }

  /** Admits a record (at once when nothing waits) and puts it in its partition's batch; one that
   * waits holds copies of its bytes, unless `entry` is already `owned`. */
  private enqueue(topic: string, partition: number | undefined, entry: Entry, size: number, isOwned = false): Promise<RecordMetadata> {
    const admitted = this.admit(topic, partition);
    if (!(admitted instanceof Promise)) return this.join(topic, admitted, partition, entry, size);
    const kept = isOwned ? entry : owned(entry);
    // A reaction of the admission itself, so that it runs before the next record's admission
    // (which waits for this one's) looks at the buffer. Marked handled, as `send`'s promise is:
    // a record refused here (too large, a partition the topic lacks) sent and not awaited must not
    // end the process with an unhandled rejection.
    const joined = admitted.then((state) => this.join(topic, state, partition, kept, size));
    joined.catch(ignore);
    return joined;
  }

  /**
   * A record for a topic the producer has not read yet: it waits for that read (retried until
   * `deliveryTimeoutMs` from its send, through an outage, as Kafka's `send` waits `max.block.ms`)
   * outside the admission queue, so that the records of the topics it knows go on meanwhile, and
   * then queues. The topic's records wait together, in the order they were sent, and queue at
   * once when the read answers: a burst sent before the topic was known costs a promise a record.
   */
  private afterFirstRead(topic: string, partition: number | undefined, entry: Entry, size: number): Promise<RecordMetadata> {
    const deadline = performance.now() + this.deliveryTimeoutMs;
    let parked = this.firstReads.get(topic);
    const reading = !parked;
    if (!parked) this.firstReads.set(topic, (parked = new Parked()));
    const list = parked;
    const delivered = new Promise<RecordMetadata>((resolve, reject) => list.push({ partition, entry, size, deadline, resolve, reject }));
    if (reading) void this.readParked(topic, list);
    return delivered;
  }

  /**
   * Reads the topic for the records parked there until none is left: once it answers, they all
   * queue, in order, before any record sent after. A read that fails for good (the topic does
   * not exist) fails every record waiting for it; one that fails for now (retried until the
   * oldest record's delivery timeout) fails that record and any others whose timeout passed, and
   * the rest wait for another read, each until its own timeout.
   */
  private async readParked(topic: string, parked: Parked): Promise<void> {
    const records = parked.records;
    while (records.length > 0) {
      try {
        await this.topicState(topic, (records[0] as ParkedRecord).deadline);
      } catch (e) {
        let failed = records.length;
        if (!isSeglogError(e) || e.retriable) {
          const now = performance.now();
          const timedOut = records.findIndex((r) => r.deadline > now);
          failed = timedOut === -1 ? records.length : Math.max(1, timedOut);
        }
        for (const r of parked.take(failed)) r.reject(e);
        continue;
      }
      // Every parked record queues now, in one step: a record sent meanwhile cannot come between.
      this.firstReads.delete(topic);
      const ready = parked.take();
      for (const r of ready) {
        try {
          r.resolve(this.enqueue(topic, r.partition, r.entry, r.size, true));
        } catch (e) {
          r.reject(e);
        }
      }
      return;
    }
    this.firstReads.delete(topic);
  }

  /** Puts an admitted record (of `size` bytes, as `recordSize` counts) in its partition's batch; the promise settles with its delivery. */
  private join(topic: string, state: TopicState, chosen: number | undefined, entry: Entry, size: number): Promise<RecordMetadata> {
    // Kafka's producer refuses such a record at send too: in a request with others, the server
    // would refuse them all.
    if (chosen !== undefined && chosen >= state.partitions) {
      throw new SeglogError("NotFound", `Topic '${topic}' has no partition ${chosen} (it has ${state.partitions})`);
    }
    // So is one that makes a batch over the topic's max.message.bytes on its own (Kafka's check is
    // against max.request.size). A compressed one may shrink under it, and goes.
    if (this.compression === "none" && BATCH_HEADER_BYTES + size > state.maxBatchBytes) {
      throw new SeglogError(
        "TooLarge",
        `The record is ${size} bytes when encoded, more than a batch of topic '${topic}' may hold (max.message.bytes: ${state.maxBatchBytes}): send it compressed, raise the topic's max.message.bytes, or send smaller records`,
      );
    }
    // Compressed, the server unpacks a batch to at most 8 times the limit (UncompressedTooLarge).
    if (BATCH_HEADER_BYTES + size > MAX_UNCOMPRESSED_RATIO * state.maxBatchBytes) {
      throw new SeglogError(
        "TooLarge",
        `The record is ${size} bytes when encoded, more than a compressed batch of topic '${topic}' may unpack to (${MAX_UNCOMPRESSED_RATIO} × max.message.bytes: ${state.maxBatchBytes}): raise the topic's max.message.bytes, or send smaller records`,
        { code: "UncompressedTooLarge" },
      );
    }
    const key = entry.key;
    let partition = chosen ?? (key === null ? this.nullKeyPartition(state) : partitionForKey(keyBytes(key, this.scratch), state.partitions));
    if (!fits(state, partition, size)) {
      // The batch there is as large as the topic allows: it goes now, and sticky null-key records move on.
      this.seal(topic, state, partition);
      this.pump(topic, state);
      if (chosen === undefined && key === null && this.partitioner === "sticky") {
        partition = this.stickyPartition(state);
        if (!fits(state, partition, size)) {
          this.seal(topic, state, partition);
          this.pump(topic, state);
        }
      }
    }
    let batch = state.open.get(partition);
    if (!batch) {
      // Room for two such records to start: the buffer doubles as records come, so a batch
      // takes at most twice its bytes, however many partitions have one open.
      const capacity = Math.min(state.maxBatchBytes, Math.max(MIN_BATCH_CAPACITY, 2 * size));
      const builder = new BatchBuilder(capacity, FRAME_HEADER_BYTES);
      builder.append(entry);
      batch = { partition, builder, deliveries: new Deliveries(topic, partition), bytes: 0, attempts: 0, openedAt: performance.now() };
      state.open.set(partition, batch);
      // It goes once it has lingered; behind its partition's request in flight, when that is
      // answered, or it fails at its delivery timeout.
      const due = state.inFlight.has(partition) ? this.deadlineOf(batch) : batch.openedAt + this.lingerMs;
      if (due < this.timerAt) this.setTimer(due);
    } else {
      (batch.builder as BatchBuilder).append(entry);
    }
    const delivered = batch.deliveries.add();
    batch.bytes += size;
    this.buffered += size;
    if (batch.bytes >= this.batchBytes) {
      this.seal(topic, state, partition);
      this.pump(topic, state);
    }
    return delivered;
  }

  /**
   * Waits for buffer space and the topic's partitions: what a record waits for before it joins a
   * batch. Records are admitted in the order they were sent, so one that waited for space is not
   * overtaken by a later one that found space freed before it woke.
   */
  private admit(topic: string, partition: number | undefined): TopicState | Promise<TopicState> {
    // Nobody waiting, room in the buffer, the topic known (with the partition asked for): the record joins at once.
    const known = this.topics.get(topic);
    const fresh = known && Date.now() - known.fetchedAt < this.metadataMaxAgeMs && (partition === undefined || partition < known.partitions);
    if (this.waiting === 0 && !this.firstReads.has(topic) && this.buffered < this.bufferBytes && fresh) return known;
    this.waiting++;
    const admitted = this.admission.then(async () => {
      while (this.buffered >= this.bufferBytes) {
        for (const wake of this.stalls) wake();
        await new Promise<void>((r) => this.waiters.push(r));
      }
      const state = await this.topicState(topic);
      // A partition the topic did not have: it may have been added since (read again, if what the producer knows is a second old).
      return partition !== undefined && partition >= state.partitions && Date.now() - state.fetchedAt >= 1000 ? this.refresh(topic) : state;
    });
    this.admission = admitted.then(
      () => void this.waiting--,
      () => void this.waiting--,
    );
    return admitted;
  }

  /** Sends everything buffered, records whose `send` has not yet reached a batch included, and
   * waits for every acknowledgement (Kafka's `flush`). */
  async flush(): Promise<void> {
    // The records sent before this call that are still on their way into batches: those waiting
    // for a topic's first read (not those that join them after this call), then the queue.
    const joined = Promise.all([...this.firstReads.values()].map((p) => p.drained())).then(() => this.admission);
    let joining = true;
    void joined.then(() => (joining = false));
    for (;;) {
      // They join their batches first, so that batches go full; unless they wait for buffer
      // space, which only sending what is buffered frees.
      if (!joining || this.waiters.length > 0) {
        for (const [topic, state] of this.topics) {
          for (const partition of [...state.open.keys()]) this.seal(topic, state, partition);
          this.pump(topic, state);
        }
      }
      if (this.sending.size === 0 && !joining) return;
      let wake = () => {};
      const stalled = new Promise<void>((r) => (wake = r));
      this.stalls.add(wake);
      try {
        await Promise.race([stalled, ...(joining ? [joined] : []), ...this.sending]);
      } finally {
        this.stalls.delete(wake);
      }
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.closing.abort();
  }

  private nullKeyPartition(state: TopicState): number {
    if (this.partitioner === "sticky") return this.stickyPartition(state);
    return state.turn++ % state.partitions;
  }

  private stickyPartition(state: TopicState): number {
    if (state.sticky === undefined) {
      const depths = new Array<number>(state.partitions).fill(0);
      const count = (p: number) => {
        if (p < depths.length) depths[p] = (depths[p] as number) + 1;
      };
      for (const b of state.ready) count(b.partition);
      for (const p of state.inFlight) count(p);
      for (const p of state.open.keys()) count(p);
      state.sticky = pickStickyPartition(depths, Math.random());
    }
    return state.sticky;
  }

  /** Sends the batches that have waited `lingerMs` (`pump`), and sets the timer again. */
  private lingerExpired(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    for (const [topic, state] of this.topics) this.pump(topic, state);
    this.armTimer();
  }

  /**
   * Sets the timer for the oldest open batch that can go when it has lingered, if it is not set
   * that early already: not a batch of a partition with a request in flight, which goes when
   * that request is answered, but for the delivery timeout of those that wait behind it.
   */
  private armTimer(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const state of this.topics.values()) {
      for (const [partition, b] of state.open) next = Math.min(next, state.inFlight.has(partition) ? this.deadlineOf(b) : b.openedAt + this.lingerMs);
      if (state.inFlight.size > 0) for (const b of state.ready) if (!b.encoded && state.inFlight.has(b.partition)) next = Math.min(next, this.deadlineOf(b));
    }
    if (Number.isFinite(next) && next < this.timerAt) this.setTimer(next);
  }

  private setTimer(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(() => this.lingerExpired(), Math.max(0, at - performance.now()));
  }

  /**
   * Seals the open batches that have waited `lingerMs` since their first record (Kafka's
   * `linger.ms` is per batch), except where a request is in flight: as in Kafka's accumulator,
   * such a batch takes records until it is full or can go, so that a partition whose requests
   * take longer than records take to come sends fuller batches, not a queue of small ones.
   */
  private sealLingered(topic: string, state: TopicState): void {
    const now = performance.now();
    for (const [partition, batch] of [...state.open]) {
      if (!state.inFlight.has(partition) && batch.openedAt + this.lingerMs <= now + 1) this.seal(topic, state, partition);
    }
  }

  private seal(_topic: string, state: TopicState, partition: number): void {
    const batch = state.open.get(partition);
    if (!batch) return;
    state.open.delete(partition);
    state.ready.push(batch);
    if (state.sticky === partition) state.sticky = undefined;
  }

  /**
   * Sends the first ready batch of every partition that has none in flight, in requests of at
   * most {@link MAX_REQUEST_BYTES} each (a batch larger than that goes alone). Like Kafka's
   * sender, which drains every partition's batch once one is ready, a request also takes the
   * open batches of other partitions that are at least half full or have waited at least half of
   * `lingerMs`: keyed records spread over many partitions then go as one request, which the
   * server stores as one S3 object, and records sent together to several partitions go together
   * however their batches' linger ends fall. (Half: a partition that has only just started a
   * batch, as the sticky partitioner's next one has, is not sent tiny.)
   */
  private pump(topic: string, state: TopicState): void {
    this.expireWaiting(topic, state);
    this.sealLingered(topic, state);
    const now = performance.now();
    for (;;) {
      const take: Pending[] = [];
      let bytes = 0;
      const fits = (b: Pending) => !state.inFlight.has(b.partition) && !take.some((t) => t.partition === b.partition) && (take.length === 0 || bytes + b.bytes <= MAX_REQUEST_BYTES);
      for (let i = 0; i < state.ready.length; ) {
        const b = state.ready[i] as Pending;
        if (!fits(b)) {
          i++;
          continue;
        }
        take.push(b);
        bytes += b.bytes;
        state.ready.splice(i, 1);
      }
      if (take.length === 0) return;
      for (const [partition, b] of state.open) {
        const halfway = b.bytes * 2 >= this.batchBytes || (now - b.openedAt) * 2 >= this.lingerMs;
        if (!halfway || !fits(b) || state.ready.some((r) => r.partition === partition)) continue;
        state.open.delete(partition);
        if (state.sticky === partition) state.sticky = undefined;
        take.push(b);
        bytes += b.bytes;
      }
      for (const b of take) state.inFlight.add(b.partition);
      const p = this.sendBatches(topic, state, take).finally(() => {
        this.sending.delete(p);
        for (const b of take) state.inFlight.delete(b.partition);
        this.pump(topic, state);
        this.armTimer();
      });
      this.sending.add(p);
    }
  }

  /**
   * Sends batches as one request. An error of the client's own (encoding, loading the zstd codec,
   * re-reading the topic before a retry) fails the batches it leaves unanswered, rather than
   * leave their records' promises, and their bytes in the buffer, waiting forever.
   */
  private async sendBatches(topic: string, state: TopicState, batches: Pending[]): Promise<void> {
    try {
      await this.trySendBatches(topic, state, batches);
    } catch (e) {
      const error = isSeglogError(e) ? e : new SeglogError("Internal", `The producer failed: ${String(e)}`, { cause: e });
      for (const b of batches) {
        if (b.settled || state.ready.includes(b)) continue;
        if (b.sequences && b.attempts > 0) this.resetIdentity(b.sequences.generation); // it may have landed
        b.deliveries.reject(error);
        this.release(b);
      }
    }
  }

  private async trySendBatches(topic: string, state: TopicState, batches: Pending[]): Promise<void> {
    if (this.compression === "zstd") await loadCompressionCodecs(); // the zstd encoder is WebAssembly, loaded once
    batches = this.unexpired(topic, batches);
    let id: { producerId: number; epoch: number } | undefined;
    let generation = this.generation;
    // An identity given up while this one was awaited is not used: its sequences are gone. A
    // batch whose delivery timeout passes meanwhile fails then, not when the identity answers; an
    // InitProducerId that failed retriably (it gives up at a delivery timeout of its own) is asked
    // again for the batches with time left, unless `maxAttempts` bounds them.
    while (this.idempotent && batches.length > 0 && (id === undefined || generation !== this.generation)) {
      generation = this.generation;
      try {
        id = await this.identityWithin(batches);
      } catch (e) {
        if (!(isSeglogError(e) && e.retriable && this.maxBatchAttempts === Number.POSITIVE_INFINITY && !this.closing.signal.aborted)) {
          for (const b of batches) {
            b.deliveries.reject(e);
            this.release(b);
          }
          return;
        }
        for (const b of batches) b.identityError = e;
      }
      batches = this.unexpired(topic, batches);
    }
    if (this.unusable) {
      const why = this.unusable;
      batches = batches.filter((b) => {
        if (b.encoded) return true; // a retry: its identity is still good
        b.deliveries.reject(why);
        this.release(b);
        return false;
      });
    }
    // A batch that cannot be encoded fails alone; the others go. (Its records' types were checked
    // at send: what is left is the codec's own error.)
    batches = batches.filter((b) => {
      if (b.encoded) return true; // a retry resends the same bytes
      const sequence = id ? this.sequenceOf(topic, b) : undefined;
      const builder = b.builder as BatchBuilder;
      try {
        b.encoded = buildFrame(b.partition, builder, {
          ...(id ? { producerId: id.producerId, producerEpoch: id.epoch, baseSequence: sequence } : {}),
          compression: this.compression,
        });
      } catch (e) {
        b.deliveries.reject(e);
        this.release(b);
        return false;
      }
      // A record over max.message.bytes was let through compressed; still over it, the batch fails
      // alone, rather than have the server refuse the request's other batches with it.
      const batchBytes = b.encoded.byteLength - FRAME_HEADER_BYTES;
      if (batchBytes > state.maxBatchBytes) {
        b.encoded = undefined;
        b.deliveries.reject(
          new SeglogError("TooLarge", `A batch of ${b.deliveries.count} record(s) is ${batchBytes} bytes compressed (${this.compression}), more than a batch of topic '${topic}' may hold (max.message.bytes: ${state.maxBatchBytes}): raise the topic's max.message.bytes, or send smaller records`),
        );
        this.release(b);
        return false;
      }
      // The partition's sequence moves past a batch only once it is encoded: a gap would leave
      // the partition's next batches refused as out of order.
      if (sequence !== undefined) {
        b.sequences = { base: sequence, next: nextSequence(sequence, builder.count), generation, topicId: state.topicId };
        this.sequences.set(sequenceKey(topic, b), { next: b.sequences.next, topicId: state.topicId });
      }
      b.builder = undefined; // the frame holds the records now
      return true;
    });
    if (batches.length === 0) return;
    // A request of one batch (the usual one, a full batch) sends its frame as it is.
    const frames = batches.map((b) => b.encoded as Uint8Array);
    let results: ({ baseOffset: number; topicId?: string } | { error: SeglogError })[];
    try {
      const reply = await this.http.call({
        method: "POST",
        path: `/v1/topics/${pathSegment(topic, "topic")}/records`,
        bytes: frames.length === 1 ? (frames[0] as Uint8Array) : Buffer.concat(frames),
        perBatch: true,
      });
      results = (reply.json as { offsets: ({ baseOffset: number; topicId?: string } | { error: unknown })[] }).offsets.map((r) =>
        "error" in r
          ? { error: errorFromBody(r.error) ?? new SeglogError("Internal", `A batch's error is not in the documented form: ${JSON.stringify(r.error)?.slice(0, 200)}`, { retriable: false }) }
          : r,
      );
    } catch (e) {
      const error = isSeglogError(e) ? e : new SeglogError("Internal", String(e), { retriable: true, cause: e });
      results = batches.map(() => ({ error }));
    }
    const retry: Pending[] = [];
    let topicMayHaveChanged = false;
    /** Batches refused OutOfOrderSequence: sent again if the topic was created again under them
     * (its partitions know this producer from sequence 0), else failed, and their identity given up. */
    const outOfStep: { batch: Pending; error: SeglogError }[] = [];
    const tooLarge: { batch: Pending; error: SeglogError }[] = [];
    batches.forEach((batch, i) => {
      const result = results[i] ?? { error: new SeglogError("Internal", "No result for a batch", { retriable: true }) };
      if ("baseOffset" in result) {
        if (result.topicId !== undefined) {
          this.confirm(topic, batch, result.topicId);
          if (result.topicId !== state.topicId) topicMayHaveChanged = true;
        }
        batch.deliveries.resolve(result.baseOffset);
        this.release(batch);
      } else if (result.error.retriable && ++batch.attempts < this.maxBatchAttempts && performance.now() < this.deadlineOf(batch)) {
        batch.lastError = result.error;
        retry.push(batch);
      } else {
        // Refused before its claim, on a first attempt: its sequences go to the next batch. Any
        // other end leaves them unknown (an attempt may have landed, or none did) or out of step
        // with the server's (OutOfOrderSequence, unless the topic was created again), and every
        // later batch to the partition would be refused: the producer takes a new identity, whose
        // sequences start at 0 everywhere, as Kafka's does. Not when fenced: another instance
        // holds the id now.
        // TooLarge: the topic's max.message.bytes may have been lowered; the next batches are built to the one read now.
        if (result.error.kind === "NotFound" || result.error.kind === "TooLarge" || result.error.code === "OutOfOrderSequence") topicMayHaveChanged = true;
        if (batch.sequences && batch.encoded && result.error.code === "OutOfOrderSequence") {
          outOfStep.push({ batch, error: result.error });
          return;
        }
        if (REFUSED_UNCLAIMED.has(result.error.kind) && batch.attempts === 0) this.unclaim(topic, batch);
        else if (batch.sequences && result.error.kind !== "Fenced") this.resetIdentity(batch.sequences.generation);
        // Failed once the topic is read again: what the sender does next is built to the limit there now.
        if (result.error.kind === "TooLarge") return void tooLarge.push({ batch, error: result.error });
        batch.deliveries.reject(result.error);
        this.release(batch);
      }
    });
    // Deleted, or deleted and created again (`refresh` then starts its sequences over).
    if (topicMayHaveChanged) {
      const before = state.topicId;
      const fresh = await this.refresh(topic).catch(() => undefined);
      for (const { batch, error } of outOfStep) {
        const sequences = batch.sequences as NonNullable<Pending["sequences"]>;
        // (Its frame carries its identity's producer id: only that identity's sequences fit it.)
        if (fresh !== undefined && fresh.topicId !== sequences.topicId && sequences.generation === this.generation && performance.now() < this.deadlineOf(batch)) {
          this.resequence(topic, batch, fresh.topicId);
          batch.lastError = error;
          retry.push(batch);
          continue;
        }
        if (fresh?.topicId === before) this.resetIdentity(sequences.generation);
        batch.deliveries.reject(error);
        this.release(batch);
      }
    }
    for (const { batch, error } of tooLarge) {
      batch.deliveries.reject(error);
      this.release(batch);
    }
    if (retry.length > 0) {
      const lastDeadline = Math.max(...retry.map((b) => this.deadlineOf(b)));
      await sleep(Math.min(this.http.backoffMs(Math.max(...retry.map((b) => b.attempts))), lastDeadline - performance.now()));
      if (retry.some((b) => b.partition >= state.partitions)) await this.refresh(topic);
      state.ready.unshift(...retry);
    }
  }

  /** When a batch's delivery timeout passes: `deliveryTimeoutMs` after its first record came. */
  private deadlineOf(b: Pending): number {
    return b.openedAt + this.deliveryTimeoutMs;
  }

  /**
   * The batches whose delivery timeout has not passed; the others fail, as Kafka expires them. One
   * never sent (it waited in the queue behind its partition's request in flight, or for the
   * producer's identity) takes no sequences, and the partition goes on. A retry that waited out
   * its backoff fails with its last attempt's error: that attempt may have landed, so its
   * identity is given up (the partition's later sequences are not known to follow).
   */
  private unexpired(topic: string, batches: Pending[]): Pending[] {
    const now = performance.now();
    return batches.filter((b) => {
      if (now < this.deadlineOf(b)) return true;
      const cause = b.attempts > 0 ? b.lastError : b.identityError;
      const why =
        b.attempts > 0 ? `after ${b.attempts} attempt(s), the last failing: ${b.lastError?.message}` : `before it was sent${b.identityError ? `, with no producer id to send it under (${b.identityError.message})` : ""}`;
      b.deliveries.reject(
        new SeglogError("Internal", `Expired ${why}: ${b.deliveries.count} record(s) waited ${Math.round(now - b.openedAt)} ms, past deliveryTimeoutMs (${this.deliveryTimeoutMs})`, {
          retriable: true,
          code: "DeliveryTimeout",
          ...(cause === undefined ? {} : { cause }),
        }),
      );
      // Sequences given to it (it was sent to a topic since created again, and given that one's)
      // go back to the partition if no attempt with them was made; else one may have landed.
      if (b.sequences && b.attempts === 0) this.unclaim(topic, b);
      else if (b.sequences) this.resetIdentity(b.sequences.generation);
      this.release(b);
      return false;
    });
  }

  /**
   * Fails the batches of a partition with a request in flight (queued, or still open) whose
   * delivery timeout has passed, when it passes: they were never sent and hold no sequences.
   * A slow answer would otherwise hold them past it, up to `requestTimeoutMs`.
   */
  private expireWaiting(topic: string, state: TopicState): void {
    if (state.inFlight.size === 0) return;
    const now = performance.now();
    const waitingAndDue = (b: Pending) => state.inFlight.has(b.partition) && now >= this.deadlineOf(b);
    for (const [partition, b] of [...state.open]) {
      if (!waitingAndDue(b)) continue;
      state.open.delete(partition);
      if (state.sticky === partition) state.sticky = undefined;
      this.unexpired(topic, [b]);
    }
    for (let i = 0; i < state.ready.length; ) {
      const b = state.ready[i] as Pending;
      if (!b.encoded && waitingAndDue(b)) {
        state.ready.splice(i, 1);
        this.unexpired(topic, [b]);
      } else i++;
    }
  }

  /** The producer's identity, or undefined once the first of the batches' delivery timeouts passes. */
  private async identityWithin(batches: Pending[]): Promise<{ producerId: number; epoch: number } | undefined> {
    const first = Math.min(...batches.map((b) => this.deadlineOf(b)));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expiry = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), Math.max(0, first - performance.now()))));
    try {
      return await Promise.race([this.producerIdentity(), expiry]);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Gives a refused batch's sequences back, so that the partition's next batch takes them: the
   * server never claimed them, and would refuse every later batch as out of order (Kafka's
   * producer recovers the same way from a batch refused as too large). Only the partition's
   * latest batch can be refused: the next is encoded once this one is answered. Not after a
   * failed attempt of the batch, which may have landed: then the sequences stay taken.
   */
  private unclaim(topic: string, batch: Pending): void {
    const key = sequenceKey(topic, batch);
    const entry = this.sequences.get(key);
    if (batch.sequences?.generation === this.generation && entry?.next === batch.sequences.next) entry.next = batch.sequences.base;
  }

  /**
   * The topic that took a batch is the one its partition's sequences count in: the next are the
   * batch's next, even if a read of the topic forgot them while the batch was on its way (no
   * later batch of the partition took sequences meanwhile: one request per partition at a time).
   */
  private confirm(topic: string, batch: Pending, topicId: string): void {
    const key = sequenceKey(topic, batch);
    const entry = this.sequences.get(key);
    if (batch.sequences?.generation === this.generation && (entry === undefined || entry.next === batch.sequences.next)) {
      this.sequences.set(key, { next: batch.sequences.next, topicId });
    }
  }

  /**
   * Gives up the identity whose sequences `generation` names (once: a batch of an identity given
   * up already changes nothing). The next batches get a new producer id and sequences from 0;
   * batches in flight keep the bytes they were encoded with, and the server still knows their
   * retries by their own id. A Producer with a `transactionalId` cannot do that: its next
   * identity would be the id's next epoch, which fences its own batches in flight, and, taken by
   * an instance cut off for long, an instance started since in its place. It fails its new
   * batches instead, as Kafka's transactional producer needs its transaction aborted: a new
   * Producer goes on.
   */
  private resetIdentity(generation: number): void {
    if (generation !== this.generation) return;
    if (this.transactionalId !== undefined) {
      this.unusable ??= new SeglogError(
        "Conflict",
        `A batch failed with its outcome unknown; a Producer with transactionalId '${this.transactionalId}' cannot take a new identity by itself: make a new Producer`,
        { retriable: false, code: "UnknownBatchOutcome" },
      );
      return;
    }
    this.generation++;
    this.identity = undefined;
    this.sequences.clear();
  }

  /** The base sequence of the partition's next batch. Sequences are given once, when a batch is
   * first encoded; retries resend the same bytes. */
  private sequenceOf(topic: string, batch: Pending): number {
    return this.sequences.get(sequenceKey(topic, batch))?.next ?? 0;
  }

  /**
   * Gives an encoded batch the partition's next sequences, in its frame (and a new CRC): a batch
   * sent to a topic that was then deleted and created again under its name is sent again there
   * from sequence 0, not failed as out of order.
   */
  private resequence(topic: string, batch: Pending, topicId: string): void {
    const old = batch.sequences as NonNullable<Pending["sequences"]>;
    const records = (old.next - old.base + 2 ** 31) % 2 ** 31;
    const base = this.sequenceOf(topic, batch);
    patchBaseSequence(batch.encoded as Uint8Array, base, FRAME_HEADER_BYTES);
    batch.sequences = { base, next: nextSequence(base, records), generation: old.generation, topicId };
    this.sequences.set(sequenceKey(topic, batch), { next: batch.sequences.next, topicId });
  }

  /** Forgets the topic's sequences that count in another topic than `topicId` (created again since). */
  private forgetSequences(topic: string, topicId: string): void {
    for (const [key, entry] of [...this.sequences]) if (key.startsWith(`${topic}\u0000`) && entry.topicId !== topicId) this.sequences.delete(key);
  }

  private release(batch: Pending): void {
    batch.settled = true;
    this.buffered -= batch.bytes;
    if (this.buffered < this.bufferBytes) for (const w of this.waiters.splice(0)) w();
  }

  /** The topic's partitions. Once `metadataMaxAgeMs` old they are read again in the background,
   * and what is known serves meanwhile, also while the API cannot be reached (as Kafka's producer
   * keeps its metadata): only a first read holds up, or fails, a send. It is retried as a batch
   * is, until `deliveryTimeoutMs` (Kafka's `send` waits up to `max.block.ms` for metadata), so
   * that an outage the record would ride out in a batch does not fail it before it joins one. */
  private async topicState(topic: string, deadline = performance.now() + this.deliveryTimeoutMs): Promise<TopicState> {
    const known = this.topics.get(topic);
    if (!known) return this.refresh(topic, { maxAttempts: this.maxBatchAttempts, deadline });
    if (Date.now() - known.fetchedAt >= this.metadataMaxAgeMs) this.refresh(topic).catch(ignore);
    return known;
  }

  private refresh(topic: string, bounds?: RetryBounds): Promise<TopicState> {
    let pending = this.metadata.get(topic);
    if (!pending) {
      pending = this.admin
        .topicMetadata(topic, { ...bounds, signal: this.closing.signal })
        .then((d) => {
          const state =
            this.topics.get(topic) ??
            { topicId: d.topicId, partitions: 0, maxBatchBytes: 0, fetchedAt: 0, open: new Map(), ready: [], inFlight: new Set(), sticky: undefined, turn: Math.floor(Math.random() * 2 ** 30) };
          // A topic created again under its name knows this producer from sequence 0, on each
          // partition whose sequences it has not taken since (an answer of the old topic that came
          // after the new one was seen counts in the old one too).
          this.forgetSequences(topic, d.topicId);
          state.topicId = d.topicId;
          state.partitions = d.partitions;
          state.maxBatchBytes = d.config["max.message.bytes"];
          state.fetchedAt = Date.now();
          this.topics.set(topic, state);
          return state;
        })
        .finally(() => this.metadata.delete(topic));
      this.metadata.set(topic, pending);
    }
    return pending;
  }
}
