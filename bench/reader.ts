/**
 * Reads a whole topic with the SDK's Consumer (one assigned every partition, as `seglog perf
 * consume` reads without a group), in a process of its own, with a fixed delay added before every
 * API call and every S3 GET: the round trips of a consumer far from the API and S3, which the
 * local stack does not have. The `readAhead` suite runs it with and without fetching ahead.
 *
 * Argument: one JSON object (`ReaderTask`); prints one JSON line (`ReaderResult`).
 */
import { Consumer } from "../src/client/consumer.ts";
import { delayed } from "./delays.ts";

export interface ReaderTask {
  readonly url: string;
  readonly topic: string;
  readonly partitions: number;
  /** Records in the topic: the read ends when every one was read. */
  readonly records: number;
  /** The Consumer's option; 0 turns fetching ahead off. */
  readonly maxPrefetchBytes: number;
  /** Added before each call to the API, and before each S3 GET (presigned URLs). */
  readonly apiDelayMs: number;
  readonly s3DelayMs: number;
}

export interface ReaderResult {
  readonly seconds: number;
  /** Bytes of the stored batches read. */
  readonly bytes: number;
  readonly fetches: number;
  readonly gets: number;
}

async function run(task: ReaderTask): Promise<ReaderResult> {
  const transport = delayed({ apiMs: task.apiDelayMs, s3Ms: task.s3DelayMs });
  const consumer = new Consumer({ url: task.url, transport, maxWaitMs: 0, maxPrefetchBytes: task.maxPrefetchBytes });
  consumer.assign(Array.from({ length: task.partitions }, (_, partition) => ({ topic: task.topic, partition, offset: 0 })));
  let read = 0;
  const started = performance.now();
  while (read < task.records) read += (await consumer.poll()).length;
  const seconds = (performance.now() - started) / 1000;
  consumer.close();
  if (read !== task.records) throw new Error(`read ${read} of ${task.records} records`);
  const { bytesFetched, fetches, segmentGets } = consumer.stats();
  return { seconds, bytes: bytesFetched, fetches, gets: segmentGets };
}

const task = JSON.parse(process.argv[2] ?? "{}") as ReaderTask;
process.stdout.write(`${JSON.stringify(await run(task))}\n`);
