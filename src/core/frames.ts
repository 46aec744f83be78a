import type { BatchBuilder, BatchHeaderFields } from "./codec/record-batch.ts";
import { invalid } from "./errors.ts";

/**
 * The binary produce body: one or more frames back to back, each
 *
 *   partition      int32 (big-endian)
 *   RecordBatch v2 (its own batchLength at byte 8 of the batch gives its size: 12 + batchLength)
 *
 * The batches are sliced out as views, never copied or re-encoded.
 */
export function parseFrames(body: Uint8Array): { partition: number; bytes: Uint8Array }[] {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const frames: { partition: number; bytes: Uint8Array }[] = [];
  let at = 0;
  while (at < body.byteLength) {
    if (body.byteLength - at < 4 + 12) throw invalid(`Truncated frame at byte ${at}`, "CorruptRecord");
    const partition = view.getInt32(at);
    const batchLength = view.getInt32(at + 4 + 8);
    const size = 12 + batchLength;
    if (batchLength < 49) {
      throw invalid(`Frame at byte ${at} declares a batch length of ${batchLength}, below the 49 bytes of a RecordBatch header after it`, "CorruptRecord");
    }
    if (at + 4 + size > body.byteLength) {
      throw invalid(`Frame at byte ${at} declares ${batchLength} bytes that are not there`, "CorruptRecord");
    }
    if (partition < 0) throw invalid(`Frame at byte ${at} names partition ${partition}`, "InvalidPartition");
    frames.push({ partition, bytes: body.subarray(at + 4, at + 4 + size) });
    at += 4 + size;
  }
  if (frames.length === 0) throw invalid("Empty body: expected [partition:int32][RecordBatch] frames", "CorruptRecord");
  return frames;
}

/** The bytes of a frame's header: the partition. */
export const FRAME_HEADER_BYTES = 4;

/** Builds a batch as one frame, from a builder made with `FRAME_HEADER_BYTES` of headroom: a
 * request of that one batch is these bytes as they are, not copied again into a body. */
export function buildFrame(partition: number, batch: BatchBuilder, fields: BatchHeaderFields): Uint8Array {
  const frame = batch.build(fields);
  new DataView(frame.buffer, frame.byteOffset, FRAME_HEADER_BYTES).setInt32(0, partition);
  return frame;
}

/** Builds a produce body from batches already encoded (the bench's ready-made batches, tests);
 * the Producer builds each batch in its frame instead (`buildFrame`). */
export function buildFrames(batches: ReadonlyArray<{ partition: number; bytes: Uint8Array }>): Uint8Array {
  const total = batches.reduce((n, b) => n + 4 + b.bytes.byteLength, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of batches) {
    view.setInt32(at, b.partition);
    out.set(b.bytes, at + 4);
    at += 4 + b.bytes.byteLength;
  }
  return out;
}
