import { createRequire } from "node:module";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc32c, crc32cUpdate } from "../../../src/core/codec/crc32c.ts";
import { ByteCursor, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from "../../../src/core/codec/varint.ts";
import { isSeglogError } from "../../../src/core/errors.ts";

const require = createRequire(import.meta.url);
// kafkajs's byte-at-a-time CRC-32C and its varint Encoder/Decoder: independent implementations.
const kafkajsCrc32c = require("kafkajs/src/protocol/recordBatch/crc32C/index.js") as (b: Buffer) => number;
const KafkajsEncoder = require("kafkajs/src/protocol/encoder.js") as new () => {
  writeVarInt(v: number): unknown;
  writeVarLong(v: string): unknown;
  buffer: Buffer;
};
const KafkajsDecoder = require("kafkajs/src/protocol/decoder.js") as new (b: Buffer) => {
  readVarInt(): number;
  readVarLong(): { toString(): string };
};

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("crc32c", () => {
  it("matches the published CRC-32C check values", () => {
    expect(crc32c(ascii("123456789"))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(0))).toBe(0);
    // RFC 3720 (iSCSI) appendix B.4
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe(0x46dd794e);
    expect(crc32c(Uint8Array.from({ length: 32 }, (_, i) => 31 - i))).toBe(0x113fdb5c);
  });

  it("agrees with kafkajs on random data, any alignment and range", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(7), fc.nat(7), (data, pre, post) => {
        const padded = new Uint8Array(pre + data.length + post);
        padded.set(data, pre);
        expect(crc32c(padded, pre, pre + data.length)).toBe(kafkajsCrc32c(Buffer.from(data)));
      }),
      { numRuns: 300 },
    );
  });

  it("continues across chunks", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.nat(200), (data, cut) => {
        const at = Math.min(cut, data.length);
        expect(crc32cUpdate(crc32c(data, 0, at), data, at)).toBe(crc32c(data));
      }),
    );
  });
});

describe("varint and varlong", () => {
  it("writes the zig-zag encodings Kafka writes", () => {
    const enc = (v: number): number[] => {
      const b = new Uint8Array(5);
      return [...b.subarray(0, writeVarint(b, 0, v))];
    };
    expect(enc(0)).toEqual([0]);
    expect(enc(-1)).toEqual([1]);
    expect(enc(1)).toEqual([2]);
    expect(enc(63)).toEqual([126]);
    expect(enc(-64)).toEqual([127]);
    expect(enc(64)).toEqual([128, 1]);
    expect(enc(0x7fffffff)).toEqual([0xfe, 0xff, 0xff, 0xff, 0x0f]);
    expect(enc(-0x80000000)).toEqual([0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it("round-trips int32 varints and matches kafkajs", () => {
    fc.assert(
      fc.property(fc.integer({ min: -0x80000000, max: 0x7fffffff }), (v) => {
        const b = new Uint8Array(5);
        const end = writeVarint(b, 0, v);
        expect(end).toBe(sizeOfVarint(v));
        const theirs = new KafkajsEncoder();
        theirs.writeVarInt(v);
        expect(Buffer.from(b.subarray(0, end))).toEqual(theirs.buffer);
        const c = new ByteCursor(b, 0, end);
        expect(c.readVarint()).toBe(v);
        expect(c.pos).toBe(end);
      }),
      { numRuns: 500 },
    );
  });

  it("round-trips int64 varlongs (numbers when safe, bigints otherwise) and matches kafkajs", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), (v) => {
        const b = new Uint8Array(10);
        const end = writeVarlong(b, 0, v);
        expect(end).toBe(sizeOfVarlong(v));
        const theirs = new KafkajsEncoder();
        theirs.writeVarLong(v.toString());
        expect(Buffer.from(b.subarray(0, end))).toEqual(theirs.buffer);
        const read = new ByteCursor(b, 0, end).readVarlong();
        expect(BigInt(read)).toBe(v);
        expect(typeof read).toBe(Number.isSafeInteger(Number(v)) && BigInt(Number(v)) === v ? "number" : "bigint");
        expect(new KafkajsDecoder(Buffer.from(b.subarray(0, end))).readVarLong().toString()).toBe(v.toString());
      }),
      { numRuns: 500 },
    );
  });

  it("rejects truncated and over-long encodings with CorruptRecord", () => {
    const cases: [number[], "varint" | "varlong"][] = [
      [[], "varint"],
      [[0x80], "varint"],
      [[0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "varint"],
      [[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01], "varlong"],
      [[0xff, 0xff, 0xff, 0xff, 0xff], "varlong"],
    ];
    for (const [bytes, kind] of cases) {
      const c = new ByteCursor(Uint8Array.from(bytes));
      try {
        if (kind === "varint") c.readVarint();
        else c.readVarlong();
        expect.unreachable(`${bytes.join(",")} decoded`);
      } catch (e) {
        expect(isSeglogError(e) && e.kind === "Invalid" && e.code === "CorruptRecord").toBe(true);
      }
    }
  });
});
