/**
 * The compression codecs of a RecordBatch, keyed by the low three bits of its attributes:
 * 0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd (5–7 are invalid). Kafka compresses the records
 * section only — everything after the 61-byte batch header — as one stream.
 *
 * | codec  | encode                               | decode                                  |
 * |--------|--------------------------------------|-----------------------------------------|
 * | gzip   | node:zlib                             | node:zlib (bounded by `maxOutputLength`) |
 * | snappy | snappyjs, xerial-framed (as Java)     | own decoder, xerial-framed or raw       |
 * | lz4    | own frame + block writer (as Java)    | own decoder, any LZ4 frame              |
 * | zstd   | libzstd wasm, after `loadCompressionCodecs()` | fzstd                          |
 */
import { gunzipSync, gzipSync } from "node:zlib";
import { asCorrupt, corrupt, overLimit } from "./codec-errors.ts";
import { lz4Compress, lz4Decompress } from "./lz4.ts";
import { snappyCompress, snappyDecompress } from "./snappy.ts";
import { loadZstdEncoder, zstdCompress, zstdDecompress } from "./zstd.ts";

export type Compression = "none" | "gzip" | "snappy" | "lz4" | "zstd";

export const COMPRESSIONS: readonly Compression[] = ["none", "gzip", "snappy", "lz4", "zstd"];

/** The attribute bits (0–2) of each codec. */
export const COMPRESSION_IDS: Readonly<Record<Compression, number>> = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 };

/** The codec named by the low three attribute bits; ids 5–7 are corrupt. */
export function compressionOfId(id: number): Compression {
  const name = COMPRESSIONS[id];
  if (name === undefined) throw corrupt(`unknown compression id ${id}`);
  return name;
}

/** Loads the codecs that need asynchronous set-up (the zstd encoder). Decoding never needs it. */
export function loadCompressionCodecs(): Promise<void> {
  return loadZstdEncoder();
}

export function compress(codec: Compression, data: Uint8Array): Uint8Array {
  switch (codec) {
    case "none":
      return data;
    case "gzip":
      return gzipSync(data);
    case "snappy":
      return snappyCompress(data);
    case "lz4":
      return lz4Compress(data);
    case "zstd":
      return zstdCompress(data);
  }
}

/**
 * Decompresses a records section. Corrupt input throws `Invalid`/`CorruptRecord`; output over
 * `maxBytes` throws `TooLarge`/`UncompressedTooLarge` before more than `maxBytes` is allocated.
 */
export function decompress(codec: Compression, data: Uint8Array, maxBytes: number): Uint8Array {
  return asCorrupt(`${codec} data is corrupt`, () => {
    switch (codec) {
      case "none":
        return data;
      case "gzip":
        return gunzip(data, maxBytes);
      case "snappy":
        return snappyDecompress(data, maxBytes);
      case "lz4":
        return lz4Decompress(data, maxBytes);
      case "zstd":
        return zstdDecompress(data, maxBytes);
    }
  });
}

function gunzip(data: Uint8Array, maxBytes: number): Uint8Array {
  try {
    return gunzipSync(data, { maxOutputLength: Math.max(1, maxBytes) });
  } catch (e) {
    if ((e as { code?: unknown }).code === "ERR_BUFFER_TOO_LARGE") {
      throw overLimit(`gzip data inflates to more than ${maxBytes} bytes`, "UncompressedTooLarge");
    }
    throw e;
  }
}
