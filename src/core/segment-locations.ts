import { SeglogError, errorFromBody } from "./errors.ts";

/**
 * The fetch answer that names segments instead of carrying their bytes
 * (docs/produce-and-fetch.md, "Reading from storage"), asked for with this `Accept` type:
 *
 *   { segments: [{ baseOffset, nextOffset, url, range?: { start, end } }],
 *     nextOffset, highWatermark, logStartOffset }
 *
 * `url` is a presigned S3 GET; `range`, when present, is the part `[start, end)` of the object to
 * read, sent as `Range: bytes=start-(end-1)` (a signed header: S3 refuses the URL without it).
 */
export const SEGMENTS_MEDIA_TYPE = "application/vnd.seglog.segments+json";

export interface ByteSpan {
  readonly start: number;
  readonly end: number;
}

export interface SegmentLocation {
  /** The offset of the first batch in these bytes (it may be before the requested offset). */
  readonly baseOffset: number;
  /** Where reading goes on after these bytes. */
  readonly nextOffset: number;
  /** A presigned GET of the object. */
  readonly url: string;
  /** The bytes of the object to read; absent: the whole object. */
  readonly range?: ByteSpan;
}

export interface SegmentsAnswer {
  readonly segments: readonly SegmentLocation[];
  readonly nextOffset: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
}

/** Where reading goes on after the first `read` segments of an answer (all, or a prefix when a
 * later GET failed); `read` ≥ 1 when the answer names any. */
export function positionAfter(answer: SegmentsAnswer, read: number): number {
  return read < answer.segments.length ? (answer.segments[read - 1] as SegmentLocation).nextOffset : answer.nextOffset;
}

/** The HTTP `Range` header value for `[start, end)`. */
export const rangeHeader = (span: ByteSpan): string => `bytes=${span.start}-${span.end - 1}`;

const isOffset = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

const isSpan = (v: unknown): v is ByteSpan => {
  const s = v as Partial<ByteSpan> | null;
  return typeof s === "object" && s !== null && isOffset(s.start) && isOffset(s.end) && s.end > s.start;
};

const isLocation = (v: unknown): v is SegmentLocation => {
  const x = v as Partial<SegmentLocation> | null;
  return (
    typeof x === "object" && x !== null && isOffset(x.baseOffset) && isOffset(x.nextOffset) && typeof x.url === "string" && (x.range === undefined || isSpan(x.range))
  );
};

/** Checks a segments answer: a server that answers otherwise is a bug to report, not data to read. */
export function parseSegmentsAnswer(json: unknown): SegmentsAnswer {
  const body = json as Partial<Record<keyof SegmentsAnswer, unknown>> | null;
  if (
    typeof body !== "object" ||
    body === null ||
    !Array.isArray(body.segments) ||
    !body.segments.every(isLocation) ||
    !isOffset(body.nextOffset) ||
    !isOffset(body.highWatermark) ||
    !isOffset(body.logStartOffset)
  ) {
    throw new SeglogError("Internal", "The fetch answer does not name segments in the documented form", { retriable: false });
  }
  return body as SegmentsAnswer;
}

/**
 * A fetch of several partitions of one topic (`GET /v1/topics/{topic}/records?partitions=p:offset,…`)
 * answers each with its segments answer, or with its own error:
 *
 *   { partitions: [{ partition, segments, nextOffset, highWatermark, logStartOffset }
 *                  | { partition, error: { kind, message, retriable, code? } }] }
 */
export type PartitionAnswer = { readonly partition: number } & (SegmentsAnswer | { readonly error: SeglogError });

/** Partitions one fetch may name: its answer shares one answer's segment budget. */
export const MAX_PARTITIONS_PER_FETCH = 100;

/** The `partitions` query parameter: `partition:offset` pairs, comma-separated. */
export const partitionsParam = (wants: readonly { partition: number; offset: number }[]): string =>
  wants.map((w) => `${w.partition}:${w.offset}`).join(",");

/** Checks a fetch-of-several answer, with the partitions asked for in the order asked. */
export function parsePartitionsAnswer(json: unknown, asked: readonly number[]): PartitionAnswer[] {
  const entries = (json as { partitions?: unknown } | null)?.partitions;
  const malformed = () => new SeglogError("Internal", "The fetch answer does not name partitions in the documented form", { retriable: false });
  if (!Array.isArray(entries) || entries.length !== asked.length) throw malformed();
  return entries.map((entry: unknown, i) => {
    const e = entry as { partition?: unknown; error?: unknown } | null;
    if (typeof e !== "object" || e === null || e.partition !== asked[i]) throw malformed();
    const partition = asked[i] as number;
    if (e.error === undefined) return { partition, ...parseSegmentsAnswer(e) };
    const error = errorFromBody(e.error);
    if (error === undefined) throw malformed();
    return { partition, error };
  });
}
