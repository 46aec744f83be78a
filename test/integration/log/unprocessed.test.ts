/**
 * DynamoDB's batch requests under throttling: a table short of capacity takes part of a
 * BatchGetItem or BatchWriteItem and answers the rest as unprocessed, with no error (fault
 * injection: the middleware hands DynamoDB Local the first item of a request and answers the
 * others as unprocessed).
 */
import { PutItemCommand, QueryCommand, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { describe, expect, it } from "vitest";
import { SeglogError } from "../../../src/core/errors.ts";
import { Registry } from "../../../src/storage/registry.ts";
import { testLog } from "../../helpers/log.ts";
import { testClients, testEnv, uniqueName } from "../../helpers/stack.ts";

const table = testEnv()["SEGLOG_TABLE"] ?? "seglog";

/** The client's next `times` batch requests are taken one item each; `requests` counts them all. */
function takingOneItem(dynamo: DynamoDBClient): { times: number; requests: number } {
  const seen = { times: 0, requests: 0 };
  dynamo.middlewareStack.add(
    (next, context) => async (args) => {
      const command = String(context.commandName);
      if (command !== "BatchWriteItemCommand" && command !== "BatchGetItemCommand") return next(args);
      seen.requests++;
      if (seen.times-- <= 0) return next(args);
      const input = args.input as { RequestItems: Record<string, unknown[] | { Keys: unknown[] }> };
      const asked = input.RequestItems[table] as unknown[] | { Keys: unknown[] };
      const items = Array.isArray(asked) ? asked : asked.Keys;
      const [first, ...rest] = items;
      const taken = Array.isArray(asked) ? [first] : { ...asked, Keys: [first] };
      const result = await next({ ...args, input: { ...input, RequestItems: { [table]: taken } } });
      const output = result.output as unknown as Record<string, unknown>;
      if (rest.length > 0) {
        if (Array.isArray(asked)) output["UnprocessedItems"] = { [table]: rest };
        else output["UnprocessedKeys"] = { [table]: { ...asked, Keys: rest } };
      }
      return result;
    },
    { step: "initialize", name: "takeOneItem" },
  );
  return seen;
}

async function putItems(dynamo: DynamoDBClient, pk: string, n: number): Promise<string[]> {
  const sks = Array.from({ length: n }, (_, i) => `item${i}`);
  for (const sk of sks) await dynamo.send(new PutItemCommand({ TableName: table, Item: { pk: { S: pk }, sk: { S: sk } } }));
  return sks;
}

async function itemsUnder(dynamo: DynamoDBClient, pk: string): Promise<number> {
  const out = await dynamo.send(new QueryCommand({ TableName: table, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: pk } } }));
  return out.Count ?? 0;
}

describe("batch requests DynamoDB leaves partly unprocessed (fault injection)", () => {
  it("reads every partition's head and deletes every item, asking again for what was left", async () => {
    const { log } = testLog();
    const name = uniqueName("unprocessed");
    const { topic } = await log.createTopic({ name, partitions: 4 });
    const { dynamo } = testClients();
    const registry = new Registry(dynamo, table);
    const seen = takingOneItem(dynamo);
    seen.times = 3;
    const heads = await registry.getHeads(topic.topicId, [0, 1, 2, 3]);
    expect([...heads.keys()].sort()).toEqual([0, 1, 2, 3]);
    expect(seen.requests).toBe(4); // one head each time, then the last

    const pk = uniqueName("unprocessed-items");
    const sks = await putItems(dynamo, pk, 5);
    seen.times = 4;
    seen.requests = 0;
    await registry.deleteItems(pk, sks);
    expect(await itemsUnder(dynamo, pk)).toBe(0);
    expect(seen.requests).toBe(5);
    dynamo.destroy();
  });

  it("gives up reading heads as Throttled (retriable) after 5 requests that each left some", async () => {
    const { log } = testLog();
    const { topic } = await log.createTopic({ name: uniqueName("unprocessed"), partitions: 8 });
    const { dynamo } = testClients();
    const registry = new Registry(dynamo, table);
    const reading = takingOneItem(dynamo);
    reading.times = Infinity;
    await expect(registry.getHeads(topic.topicId, [0, 1, 2, 3, 4, 5, 6, 7])).rejects.toMatchObject({
      kind: "Throttled",
      retriable: true,
      message: expect.stringMatching(/left 3 partition heads unprocessed, 5 times/),
    });
    expect(reading.requests).toBe(5);
    dynamo.destroy();
  });

  it("gives up deleting as Throttled too, and what DynamoDB took is gone", async () => {
    const { dynamo } = testClients();
    const registry = new Registry(dynamo, table);
    const pk = uniqueName("unprocessed-items");
    const sks = await putItems(dynamo, pk, 8);
    const seen = takingOneItem(dynamo);
    seen.times = Infinity;
    const error = await registry.deleteItems(pk, sks).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SeglogError);
    expect(error).toMatchObject({ kind: "Throttled", retriable: true });
    expect((error as Error).message).toMatch(/left 3 deletes unprocessed/);
    expect(seen.requests).toBe(5);
    // What DynamoDB took is gone, the rest is still there for the next try.
    expect(await itemsUnder(dynamo, pk)).toBe(3);
    seen.times = 0;
    await registry.deleteItems(pk, sks.slice(5));
    expect(await itemsUnder(dynamo, pk)).toBe(0);
    dynamo.destroy();
  });
});
