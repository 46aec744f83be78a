import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  BatchBuilder,
  COMPRESSIONS,
  decodeRecordBatch,
  encodeRecordBatch,
  iterateBatches,
  loadCompressionCodecs,
  patchBaseOffset,
  readBatchHeader,
  recordsOf,
  verifyCrc,
  type Compression,
  type KafkaHeader,
  type RecordInput,
} from "../../../src/core/codec/record-batch.ts";
import { crc32c } from "../../../src/core/codec/crc32c.ts";
import { FRAME_HEADER_BYTES, buildFrame, parseFrames } from "../../../src/core/frames.ts";
import { isSeglogError, type SeglogError } from "../../../src/core/errors.ts";
import { multiBlockRecords, smallRecords, type FixtureRecord } from "../../fixtures/codec/fixture-records.ts";

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "../../fixtures/codec");
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(join(fixtures, name)));
const text = (b: Uint8Array | null): string | null => (b === null ? null : Buffer.from(b).toString());
const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

function thrown(fn: () => unknown): SeglogError {
  try {
    fn();
  } catch (e) {
    if (isSeglogError(e)) return e;
    throw new Error(`untyped error: ${String(e)}`, { cause: e });
  }
  throw new Error("did not throw");
}

beforeAll(() => loadCompressionCodecs());

describe("saved fixtures from independent producers", () => {
  it("reads six uncompressed batches from the Java (Scala) producer, back to back", () => {
    const all = fixture("external/kafkajs-v4-from-scala-producer-response.bin");
    const batches = [...iterateBatches(all)];
    expect(batches).toHaveLength(6);
    batches.forEach(({ header, bytes: b }, i) => {
      expect(header.baseOffset).toBe(BigInt(i));
      expect(header.producerId).toBe(-1n);
      expect(header.producerEpoch).toBe(-1);
      expect(header.baseSequence).toBe(-1);
      expect(verifyCrc(b)).toBe(true);
      const [r] = recordsOf(decodeRecordBatch(b));
      expect(r!.offset).toBe(BigInt(i));
      expect(text(r!.key)).toBe(`KEY-${i + 1}`);
      expect(text(r!.value)).toBe(`VALUE-Lorem ipsum dolor sit amet-${i + 1}`);
    });
    expect(recordsOf(decodeRecordBatch(batches[0]!.bytes))[0]!.timestamp).toBe(1539644731680);
  });

  it("reads kafkajs batches with headers, gzip (two batches) and raw snappy", () => {
    const plain = recordsOf(decodeRecordBatch(fixture("external/kafkajs-v4-response.bin")));
    expect(plain.map((r) => [r.offset, text(r.key), text(r.value), r.headers.map((h) => [h.key, text(h.value)])])).toEqual(
      [0, 1, 2].map((i) => [BigInt(i), `key-${i}`, `some-value-${i}`, [[`header-key-${i}`, `header-value-${i}`]]]),
    );
    const gz = [...iterateBatches(fixture("external/kafkajs-v4-response-gzip.bin"))].flatMap(({ bytes: b }) =>
      recordsOf(decodeRecordBatch(b)),
    );
    expect(gz.map((r) => [r.offset, text(r.value)])).toEqual([
      [0n, "some-value-0"],
      [1n, "some-value-1"],
      [2n, "some-value-2"],
      [3n, "some-value-1"],
      [4n, "some-value-2"],
      [5n, "some-value-3"],
    ]);
    const [snappy] = recordsOf(decodeRecordBatch(fixture("external/kafkajs-v4-response-snappy.bin")));
    expect([text(snappy!.key), text(snappy!.value)]).toEqual(["key-149", "value-149-2019-02-04T15:13:48.187Z"]);
  });

  it.each(["uncompressed", "gzip", "snappy", "lz4"])("reads Sarama's %s batch", (name) => {
    const batch = decodeRecordBatch(fixture(`external/sarama-${name}.bin`));
    const [r] = recordsOf(batch);
    expect(r!.timestamp).toBe(1479847795005);
    expect([...r!.key!]).toEqual([1, 2, 3, 4]);
    expect([...r!.value!]).toEqual([5, 6, 7]);
    expect(r!.headers.map((h) => [h.key, [...h.value!]])).toEqual([["\u0008\u0009\u000a", [11, 12]]]);
  });

  it("reads Sarama's empty and control batches", () => {
    expect(decodeRecordBatch(fixture("external/sarama-empty.bin")).records).toEqual([]);
    const control = decodeRecordBatch(fixture("external/sarama-control.bin"));
    expect([control.isControl, control.records.length]).toEqual([true, 0]);
  });

  const expectRecords = (actual: ReturnType<typeof recordsOf>, expected: FixtureRecord[]): void => {
    expect(actual.map((r) => [r.offset, r.timestamp, text(r.key), text(r.value), r.headers.map((h) => [h.key, text(h.value)])])).toEqual(
      expected.map((r, i) => [BigInt(i), r.timestamp, r.key, r.value, Object.entries(r.headers)]),
    );
  };

  it.each(["gzip", "snappy", "lz4", "zstd"])("reads %s compressed by Kafka's Java libraries", (codec) => {
    const small = decodeRecordBatch(fixture(`java-${codec}-small.bin`));
    expect(small.compression).toBe(codec);
    expectRecords(recordsOf(small), smallRecords());
    expectRecords(recordsOf(decodeRecordBatch(fixture(`java-${codec}-multiblock.bin`))), multiBlockRecords());
  });
});

