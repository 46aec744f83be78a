/**
 * What fetching ahead buys a consumer whose API and S3 are some milliseconds away, as on AWS and
 * unlike the local stack (where the log suite's consume runs are bound by the 2 cores instead).
 *
 * Per producer batch size: a topic of `concurrency` partitions, filled once; then read whole by
 * `reader.ts` (one Consumer assigned every partition, in a process of its own) with fetching ahead off
 * (`maxPrefetchBytes: 0`: a partition's fetch, its GETs, the next fetch, …) and on (the default:
 * the next fetch finds its segments while these GETs run), alternating, with no delay added and
 * with a delay added before every API call and every S3 GET.
 */
import { fileURLToPath } from "node:url";
import { Admin } from "../src/client/admin.ts";
import { Producer } from "../src/client/producer.ts";
import { runWorker } from "./child.ts";
import type { BenchConfig } from "./config.ts";
import { DELAYS } from "./delays.ts";
import type { BenchStack } from "./local.ts";
import type { ReaderResult, ReaderTask } from "./reader.ts";

const MiB = 2 ** 20;
const READER_SCRIPT = fileURLToPath(new URL("./reader.ts", import.meta.url));

export interface ReadAheadRun {
  readonly batchBytes: number;
  readonly apiDelayMs: number;
  readonly s3DelayMs: number;
  /** MB/s of stored batches, summed over the rounds. */
  readonly withoutMbPerSec: number;
  readonly withMbPerSec: number;
  readonly fetchesPerMb: number;
}

export interface ReadAheadResult {
  readonly suite: "readAhead";
  readonly partitions: number;
  readonly mb: number;
  readonly rounds: number;
  readonly runs: ReadAheadRun[];
}

export async function runReadAheadBench(bench: BenchStack, config: BenchConfig, log: (line: string) => void): Promise<ReadAheadResult> {
  const url = bench.api.url;
  const partitions = config.concurrency;
  const mb = config.quick ? 2 : 32;
  const rounds = config.quick ? 1 : 2;
  const runs: ReadAheadRun[] = [];
  for (const batchBytes of config.batchSizes.filter((b) => b >= 65_536)) {
    const topic = `bench-read-ahead-${batchBytes}-${Date.now()}`;
    await new Admin({ url }).createTopic(topic, { partitions });
    const records = Math.round((mb * MiB) / config.recordBytes);
    const producer = new Producer({ url, batchBytes, lingerMs: 50, partitioner: "round-robin" });
    const value = new Uint8Array(config.recordBytes).fill(65);
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < records; i++) acks.push(producer.send(topic, { value }));
    await Promise.all(acks);
    await producer.close();
    for (const delay of DELAYS) {
      const sums = { with: { bytes: 0, seconds: 0 }, without: { bytes: 0, seconds: 0 }, fetches: 0 };
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? ([0, 1] as const) : ([1, 0] as const);
        for (const ahead of order) {
          const task: ReaderTask = { url, topic, partitions, records, maxPrefetchBytes: ahead ? 32 * MiB : 0, apiDelayMs: delay.apiMs, s3DelayMs: delay.s3Ms };
          const r = await runWorker<ReaderResult>(READER_SCRIPT, task, "reader");
          const side = ahead ? sums.with : sums.without;
          side.bytes += r.bytes;
          side.seconds += r.seconds;
          if (ahead) sums.fetches += r.fetches;
        }
      }
      const run: ReadAheadRun = {
        batchBytes,
        apiDelayMs: delay.apiMs,
        s3DelayMs: delay.s3Ms,
        withoutMbPerSec: sums.without.bytes / MiB / sums.without.seconds,
        withMbPerSec: sums.with.bytes / MiB / sums.with.seconds,
        fetchesPerMb: sums.fetches / (sums.with.bytes / MiB),
      };
      runs.push(run);
      log(
        `readAhead: ${batchBytes} B batches, +${delay.apiMs} ms API, +${delay.s3Ms} ms S3: ` +
          `${run.withoutMbPerSec.toFixed(1)} MB/s without fetching ahead, ${run.withMbPerSec.toFixed(1)} with`,
      );
    }
  }
  return { suite: "readAhead", partitions, mb, rounds, runs };
}
