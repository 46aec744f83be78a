/**
 * Consumer-group items in the single table (docs/consumer-groups.md):
 *   member  `G#<group>` / `M#<memberId>`
 *   lease   `G#<group>` / `L#<topic>#<partition:06>`
 *   group   `GROUP`     / `<group>`   (registry, so that listing is a Query)
 * Every change is a single-item conditional write whose condition is the one in
 * `src/core/groups/transitions.ts`; a failed condition is returned as `null`/`false`.
 */
import {
  DeleteItemCommand,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateItemCommand,
} from "@aws-sdk/client-dynamodb";
import type { AttributeValue, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { GroupSnapshot, LeaseExpectation, LeaseState, LeaseWrite, MemberState, OffsetCommit, PartitionRef } from "../core/groups/model.ts";
import { N, num, reqNum, reqStr, str } from "./attributes.ts";
import type { Item } from "./attributes.ts";
import { isConditionFailed, toSeglogError } from "./aws-errors.ts";
import { TABLE_KEYS, TTL_ATTRIBUTE } from "./table.ts";

export interface MemberRenewal {
  readonly now: number;
  /** Epoch seconds for DynamoDB TTL; only a backstop for cleanup. */
  readonly ttl: number;
  /** New subscription, when it changed. */
  readonly topics?: readonly string[];
}

export type RenewOutcome =
  | { readonly renewed: true; readonly previousExpiresAt: number }
  /** `notLive`: unknown, left, expired or fenced. `stale`: a later renewal already landed. */
  | { readonly renewed: false; readonly reason: "notLive" | "stale" };

/** The storage port of `GroupService`; `MemoryGroupStore` has the same conditional semantics. */
export interface GroupStore {
  /** Every member and lease of the group, strongly consistent. */
  readGroup(group: string): Promise<GroupSnapshot>;
  /** Every member of the group without its leases, strongly consistent. */
  readMembers(group: string): Promise<MemberState[]>;
  /** The group's leases of one topic, strongly consistent. */
  readLeases(group: string, topic: string): Promise<LeaseState[]>;
  /** Deletes a lease, committed offset and all, if it still has this owner and epoch (a lease
   * taken, released, reset or committed to since was changed at another epoch); false otherwise. */
  deleteLease(group: string, lease: PartitionRef, expect: { readonly owner: string | null; readonly epoch: number }): Promise<boolean>;
  /** Creates the member item; false when the id is taken. */
  createMember(group: string, member: MemberState, ttl: number): Promise<boolean>;
  /**
   * Renews a live member (`now < expiresAt`) whose last renewal is not later than `now` (a
   * delayed request must not move `lastHeartbeatAt` back): `lastHeartbeatAt = now`,
   * `expiresAt = now + sessionTimeoutMs`. On success, the `expiresAt` it had before.
   */
  renewMember(group: string, memberId: string, renewal: MemberRenewal): Promise<RenewOutcome>;
  /** Ends the member's session now, keeping `lastHeartbeatAt`; false if it renewed meanwhile. */
  expireMember(group: string, memberId: string, lastHeartbeatAt: number, now: number): Promise<boolean>;
  /** Deletes the member; with `ifLastHeartbeatAt`, only if it has not renewed since. */
  deleteMember(group: string, memberId: string, ifLastHeartbeatAt?: number): Promise<boolean>;
  /** Applies one conditional lease write: the new lease, or null when the condition failed. */
  writeLease(group: string, write: LeaseWrite): Promise<LeaseState | null>;
  /** Writes a checkpoint if the committer owns the lease at that epoch; false otherwise. */
  commitOffset(group: string, commit: OffsetCommit): Promise<boolean>;
  registerGroup(group: string, now: number): Promise<void>;
  groupExists(group: string): Promise<boolean>;
  listGroups(): Promise<string[]>;
}

export interface DynamoGroupStoreProps {
  readonly client: DynamoDBClient;
  readonly tableName: string;
}

const PK = TABLE_KEYS.partitionKey;
const SK = TABLE_KEYS.sortKey;
const REGISTRY_PK = "GROUP";

export const groupPk = (group: string): string => `G#${group}`;
export const memberSk = (memberId: string): string => `M#${memberId}`;
export const leaseSk = (topic: string, partition: number): string =>
  `L#${topic}#${String(partition).padStart(6, "0")}`;

export class DynamoGroupStore implements GroupStore {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;

  constructor(props: DynamoGroupStoreProps) {
    this.client = props.client;
    this.tableName = props.tableName;
  }

  async readGroup(group: string): Promise<GroupSnapshot> {
    const members: MemberState[] = [];
    const leases: LeaseState[] = [];
    for await (const item of this.queryGroup(group, "")) {
      const sk = reqStr(item, SK);
      if (sk.startsWith("M#")) members.push(toMember(item));
      else if (sk.startsWith("L#")) leases.push(toLease(item));
    }
    return { members, leases };
  }

  async readMembers(group: string): Promise<MemberState[]> {
    const members: MemberState[] = [];
    for await (const item of this.queryGroup(group, memberSk(""))) members.push(toMember(item));
    return members;
  }

  async readLeases(group: string, topic: string): Promise<LeaseState[]> {
    const leases: LeaseState[] = [];
    for await (const item of this.queryGroup(group, `L#${topic}#`)) leases.push(toLease(item));
    return leases;
  }

  async deleteLease(group: string, lease: PartitionRef, expect: { readonly owner: string | null; readonly epoch: number }): Promise<boolean> {
    const e = new Expr();
    return this.conditional(async () => {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: { [PK]: { S: groupPk(group) }, [SK]: { S: leaseSk(lease.topic, lease.partition) } },
          ConditionExpression: ownedAt(e, { exists: true, ...expect }),
          ...e.attributes(),
        }),
      ).catch(rethrow);
      return true;
    }, false);
  }

  /** The group's items whose sort key starts with `prefix`, page by page, strongly consistent. */
  private async *queryGroup(group: string, prefix: string): AsyncGenerator<Item> {
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: prefix === "" ? "#pk = :pk" : "#pk = :pk AND begins_with(#sk, :prefix)",
          ExpressionAttributeNames: { "#pk": PK, ...(prefix === "" ? {} : { "#sk": SK }) },
          ExpressionAttributeValues: { ":pk": { S: groupPk(group) }, ...(prefix === "" ? {} : { ":prefix": { S: prefix } }) },
          ConsistentRead: true,
          ExclusiveStartKey: startKey,
        }),
      ).catch(rethrow);
      yield* out.Items ?? [];
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
  }

  async createMember(group: string, member: MemberState, ttl: number): Promise<boolean> {
    return this.conditional(async () => {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            [PK]: { S: groupPk(group) },
            [SK]: { S: memberSk(member.memberId) },
            memberId: { S: member.memberId },
            topics: { L: member.topics.map((t) => ({ S: t })) },
            sessionTimeoutMs: N(member.sessionTimeoutMs),
            joinedAt: N(member.joinedAt),
            lastHeartbeatAt: N(member.lastHeartbeatAt),
            expiresAt: N(member.expiresAt),
            ...(member.joinId === undefined ? {} : { joinId: { S: member.joinId } }),
            [TTL_ATTRIBUTE]: N(ttl),
          },
          ConditionExpression: "attribute_not_exists(#pk)",
          ExpressionAttributeNames: { "#pk": PK },
        }),
      ).catch(rethrow);
      return true;
    }, false);
  }

  async renewMember(group: string, memberId: string, renewal: MemberRenewal): Promise<RenewOutcome> {
    const e = new Expr();
    const sets = [
      `${e.name("lastHeartbeatAt")} = ${e.value(N(renewal.now))}`,
      `${e.name("expiresAt")} = ${e.name("sessionTimeoutMs")} + ${e.value(N(renewal.now))}`,
      `${e.name(TTL_ATTRIBUTE)} = ${e.value(N(renewal.ttl))}`,
    ];
    if (renewal.topics !== undefined) {
      sets.push(`${e.name("topics")} = ${e.value({ L: renewal.topics.map((t) => ({ S: t })) })}`);
    }
    const condition =
      `attribute_exists(${e.name(PK)}) AND ${e.name("expiresAt")} > ${e.value(N(renewal.now))}` +
      ` AND ${e.name("lastHeartbeatAt")} <= ${e.value(N(renewal.now))}`;
    const outcome = await this.conditional(async (): Promise<RenewOutcome | null> => {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: memberKey(group, memberId),
          UpdateExpression: `SET ${sets.join(", ")}`,
          ConditionExpression: condition,
          ...e.attributes(),
          ReturnValues: "UPDATED_OLD",
        }),
      ).catch(rethrow);
      return { renewed: true, previousExpiresAt: reqNum(out.Attributes ?? {}, "expiresAt") };
    }, null);
    if (outcome !== null) return outcome;
    // Which condition failed: only a rare failed renewal pays for this read.
    const out = await this.client
      .send(
        new GetItemCommand({
          TableName: this.tableName,
          Key: memberKey(group, memberId),
          ConsistentRead: true,
          ProjectionExpression: "#e",
          ExpressionAttributeNames: { "#e": "expiresAt" },
        }),
      )
      .catch(rethrow);
    const expiresAt = num(out.Item, "expiresAt");
    return { renewed: false, reason: expiresAt !== undefined && expiresAt > renewal.now ? "stale" : "notLive" };
  }

  async expireMember(group: string, memberId: string, lastHeartbeatAt: number, now: number): Promise<boolean> {
    const e = new Expr();
    return this.conditional(async () => {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: memberKey(group, memberId),
          UpdateExpression: `SET ${e.name("expiresAt")} = ${e.value(N(now))}`,
          ConditionExpression: `${e.name("lastHeartbeatAt")} = ${e.value(N(lastHeartbeatAt))}`,
          ...e.attributes(),
        }),
      ).catch(rethrow);
      return true;
    }, false);
  }

  async deleteMember(group: string, memberId: string, ifLastHeartbeatAt?: number): Promise<boolean> {
    const e = new Expr();
    const condition =
      ifLastHeartbeatAt === undefined
        ? undefined
        : `${e.name("lastHeartbeatAt")} = ${e.value(N(ifLastHeartbeatAt))}`;
    return this.conditional(async () => {
      await this.client.send(
        new DeleteItemCommand({
          TableName: this.tableName,
          Key: memberKey(group, memberId),
          ...(condition === undefined ? {} : { ConditionExpression: condition, ...e.attributes() }),
        }),
      ).catch(rethrow);
      return true;
    }, false);
  }

  async writeLease(group: string, write: LeaseWrite): Promise<LeaseState | null> {
    const e = new Expr();
    const sets: string[] = [`${e.name("updatedAt")} = ${e.value(N(write.now))}`];
    const removes: string[] = [];
    const nextEpoch = write.expect.exists ? write.expect.epoch + 1 : 1;
    const setEpoch = () => sets.push(`${e.name("epoch")} = ${e.value(N(nextEpoch))}`);
    const setIdentity = () =>
      sets.push(
        `${e.name("topic")} = ${e.value({ S: write.topic })}`,
        `${e.name("partition")} = ${e.value(N(write.partition))}`,
      );
    const change = write.change;
    switch (change.type) {
      case "acquire":
        setIdentity();
        setEpoch();
        sets.push(`${e.name("owner")} = ${e.value({ S: change.owner })}`);
        removes.push(e.name("pendingOwner"), e.name("revokeRequestedAt"));
        break;
      case "revoke":
        sets.push(
          `${e.name("revokeRequestedAt")} = if_not_exists(${e.name("revokeRequestedAt")}, ${e.value(N(write.now))})`,
        );
        if (change.pendingOwner === null) removes.push(e.name("pendingOwner"));
        else sets.push(`${e.name("pendingOwner")} = ${e.value({ S: change.pendingOwner })}`);
        break;
      case "unrevoke":
        removes.push(e.name("pendingOwner"), e.name("revokeRequestedAt"));
        break;
      case "release":
        setEpoch();
        removes.push(e.name("owner"), e.name("revokeRequestedAt"));
        break;
      case "reset":
        setIdentity();
        setEpoch();
        sets.push(`${e.name("checkpoint")} = ${e.value({ N: change.checkpoint.toString() })}`);
        removes.push(e.name("owner"), e.name("pendingOwner"), e.name("revokeRequestedAt"), e.name("metadata"));
        if (change.topicId === undefined) removes.push(e.name("checkpointTopicId"));
        else sets.push(`${e.name("checkpointTopicId")} = ${e.value({ S: change.topicId })}`);
        break;
    }
    const condition = ownedAt(e, write.expect);
    const update = `SET ${sets.join(", ")}` + (removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : "");
    return this.conditional(async () => {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [PK]: { S: groupPk(group) }, [SK]: { S: leaseSk(write.topic, write.partition) } },
          UpdateExpression: update,
          ConditionExpression: condition,
          ...e.attributes(),
          ReturnValues: "ALL_NEW",
        }),
      ).catch(rethrow);
      return out.Attributes === undefined ? null : toLease(out.Attributes);
    }, null);
  }

  async commitOffset(group: string, commit: OffsetCommit): Promise<boolean> {
    const e = new Expr();
    const sets = [
      `${e.name("checkpoint")} = ${e.value({ N: commit.offset.toString() })}`,
      `${e.name("updatedAt")} = ${e.value(N(commit.now))}`,
    ];
    if (commit.metadata !== null) sets.push(`${e.name("metadata")} = ${e.value({ S: commit.metadata })}`);
    if (commit.topicId !== undefined) sets.push(`${e.name("checkpointTopicId")} = ${e.value({ S: commit.topicId })}`);
    let ordered = "";
    if (commit.sequence !== null) {
      // a late commit (lower sequence, same epoch) must not move the checkpoint back
      const [seq, seqEpoch, epoch] = [e.name("commitSeq"), e.name("commitSeqEpoch"), e.value(N(commit.epoch))];
      sets.push(`${seq} = ${e.value(N(commit.sequence))}`, `${seqEpoch} = ${epoch}`);
      ordered = ` AND (attribute_not_exists(${seq}) OR ${seqEpoch} <> ${epoch} OR ${seq} <= ${e.value(N(commit.sequence))})`;
    }
    const removes = [...(commit.metadata === null ? [e.name("metadata")] : []), ...(commit.topicId === undefined ? [e.name("checkpointTopicId")] : [])];
    const update = `SET ${sets.join(", ")}` + (removes.length > 0 ? ` REMOVE ${removes.join(", ")}` : "");
    const condition =
      `${e.name("owner")} = ${e.value({ S: commit.memberId })} AND ` +
      `${e.name("epoch")} = ${e.value(N(commit.epoch))}` +
      ordered;
    return this.conditional(async () => {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { [PK]: { S: groupPk(group) }, [SK]: { S: leaseSk(commit.topic, commit.partition) } },
          UpdateExpression: update,
          ConditionExpression: condition,
          ...e.attributes(),
        }),
      ).catch(rethrow);
      return true;
    }, false);
  }

  async registerGroup(group: string, now: number): Promise<void> {
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { [PK]: { S: REGISTRY_PK }, [SK]: { S: group } },
        UpdateExpression: "SET #c = if_not_exists(#c, :now)",
        ExpressionAttributeNames: { "#c": "createdAt" },
        ExpressionAttributeValues: { ":now": N(now) },
      }),
    ).catch(rethrow);
  }

  async groupExists(group: string): Promise<boolean> {
    const out = await this.client.send(
      new GetItemCommand({
        TableName: this.tableName,
        Key: { [PK]: { S: REGISTRY_PK }, [SK]: { S: group } },
        ProjectionExpression: "#sk",
        ExpressionAttributeNames: { "#sk": SK },
      }),
    ).catch(rethrow);
    return out.Item !== undefined;
  }

  async listGroups(): Promise<string[]> {
    const groups: string[] = [];
    let startKey: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.client.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: "#pk = :pk",
          ProjectionExpression: "#sk",
          ExpressionAttributeNames: { "#pk": PK, "#sk": SK },
          ExpressionAttributeValues: { ":pk": { S: REGISTRY_PK } },
          ExclusiveStartKey: startKey,
        }),
      ).catch(rethrow);
      for (const item of out.Items ?? []) groups.push(reqStr(item, SK));
      startKey = out.LastEvaluatedKey;
    } while (startKey !== undefined);
    return groups;
  }

  private async conditional<T>(write: () => Promise<T>, onFailedCondition: T): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (isConditionFailed(error)) return onFailedCondition;
      throw error;
    }
  }

}

