/**
 * Codec throughput: encode and decode of ~1 MB RecordBatches of 1 KiB records, no compression,
 * Seglog's codec against kafkajs's own RecordBatch encoder/decoder in the same process.
 *
 * - encode: from plain records to batch bytes. kafkajs: `Record()` per message + `RecordBatch()`
 *   (its producer path); Seglog: `encodeRecordBatch`.
 * - decode: from batch bytes to records with absolute offsets and timestamps. kafkajs: its fetch
 *   v4+ batch decoder, which never checks the CRC. Seglog: `decodeRecordBatch` + `recordsOf`,
 *   measured twice: `decode` verifies the CRC-32C (the default), `decodeNoCrc` does the same work
 *   as kafkajs (`verifyCrc: false`, for bytes already verified on append).
 *
 * Each operation warms up, then all are timed round-robin, one run each per round; medians.
 */
import { randomBytes } from "node:crypto";
import { crc32c } from "../src/core/codec/crc32c.ts";
import { decodeRecordBatch, encodeRecordBatch, recordsOf, type RecordInput } from "../src/core/codec/record-batch.ts";
import { kafkajsDecode, kafkajsEncode, type OracleRecord } from "../test/unit/codec/kafkajs-oracle.ts";

export interface Measurement {
  /** Median milliseconds per batch. */
  msPerBatch: number;
  /** Batch bytes per second, in MB (10^6 bytes). */
  mbPerSec: number;
  recordsPerSec: number;
}

export interface CodecBenchResult {
  suite: "codec";
  batchBytes: number;
  recordCount: number;
  valueBytes: number;
  warmupIterations: number;
  iterations: number;
  seglog: { encode: Measurement; decode: Measurement; decodeNoCrc: Measurement; crc32c: Measurement };
  kafkajs: { encode: Measurement; decode: Measurement };
  /**
   * Seglog throughput over kafkajs throughput (higher is better for Seglog). `decode` counts
   * Seglog's CRC check, which kafkajs skips; `decodeSameWork` compares without it.
   */
  ratio: { encode: number; decode: number; decodeSameWork: number };
}

export interface CodecBenchOptions {
  /** @default 1024 */
  recordCount?: number;
  /** @default 1024 */
  valueBytes?: number;
  /** @default 30 */
  warmupIterations?: number;
  /** @default 60 */
  iterations?: number;
}

/**
 * Times the operations round-robin (one run of each per round) so that GC and JIT phases fall on
 * all of them alike, then reports each one's median.
 */
async function measureAll<K extends string>(
  ops: Record<K, () => unknown>,
  batchBytes: number,
  recordCount: number,
  warmup: number,
  iterations: number,
): Promise<Record<K, Measurement>> {
  const names = Object.keys(ops) as K[];
  for (const name of names) for (let i = 0; i < warmup; i++) await ops[name]();
  const samples = new Map<K, number[]>(names.map((n) => [n, []]));
  for (let i = 0; i < iterations; i++) {
    for (const name of names) {
      const start = process.hrtime.bigint();
      await ops[name]();
      samples.get(name)!.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
  }
  const result = {} as Record<K, Measurement>;
  for (const name of names) {
    const sorted = samples.get(name)!.sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    const ms = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    result[name] = { msPerBatch: ms, mbPerSec: batchBytes / 1e6 / (ms / 1000), recordsPerSec: recordCount / (ms / 1000) };
  }
  return result;
}

export async function runCodecBench(options: CodecBenchOptions = {}): Promise<CodecBenchResult> {
  const recordCount = options.recordCount ?? 1024;
  const valueBytes = options.valueBytes ?? 1024;
  const warmup = options.warmupIterations ?? 30;
  const iterations = options.iterations ?? 60;
  const timestamp = 1_700_000_000_000;
  const records: RecordInput[] = [];
  const oracleRecords: OracleRecord[] = [];
  for (let i = 0; i < recordCount; i++) {
    const key = new TextEncoder().encode(`key-${i}`);
    const value = randomBytes(valueBytes);
    records.push({ key, value, timestamp: timestamp + i });
    oracleRecords.push({ key, value, timestamp: timestamp + i });
  }
  const ours = encodeRecordBatch({ records });
  const theirs = await kafkajsEncode(oracleRecords);
  // Both must read the same bytes the same way before their speed means anything.
  const check = await kafkajsDecode(ours);
  if (check.records.length !== recordCount || decodeRecordBatch(theirs).records.length !== recordCount) {
    throw new Error("codec bench: the two implementations disagree");
  }
  const batchBytes = ours.length;
  let sink = 0;
  const m = await measureAll(
    {
      seglogEncode: () => encodeRecordBatch({ records }),
      kafkajsEncode: () => kafkajsEncode(oracleRecords),
      seglogDecode: () => (sink += recordsOf(decodeRecordBatch(ours)).length),
      seglogDecodeNoCrc: () => (sink += recordsOf(decodeRecordBatch(ours, { verifyCrc: false })).length),
      kafkajsDecode: async () => (sink += (await kafkajsDecode(ours)).records.length),
      crc32c: () => (sink += crc32c(ours, 21)),
    },
    batchBytes,
    recordCount,
    warmup,
    iterations,
  );
  if (sink === 0) throw new Error("codec bench decoded nothing");
  return {
    suite: "codec",
    batchBytes,
    recordCount,
    valueBytes,
    warmupIterations: warmup,
    iterations,
    seglog: { encode: m.seglogEncode, decode: m.seglogDecode, decodeNoCrc: m.seglogDecodeNoCrc, crc32c: m.crc32c },
    kafkajs: { encode: m.kafkajsEncode, decode: m.kafkajsDecode },
    ratio: {
      encode: m.seglogEncode.mbPerSec / m.kafkajsEncode.mbPerSec,
      decode: m.seglogDecode.mbPerSec / m.kafkajsDecode.mbPerSec,
      decodeSameWork: m.seglogDecodeNoCrc.mbPerSec / m.kafkajsDecode.mbPerSec,
    },
  };
}
