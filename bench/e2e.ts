/**
 * End-to-end latency as a user sees it, in a process of its own: a Consumer tails partition 0 in
 * a loop (its long poll waiting at the end of the log between records), while a producer sends
 * one record at a time with `lingerMs` 0 (acks=all, idempotent), each after the one before was
 * acknowledged and a random pause of 20–120 ms (so that sends do not keep step with the fetch
 * function's re-reads of the log's head). Per record: the ack latency, and the time from send
 * until the consumer's poll returned it. Optionally with a fixed delay before every API call and
 * S3 GET (`delays.ts`).
 *
 * Argument: one JSON object (`E2eTask`); prints one JSON line (`E2eResult`).
 */
import { Consumer } from "../src/client/consumer.ts";
import { Producer } from "../src/client/producer.ts";
import { delayed } from "./delays.ts";

export interface E2eTask {
  readonly url: string;
  /** A topic with nothing in partition 0 yet. */
  readonly topic: string;
  /** Records timed, after `warmup` records that are not. */
  readonly records: number;
  readonly warmup: number;
  readonly recordBytes: number;
  readonly apiDelayMs: number;
  readonly s3DelayMs: number;
}

export interface E2eResult {
  /** Per timed record, in milliseconds. */
  readonly ackMs: number[];
  readonly e2eMs: number[];
  readonly fetches: number;
}

/** Records that have not arrived this long after the last send are a failure, not a latency. */
const GIVE_UP_MS = 30_000;

async function run(task: E2eTask): Promise<E2eResult> {
  const transport = delayed({ apiMs: task.apiDelayMs, s3Ms: task.s3DelayMs });
  const total = task.warmup + task.records;
  const producer = new Producer({ url: task.url, transport, lingerMs: 0 });
  const consumer = new Consumer({ url: task.url, transport });
  consumer.assign([{ topic: task.topic, partition: 0, offset: 0 }]);
  const sentAt: number[] = [];
  const ackMs: number[] = [];
  const e2eMs: number[] = [];
  const tailing = (async () => {
    for (let next = 0; next < total; ) {
      for (const r of await consumer.poll()) {
        const n = r.value === null ? -1 : new DataView(r.value.buffer, r.value.byteOffset, r.value.byteLength).getUint32(0);
        if (n !== next || r.offset !== next) throw new Error(`expected record ${next} at offset ${next}, the consumer got record ${n} at offset ${r.offset}`);
        const at = sentAt[n];
        if (at === undefined) throw new Error(`record ${n} arrived before it was sent`);
        if (n >= task.warmup) e2eMs.push(performance.now() - at);
        next++;
      }
    }
  })();
  let stop: ((e: Error) => void) | undefined;
  const giveUp = new Promise<never>((_, reject) => (stop = reject));
  try {
    const sending = (async () => {
      for (let i = 0; i < total; i++) {
        await new Promise((r) => setTimeout(r, 20 + Math.random() * 100));
        const value = new Uint8Array(Math.max(4, task.recordBytes));
        new DataView(value.buffer).setUint32(0, i);
        sentAt[i] = performance.now();
        await producer.send(task.topic, { value, partition: 0 });
        if (i >= task.warmup) ackMs.push(performance.now() - (sentAt[i] as number));
      }
      // The last record has this long to arrive; a consumer that stops reading fails the run.
      setTimeout(() => stop?.(new Error(`not every record reached the consumer within ${GIVE_UP_MS} ms of the last send`)), GIVE_UP_MS).unref();
    })();
    await Promise.race([Promise.all([sending, tailing]), giveUp]);
    return { ackMs, e2eMs, fetches: consumer.stats().fetches };
  } finally {
    consumer.close();
    await producer.close();
  }
}

const task = JSON.parse(process.argv[2] ?? "{}") as E2eTask;
process.stdout.write(`${JSON.stringify(await run(task))}\n`);
