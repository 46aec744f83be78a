/**
 * Generators of bad input for the HTTP fuzz tests: JSON text that is broken or of the wrong shape,
 * numbers JSON.stringify cannot write (1e400, 1.0, 30 digits), names outside the topic rule, query
 * strings, base64 that is not, and binary produce bodies built from valid RecordBatches and then
 * truncated, bit-flipped, or re-checksummed after a field was changed (so that the damage gets
 * past the CRC into the structure checks). Each generator mixes in valid values too, so that the
 * routes' success paths are exercised as well.
 */
import fc from "fast-check";
import { CRC_START } from "../../src/core/codec/batch-header.ts";
import { crc32c } from "../../src/core/codec/crc32c.ts";
import { encodeRecordBatch, type Compression } from "../../src/core/codec/record-batch.ts";
import { buildFrames } from "../../src/core/frames.ts";

/** A JSON token written into the body as is. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** JSON.stringify, except that `RawJson` values are written verbatim (and `undefined` drops a key). */
export function jsonText(value: unknown): string {
  const raws: string[] = [];
  const text = JSON.stringify(value, (_key, v: unknown) => (v instanceof RawJson ? `@@raw${raws.push(v.text) - 1}@@` : v));
  return (text ?? "").replace(/"@@raw(\d+)@@"/g, (_, i: string) => raws[Number(i)] ?? "");
}

/** Leaves a key out of the object. */
export const absent = fc.constant(undefined);

/** Numbers at and past every boundary a route checks, and literals only a parser sees. */
export const oddNumber: fc.Arbitrary<number | RawJson> = fc.oneof(
  fc.constantFrom(-1, -0, 0.5, 1.5, -(2 ** 31), 2 ** 31 - 1, 2 ** 31, 2 ** 32, 2 ** 53, 2 ** 53 + 2, 1e21, -1e21),
  fc.constantFrom(Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, Number.MAX_VALUE, Number.MIN_VALUE, -Number.MAX_VALUE),
  fc.constantFrom("1e400", "-1e400", "1.0", "1E2", "-0.0", "123456789012345678901234567890", "1e-7", "0.1e1").map((t) => new RawJson(t)),
  fc.integer({ min: -(2 ** 31), max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.bigInt({ min: 2n ** 53n, max: 2n ** 70n }).map((n) => new RawJson(n.toString())),
);

/** Any JSON value of a small size, some of it odd. */
export const anyJson: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, "", "x", [], {}),
  oddNumber,
  fc.string({ maxLength: 12 }),
  fc.json({ maxDepth: 2 }).map((t) => new RawJson(t)),
);

/** Mostly `valid`, one time in ten `bad`: for requests whose many fields should seldom all be wrong. */
export const mostly = (valid: fc.Arbitrary<unknown>, bad: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 9, arbitrary: valid }, { weight: 1, arbitrary: bad });

/** Everything that is not a JSON string. */
export const notAString: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, [], {}, ["a"], { a: "b" }),
  oddNumber,
  fc.integer({ min: 0, max: 10 }),
);

/**
 * An integer field: mostly in the valid range (or left out), otherwise out of range or of the
 * wrong type. With several such fields per request, most requests carry one or two bad values,
 * so each check is reached on its own as well as together with others.
 */
export function intField(valid: fc.Arbitrary<number>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 7, arbitrary: valid },
    { weight: 1, arbitrary: absent },
    {
      weight: 2,
      arbitrary: fc.oneof(
        { weight: 3, arbitrary: oddNumber },
        { weight: 1, arbitrary: fc.oneof(fc.integer().map(String), fc.constantFrom("1", "-1", "0x10", "")) },
        { weight: 1, arbitrary: fc.constantFrom(null, true, [], {}, [1]) },
      ),
    },
  );
}

/** A string that JSON.parse refuses, or JSON that is not an object. */
export const brokenJsonText: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom("", " ", "{", "}", "{]", "[1,2]", "null", "123", '"str"', "true", "{'a':1}", '{"a":1,}', '{"a" 1}', "\u0000", "\ufeff{}"),
  fc.constantFrom('{"a":1e400}', '{"records":[{"value":"x"}]', '{"name":"x"}}', "[".repeat(5000) + "]".repeat(5000)),
  fc.string({ maxLength: 30 }),
  fc.json({ maxDepth: 2 }).filter((t) => !t.startsWith("{")),
  fc.json({ maxDepth: 3 }).chain((t) => fc.nat({ max: Math.max(0, t.length - 1) }).map((n) => t.slice(0, n))),
  fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b).toString("latin1")),
);

