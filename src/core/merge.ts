/**
 * Segment merging (docs/maintenance.md), pure: which runs of small segments to merge, the
 * merged index entry with its sparse offset→byte index, and the byte range a fetch reads from a
 * merged object. No I/O.
 */
import type { IndexEntry, SparsePoint } from "./read-committed.ts";
import { groupRanges } from "./range-groups.ts";
import { ABORTED_KEPT_MS } from "./retention.ts";

/** A sparse index point is written at least every this many bytes of a merged object. */
export const SPARSE_INDEX_STEP = 64 * 1024;

/** True for an entry that covers several seqs (a merged segment). */
export const isMerged = (e: IndexEntry): boolean => e.toSeq > e.seq;

/** True for an entry whose batch sits in an object shared with other batches of its produce
 * request: the object goes only once no index item names it (docs/maintenance.md). */
export const isShared = (e: IndexEntry): boolean => e.position !== undefined;

/** The bytes of an object that hold an entry's batches: a range of a shared object, else the whole object. */
export const entryBytes = (e: IndexEntry): { start: number; end: number } | undefined =>
  e.position === undefined ? undefined : { start: e.position, end: e.position + e.bytes };

/**
 * An entry's bytes as ranges of about `chunkBytes` each, cut at its sparse points (batch starts),
 * to read one after another: a lookup that may stop at any batch holds one range at a time, not
 * a whole merged segment. An entry without sparse points is one range (undefined: the object).
 */
export function entryChunks(e: IndexEntry, chunkBytes: number): ({ start: number; end: number } | undefined)[] {
  const points = e.sparse ?? [];
  if (points.length < 2) return [entryBytes(e)];
  const at = e.position ?? 0;
  const chunks: { start: number; end: number }[] = [];
  let start = (points[0] as SparsePoint).position;
  for (const p of points.slice(1)) {
    if (p.position - start < chunkBytes) continue;
    chunks.push({ start: at + start, end: at + p.position });
    start = p.position;
  }
  chunks.push({ start: at + start, end: at + e.bytes });
  return chunks;
}

/**
 * Drops entries that a merged entry before them covers: after a merge, the replaced items stay
 * in the index for a grace period (readers that found them keep working), but they are not
 * part of the log any more.
 */
export function liveEntries(entries: readonly IndexEntry[]): IndexEntry[] {
  const live: IndexEntry[] = [];
  let covered = -1;
  for (const e of entries) {
    if (e.seq <= covered) continue;
    live.push(e);
    covered = e.toSeq;
  }
  return live;
}

/**
 * Entries that merged entries replaced, grouped by the merged entry, for those merged longer
 * ago than `graceMs` (no fetch can still be reading the replaced items or objects).
 */
export function expiredReplacements(
  entries: readonly IndexEntry[],
  now: number,
  graceMs: number,
): { merged: IndexEntry; replaced: IndexEntry[] }[] {
  const out: { merged: IndexEntry; replaced: IndexEntry[] }[] = [];
  let current: { merged: IndexEntry; replaced: IndexEntry[] } | undefined;
  for (const e of entries) {
    if (current && e.seq <= current.merged.toSeq) {
      current.replaced.push(e);
      continue;
    }
    current = isMerged(e) && now - e.at >= graceMs ? { merged: e, replaced: [] } : undefined;
    if (current) out.push(current);
  }
  return out.filter((x) => x.replaced.length > 0);
}

export interface MergePolicy {
  /** Target size of a merged object (the topic's `segment.bytes`). */
  readonly targetBytes: number;
  /** The run at the end of the decided prefix waits until its newest segment is this old. */
  readonly mergeAfterMs: number;
  readonly now: number;
}

/**
 * Runs of consecutive small, unmerged segments (under half the target) to merge, oldest first.
 * A run closes when the next segment would take it past the target, or at a segment that cannot
 * join. The last run, which new segments could still extend, is merged as far as its segments
 * are `mergeAfterMs` old: under steady traffic its newest segment never is, and it would wait
 * until it filled the target. Each run holds at least two committed segments; aborted entries
 * inside a run join it (their offsets are a gap in the merged segment, as they were before),
 * except one younger than {@link ABORTED_KEPT_MS}, which stays an entry of its own for retention
 * to keep (a retry of its batch must find it aborted).
 */
