/**
 * A consumer of many partitions at the tail: what one fetch's long poll of 100 partitions costs
 * the fetch side while nothing arrives (its CPU, and the DynamoDB calls of each look), as
 * `Reader.locateMany` looks again every `pollIntervalMs` (100 ms).
 */
import { Log } from "../src/log/log.ts";
import { createClients } from "../src/storage/clients.ts";
import type { BenchStack } from "./local.ts";
import { callScope, type SdkCalls } from "./sdk-calls.ts";

export interface WidePollResult {
  readonly partitions: number;
  readonly polls: number;
  readonly waitMs: number;
  readonly wallMs: number;
  readonly cpuMs: number;
  readonly calls: Record<string, number>;
  readonly readUnits: number;
}

export async function runWidePollBench(bench: BenchStack, sdk: SdkCalls, polls: number, log: (line: string) => void): Promise<WidePollResult> {
  const partitions = 100;
  const waitMs = 2_000;
  const { dynamo, s3 } = createClients(bench.stack.env);
  const reader = new Log({ dynamo, s3, bucket: bench.stack.bucket, table: bench.stack.table });
  const topic = `bench-wide-${Date.now().toString(36)}`;
  await reader.createTopic({ name: topic, partitions });
  await reader.produceRecords(topic, Array.from({ length: partitions }, (_, partition) => ({ key: null, value: Buffer.alloc(100, 97), partition })));
  // As maintenance leaves a partition every 5 minutes: its stable hint at its end.
  await reader.runMaintenance({ topics: [topic] });
  const { partitions: ends } = await reader.describeTopic(topic);
  const wants = ends.map((p) => ({ partition: p.partition, offset: p.highWatermark }));
  await reader.locateMany(topic, wants, { maxWaitMs: 0 }); // the topic read and kept
  log(`wide poll: ${polls} long polls of ${partitions} partitions at the tail, ${waitMs} ms each`);
  sdk.take();
  const cpu = process.cpuUsage();
  const started = performance.now();
  await callScope.run("widePoll", async () => {
    for (let i = 0; i < polls; i++) await reader.locateMany(topic, wants, { maxWaitMs: waitMs });
  });
  const used = process.cpuUsage(cpu);
  const tally = sdk.take()["widePoll"];
  dynamo.destroy();
  s3.destroy();
  return {
    partitions,
    polls,
    waitMs,
    wallMs: Math.round(performance.now() - started),
    cpuMs: Math.round((used.user + used.system) / 1000),
    calls: tally?.calls ?? {},
    readUnits: tally?.readUnits ?? 0,
  };
}