/** Expression attribute names and values, named as they are added. */
class Expr {
  private readonly names: Record<string, string> = {};
  private readonly values: Record<string, AttributeValue> = {};
  private count = 0;

  name(attribute: string): string {
    const placeholder = `#${attribute}`;
    this.names[placeholder] = attribute;
    return placeholder;
  }

  value(v: AttributeValue): string {
    const placeholder = `:v${this.count++}`;
    this.values[placeholder] = v;
    return placeholder;
  }

  attributes(): {
    ExpressionAttributeNames: Record<string, string>;
    ExpressionAttributeValues?: Record<string, AttributeValue>;
  } {
    return Object.keys(this.values).length === 0
      ? { ExpressionAttributeNames: this.names }
      : { ExpressionAttributeNames: this.names, ExpressionAttributeValues: this.values };
  }
}

/** The condition that a lease is as `expect` says: absent, or exactly this owner (none) and epoch. */
function ownedAt(e: Expr, expect: LeaseExpectation): string {
  if (!expect.exists) return `attribute_not_exists(${e.name(PK)})`;
  const owner = expect.owner === null ? `attribute_not_exists(${e.name("owner")})` : `${e.name("owner")} = ${e.value({ S: expect.owner })}`;
  return `${e.name("epoch")} = ${e.value(N(expect.epoch))} AND ${owner}`;
}