export function planMerges(live: readonly IndexEntry[], policy: MergePolicy): IndexEntry[][] {
  const runs: IndexEntry[][] = [];
  let run: IndexEntry[] = [];
  let bytes = 0;
  const close = () => {
    if (run.filter((e) => e.state === "C").length >= 2) runs.push(trimAborts(run));
    run = [];
    bytes = 0;
  };
  for (const e of live) {
    const small = !isMerged(e) && (e.objectKey === undefined || isShared(e)) && e.bytes * 2 < policy.targetBytes;
    const freshAbort = e.state === "A" && policy.now - e.at < ABORTED_KEPT_MS;
    if (!small || freshAbort) {
      close();
      continue;
    }
    if (bytes + e.bytes > policy.targetBytes) close();
    run.push(e);
    bytes += e.bytes;
  }
  const young = run.findIndex((e) => policy.now - e.at < policy.mergeAfterMs);
  if (young >= 0) run = run.slice(0, young);
  close();
  return runs;
}

/** A run starts and ends with committed segments (an abort at either end gains nothing). */
function trimAborts(run: IndexEntry[]): IndexEntry[] {
  let from = 0;
  let to = run.length;
  while (run[from]?.state === "A") from++;
  while (run[to - 1]?.state === "A") to--;
  return run.slice(from, to);
}

/**
 * The entry that replaces a run: the first seq's key, covering every seq to the last, with the
 * objects' bytes back to back in `objectKey` and a sparse index point at the first batch and
 * then at least every `SPARSE_INDEX_STEP` bytes (always at a batch start).
 */
export function mergedEntry(run: readonly IndexEntry[], objectKey: string, now: number): IndexEntry {
  const first = run[0];
  const last = run.at(-1);
  if (!first || !last) throw new Error("a merge needs a non-empty run");
  const committed = run.filter((e) => e.state === "C");
  const sparse: SparsePoint[] = [];
  let position = 0;
  for (const e of committed) {
    const previous = sparse.at(-1);
    if (!previous || position - previous.position >= SPARSE_INDEX_STEP) sparse.push({ offset: e.base, position });
    position += e.bytes;
  }
  return {
    seq: first.seq,
    toSeq: last.seq,
    state: "C",
    base: first.base,
    count: last.base + last.count - first.base,
    records: committed.reduce((n, e) => n + e.records, 0),
    bytes: position,
    firstTs: Math.min(...committed.map((e) => e.firstTs)),
    maxTs: Math.max(...committed.map((e) => e.maxTs)),
    at: now,
    objectKey,
    sparse,
    ...(isShared(first) && first.objectKey !== undefined ? { replacedKey: first.objectKey } : {}),
  };
}

export interface ByteRange {
  /** `[start, end)` of the object; the whole object when it is `[0, bytes)`. */
  readonly start: number;
  readonly end: number;
  /** Offset of the first batch in the range. */
  readonly base: number;
  /** The offset after the range: where the next fetch starts. */
  readonly nextOffset: number;
}

/**
 * How a fetch's bytes meet its `maxBytes`. `fit`: an answer that carries the bytes (Lambda answers
 * with at most 6 MB) takes only what fits, as Kafka's fetch: only its first read may go over.
 * `fill`: an answer that names segments for the client to read (it carries no bytes) names them
 * until they reach `maxBytes`, the last one going over it: as many reads, and fetches, as fewest.
 */
export type Budget = "fit" | "fill";

/**
 * What a fetch reads from a committed entry, starting at `offset`, with `budget` bytes left: a
 * whole unmerged object, or the batch's range of a shared one; from a merged one, from the last
 * sparse point at or below `offset` to the farthest point (or the end) within the budget (`fit`),
 * or to the first point that reaches it (`fill`). Only `fit` leaves what does not fit for the next
 * fetch (undefined), unless this is the fetch's `first` read, which takes one step at least.
 */
