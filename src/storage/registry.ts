import {
  BatchGetItemCommand,
  BatchWriteItemCommand,
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { conflict } from "../core/errors.ts";
import {
  HEAD_SK,
  TOMBSTONE_PK,
  TOPIC_PK,
  offsetKey,
  partitionPk,
  segmentSk,
  seqOfSegmentSk,
} from "../core/keys.ts";
import type { IndexEntry, SparsePoint } from "../core/read-committed.ts";
import { mapConcurrent } from "../core/concurrency.ts";
import { DEFAULT_TOPIC_CONFIG, type TopicConfig } from "../core/topic-config.ts";
import { OFFSET_INDEX } from "./table.ts";
import { B, N, S, bin, num, reqNum, reqStr, str, type Item } from "./attributes.ts";
import { isConditionFailed, toSeglogError } from "./aws-errors.ts";
import { call, conditional, untilProcessed } from "./dynamo.ts";

/** Writes in flight while a topic's heads are created or deleted (one per partition). */
const HEAD_WRITES_IN_FLIGHT = 16;

export interface TopicRecord {
  readonly name: string;
  readonly topicId: string;
  readonly partitions: number;
  readonly config: TopicConfig;
  readonly state: "ACTIVE" | "DELETING";
  readonly version: number;
  readonly createdAt: number;
}

export interface Head {
  readonly nextSeq: number;
  readonly nextOffset: number;
  readonly lastReservedAt: number;
  readonly logStartOffset: number;
  readonly startSeq: number;
  readonly stableSeq: number;
  readonly stableOffset: number;
  /** Seqs below it were claimed by merges, which go in seq order. */
  readonly mergedSeq: number;
  /** First seq of the last claimed run: a maintenance run that crashed mid-merge is finished by the next. */
  readonly mergeFrom: number;
}

/**
 * The DynamoDB side of the log: the topic registry, partition heads and the segment index.
 * Every change is a single-item conditional write; a lost condition comes back as a domain
 * answer (`false`, `Conflict`), never as a raw SDK error.
 */
export class Registry {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly table: string,
  ) {}


  // ---- topics ----

  async getTopic(name: string): Promise<TopicRecord | undefined> {
    const out = await call(() =>
      this.dynamo.send(
        new GetItemCommand({ TableName: this.table, Key: { pk: S(TOPIC_PK), sk: S(name) }, ConsistentRead: true }),
      ),
    );
    return out.Item ? topicFromItem(out.Item) : undefined;
  }

  async listTopics(): Promise<TopicRecord[]> {
    return (await this.allItems(TOPIC_PK)).map(topicFromItem);
  }

  /**
   * Writes a topic item. `expectedVersion` undefined means "create": the name must be free or
   * held by a DELETING topic. Otherwise the stored version must match, like a znode's, and the
   * topic id too: a topic deleted and created again under the name starts at version 1 again, and
   * a write decided on the old one must not land on it.
   */
  async putTopic(topic: TopicRecord, expectedVersion?: number): Promise<void> {
    const creating = expectedVersion === undefined;
    try {
      await this.dynamo.send(
        new PutItemCommand({
          TableName: this.table,
          Item: topicToItem(topic),
          ConditionExpression: creating
            ? "attribute_not_exists(sk) OR #state = :deleting"
            : "#version = :expected AND #state = :active AND topicId = :id",
          ExpressionAttributeNames: creating ? { "#state": "state" } : { "#version": "version", "#state": "state" },
          ExpressionAttributeValues: creating
            ? { ":deleting": S("DELETING") }
            : { ":expected": N(expectedVersion), ":active": S("ACTIVE"), ":id": S(topic.topicId) },
        }),
      );
    } catch (e) {
      if (isConditionFailed(e)) {
        throw conflict(
          creating
            ? `Topic '${topic.name}' already exists`
            : `Topic '${topic.name}' was changed concurrently (expected version ${expectedVersion}); re-read and retry`,
          { code: creating ? "TopicExists" : "VersionMismatch" },
        );
      }
      throw toSeglogError(e);
    }
  }

  /** Records a deleted topic's id so the maintenance function can remove its data later. */
  async putTombstone(topic: TopicRecord, now: number): Promise<void> {
    await call(() =>
      this.dynamo.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            pk: S(TOMBSTONE_PK),
            sk: S(topic.topicId),
            name: S(topic.name),
            partitions: N(topic.partitions),
            deletedAt: N(now),
          },
        }),
      ),
    );
  }

  // ---- partition heads ----

  /** Creates the heads of partitions `from` to `to − 1`, each once (a head that exists is kept). */
  async createHeads(topicId: string, from: number, to: number): Promise<void> {
    const partitions = Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
    await mapConcurrent(partitions, HEAD_WRITES_IN_FLIGHT, (p) => this.createHead(topicId, p));
  }

  private async createHead(topicId: string, partition: number): Promise<void> {
    await conditional(() =>
      this.dynamo.send(
        new PutItemCommand({
          TableName: this.table,
          Item: {
            pk: S(partitionPk(topicId, partition)),
            sk: S(HEAD_SK),
            nextSeq: N(0),
            nextOffset: N(0),
            lastReservedAt: N(0),
            logStartOffset: N(0),
            startSeq: N(0),
            stableSeq: N(0),
            stableOffset: N(0),
          },
          ConditionExpression: "attribute_not_exists(sk)",
        }),
      ),
    );
  }

  async getHead(topicId: string, partition: number): Promise<Head | undefined> {
    const out = await call(() =>
      this.dynamo.send(
        new GetItemCommand({
          TableName: this.table,
          Key: { pk: S(partitionPk(topicId, partition)), sk: S(HEAD_SK) },
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item ? headOf(out.Item) : undefined;
  }

  /**
   * The heads of several partitions of a topic, read together (100 a request, as BatchGetItem
   * takes, strongly consistent as `getHead`): a fetch of many partitions makes one read of their
   * heads where it made one each. A partition without a head is left out.
   */
  async getHeads(topicId: string, partitions: readonly number[]): Promise<Map<number, Head>> {
    const heads = new Map<number, Head>();
    const byPk = new Map(partitions.map((p) => [partitionPk(topicId, p), p]));
    const pks = [...byPk.keys()];
    for (let i = 0; i < pks.length; i += 100) {
      const keys = pks.slice(i, i + 100).map((pk) => ({ pk: S(pk), sk: S(HEAD_SK) }));
      await untilProcessed(keys, "partition heads", async (keys) => {
        const out = await call(() => this.dynamo.send(new BatchGetItemCommand({ RequestItems: { [this.table]: { Keys: keys, ConsistentRead: true } } })));
        for (const item of out.Responses?.[this.table] ?? []) {
          const partition = byPk.get(str(item, "pk") ?? "");
          if (partition !== undefined) heads.set(partition, headOf(item));
        }
        return (out.UnprocessedKeys?.[this.table]?.Keys ?? []) as typeof keys;
      });
    }
    return heads;
  }

  /** Step 1 of produce: reserve `count` offsets. Returns undefined when the head does not exist. */
  async reserve(
    topicId: string,
    partition: number,
    count: number,
    now: number,
  ): Promise<{ seq: number; baseOffset: number } | undefined> {
    try {
      const out = await this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(partitionPk(topicId, partition)), sk: S(HEAD_SK) },
          UpdateExpression: "ADD nextSeq :one, nextOffset :n SET lastReservedAt = :now",
          ConditionExpression: "attribute_exists(sk)",
          ExpressionAttributeValues: { ":one": N(1), ":n": N(count), ":now": N(now) },
          ReturnValues: "UPDATED_NEW",
        }),
      );
      const attrs = out.Attributes ?? {};
      return { seq: reqNum(attrs, "nextSeq") - 1, baseOffset: reqNum(attrs, "nextOffset") - count };
    } catch (e) {
      if (isConditionFailed(e)) return undefined;
      throw toSeglogError(e);
    }
  }

  /**
   * Retention's first step: moves the log start forward, monotonically, never past the decided
   * prefix (so the stable hint never falls below the first kept seq).
   */
  async advanceLogStart(topicId: string, partition: number, startSeq: number, logStartOffset: number): Promise<boolean> {
    return conditional(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(partitionPk(topicId, partition)), sk: S(HEAD_SK) },
          UpdateExpression: "SET startSeq = :s, logStartOffset = :o",
          ConditionExpression: "startSeq < :s AND stableSeq >= :s",
          ExpressionAttributeValues: { ":s": N(startSeq), ":o": N(logStartOffset) },
        }),
      ),
    );
  }

  /** Deletes items by sort key in one partition key, 25 per request, retrying what DynamoDB left unprocessed. */
  async deleteItems(pk: string, sks: readonly string[]): Promise<void> {
    for (let i = 0; i < sks.length; i += 25) await this.deleteKeys(sks.slice(i, i + 25).map((sk) => ({ pk, sk })));
  }

  /**
   * Deletes a topic's partition heads, so that no produce or fetch goes on under its id however
   * long a function instance keeps it cached: their reads and reservations find no head.
   */
  async deleteHeads(topicId: string, partitions: number): Promise<void> {
    const chunks: { pk: string; sk: string }[][] = [];
    for (let p = 0; p < partitions; p += 25) {
      chunks.push(Array.from({ length: Math.min(25, partitions - p) }, (_, i) => ({ pk: partitionPk(topicId, p + i), sk: HEAD_SK })));
    }
    await mapConcurrent(chunks, HEAD_WRITES_IN_FLIGHT, (keys) => this.deleteKeys(keys));
  }

  /** One BatchWriteItem of at most 25 deletes, retrying what DynamoDB left unprocessed. */
  private async deleteKeys(keys: readonly { pk: string; sk: string }[]): Promise<void> {
    const requests = keys.map(({ pk, sk }) => ({ DeleteRequest: { Key: { pk: S(pk), sk: S(sk) } } }));
    await untilProcessed(requests, "deletes", async (requests) => {
      const out = await call(() => this.dynamo.send(new BatchWriteItemCommand({ RequestItems: { [this.table]: requests } })));
      return (out.UnprocessedItems?.[this.table] ?? []) as typeof requests;
    });
  }

  /** Sort keys under one partition key, a page at a time (for deleting a topic's items). */
  async keysOf(pk: string, limit: number): Promise<string[]> {
    const out = await call(() =>
      this.dynamo.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk",
          ExpressionAttributeValues: { ":pk": S(pk) },
          ProjectionExpression: "sk",
          Limit: limit,
          ConsistentRead: true,
        }),
      ),
    );
    return (out.Items ?? []).map((i) => reqStr(i, "sk"));
  }

  /** Deleted topics still to be removed (few: each goes once its data, and what groups keep of it,
   * are gone; `dataGone` once only the groups' part is left). */
  async tombstones(): Promise<{ topicId: string; name: string; partitions: number; deletedAt: number; dataGone: boolean }[]> {
    return (await this.allItems(TOMBSTONE_PK)).map((i) => ({
      topicId: reqStr(i, "sk"),
      name: reqStr(i, "name"),
      partitions: reqNum(i, "partitions"),
      deletedAt: reqNum(i, "deletedAt"),
      dataGone: i["gone"] !== undefined,
    }));
  }

  /** Marks a deleted topic's data removed: its tombstone stays for what groups keep of it. */
  async markTopicDataGone(topicId: string): Promise<void> {
    await conditional(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(TOMBSTONE_PK), sk: S(topicId) },
          UpdateExpression: "SET gone = :t",
          ConditionExpression: "attribute_exists(sk)",
          ExpressionAttributeValues: { ":t": { BOOL: true } },
        }),
      ),
    );
  }

  /** Every item under one partition key, read consistently, page by page. */
  private async allItems(pk: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    do {
      const out = await call(() =>
        this.dynamo.send(
          new QueryCommand({
            TableName: this.table,
            KeyConditionExpression: "pk = :pk",
            ExpressionAttributeValues: { ":pk": S(pk) },
            ConsistentRead: true,
            ExclusiveStartKey: start,
          }),
        ),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** The last step of deleting a topic: its DELETING item (unless recreated since) and its tombstone. */
  async forgetTopic(name: string, topicId: string): Promise<void> {
    await conditional(() =>
      this.dynamo.send(
        new DeleteItemCommand({
          TableName: this.table,
          Key: { pk: S(TOPIC_PK), sk: S(name) },
          ConditionExpression: "#state = :deleting AND topicId = :id",
          ExpressionAttributeNames: { "#state": "state" },
          ExpressionAttributeValues: { ":deleting": S("DELETING"), ":id": S(topicId) },
        }),
      ),
    );
    await this.deleteItems(TOMBSTONE_PK, [topicId]);
  }

  /** Advances the stable hint; monotonic, and a lost race is fine (someone went further). */
  async advanceStable(topicId: string, partition: number, seq: number, offset: number): Promise<void> {
    await conditional(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(partitionPk(topicId, partition)), sk: S(HEAD_SK) },
          UpdateExpression: "SET stableSeq = :s, stableOffset = :o",
          ConditionExpression: "stableSeq < :s",
          ExpressionAttributeValues: { ":s": N(seq), ":o": N(offset) },
        }),
      ),
    );
  }

  /**
   * Claims the run `[fromSeq, toSeq]` for a merge: merges go in seq order, so a run is claimed
   * only above every earlier claim, and two maintenance runs never merge overlapping runs.
   */
  async claimMerge(topicId: string, partition: number, fromSeq: number, toSeq: number): Promise<boolean> {
    return conditional(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(partitionPk(topicId, partition)), sk: S(HEAD_SK) },
          UpdateExpression: "SET mergeFrom = :from, mergedSeq = :next",
          ConditionExpression: "(attribute_not_exists(mergedSeq) OR mergedSeq <= :from) AND stableSeq > :to",
          ExpressionAttributeValues: { ":from": N(fromSeq), ":next": N(toSeq + 1), ":to": N(toSeq) },
        }),
      ),
    );
  }

  // ---- segment index ----

  /**
   * A merge's swap: the merged entry takes the key of the run's first seq, on condition that
   * the item there is still the unmerged original. False when it is gone or already merged.
   */
  async replaceWithMerged(topicId: string, partition: number, merged: IndexEntry): Promise<boolean> {
    return conditional(() =>
      this.dynamo.send(
        new PutItemCommand({
          TableName: this.table,
          Item: entryToItem(topicId, partition, merged),
          ConditionExpression: "attribute_exists(sk) AND attribute_not_exists(toSeq) AND #base = :base",
          ExpressionAttributeNames: { "#base": "base" },
          ExpressionAttributeValues: { ":base": N(merged.base) },
        }),
      ),
    );
  }

  /**
   * Takes the items a merge replaced out of the offset index, so that reads look up the merged
   * item instead (a lookup that lands on a replaced item hands out its object, which the next
   * sweep after the grace period deletes, however recently it was handed out). The items stay
   * for readers already walking them. An item gone meanwhile is skipped.
   */
  async dropFromOffsetIndex(topicId: string, partition: number, replaced: readonly IndexEntry[]): Promise<void> {
    const points = replaced.filter((e) => e.toSeq === e.seq && hasOffsetIndexPoint(e));
    await mapConcurrent(points, 8, (e) =>
      conditional(() =>
        this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: { pk: S(partitionPk(topicId, partition)), sk: S(segmentSk(e.seq)) },
            UpdateExpression: "REMOVE ob",
            ConditionExpression: "attribute_exists(sk) AND attribute_not_exists(toSeq)",
          }),
        ),
      ),
    );
  }

  /** Writes a commit or abort for one seq; false when the other outcome won first. */
  async decide(topicId: string, partition: number, entry: IndexEntry): Promise<boolean> {
    return conditional(() =>
      this.dynamo.send(
        new PutItemCommand({
          TableName: this.table,
          Item: entryToItem(topicId, partition, entry),
          ConditionExpression: "attribute_not_exists(sk)",
        }),
      ),
    );
  }

  /** One index item by seq, read consistently. */
  async segment(topicId: string, partition: number, seq: number): Promise<IndexEntry | undefined> {
    const out = await call(() =>
      this.dynamo.send(
        new GetItemCommand({
          TableName: this.table,
          Key: { pk: S(partitionPk(topicId, partition)), sk: S(segmentSk(seq)) },
          ConsistentRead: true,
        }),
      ),
    );
    return out.Item ? entryFromItem(out.Item) : undefined;
  }

  /** One page of segment entries from `fromSeq` (inclusive) upwards, or below `toSeq` (exclusive). */
  async segments(
    topicId: string,
    partition: number,
    fromSeq: number,
    limit: number,
    toSeq?: number,
  ): Promise<{ entries: IndexEntry[]; more: boolean }> {
    const out = await call(() =>
      this.dynamo.send(
        new QueryCommand({
          TableName: this.table,
          KeyConditionExpression: "pk = :pk AND sk BETWEEN :from AND :to",
          ExpressionAttributeValues: {
            ":pk": S(partitionPk(topicId, partition)),
            ":from": S(segmentSk(fromSeq)),
            ":to": S(toSeq === undefined ? "S#~" : segmentSk(toSeq - 1)),
          },
          Limit: limit,
          ConsistentRead: true,
        }),
      ),
    );
    return { entries: (out.Items ?? []).map(entryFromItem), more: out.LastEvaluatedKey !== undefined };
  }

  /** A segment at or before the one holding `offset` (the largest indexed base ≤ offset), via the
   * sparse `byOffset` LSI: the walk from it reaches `offset` within about `OFFSET_INDEX.every` items. */
  async segmentAtOffset(
    topicId: string,
    partition: number,
    offset: number,
  ): Promise<{ seq: number; base: number } | undefined> {
    const out = await call(() =>
      this.dynamo.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: OFFSET_INDEX.indexName,
          KeyConditionExpression: "pk = :pk AND ob <= :o",
          ExpressionAttributeValues: { ":pk": S(partitionPk(topicId, partition)), ":o": S(offsetKey(offset)) },
          ScanIndexForward: false,
          Limit: 1,
        }),
      ),
    );
    const item = out.Items?.[0];
    if (!item) return undefined;
    return { seq: seqOfSegmentSk(reqStr(item, "sk")), base: Number(reqStr(item, "ob")) };
  }
}

