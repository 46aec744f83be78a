/**
 * The read-committed walk over a partition's segment index (docs/produce-and-fetch.md), pure:
 * fed pages of index entries in seq order, it decides how far the log is committed, which
 * missing seqs are old enough to abort, and the high watermark. No I/O, clock passed in.
 */

export interface IndexEntry {
  /** First seq this entry covers. */
  readonly seq: number;
  /** Last seq covered (equal to `seq` except for merged segments). */
  readonly toSeq: number;
  readonly state: "C" | "A";
  readonly base: number;
  /** Offsets spanned: for a batch `lastOffsetDelta + 1`; for an aborted run, the gap. */
  readonly count: number;
  readonly records: number;
  readonly bytes: number;
  readonly firstTs: number;
  readonly maxTs: number;
  /** When it was committed or aborted (epoch ms): bounds when missing seqs before it were reserved. */
  readonly at: number;
  /** Object key when it is not the one derived from the base offset (merged or shared segments). */
  readonly objectKey?: string;
  /** Shared segments: where this batch starts in `objectKey`, which holds other batches of the
   * same produce request too (src/core/keys.ts `sharedObjectKey`). */
  readonly position?: number;
  /** Merged segments: the shared object of the item this one replaced in place (the run's first),
   * which stays named through the merge's grace period. */
  readonly replacedKey?: string;
  /** Merged segments: where batches start in the object, ascending (src/core/merge.ts). */
  readonly sparse?: readonly SparsePoint[];
}

/** A batch of a merged object: its base offset and its byte position in the object. */
export interface SparsePoint {
  readonly offset: number;
  readonly position: number;
}

export interface HeadSnapshot {
  readonly nextSeq: number;
  /** Every seq below it was decided when the snapshot was read: a gap there means items moved. */
  readonly stableSeq: number;
  readonly nextOffset: number;
  readonly lastReservedAt: number;
}

/** `moved`: seqs below the stable hint are missing, so retention or a merge cleanup deleted
 * them after this walk chose its start; the reader starts over from a fresh head. */
export type WalkStop = "tail" | "inflight" | "moved";

export class CommittedWalk {
  /** Decided entries in seq order, including the aborts planned below. */
  readonly entries: IndexEntry[] = [];
  /** Aborted entries this walk wants written (conditional on the seq being absent). */
  readonly aborts: IndexEntry[] = [];
  /** The first seq not yet known to be decided. */
  nextSeq: number;
  /** Where the decided prefix ends: the expected base offset of `nextSeq`. */
  end: number;
  stopped: WalkStop | undefined;

  constructor(
    start: { readonly seq: number; readonly base: number },
    private readonly head: HeadSnapshot,
    private readonly now: number,
    private readonly abortTimeoutMs: number,
  ) {
    this.nextSeq = start.seq;
    this.end = start.base;
    if (start.seq >= head.nextSeq) this.stopped = "tail";
  }

  /** Feeds the next page (ascending seq). Returns true once the walk has stopped. */
  feed(page: readonly IndexEntry[], lastPage: boolean): boolean {
    if (this.stopped) return true;
    for (const item of page) {
      if (item.seq >= this.head.nextSeq) {
        lastPage = true; // the rest was reserved after our head snapshot
        break;
      }
      if (item.seq < this.nextSeq) continue; // replaced by a merged entry before it
      if (item.seq > this.nextSeq) {
        if (this.nextSeq < this.head.stableSeq) return this.stop("moved");
        if (!this.isOld(item.at)) return this.stop("inflight");
        this.planAborts(item.seq, item.base);
      }
      this.entries.push(item);
      this.nextSeq = item.toSeq + 1;
      this.end = item.base + item.count;
    }
    // Every seq the head had reserved is decided: nothing past it is read (a page that ended
    // exactly there would otherwise cost one more Query, of nothing).
    if (this.nextSeq >= this.head.nextSeq) lastPage = true;
    if (!lastPage) return false;
    if (this.nextSeq < this.head.nextSeq) {
      if (this.nextSeq < this.head.stableSeq) return this.stop("moved");
      if (!this.isOld(this.head.lastReservedAt)) return this.stop("inflight");
      this.planAborts(this.head.nextSeq, this.head.nextOffset);
    }
    return this.stop("tail");
  }

  private isOld(reservedNoLaterThan: number): boolean {
    return this.now - reservedNoLaterThan > this.abortTimeoutMs;
  }

  /**
   * Aborts seqs [nextSeq, untilSeq): the first takes the whole gap up to `untilOffset`, the
   * others count 0 at `untilOffset`. They are listed last seq first: the writer stops at the
   * first lost race, so the whole-gap entry is written only once every later seq is aborted,
   * and no late commit can land inside its range.
   */
  private planAborts(untilSeq: number, untilOffset: number): void {
    for (let seq = this.nextSeq; seq < untilSeq; seq++) {
      const first = seq === this.nextSeq;
      const entry: IndexEntry = {
        seq,
        toSeq: seq,
        state: "A",
        base: first ? this.end : untilOffset,
        count: first ? untilOffset - this.end : 0,
        records: 0,
        bytes: 0,
        firstTs: 0,
        maxTs: 0,
        at: this.now,
      };
      this.aborts.unshift(entry);
      this.entries.push(entry);
    }
    this.nextSeq = untilSeq;
    this.end = untilOffset;
  }

  private stop(reason: WalkStop): true {
    this.stopped = reason;
    return true;
  }
}
