/**
 * Interop with kafkajs, both ways, for every codec. kafkajs's batch encoder, record encoder,
 * varints, CRC-32C and decoder are its own; they share nothing with Seglog's codec. kafkajs ships
 * gzip (node:zlib) and takes the other codecs as plug-ins, registered here:
 *
 * - snappy: snappyjs for the blocks. kafkajs's side unwraps xerial framing itself and decodes with
 *   snappyjs, independent of Seglog's snappy decoder; its encoder writes raw snappy, which
 *   Seglog's decoder must read. (snappyjs also compresses blocks inside Seglog's encoder, so that
 *   half only checks framing; the Java fixtures cover snappy-java.)
 * - lz4: lz4js both ways, wholly independent of Seglog's LZ4 frame and block code.
 * - zstd: libzstd (wasm) both ways. Seglog decodes with fzstd, so kafkajs → Seglog is independent;
 *   Seglog → kafkajs shares libzstd and checks framing. The Java fixtures cover zstd-jni.
 */
import { Zstd } from "@hpcc-js/wasm-zstd";
import fc from "fast-check";
import * as lz4js from "lz4js";
import * as snappyjs from "snappyjs";
import { beforeAll, describe, expect, it } from "vitest";
import { COMPRESSIONS, decodeRecordBatch, encodeRecordBatch, loadCompressionCodecs, recordsOf, type Compression } from "../../../src/core/codec/record-batch.ts";
import { kafkajsCodecIds, kafkajsDecode, kafkajsEncode, registerKafkajsCodec, type OracleRecord } from "./kafkajs-oracle.ts";

const XERIAL_HEADER = 16;

function unxerial(data: Buffer): Buffer {
  if (data.length < XERIAL_HEADER || data[0] !== 0x82 || data.subarray(1, 7).toString() !== "SNAPPY") {
    return Buffer.from(snappyjs.uncompress(data));
  }
  const chunks: Buffer[] = [];
  for (let pos = XERIAL_HEADER; pos < data.length; ) {
    const size = data.readInt32BE(pos);
    chunks.push(Buffer.from(snappyjs.uncompress(data.subarray(pos + 4, pos + 4 + size))));
    pos += 4 + size;
  }
  return Buffer.concat(chunks);
}

beforeAll(async () => {
  await loadCompressionCodecs();
  const zstd = await Zstd.load();
  registerKafkajsCodec(2, {
    compress: async (e) => Buffer.from(snappyjs.compress(e.buffer)),
    decompress: async (b) => unxerial(b),
  });
  registerKafkajsCodec(3, {
    compress: async (e) => Buffer.from(lz4js.compress(e.buffer)),
    decompress: async (b) => Buffer.from(lz4js.decompress(b)),
  });
  registerKafkajsCodec(4, {
    compress: async (e) => Buffer.from(zstd.compress(e.buffer, 3)),
    decompress: async (b) => Buffer.from(zstd.decompress(b)),
  });
});

// kafkajs cannot encode a null header value, and keeps headers as an object keyed by name.
const oracleRecord: fc.Arbitrary<OracleRecord> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 30 }), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 300 }), { nil: null }),
  headers: fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), fc.uint8Array({ maxLength: 16 }).map((b) => Buffer.from(b)), { maxKeys: 3 }),
  timestamp: fc.integer({ min: 1_500_000_000_000, max: 1_800_000_000_000 }),
});

const norm = (b: Uint8Array | null): number[] | null => (b === null ? null : [...b]);

describe.each(COMPRESSIONS)("%s", (compression: Compression) => {
  const id = kafkajsCodecIds[compression];

  it("kafkajs decodes what Seglog encodes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(oracleRecord, { minLength: 1, maxLength: 20 }), fc.bigInt({ min: 0n, max: 2n ** 53n }), async (records, baseOffset) => {
        const ours = encodeRecordBatch({
          baseOffset,
          compression,
          producerId: 77n,
          producerEpoch: 3,
          baseSequence: 12,
          records: records.map((r) => ({
            key: r.key,
            value: r.value,
            timestamp: r.timestamp,
            headers: Object.entries(r.headers ?? {}).map(([key, value]) => ({ key, value: value as Buffer })),
          })),
        });
        const theirs = await kafkajsDecode(ours);
        expect([theirs.firstOffset, theirs.producerId, theirs.producerEpoch, theirs.firstSequence, theirs.lastOffsetDelta]).toEqual([
          baseOffset.toString(),
          "77",
          3,
          12,
          records.length - 1,
        ]);
        expect(theirs.records.map((r) => [r.offset, r.timestamp, norm(r.key), norm(r.value), Object.keys(r.headers)])).toEqual(
          records.map((r, i) => [String(baseOffset + BigInt(i)), String(r.timestamp), norm(r.key), norm(r.value), Object.keys(r.headers ?? {})]),
        );
      }),
      { numRuns: 25 },
    );
  });

  it("Seglog decodes what kafkajs encodes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(oracleRecord, { minLength: 1, maxLength: 20 }), async (records) => {
        const batch = decodeRecordBatch(await kafkajsEncode(records, { compression: id, baseOffset: 5n }));
        expect(batch.compression).toBe(compression);
        expect(recordsOf(batch).map((r) => [r.offset, r.timestamp, norm(r.key), norm(r.value), r.headers.map((h) => [h.key, norm(h.value)])])).toEqual(
          records.map((r, i) => [
            5n + BigInt(i),
            r.timestamp,
            norm(r.key),
            norm(r.value),
            Object.entries(r.headers ?? {}).map(([k, v]) => [k, norm(v as Buffer)]),
          ]),
        );
      }),
      { numRuns: 25 },
    );
  });
});

it("produces the same bytes as kafkajs when the inputs match field for field", async () => {
  const records: OracleRecord[] = [
    { key: Buffer.from("k1"), value: Buffer.from("v1"), headers: { h: Buffer.from("x") }, timestamp: 1_600_000_000_000 },
    { key: null, value: Buffer.from("v2"), timestamp: 1_600_000_000_010 },
  ];
  const theirs = await kafkajsEncode(records, { baseOffset: 9n, producerEpoch: 0, baseSequence: 0 });
  const ours = encodeRecordBatch({
    baseOffset: 9n,
    producerEpoch: 0,
    baseSequence: 0,
    partitionLeaderEpoch: 0, // kafkajs writes 0 where the Java client writes −1
    records: records.map((r) => ({ key: r.key, value: r.value, timestamp: r.timestamp, headers: Object.entries(r.headers ?? {}).map(([key, value]) => ({ key, value: value as Buffer })) })),
  });
  expect(Buffer.from(ours).toString("hex")).toBe(theirs.toString("hex"));
});
