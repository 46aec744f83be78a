/**
 * What one Seglog batch costs in storage, without Seglog: DynamoDB UpdateItem (the partition's
 * counter), S3 PutObject (the body), DynamoDB PutItem (the index item, with its LSI key), one
 * after another. The bare worker (`bare.ts`) runs it, and so does the relay (`relay.ts`) for
 * bodies sent to it over HTTP.
 */
import { PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import type { createClients } from "../src/storage/clients.ts";

export interface BareStorage {
  readonly bucket: string;
  readonly table: string;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

/** Stores `body` as one batch of worker `worker` in run `run`; returns the object's key. */
export async function storeLikeABatch(c: ReturnType<typeof createClients>, storage: BareStorage, run: string, worker: number, body: Uint8Array): Promise<string> {
  const pk = { S: `BENCH#${run}#${worker}` };
  const now = Date.now();
  const head = await c.dynamo.send(
    new UpdateItemCommand({
      TableName: storage.table,
      Key: { pk, sk: { S: "HEAD" } },
      UpdateExpression: "ADD nextSeq :one, nextOffset :n SET lastReservedAt = :now",
      ExpressionAttributeValues: { ":one": { N: "1" }, ":n": { N: "1000" }, ":now": { N: String(now) } },
      ReturnValues: "UPDATED_NEW",
    }),
  );
  const seq = Number(head.Attributes?.["nextSeq"]?.N ?? 1) - 1;
  const base = Number(head.Attributes?.["nextOffset"]?.N ?? 1000) - 1000;
  const key = `bench/${run}/${worker}/${pad(base, 20)}.log`;
  await c.s3.send(new PutObjectCommand({ Bucket: storage.bucket, Key: key, Body: body, ContentLength: body.byteLength }));
  await c.dynamo.send(
    new PutItemCommand({
      TableName: storage.table,
      Item: {
        pk,
        sk: { S: `S#${pad(seq, 12)}` },
        st: { S: "C" },
        ob: { S: pad(base, 20) },
        base: { N: String(base) },
        count: { N: "1000" },
        recs: { N: "1000" },
        bytes: { N: String(body.byteLength) },
        firstTs: { N: String(now) },
        maxTs: { N: String(now) },
        at: { N: String(now) },
      },
      ConditionExpression: "attribute_not_exists(sk)",
    }),
  );
  return key;
}