/** Extra keys that no route accepts, sometimes. */
export const extraKeys: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({}) },
  {
    weight: 1,
    arbitrary: fc.dictionary(
      fc.oneof(fc.string({ minLength: 1, maxLength: 8 }), fc.constantFrom("__proto__", "constructor", "toString", "Records", "")),
      anyJson,
      { minKeys: 1, maxKeys: 2 },
    ),
  },
);

const NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** Names outside `[a-zA-Z0-9._-]{1,249}`, or exactly `.` and `..`; some break percent-decoding. */
export const badName: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom("", ".", "..", "a b", "a/b", "a#b", "a%b", "ü", "😀", "a\u0000b", "%", "%zz", "%2e", "%2e%2e", "a+b", "a?b", "a\nb", "a:b", "*"),
    fc.constantFrom("a".repeat(250), "b".repeat(1000), `${"a".repeat(249)}#`),
    fc.string({ minLength: 1, maxLength: 20 }),
    fc.string({ unit: "grapheme", minLength: 1, maxLength: 8 }),
  )
  .filter((s) => !NAME.test(s) || s === "." || s === "..");

/** Shapes a name into a path segment by `how` (0–19): mostly encoded, else raw, double-encoded or with a broken escape. */
export function segment(name: string, how: number): string {
  if (how < 15) return encodeURIComponent(name);
  if (how < 17) return name;
  if (how < 19) return encodeURIComponent(encodeURIComponent(name));
  return `${encodeURIComponent(name)}%`;
}

/** Query-string values: integers in and out of range, and strings no integer parser should take. */
export function queryInt(valid: fc.Arbitrary<number>): fc.Arbitrary<string | undefined> {
  return fc.oneof(
    { weight: 7, arbitrary: valid.map(String) },
    { weight: 1, arbitrary: absent },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.constantFrom("", "-1", "-0", "abc", "1.5", "1e3", " 1", "1 ", "+1", "0x10", "١", "NaN", "Infinity", "9".repeat(30), "00", "9007199254740993"),
        fc.integer({ min: -(2 ** 40), max: -1 }).map(String),
        fc.bigInt({ min: 2n ** 53n, max: 2n ** 80n }).map(String),
        fc.string({ maxLength: 6 }),
      ),
    },
  );
}

const BASE64_GOOD = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strings that look like base64 and are not (missing padding, stray characters, URL alphabet). */
export const badBase64: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom("YQ", "YQ=", "a===", "ab=c", "@@@@", "YW Jj", "YWJj\n", "-_-_", "====", "YWJjZA=", "Y"),
    fc.string({ minLength: 1, maxLength: 12 }),
  )
  .filter((s) => !BASE64_GOOD.test(s));

/** Valid base64 of random bytes. */
export const goodBase64: fc.Arbitrary<string> = fc.uint8Array({ maxLength: 24 }).map((b) => Buffer.from(b).toString("base64"));

/** A body past the 6 MB a Lambda function accepts, built once. */
let oversized: string | undefined;
export const oversizedText = (): string => (oversized ??= `{"records":[{"value":"${"x".repeat(6 * 1024 * 1024)}"}]}`);

// ---- Binary produce bodies ----------------------------------------------------------------

/** Byte positions of a RecordBatch v2 header's fields (see src/core/codec/batch-header.ts). */
const FIELDS = {
  batchLength: [8, 4],
  partitionLeaderEpoch: [12, 4],
  magic: [16, 1],
  attributes: [21, 2],
  lastOffsetDelta: [23, 4],
  baseTimestamp: [27, 8],
  maxTimestamp: [35, 8],
  producerId: [43, 8],
  producerEpoch: [51, 2],
  baseSequence: [53, 4],
  recordCount: [57, 4],
} as const satisfies Record<string, readonly [number, number]>;

export type BatchField = keyof typeof FIELDS;

export interface BatchSpec {
  readonly records: ReadonlyArray<{ key: Uint8Array | null; value: Uint8Array | null }>;
  readonly compression: Compression;
  /** -1: not idempotent. */
  readonly producerId: number;
  readonly producerEpoch: number;
  readonly baseSequence: number;
}

/** How one frame is damaged after it was encoded. */
export type Damage =
  | { readonly kind: "none" }
  | { readonly kind: "truncate"; readonly keep: number }
  | { readonly kind: "flip"; readonly bits: readonly number[] }
  /** Flips bits after the CRC's start and writes the right CRC, so the structure checks see it. */
  | { readonly kind: "flipResum"; readonly bits: readonly number[] }
  /** Writes a header field and the right CRC. */
  | { readonly kind: "poke"; readonly field: BatchField; readonly value: bigint }
  | { readonly kind: "append"; readonly bytes: Uint8Array };

