/**
 * Produce through the local API from ready-made batches, in a process of its own: what Seglog's
 * side of a produce costs when the client does no per-record work. `seglog perf produce` builds
 * each 1 KiB record as Kafka's tool does, and on 2 cores that client's CPU is taken from the
 * API and storage; this worker encodes every batch before the clock starts (idempotent, with
 * each partition's sequence numbers) and then only sends them, as the bare worker only sends
 * its buffers. One request in flight per partition, one batch per request, as the Producer does
 * with records that have no key.
 *
 * Argument: one JSON object (`FramesTask`); prints one JSON line (`FramesResult`).
 */
import { randomBytes } from "node:crypto";
import { SeglogHttp } from "../src/client/http.ts";
import { encodeRecordBatch } from "../src/core/codec/record-batch.ts";
import { buildFrames } from "../src/core/frames.ts";
import { stopwatch, type Timed } from "./cpu.ts";

export interface FramesTask {
  readonly url: string;
  readonly topic: string;
  readonly partitions: number;
  /** Records per batch and their size. */
  readonly records: number;
  readonly recordBytes: number;
  readonly batches: number;
}

export interface FramesResult extends Timed {
  /** Bytes of the stored batches sent. */
  readonly bytes: number;
  readonly requests: number;
}

async function run(task: FramesTask): Promise<FramesResult> {
  // The SDK's own HTTP client, as the Producer sends.
  const http = new SeglogHttp({ url: task.url, signer: false });
  const { producerId, epoch } = (await http.call({ method: "POST", path: "/v1/producers", json: {} })).json as { producerId: number; epoch: number };
  const value = randomBytes(task.recordBytes);
  const perPartition = Array.from({ length: task.partitions }, (_, p) =>
    Array.from({ length: Math.ceil((task.batches - p) / task.partitions) }, (_, k) =>
      buildFrames([
        {
          partition: p,
          bytes: encodeRecordBatch({
            producerId,
            producerEpoch: epoch,
            baseSequence: k * task.records,
            records: Array.from({ length: task.records }, () => ({ key: null, value, headers: [], timestamp: Date.now() })),
          }),
        },
      ]),
    ),
  );
  const path = `/v1/topics/${encodeURIComponent(task.topic)}/records`;
  const clock = stopwatch();
  await Promise.all(perPartition.map(async (bodies) => {
    for (const bytes of bodies) await http.call({ method: "POST", path, bytes });
  }));
  const timed = clock.stop();
  const all = perPartition.flat();
  return { ...timed, bytes: all.reduce((n, b) => n + b.byteLength - 4, 0), requests: all.length };
}

const task = JSON.parse(process.argv[2] ?? "{}") as FramesTask;
process.stdout.write(`${JSON.stringify(await run(task))}\n`);
