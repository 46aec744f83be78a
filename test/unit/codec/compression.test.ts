import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { Zstd } from "@hpcc-js/wasm-zstd";
import fc from "fast-check";
import * as lz4js from "lz4js";
import * as snappyjs from "snappyjs";
import { beforeAll, describe, expect, it } from "vitest";
import { COMPRESSIONS, compress, decompress, loadCompressionCodecs, type Compression } from "../../../src/core/codec/compression.ts";
import { isXerialFramed } from "../../../src/core/codec/snappy.ts";
import { isSeglogError, type SeglogError } from "../../../src/core/errors.ts";

const MiB = 1024 * 1024;
const compressed: Compression[] = COMPRESSIONS.filter((c) => c !== "none");

/** Text-like data that compresses, with some incompressible stretches. */
const sample = fc
  .array(fc.oneof(fc.uint8Array({ maxLength: 300 }), fc.constantFrom("lorem ipsum ", "kafka ", "aaaaaaaaaaaaaaaa")), { maxLength: 60 })
  .map((parts) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p.repeat(7)) : Buffer.from(p)))));

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

describe.each(compressed)("%s", (codec) => {
  it("round-trips random data, empty included", () => {
    fc.assert(
      fc.property(sample, (data) => {
        expect(Buffer.from(decompress(codec, compress(codec, data), 16 * MiB))).toEqual(data);
      }),
      { numRuns: 60 },
    );
  });

  it("round-trips 1 MiB spanning many blocks", () => {
    const data = Buffer.concat([randomBytes(300_000), Buffer.alloc(400_000, 7), Buffer.from("abc".repeat(120_000))]);
    expect(Buffer.from(decompress(codec, compress(codec, data), 16 * MiB)).equals(data)).toBe(true);
  });

  it("stops at maxBytes with TooLarge instead of inflating a bomb", () => {
    const bomb = compress(codec, new Uint8Array(4 * MiB));
    const e = thrown(() => decompress(codec, bomb, MiB));
    expect(e.kind).toBe("TooLarge");
    expect(e.code).toBe("UncompressedTooLarge");
  });

  it("rejects corrupt input with typed errors only", () => {
    const data = Buffer.from("the quick brown fox jumps over the lazy dog ".repeat(200));
    const good = compress(codec, data);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 }), fc.nat(good.length), (flips, cut) => {
        const bad = Uint8Array.from(good.subarray(0, Math.max(1, cut)));
        for (const [at, mask] of flips) if (at < bad.length) bad[at]! ^= mask;
        try {
          const out = decompress(codec, bad, 2 * MiB);
          expect(out.length).toBeLessThanOrEqual(2 * MiB);
        } catch (e) {
          expect(isSeglogError(e)).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe("snappy", () => {
  it("writes xerial framing, as the Java producer does", () => {
    const out = compress("snappy", Buffer.from("hello"));
    expect(isXerialFramed(out)).toBe(true);
    expect([...out.subarray(0, 16)]).toEqual([0x82, 83, 78, 65, 80, 80, 89, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
  });

  it("reads raw snappy written by an independent encoder (snappyjs)", () => {
    fc.assert(
      fc.property(sample, (data) => {
        expect(Buffer.from(decompress("snappy", snappyjs.compress(data), MiB))).toEqual(data);
      }),
      { numRuns: 50 },
    );
  });

  it("writes chunks an independent decoder (snappyjs) reads once unframed", () => {
    fc.assert(
      fc.property(sample, (data) => {
        const framed = Buffer.from(compress("snappy", data));
        const chunks: Buffer[] = [];
        for (let pos = 16; pos < framed.length; pos += 4 + framed.readInt32BE(pos)) {
          chunks.push(Buffer.from(snappyjs.uncompress(framed.subarray(pos + 4, pos + 4 + framed.readInt32BE(pos)))));
        }
        expect(Buffer.concat(chunks)).toEqual(data);
      }),
      { numRuns: 50 },
    );
  });

  it("rejects a raw block whose elements do not fill its declared length", () => {
    const block = snappyjs.compress(Buffer.from("abcdefgh"));
    block[0] = 9; // declares 9 bytes, holds 8
    expect(thrown(() => decompress("snappy", block, MiB)).code).toBe("CorruptRecord");
  });
});

describe("lz4", () => {
  it("writes Java's frame descriptor: version 1, independent blocks, 64 KiB, no checksums", () => {
    const out = compress("lz4", Buffer.from("hello"));
    expect([...out.subarray(0, 7)]).toEqual([0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, 0x82]);
  });

  it("interoperates with an independent implementation (lz4js) both ways", () => {
    fc.assert(
      fc.property(sample, (data) => {
        // lz4js writes dependent blocks with 4 MiB maximum size; ours must still read it.
        expect(Buffer.from(decompress("lz4", lz4js.compress(data), 16 * MiB))).toEqual(data);
        expect(Buffer.from(lz4js.decompress(compress("lz4", data)))).toEqual(data);
      }),
      { numRuns: 50 },
    );
  });

  it("writes frames the reference C decoder (lz4 CLI) accepts", () => {
    const dir = mkdtempSync(join(tmpdir(), "seglog-lz4-"));
    const data = Buffer.concat([Buffer.from("abcabcabcabc".repeat(9000)), randomBytes(70_000), Buffer.from("xyz".repeat(30_000))]);
    writeFileSync(join(dir, "in.lz4"), compress("lz4", data));
    execFileSync("lz4", ["-d", "-f", "-q", join(dir, "in.lz4"), join(dir, "out")]);
    expect(readFileSync(join(dir, "out")).equals(data)).toBe(true);
    execFileSync("lz4", ["-f", "-q", "--content-size", "-BX", "-B4", join(dir, "out"), join(dir, "cli.lz4")]);
    expect(Buffer.from(decompress("lz4", readFileSync(join(dir, "cli.lz4")), 16 * MiB)).equals(data)).toBe(true);
  });
});

describe("zstd", () => {
  it("decodes frames from the reference library (libzstd as wasm), which the decoder (fzstd) does not share", async () => {
    const zstd = await Zstd.load();
    fc.assert(
      fc.property(sample, fc.integer({ min: 1, max: 19 }), (data, level) => {
        expect(Buffer.from(decompress("zstd", zstd.compress(data, level), 16 * MiB))).toEqual(data);
        expect(Buffer.from(zstd.decompress(compress("zstd", data)))).toEqual(data);
      }),
      { numRuns: 30 },
    );
  });

  it("reads streamed frames without a content size (zstd CLI from a pipe)", () => {
    const data = Buffer.from("a streamed frame has no content size ".repeat(5000));
    const frame = execFileSync("zstd", ["-q", "-c", "-3"], { input: data });
    expect(Buffer.from(decompress("zstd", frame, 16 * MiB)).equals(data)).toBe(true);
  });

  it("refuses a window larger than the limit before allocating it", () => {
    // Frame header: magic, FHD 0 (window descriptor follows), window 2^(10+26) = 64 GiB.
    const frame = Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 0x00, 26 << 3, 0x01, 0x00, 0x00]);
    expect(thrown(() => decompress("zstd", frame, MiB)).kind).toBe("TooLarge");
  });
});

describe("gzip", () => {
  it("reads concatenated members, as Java's GZIPInputStream does", () => {
    const data = Buffer.concat([gzipSync(Buffer.from("first ")), gzipSync(Buffer.from("second"))]);
    expect(Buffer.from(decompress("gzip", data, MiB)).toString()).toBe("first second");
  });
});