export interface FrameSpec {
  /** Written as int32: any value, not only the topic's partitions. */
  readonly partition: number;
  readonly batch: BatchSpec;
  readonly damage: Damage;
}

/** The binary body: frames, or raw bytes that are not frames at all. */
export type BinaryBody = { readonly frames: readonly FrameSpec[] } | { readonly raw: Uint8Array };

const bytesOrNull = fc.option(fc.uint8Array({ maxLength: 40 }), { nil: null, freq: 5 });

export function batchSpec(producer: fc.Arbitrary<{ producerId: number; producerEpoch: number; baseSequence: number }>): fc.Arbitrary<BatchSpec> {
  return fc.record({
    records: fc.array(fc.record({ key: bytesOrNull, value: bytesOrNull }), { minLength: 1, maxLength: 4 }),
    compression: fc.constantFrom<Compression>("none", "none", "gzip", "snappy", "lz4", "zstd"),
    producer,
  }).map(({ records, compression, producer: p }) => ({ records, compression, ...p }));
}

export const damage: fc.Arbitrary<Damage> = fc.oneof(
  { weight: 2, arbitrary: fc.constant({ kind: "none" as const }) },
  { weight: 2, arbitrary: fc.nat({ max: 400 }).map((keep) => ({ kind: "truncate" as const, keep })) },
  { weight: 2, arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }).map((bits) => ({ kind: "flip" as const, bits })) },
  { weight: 3, arbitrary: fc.array(fc.nat(), { minLength: 1, maxLength: 3 }).map((bits) => ({ kind: "flipResum" as const, bits })) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant("poke" as const),
      field: fc.constantFrom(...(Object.keys(FIELDS) as BatchField[])),
      value: fc.oneof(
        fc.constantFrom(0n, 1n, -1n, 2n, 3n, 5n, 7n, 0x10n, 0x20n, 0x7fn, 0x7fffn, 0x7fffffffn, -0x80000000n, 2n ** 62n, -(2n ** 63n)),
        fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      ),
    }),
  },
  { weight: 1, arbitrary: fc.uint8Array({ minLength: 1, maxLength: 20 }).map((bytes) => ({ kind: "append" as const, bytes })) },
);

/** Encodes a frame's batch and damages it as described. */
export function frameBytes(spec: FrameSpec): { partition: number; bytes: Uint8Array } {
  const b = spec.batch;
  const bytes = encodeRecordBatch({
    records: b.records.map((r) => ({ key: r.key, value: r.value })),
    compression: b.compression,
    producerId: b.producerId,
    producerEpoch: b.producerEpoch,
    baseSequence: b.baseSequence,
  });
  return { partition: spec.partition, bytes: damaged(new Uint8Array(bytes), spec.damage) };
}

function damaged(bytes: Uint8Array, d: Damage): Uint8Array {
  const resum = () => new DataView(bytes.buffer, bytes.byteOffset).setUint32(17, crc32c(bytes, CRC_START));
  switch (d.kind) {
    case "none":
      return bytes;
    case "truncate":
      return bytes.subarray(0, d.keep % bytes.length);
    case "flip":
      for (const bit of d.bits) bytes[(bit >> 3) % bytes.length]! ^= 1 << (bit & 7);
      return bytes;
    case "flipResum":
      for (const bit of d.bits) bytes[CRC_START + ((bit >> 3) % (bytes.length - CRC_START))]! ^= 1 << (bit & 7);
      resum();
      return bytes;
    case "poke": {
      const [at, size] = FIELDS[d.field];
      const view = new DataView(bytes.buffer, bytes.byteOffset);
      if (size === 1) view.setInt8(at, Number(BigInt.asIntN(8, d.value)));
      else if (size === 2) view.setInt16(at, Number(BigInt.asIntN(16, d.value)));
      else if (size === 4) view.setInt32(at, Number(BigInt.asIntN(32, d.value)));
      else view.setBigInt64(at, BigInt.asIntN(64, d.value));
      if (at >= CRC_START) resum();
      return bytes;
    }
    case "append": {
      const out = new Uint8Array(bytes.length + d.bytes.length);
      out.set(bytes);
      out.set(d.bytes, bytes.length);
      return out;
    }
  }
}

export function binaryBytes(body: BinaryBody): Uint8Array {
  return "raw" in body ? body.raw : buildFrames(body.frames.map(frameBytes));
}
