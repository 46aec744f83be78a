/**
 * The bare-storage side of the log bench, in a process of its own as `seglog perf` is: the same
 * storage work as Seglog's, without Seglog. Arguments: one JSON object (`BareTask`); prints one
 * JSON line (`BareResult`) with the time of the work itself, start-up excluded.
 *
 * - produce: `workers` workers take objects from one counter; each object costs what a Seglog
 *   batch costs in storage: DynamoDB UpdateItem (the counter), S3 PutObject, DynamoDB PutItem
 *   (the index item, with its LSI key), one after another. The body is one random buffer of
 *   `size` bytes, made once: no records are built (a lower bound on a real producer's work).
 * - consume: each worker GETs the objects it wrote, in rounds of `perRound`, at most
 *   `getConcurrency` at once (a Seglog fetch's GETs); bodies are read, not decoded.
 */
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { PutItemCommand, UpdateItemCommand } from "@aws-sdk/client-dynamodb";
import { GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { createClients } from "../src/storage/clients.ts";
import { stopwatch, type Timed } from "./cpu.ts";

export interface BareTask {
  readonly mode: "produce" | "consume";
  readonly env: Record<string, string>;
  readonly bucket: string;
  readonly table: string;
  readonly workers: number;
  /** produce: objects and their size; the keys each worker wrote go to `keysFile`. */
  readonly objects?: number;
  readonly size?: number;
  /** consume: GETs per round, at most `getConcurrency` in flight. */
  readonly perRound?: number;
  readonly getConcurrency?: number;
  readonly keysFile: string;
}

export interface BareResult extends Timed {
  readonly bytes: number;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");

async function produce(task: BareTask, c: ReturnType<typeof createClients>): Promise<BareResult> {
  const size = task.size ?? 0;
  const body = randomBytes(size);
  const run = randomBytes(4).toString("hex");
  const keys: string[][] = Array.from({ length: task.workers }, () => []);
  let next = 0;
  const clock = stopwatch();
  await Promise.all(
    keys.map(async (mine, w) => {
      const pk = { S: `BENCH#${run}#${w}` };
      while (next < (task.objects ?? 0)) {
        next++;
        const now = Date.now();
        const head = await c.dynamo.send(
          new UpdateItemCommand({
            TableName: task.table,
            Key: { pk, sk: { S: "HEAD" } },
            UpdateExpression: "ADD nextSeq :one, nextOffset :n SET lastReservedAt = :now",
            ExpressionAttributeValues: { ":one": { N: "1" }, ":n": { N: "1000" }, ":now": { N: String(now) } },
            ReturnValues: "UPDATED_NEW",
          }),
        );
        const seq = Number(head.Attributes?.["nextSeq"]?.N ?? 1) - 1;
        const base = Number(head.Attributes?.["nextOffset"]?.N ?? 1000) - 1000;
        const key = `bench/${run}/${w}/${pad(base, 20)}.log`;
        await c.s3.send(new PutObjectCommand({ Bucket: task.bucket, Key: key, Body: body, ContentLength: size }));
        await c.dynamo.send(
          new PutItemCommand({
            TableName: task.table,
            Item: {
              pk,
              sk: { S: `S#${pad(seq, 12)}` },
              st: { S: "C" },
              ob: { S: pad(base, 20) },
              base: { N: String(base) },
              count: { N: "1000" },
              recs: { N: "1000" },
              bytes: { N: String(size) },
              firstTs: { N: String(now) },
              maxTs: { N: String(now) },
              at: { N: String(now) },
            },
            ConditionExpression: "attribute_not_exists(sk)",
          }),
        );
        mine.push(key);
      }
    }),
  );
  const timed = clock.stop();
  writeFileSync(task.keysFile, JSON.stringify(keys));
  return { ...timed, bytes: (task.objects ?? 0) * size };
}

async function consume(task: BareTask, c: ReturnType<typeof createClients>): Promise<BareResult> {
  const keys = JSON.parse(readFileSync(task.keysFile, "utf8")) as string[][];
  const perRound = task.perRound ?? 1;
  let bytes = 0;
  const clock = stopwatch();
  await Promise.all(
    keys.map(async (mine) => {
      for (let i = 0; i < mine.length; i += perRound) {
        const round = mine.slice(i, i + perRound);
        let j = 0;
        await Promise.all(
          Array.from({ length: Math.min(task.getConcurrency ?? 16, round.length) }, async () => {
            while (j < round.length) {
              const key = round[j++] as string;
              const out = await c.s3.send(new GetObjectCommand({ Bucket: task.bucket, Key: key }));
              const data = await out.Body?.transformToByteArray();
              bytes += data?.byteLength ?? 0; // not `bytes += await …`: that reads `bytes` before the await
            }
          }),
        );
      }
    }),
  );
  return { ...clock.stop(), bytes };
}

const task = JSON.parse(process.argv[2] ?? "{}") as BareTask;
const clients = createClients(task.env);
const result = task.mode === "produce" ? await produce(task, clients) : await consume(task, clients);
process.stdout.write(`${JSON.stringify(result)}\n`);
clients.s3.destroy();
clients.dynamo.destroy();
