import { GetItemCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { S, type Item } from "./attributes.ts";
import { isConditionFailed, toSeglogError } from "./aws-errors.ts";

/** Runs one SDK call; whatever it throws comes out as a Seglog error kind. */
export async function call<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw toSeglogError(e);
  }
}

/** Runs one conditional write: true when it took effect, false when its condition did not hold. */
export async function conditional(fn: () => Promise<unknown>): Promise<boolean> {
  try {
    await fn();
    return true;
  } catch (e) {
    if (isConditionFailed(e)) return false;
    throw toSeglogError(e);
  }
}

/** A consistent read of one item. */
export async function getItem(dynamo: DynamoDBClient, table: string, pk: string, sk: string): Promise<Item | undefined> {
  const out = await call(() =>
    dynamo.send(new GetItemCommand({ TableName: table, Key: { pk: S(pk), sk: S(sk) }, ConsistentRead: true })),
  );
  return out.Item;
}