const header: fc.Arbitrary<KafkaHeader> = fc.record({
  key: fc.string({ maxLength: 12, unit: "grapheme" }),
  value: fc.option(fc.uint8Array({ maxLength: 20 }), { nil: null }),
});
const record: fc.Arbitrary<RecordInput> = fc.record({
  key: fc.option(fc.uint8Array({ maxLength: 30 }), { nil: null }),
  value: fc.option(fc.uint8Array({ maxLength: 200 }), { nil: null }),
  headers: fc.array(header, { maxLength: 3 }),
  timestamp: fc.integer({ min: 0, max: 2 ** 45 }),
});
const batchInput = fc.record({
  records: fc.array(record, { minLength: 1, maxLength: 25 }),
  compression: fc.constantFrom<Compression>(...COMPRESSIONS),
  baseOffset: fc.bigInt({ min: 0n, max: 2n ** 62n }),
  producerId: fc.bigInt({ min: -1n, max: 2n ** 62n }),
  producerEpoch: fc.integer({ min: -1, max: 0x7fff }),
  baseSequence: fc.integer({ min: -1, max: 0x7fffffff }),
  partitionLeaderEpoch: fc.integer({ min: -1, max: 1000 }),
  isTransactional: fc.boolean(),
});

describe("encode → decode", () => {
  it("round-trips random batches with every codec", () => {
    fc.assert(
      fc.property(batchInput, (input) => {
        const batch = decodeRecordBatch(encodeRecordBatch(input));
        expect(batch).toMatchObject({
          baseOffset: input.baseOffset,
          compression: input.compression,
          producerId: input.producerId,
          producerEpoch: input.producerEpoch,
          baseSequence: input.baseSequence,
          partitionLeaderEpoch: input.partitionLeaderEpoch,
          isTransactional: input.isTransactional,
          isControl: false,
          timestampType: "create",
          lastOffsetDelta: input.records.length - 1,
          recordCount: input.records.length,
          baseTimestamp: BigInt(input.records[0]!.timestamp!),
          maxTimestamp: BigInt(Math.max(...input.records.map((r) => r.timestamp!))),
        });
        const out = recordsOf(batch);
        expect(out.map((r) => ({ ...r, key: r.key && [...r.key], value: r.value && [...r.value], headers: r.headers.map((h) => ({ key: h.key, value: h.value && [...h.value] })) }))).toEqual(
          input.records.map((r, i) => ({
            offset: input.baseOffset + BigInt(i),
            timestamp: r.timestamp,
            key: r.key ? [...r.key] : null,
            value: r.value ? [...r.value] : null,
            headers: (r.headers ?? []).map((h) => ({ key: h.key, value: h.value && [...h.value] })),
          })),
        );
      }),
      { numRuns: 150 },
    );
  });

  it("builds a batch record by record into a produce frame, behind its partition, byte for byte as encoded whole, with every codec", () => {
    fc.assert(
      fc.property(batchInput, fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 0, max: 64 }), (input, partition, capacity) => {
        // From little room (it grows as records come) or some.
        const builder = new BatchBuilder(capacity, FRAME_HEADER_BYTES);
        for (const r of input.records) builder.append({ key: r.key ?? null, value: r.value, timestamp: r.timestamp!, headers: r.headers });
        const frame = buildFrame(partition, builder, input);
        const frames = parseFrames(frame);
        expect(frames.map((f) => f.partition)).toEqual([partition]);
        // Compressed bytes are the same too: the codecs are deterministic.
        expect(Buffer.from(frames[0]?.bytes ?? []).equals(Buffer.from(encodeRecordBatch(input)))).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it("a builder writes text as its UTF-8 bytes, and a record it refuses leaves the batch as it was", () => {
    const builder = new BatchBuilder(0);
    builder.append({ key: "clé", value: "välue", timestamp: 10, headers: [{ key: "h", value: "ünï" }] });
    const size = builder.bytes;
    expect(thrown(() => builder.append({ key: null, value: 5 as unknown as string, timestamp: 11 })).code).toBe("InvalidBatch");
    expect(thrown(() => builder.append({ key: null, value: "v", timestamp: 2 ** 53 })).code).toBe("InvalidBatch");
    expect(builder.bytes).toBe(size);
    builder.append({ key: bytes("k"), value: null, timestamp: 7 });
    const fromBytes = encodeRecordBatch({
      records: [
        { key: bytes("clé"), value: bytes("välue"), timestamp: 10, headers: [{ key: "h", value: bytes("ünï") }] },
        { key: bytes("k"), value: null, timestamp: 7 },
      ],
    });
    expect(Buffer.from(builder.build()).equals(Buffer.from(fromBytes))).toBe(true);
    expect(thrown(() => new BatchBuilder(10).build()).code).toBe("InvalidBatch");
  });

  it("refuses a batch past 2 GiB, or a header key that is not text, as InvalidBatch before writing any of it", () => {
    const mib = new Uint8Array(1024 * 1024);
    const huge = Array.from({ length: 2100 }, () => ({ key: null, value: mib, timestamp: 1 }));
    expect(thrown(() => encodeRecordBatch({ records: huge })).code).toBe("InvalidBatch");
    const badKey = [{ key: null, value: null, timestamp: 1, headers: [{ key: 5 as unknown as string, value: null }] }];
    expect(thrown(() => encodeRecordBatch({ records: badKey })).code).toBe("InvalidBatch");
  });

  it("keeps null and empty keys, values and header values apart", () => {
    const batch = decodeRecordBatch(
      encodeRecordBatch({
        records: [
          { key: null, value: null, headers: [{ key: "", value: null }] },
          { key: new Uint8Array(0), value: new Uint8Array(0), headers: [{ key: "h", value: new Uint8Array(0) }] },
        ],
        defaultTimestamp: 5,
      }),
    );
    const [a, b] = batch.records;
    expect([a!.key, a!.value, a!.headers[0]!.value]).toEqual([null, null, null]);
    expect([b!.key?.length, b!.value?.length, b!.headers[0]!.value?.length]).toEqual([0, 0, 0]);
    expect([a!.headers[0]!.key, b!.headers[0]!.key]).toEqual(["", "h"]);
  });

  it("keeps repeated header keys in order", () => {
    const headers = [
      { key: "a", value: bytes("1") },
      { key: "b", value: bytes("2") },
      { key: "a", value: bytes("3") },
    ];
    const [r] = decodeRecordBatch(encodeRecordBatch({ records: [{ value: null, headers, timestamp: 1 }] })).records;
    expect(r!.headers.map((h) => [h.key, text(h.value)])).toEqual([
      ["a", "1"],
      ["b", "2"],
      ["a", "3"],
    ]);
  });

  it("writes Java's defaults: producer fields and leader epoch −1, baseTimestamp = first record's", () => {
    const b = encodeRecordBatch({ records: [{ value: null, timestamp: 50 }, { value: null, timestamp: 10 }] });
    const h = readBatchHeader(b);
    expect([h.producerId, h.producerEpoch, h.baseSequence, h.partitionLeaderEpoch]).toEqual([-1n, -1, -1, -1]);
    expect([h.baseTimestamp, h.maxTimestamp, h.attributes]).toEqual([50n, 50n, 0]);
    expect(decodeRecordBatch(b).records.map((r) => r.timestampDelta)).toEqual([0, -40]);
  });

  it("gives logAppend batches the batch's maxTimestamp for every record", () => {
    const b = encodeRecordBatch({ records: [{ value: null, timestamp: 1 }, { value: null, timestamp: 9 }], timestampType: "logAppend" });
    const batch = decodeRecordBatch(b);
    expect(batch.attributes & 0x08).toBe(0x08);
    expect(recordsOf(batch).map((r) => r.timestamp)).toEqual([9, 9]);
  });

  it("defaults missing timestamps to defaultTimestamp", () => {
    const b = decodeRecordBatch(encodeRecordBatch({ records: [{ value: null }, { value: null, timestamp: 7 }], defaultTimestamp: 3 }));
    expect(recordsOf(b).map((r) => r.timestamp)).toEqual([3, 7]);
  });

  it("rejects bad input with Invalid", () => {
    for (const input of [
      { records: [] },
      { records: [{ value: null, timestamp: 1.5 }] },
      { records: [{ value: null }], producerEpoch: 70000 },
      { records: [{ value: null }], baseOffset: 2n ** 63n },
      { records: [{ value: "text" as unknown as Uint8Array }] },
    ]) {
      expect(thrown(() => encodeRecordBatch(input)).kind).toBe("Invalid");
    }
  });
});

describe("header-level operations", () => {
  const three = (): Uint8Array[] =>
    ["a", "b", "c"].map((v, i) => encodeRecordBatch({ baseOffset: i * 10, records: [{ value: bytes(v) }, { value: bytes(v + v) }], compression: COMPRESSIONS[i]! }));

  it("patchBaseOffset keeps the CRC valid and moves every offset", () => {
    const b = encodeRecordBatch({ records: [{ value: bytes("x") }, { value: bytes("y") }], compression: "lz4" });
    const crcBefore = readBatchHeader(b).crc;
    patchBaseOffset(b, 1234567890123n);
    expect(readBatchHeader(b).crc).toBe(crcBefore);
    expect(verifyCrc(b)).toBe(true);
    expect(recordsOf(decodeRecordBatch(b)).map((r) => r.offset)).toEqual([1234567890123n, 1234567890124n]);
    expect(thrown(() => patchBaseOffset(b, -1n)).kind).toBe("Invalid");
  });

  it("iterateBatches walks batches back to back and rejects a truncated tail", () => {
    const parts = three();
    const all = Buffer.concat(parts);
    const seen = [...iterateBatches(all)];
    expect(seen.map((s) => [s.header.baseOffset, s.header.compression, s.bytes.length])).toEqual(
      parts.map((p, i) => [BigInt(i * 10), COMPRESSIONS[i], p.length]),
    );
    expect(seen.flatMap((s) => recordsOf(decodeRecordBatch(s.bytes)).map((r) => `${r.offset}:${text(r.value)}`))).toEqual([
      "0:a",
      "1:aa",
      "10:b",
      "11:bb",
      "20:c",
      "21:cc",
    ]);
    for (const cut of [1, 12, 60, parts[2]!.length - 1]) {
      expect(thrown(() => [...iterateBatches(all.subarray(0, all.length - cut))]).code).toBe("CorruptRecord");
    }
    expect([...iterateBatches(new Uint8Array(0))]).toEqual([]);
  });

  it("verifyCrc spots a flipped bit that decodeRecordBatch(verifyCrc: false) would not", () => {
    const b = encodeRecordBatch({ records: [{ value: bytes("hello") }] });
    b[b.length - 2]! ^= 1;
    expect(verifyCrc(b)).toBe(false);
    expect(thrown(() => decodeRecordBatch(b)).message).toMatch(/CRC/);
    expect(text(decodeRecordBatch(b, { verifyCrc: false }).records[0]!.value)).not.toBe("hello");
  });

  it("applies maxRecords and maxUncompressedBytes as TooLarge", () => {
    const records = Array.from({ length: 50 }, () => ({ value: new Uint8Array(1000) }));
    expect(thrown(() => decodeRecordBatch(encodeRecordBatch({ records }), { maxRecords: 49 })).code).toBe("TooManyRecords");
    const zipped = encodeRecordBatch({ records, compression: "gzip" });
    expect(thrown(() => decodeRecordBatch(zipped, { maxUncompressedBytes: 10_000 })).kind).toBe("TooLarge");
    expect(decodeRecordBatch(zipped, { maxUncompressedBytes: 60_000 }).records).toHaveLength(50);
  });

  it("rejects other magic values, unknown codecs and trailing bytes", () => {
    const b = encodeRecordBatch({ records: [{ value: null }] });
    const magic1 = Uint8Array.from(b);
    magic1[16] = 1;
    expect(thrown(() => readBatchHeader(magic1)).message).toMatch(/magic 1/);
    const codec7 = Uint8Array.from(b);
    codec7[22] = 7;
    expect(thrown(() => readBatchHeader(codec7)).message).toMatch(/compression id 7/);
    expect(thrown(() => decodeRecordBatch(Buffer.concat([b, Buffer.from([0])]))).message).toMatch(/trailing/);
  });
});

describe("corrupt input", () => {
  const expectTypedOrDecoded = (input: Uint8Array, options?: { verifyCrc: false }): void => {
    try {
      decodeRecordBatch(input, options);
    } catch (e) {
      expect(isSeglogError(e), String(e)).toBe(true);
      expect(["Invalid", "TooLarge"]).toContain((e as SeglogError).kind);
    }
  };

  it("rejects every truncation with CorruptRecord", () => {
    fc.assert(
      fc.property(batchInput, fc.nat(), (input, n) => {
        const b = encodeRecordBatch(input);
        const e = thrown(() => decodeRecordBatch(b.subarray(0, n % b.length)));
        expect([e.kind, e.code]).toEqual(["Invalid", "CorruptRecord"]);
      }),
      { numRuns: 150 },
    );
  });

  it("rejects any single bit flip from the magic byte on (CRC-32C detects every 1-bit error)", () => {
    fc.assert(
      fc.property(batchInput, fc.nat(), fc.integer({ min: 0, max: 7 }), (input, at, bit) => {
        const b = encodeRecordBatch(input);
        // baseOffset and partitionLeaderEpoch (bytes 0–15) are outside the CRC by design.
        b[16 + (at % (b.length - 16))]! ^= 1 << bit;
        const e = thrown(() => decodeRecordBatch(b));
        expect(e.kind).toBe("Invalid");
      }),
      { numRuns: 150 },
    );
  });

  it("survives bit flips behind a recomputed CRC: typed errors only, no hangs", () => {
    fc.assert(
      fc.property(batchInput, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 7 })), { minLength: 1, maxLength: 4 }), (input, flips) => {
        const b = encodeRecordBatch(input);
        for (const [at, bit] of flips) b[21 + (at % (b.length - 21))]! ^= 1 << bit;
        new DataView(b.buffer, b.byteOffset).setUint32(17, crc32c(b, 21));
        expectTypedOrDecoded(b);
      }),
      { numRuns: 400 },
    );
  });

  it("survives arbitrary bytes behind a valid-looking header", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 400 }), fc.constantFrom(0, 1, 2, 3, 4), fc.integer({ min: -2, max: 1_000_000 }), (body, codec, count) => {
        const b = Buffer.alloc(61 + body.length);
        b.writeInt32BE(49 + body.length, 8);
        b[16] = 2;
        b.writeInt16BE(codec, 21);
        b.writeInt32BE(count, 57);
        b.set(body, 61);
        expectTypedOrDecoded(b, { verifyCrc: false });
      }),
      { numRuns: 400 },
    );
  });
});