function topicFromItem(item: Item): TopicRecord {
  return {
    name: reqStr(item, "sk"),
    topicId: reqStr(item, "topicId"),
    partitions: reqNum(item, "partitions"),
    config: { ...DEFAULT_TOPIC_CONFIG, ...(JSON.parse(reqStr(item, "config")) as Partial<TopicConfig>) },
    state: reqStr(item, "state") === "DELETING" ? "DELETING" : "ACTIVE",
    version: reqNum(item, "version"),
    createdAt: reqNum(item, "createdAt"),
  };
}

function topicToItem(t: TopicRecord): Item {
  return {
    pk: S(TOPIC_PK),
    sk: S(t.name),
    topicId: S(t.topicId),
    partitions: N(t.partitions),
    config: S(JSON.stringify(t.config)),
    state: S(t.state),
    version: N(t.version),
    createdAt: N(t.createdAt),
  };
}

function entryToItem(topicId: string, partition: number, e: IndexEntry): Item {
  const item: Item = {
    pk: S(partitionPk(topicId, partition)),
    sk: S(segmentSk(e.seq)),
    st: S(e.state),
    base: N(e.base),
    count: N(e.count),
    at: N(e.at),
  };
  if (hasOffsetIndexPoint(e)) item["ob"] = S(offsetKey(e.base));
  if (e.toSeq !== e.seq) item["toSeq"] = N(e.toSeq);
  if (e.state === "C") {
    item["recs"] = N(e.records);
    item["bytes"] = N(e.bytes);
    item["firstTs"] = N(e.firstTs);
    item["maxTs"] = N(e.maxTs);
  }
  if (e.objectKey !== undefined) item["key"] = S(e.objectKey);
  if (e.position !== undefined) item["pos"] = N(e.position);
  if (e.replacedKey !== undefined) item["rk"] = S(e.replacedKey);
  if (e.sparse !== undefined) item["ix"] = B(encodeSparse(e.base, e.sparse));
  return item;
}

