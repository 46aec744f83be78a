/**
 * Consume through the local API without the client's per-record work, in a process of its own:
 * the reading side's counterpart of `frames.ts`. `seglog perf consume` checks every batch's CRC
 * and builds every record, as a Kafka consumer does, and on 2 cores that client's CPU is taken
 * from the API and storage; the bare reader only counts the bytes of its GETs. This worker reads
 * as the SDK's Consumer does (a fetch that names the segments, then the consumer's own GETs,
 * `src/client/segment-reads.ts`), each partition's next fetch started as soon as an answer says
 * where it begins, all partitions at once, and only counts the bytes.
 *
 * Argument: one JSON object (`SegmentsTask`); prints one JSON line (`SegmentsResult`).
 */
import { SeglogHttp } from "../src/client/http.ts";
import { readSegments } from "../src/client/segment-reads.ts";
import { parseSegmentsAnswer, positionAfter } from "../src/core/segment-locations.ts";
import { stopwatch, type Timed } from "./cpu.ts";

export interface SegmentsTask {
  readonly url: string;
  readonly topic: string;
  readonly partitions: number;
  /** Per fetch, as the perf consumer asks. */
  readonly maxBytes: number;
}

export interface SegmentsResult extends Timed {
  /** Bytes of the stored batches read. */
  readonly bytes: number;
  readonly fetches: number;
  readonly gets: number;
}

async function run(task: SegmentsTask): Promise<SegmentsResult> {
  const http = new SeglogHttp({ url: task.url, signer: false });
  const signal = new AbortController().signal;
  const path = (p: number) => `/v1/topics/${encodeURIComponent(task.topic)}/partitions/${p}/records`;
  let bytes = 0;
  let fetches = 0;
  let gets = 0;
  const reads = { transport: http.transport, concurrency: 16, timeoutMs: 30_000, signal, got: () => gets++ };
  const clock = stopwatch();
  await Promise.all(
    Array.from({ length: task.partitions }, async (_, p) => {
      const locate = async (offset: number) => {
        const reply = await http.call({ method: "GET", path: path(p), query: { offset, maxBytes: task.maxBytes, maxWaitMs: 0 }, accept: "segments" });
        fetches++;
        return parseSegmentsAnswer(reply.json);
      };
      for (let located = locate(0); ; ) {
        const answer = await located;
        // As the Consumer reads ahead: the next fetch finds its segments while these are read.
        if (answer.nextOffset < answer.highWatermark) located = locate(answer.nextOffset);
        const chunks = await readSegments(answer.segments, reads);
        for (const c of chunks) bytes += c.byteLength;
        if (positionAfter(answer, chunks.length) !== answer.nextOffset) throw new Error(`partition ${p}: a read ended short`);
        if (answer.nextOffset >= answer.highWatermark) return;
      }
    }),
  );
  return { ...clock.stop(), bytes, fetches, gets };
}

const task = JSON.parse(process.argv[2] ?? "{}") as SegmentsTask;
process.stdout.write(`${JSON.stringify(await run(task))}\n`);