function memberKey(group: string, memberId: string): Item {
  return { [PK]: { S: groupPk(group) }, [SK]: { S: memberSk(memberId) } };
}

function toMember(item: Item): MemberState {
  return {
    memberId: reqStr(item, "memberId"),
    topics: (item["topics"]?.L ?? []).flatMap((t) => (t.S === undefined ? [] : [t.S])),
    sessionTimeoutMs: reqNum(item, "sessionTimeoutMs"),
    joinedAt: reqNum(item, "joinedAt"),
    lastHeartbeatAt: reqNum(item, "lastHeartbeatAt"),
    expiresAt: reqNum(item, "expiresAt"),
    ...(item["joinId"]?.S === undefined ? {} : { joinId: item["joinId"].S }),
  };
}

function toLease(item: Item): LeaseState {
  const checkpoint = item["checkpoint"]?.N;
  return {
    topic: reqStr(item, "topic"),
    partition: reqNum(item, "partition"),
    owner: str(item, "owner") ?? null,
    epoch: reqNum(item, "epoch"),
    checkpoint: checkpoint === undefined ? null : BigInt(checkpoint),
    ...(item["checkpointTopicId"]?.S === undefined ? {} : { checkpointTopicId: item["checkpointTopicId"].S }),
    metadata: str(item, "metadata") ?? null,
    pendingOwner: str(item, "pendingOwner") ?? null,
    revokeRequestedAt: num(item, "revokeRequestedAt") ?? null,
    updatedAt: reqNum(item, "updatedAt"),
    ...(item["commitSeq"] ? { commitSequence: { epoch: reqNum(item, "commitSeqEpoch"), sequence: reqNum(item, "commitSeq") } } : {}),
  };
}

/** Condition failures pass through for `conditional`; everything else becomes a Seglog error. */
function rethrow(error: unknown): never {
  if (isConditionFailed(error)) throw error;
  throw toSeglogError(error);
}