export function rangeFor(entry: IndexEntry, offset: number, budget: number, first: boolean, mode: Budget = "fit"): ByteRange | undefined {
  const at = entry.position ?? 0;
  const whole = { start: at, end: at + entry.bytes, base: entry.base, nextOffset: entry.base + entry.count };
  const points = entry.sparse;
  if (!points || points.length === 0) return first || mode === "fill" || entry.bytes <= budget ? whole : undefined;
  let from = 0;
  while (from + 1 < points.length && (points[from + 1] as SparsePoint).offset <= offset) from++;
  const start = points[from] as SparsePoint;
  // The ends a range can have: each later point, then the entry's end (index points.length).
  const endOf = (i: number) => (i < points.length ? (points[i] as SparsePoint).position : entry.bytes);
  const toRange = (i: number): ByteRange =>
    i < points.length
      ? { start: at + start.position, end: at + endOf(i), base: start.offset, nextOffset: (points[i] as SparsePoint).offset }
      : { ...whole, start: at + start.position, base: start.offset };
  let fits: number | undefined;
  for (let i = from + 1; i <= points.length; i++) {
    const bytes = endOf(i) - start.position;
    if (mode === "fill" && bytes >= budget) return toRange(i);
    if (bytes > budget) break;
    fits = i;
  }
  const chosen = fits ?? (first || mode === "fill" ? from + 1 : undefined);
  return chosen === undefined ? undefined : toRange(chosen);
}

/**
 * Partitions whose merges a maintenance run makes together, in rounds: each round the next run of
 * each, read at once, so that an object with a batch of each (a shared object) is read once.
 * Their index, as a sweep read it, is held meanwhile.
 */
export const MERGE_ROUND_PARTITIONS = 8;

/**
 * The bytes of segments one merge round's runs hold at most (at least one run): 8 runs at the
 * default `segment.bytes` (16 MiB). Its GETs read at most 1.5 times that (`planReads`), 192 MiB,
 * beside one merged copy (16 MiB) and the 16 GETs in flight: within the maintenance function's 512 MB.
 */
export const MERGE_ROUND_BYTES = 128 * 1024 * 1024;

/** A committed segment a merge reads: its object and, for a batch in a shared object, its range. */
export interface WantedBytes {
  readonly key: string;
  readonly range: { readonly start: number; readonly end: number } | undefined;
  readonly bytes: number;
}

/** One GET of a merge round, and which segments of which runs its bytes hold (`at` into them). */
export interface ObjectRead {
  readonly key: string;
  readonly range: { readonly start: number; readonly end: number } | undefined;
  /** The bytes the GET must return. */
  readonly length: number;
  readonly pieces: readonly { readonly run: number; readonly index: number; readonly at: number; readonly length: number }[];
}

/**
 * The GETs that read the segments of several runs (`runs[r][i]`) at once: the ranges several runs
 * want of one object (a shared object holds a batch of each partition of its produce request) are
 * read in one GET, from the first wanted byte to the last, rather than once per partition; unless
 * that would read more than half as many bytes again that no run wants, which then go unread
 * between two GETs (`groupRanges`). A round so reads at most 1.5 times the bytes its runs hold.
 */
export function planReads(runs: readonly (readonly WantedBytes[])[]): ObjectRead[] {
  const reads: ObjectRead[] = [];
  const ranged = new Map<string, { run: number; index: number; start: number; end: number }[]>();
  runs.forEach((wanted, run) =>
    wanted.forEach((w, index) => {
      if (w.range === undefined) {
        reads.push({ key: w.key, range: undefined, length: w.bytes, pieces: [{ run, index, at: 0, length: w.bytes }] });
        return;
      }
      const pieces = ranged.get(w.key) ?? [];
      pieces.push({ run, index, ...w.range });
      ranged.set(w.key, pieces);
    }),
  );
  for (const [key, pieces] of ranged) {
    for (const { start, end, members } of groupRanges(pieces, 1.5)) {
      reads.push({ key, range: { start, end }, length: end - start, pieces: members.map((p) => ({ run: p.run, index: p.index, at: p.start - start, length: p.end - p.start })) });
    }
  }
  return reads;
}
