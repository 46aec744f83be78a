import {
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from "@aws-sdk/client-dynamodb";
import { HISTORY_SIZE, nextSequence, type ClaimedBatch, type ProducerState } from "../core/idempotence.ts";
import { partitionPk } from "../core/keys.ts";
import { N, S, num, reqNum, type Item } from "./attributes.ts";
import { isConditionFailed, toSeglogError } from "./aws-errors.ts";
import { call, conditional } from "./dynamo.ts";

const PRODUCER_PK = "PRODUCER";
const COUNTER_SK = "COUNTER";
const idSk = (producerId: number) => `ID#${producerId}`;
const transactionalSk = (id: string) => `T#${id}`;
const stateSk = (producerId: number) => `PR#${producerId}`;

/** Kafka's epochs are int16: a transactional id whose epoch reaches this one moves on to a new
 * producer id at epoch 0, as Kafka's coordinator does, and its old id is fenced for good. */
export const MAX_EPOCH = 32_767;

const NULL: AttributeValue = { NULL: true };
const batchValue = (c: ClaimedBatch): AttributeValue => ({ M: { e: N(c.e), b: N(c.b), l: N(c.l), o: N(c.o), q: N(c.q) } });

function batchOf(v: AttributeValue | undefined): ClaimedBatch | null {
  if (!v || !("M" in v) || !v.M) return null;
  const m = v.M as Item;
  return { e: reqNum(m, "e"), b: reqNum(m, "b"), l: reqNum(m, "l"), o: reqNum(m, "o"), q: reqNum(m, "q") };
}

/** The producer registry (ids and epochs) and per-partition producer state, in the one table. */
export class Producers {
  constructor(
    private readonly dynamo: DynamoDBClient,
    private readonly table: string,
  ) {}

  /** InitProducerId: a fresh id at epoch 0, or, for a stable id, the same id at the next epoch. */
  async init(transactionalId?: string): Promise<{ producerId: number; epoch: number }> {
    if (transactionalId === undefined) {
      const producerId = await this.allocateId();
      await this.setEpoch(producerId, 0, { fixed: true });
      return { producerId, epoch: 0 };
    }
    for (;;) {
      const bumped = await this.bumpTransactional(transactionalId);
      if (bumped && "exhausted" in bumped) {
        const moved = await this.moveToNewId(transactionalId, bumped.exhausted);
        if (moved) return moved;
        continue; // another init moved it first: bump theirs
      }
      if (bumped) {
        await this.setEpoch(bumped.producerId, bumped.epoch);
        return bumped;
      }
      const producerId = await this.allocateId();
      try {
        await this.dynamo.send(
          new PutItemCommand({
            TableName: this.table,
            Item: { pk: S(PRODUCER_PK), sk: S(transactionalSk(transactionalId)), producerId: N(producerId), epoch: N(0) },
            ConditionExpression: "attribute_not_exists(sk)",
          }),
        );
        await this.setEpoch(producerId, 0);
        return { producerId, epoch: 0 };
      } catch (e) {
        if (!isConditionFailed(e)) throw toSeglogError(e); // lost a race to another init: bump theirs
      }
    }
  }

  /**
   * The epoch a producer id is registered at, or undefined if the id was never issued. `fixed`:
   * the id was issued without a transactional id, so its epoch is 0 and nothing ever bumps it.
   */
  async registration(producerId: number): Promise<{ epoch: number; fixed: boolean } | undefined> {
    const out = await call(() =>
      this.dynamo.send(
        new GetItemCommand({ TableName: this.table, Key: { pk: S(PRODUCER_PK), sk: S(idSk(producerId)) }, ConsistentRead: true }),
      ),
    );
    const epoch = num(out.Item, "epoch");
    return epoch === undefined ? undefined : { epoch, fixed: out.Item?.["epochFixed"]?.BOOL === true };
  }

  /**
   * The claim (one conditional write): shifts the previous claim into the history and records
   * this batch as `pend`. Sequence 0 may also start a producer or a new epoch.
   */
  async claim(topicId: string, partition: number, producerId: number, batch: ClaimedBatch): Promise<boolean> {
    const shifts = Array.from({ length: HISTORY_SIZE }, (_, i) =>
      i === 0 ? "h0 = if_not_exists(pend, :nul)" : `h${i} = if_not_exists(h${i - 1}, :nul)`,
    ).reverse();
    const condition =
      batch.b === 0
        ? "attribute_not_exists(sk) OR epoch < :e OR (epoch = :e AND #next = :b)"
        : "epoch = :e AND #next = :b";
    return conditional(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(partitionPk(topicId, partition)), sk: S(stateSk(producerId)) },
          UpdateExpression: `SET ${shifts.join(", ")}, pend = :pend, #next = :next, epoch = :e`,
          ConditionExpression: condition,
          ExpressionAttributeNames: { "#next": "next" },
          ExpressionAttributeValues: { ":nul": NULL, ":pend": batchValue(batch), ":next": N(nextSequence(batch.l, 1)), ":e": N(batch.e), ":b": N(batch.b) },
        }),
      ),
    );
  }

  /** Takes over the latest claim from an attempt that crashed or was aborted. */
  async replacePending(
    topicId: string,
    partition: number,
    producerId: number,
    previous: ClaimedBatch,
    batch: ClaimedBatch,
  ): Promise<boolean> {
    return conditional(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(partitionPk(topicId, partition)), sk: S(stateSk(producerId)) },
          UpdateExpression: "SET pend = :pend",
          ConditionExpression: "epoch = :e AND pend.q = :q",
          ExpressionAttributeValues: { ":pend": batchValue(batch), ":e": N(batch.e), ":q": N(previous.q) },
        }),
      ),
    );
  }

  async state(topicId: string, partition: number, producerId: number): Promise<ProducerState | undefined> {
    const out = await call(() =>
      this.dynamo.send(
        new GetItemCommand({
          TableName: this.table,
          Key: { pk: S(partitionPk(topicId, partition)), sk: S(stateSk(producerId)) },
          ConsistentRead: true,
        }),
      ),
    );
    const item = out.Item;
    if (!item) return undefined;
    const history: ClaimedBatch[] = [];
    for (let i = 0; i < HISTORY_SIZE; i++) {
      const h = batchOf(item[`h${i}`]);
      if (h) history.push(h);
    }
    return { epoch: reqNum(item, "epoch"), next: reqNum(item, "next"), pend: batchOf(item["pend"]), history };
  }

  private async allocateId(): Promise<number> {
    const out = await call(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(PRODUCER_PK), sk: S(COUNTER_SK) },
          UpdateExpression: "ADD #next :one",
          ExpressionAttributeNames: { "#next": "next" },
          ExpressionAttributeValues: { ":one": N(1) },
          ReturnValues: "UPDATED_NEW",
        }),
      ),
    );
    return reqNum(out.Attributes ?? {}, "next") - 1;
  }

  /** The transactional id's producer at its next epoch; undefined if the id is new, or the
   * producer id whose epochs are used up. */
  private async bumpTransactional(id: string): Promise<{ producerId: number; epoch: number } | { exhausted: number } | undefined> {
    const key = { pk: S(PRODUCER_PK), sk: S(transactionalSk(id)) };
    for (;;) {
      try {
        const out = await this.dynamo.send(
          new UpdateItemCommand({
            TableName: this.table,
            Key: key,
            UpdateExpression: "ADD epoch :one",
            ConditionExpression: "attribute_exists(sk) AND epoch < :max",
            ExpressionAttributeValues: { ":one": N(1), ":max": N(MAX_EPOCH) },
            ReturnValues: "ALL_NEW",
          }),
        );
        const item = out.Attributes ?? {};
        return { producerId: reqNum(item, "producerId"), epoch: reqNum(item, "epoch") };
      } catch (e) {
        if (!isConditionFailed(e)) throw toSeglogError(e);
      }
      const { Item } = await call(() => this.dynamo.send(new GetItemCommand({ TableName: this.table, Key: key, ConsistentRead: true })));
      if (!Item) return undefined;
      if (reqNum(Item, "epoch") >= MAX_EPOCH) return { exhausted: reqNum(Item, "producerId") };
      // Created between the two calls: bump it.
    }
  }

  /**
   * Moves a transactional id whose epochs are used up to a new producer id at epoch 0. The old id
   * is fenced first, past any epoch a batch can carry, so that a crash between the two steps
   * leaves no zombie able to write; the move is conditional on the old id, so of two inits at
   * once one moves it and the other bumps the new id (undefined).
   */
  private async moveToNewId(id: string, oldProducerId: number): Promise<{ producerId: number; epoch: number } | undefined> {
    await this.setEpoch(oldProducerId, MAX_EPOCH + 1);
    const producerId = await this.allocateId();
    const moved = await conditional(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(PRODUCER_PK), sk: S(transactionalSk(id)) },
          UpdateExpression: "SET producerId = :new, epoch = :zero",
          ConditionExpression: "producerId = :old AND epoch >= :max",
          ExpressionAttributeValues: { ":new": N(producerId), ":zero": N(0), ":old": N(oldProducerId), ":max": N(MAX_EPOCH) },
        }),
      ),
    );
    if (!moved) return undefined;
    await this.setEpoch(producerId, 0);
    return { producerId, epoch: 0 };
  }

  /** Records the producer id's current epoch; monotonic, so a slow init cannot move it back. */
  private async setEpoch(producerId: number, epoch: number, options: { fixed?: boolean } = {}): Promise<void> {
    await conditional(() =>
      this.dynamo.send(
        new UpdateItemCommand({
          TableName: this.table,
          Key: { pk: S(PRODUCER_PK), sk: S(idSk(producerId)) },
          UpdateExpression: options.fixed ? "SET epoch = :e, epochFixed = :t" : "SET epoch = :e",
          ConditionExpression: "attribute_not_exists(epoch) OR epoch < :e",
          ExpressionAttributeValues: { ":e": N(epoch), ...(options.fixed ? { ":t": { BOOL: true } } : {}) },
        }),
      ),
    );
  }
}