function entryFromItem(item: Item): IndexEntry {
  const seq = seqOfSegmentSk(reqStr(item, "sk"));
  const objectKey = str(item, "key");
  const sparse = bin(item, "ix");
  const position = num(item, "pos");
  const replacedKey = str(item, "rk");
  const base = reqNum(item, "base");
  return {
    seq,
    toSeq: num(item, "toSeq") ?? seq,
    state: str(item, "st") === "A" ? "A" : "C",
    base,
    count: reqNum(item, "count"),
    records: num(item, "recs") ?? 0,
    bytes: num(item, "bytes") ?? 0,
    firstTs: num(item, "firstTs") ?? 0,
    maxTs: num(item, "maxTs") ?? 0,
    at: reqNum(item, "at"),
    ...(objectKey === undefined ? {} : { objectKey }),
    ...(position === undefined ? {} : { position }),
    ...(replacedKey === undefined ? {} : { replacedKey }),
    ...(sparse === undefined ? {} : { sparse: decodeSparse(base, sparse) }),
  };
}

/** A sparse index as big-endian uint32 pairs: offset minus the entry's base, byte position. */
function encodeSparse(base: number, points: readonly SparsePoint[]): Uint8Array {
  const out = new Uint8Array(points.length * 8);
  const view = new DataView(out.buffer);
  points.forEach((p, i) => {
    view.setUint32(i * 8, p.offset - base);
    view.setUint32(i * 8 + 4, p.position);
  });
  return out;
}

function decodeSparse(base: number, bytes: Uint8Array): SparsePoint[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const points: SparsePoint[] = [];
  for (let i = 0; i + 8 <= bytes.byteLength; i += 8) points.push({ offset: base + view.getUint32(i), position: view.getUint32(i + 4) });
  return points;
}

function headOf(item: Item): Head {
  return {
    nextSeq: reqNum(item, "nextSeq"),
    nextOffset: reqNum(item, "nextOffset"),
    lastReservedAt: reqNum(item, "lastReservedAt"),
    logStartOffset: reqNum(item, "logStartOffset"),
    startSeq: reqNum(item, "startSeq"),
    stableSeq: reqNum(item, "stableSeq"),
    stableOffset: reqNum(item, "stableOffset"),
    mergedSeq: num(item, "mergedSeq") ?? 0,
    mergeFrom: num(item, "mergeFrom") ?? 0,
  };
}

/** Whether an entry is a point of the sparse offset index (`ob`): every `OFFSET_INDEX.every` seqs, and every merged entry. */
function hasOffsetIndexPoint(e: IndexEntry): boolean {
  return e.count > 0 && (e.seq % OFFSET_INDEX.every === 0 || e.toSeq !== e.seq);
}
