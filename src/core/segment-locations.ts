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
  /** In a fetch of several partitions: the index, in the answer's `objects`, of one GET that
   * reads this segment's bytes together with other partitions' segments in the same object. */
  readonly object?: number;
}

/**
 * One presigned GET of `range` of an object that holds segments of several partitions of a fetch
 * of several (a produce request's batches share one object). A consumer that reads those
 * partitions makes it once and takes each segment's bytes from it, where it would make one GET
 * per partition; each segment's own `url` still reads it alone.
 */
export interface SharedObject {
  readonly url: string;
  readonly range: ByteSpan;
}

/** A segment as the client reads it: `shared` is the answer's `objects[object]`, the same
 * instance for every segment that names it. */
export type LocatedSegment = SegmentLocation & { readonly shared?: SharedObject };

export interface SegmentsAnswer {
  readonly segments: readonly LocatedSegment[];
  readonly nextOffset: number;
  readonly highWatermark: number;
  readonly logStartOffset: number;
  /** The id of the topic read: a topic deleted and created again under its name has another, and
   * a position in the old one means nothing in it. Absent from servers before it. */
  readonly topicId?: string;
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
    typeof x === "object" &&
    x !== null &&
    isOffset(x.baseOffset) &&
    isOffset(x.nextOffset) &&
    typeof x.url === "string" &&
    (x.range === undefined || isSpan(x.range)) &&
    (x.object === undefined || isOffset(x.object))
  );
};

const isSharedObject = (v: unknown): v is SharedObject => {
  const x = v as Partial<SharedObject> | null;
  return typeof x === "object" && x !== null && typeof x.url === "string" && isSpan(x.range);
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
    !isOffset(body.logStartOffset) ||
    (body.topicId !== undefined && typeof body.topicId !== "string")
  ) {
    throw new SeglogError("Internal", "The fetch answer does not name segments in the documented form", { retriable: false });
  }
  return body as SegmentsAnswer;
}

/**
 * A fetch of several partitions of one topic (`GET /v1/topics/{topic}/records?partitions=p:offset,…`)
 * answers each with its segments answer, or with its own error, and names the GETs that serve
 * several partitions' segments at once (`SharedObject`; absent when there are none):
 *
 *   { partitions: [{ partition, segments, nextOffset, highWatermark, logStartOffset }
 *                  | { partition, error: { kind, message, retriable, code? } }],
 *     objects?: [{ url, range }] }
 */
export type PartitionAnswer = { readonly partition: number } & (SegmentsAnswer | { readonly error: SeglogError });

/** Partitions one fetch may name: its answer shares one answer's segment budget. */
export const MAX_PARTITIONS_PER_FETCH = 100;

/** The `partitions` query parameter: `partition:offset` pairs, comma-separated. */
export const partitionsParam = (wants: readonly { partition: number; offset: number }[]): string =>
  wants.map((w) => `${w.partition}:${w.offset}`).join(",");

/** Checks a fetch-of-several answer, with the partitions asked for in the order asked. A segment
 * that names a shared object gets it as `shared`. */
export function parsePartitionsAnswer(json: unknown, asked: readonly number[]): PartitionAnswer[] {
  const body = json as { partitions?: unknown; objects?: unknown } | null;
  const entries = body?.partitions;
  const objects = body?.objects ?? [];
  const malformed = () => new SeglogError("Internal", "The fetch answer does not name partitions in the documented form", { retriable: false });
  if (!Array.isArray(entries) || entries.length !== asked.length || !Array.isArray(objects) || !objects.every(isSharedObject)) throw malformed();
  return entries.map((entry: unknown, i) => {
    const e = entry as { partition?: unknown; error?: unknown } | null;
    if (typeof e !== "object" || e === null || e.partition !== asked[i]) throw malformed();
    const partition = asked[i] as number;
    if (e.error === undefined) {
      const answer = parseSegmentsAnswer(e);
      const segments = answer.segments.map((segment): LocatedSegment => {
        if (segment.object === undefined) return segment;
        const shared = objects[segment.object] as SharedObject | undefined;
        const { range } = segment;
        if (!shared || !range || range.start < shared.range.start || range.end > shared.range.end) throw malformed();
        return { ...segment, shared };
      });
      return { partition, ...answer, segments };
    }
    const error = errorFromBody(e.error);
    if (error === undefined) throw malformed();
    return { partition, error };
  });
}
