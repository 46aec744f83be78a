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
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { SeglogHttp } from "../src/client/http.ts";
import { createClients } from "../src/storage/clients.ts";
import { storeLikeABatch } from "./bare-chain.ts";
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
  /** produce: POST each body to this relay (`relay.ts`), which stores it, instead of storing it here. */
  readonly relayUrl?: string;
}

export interface BareResult extends Timed {
  readonly bytes: number;
}

async function produce(task: BareTask, c: ReturnType<typeof createClients>): Promise<BareResult> {
  const size = task.size ?? 0;
  const body = randomBytes(size);
  const run = randomBytes(4).toString("hex");
  const keys: string[][] = Array.from({ length: task.workers }, () => []);
  // Through the relay, with the HTTP client Seglog's Producer sends with.
  const relay = task.relayUrl === undefined ? undefined : new SeglogHttp({ url: task.relayUrl, signer: false });
  const store = async (w: number): Promise<string> =>
    relay
      ? ((await relay.call({ method: "POST", path: `/${w}`, bytes: body })).json as { key: string }).key
      : storeLikeABatch(c, task, run, w, body);
  let next = 0;
  const clock = stopwatch();
  await Promise.all(
    keys.map(async (mine, w) => {
      while (next < (task.objects ?? 0)) {
        next++;
        mine.push(await store(w));
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
