import type { IndexEntry } from "../core/read-committed.ts";

/** Entries a partition's chain keeps at most (a few MB across the cache's partitions). */
const MAX_CHAIN = 2_000;

interface Chain {
  /** Decided entries, consecutive: each starts at the seq after the one before it ends. */
  readonly entries: readonly IndexEntry[];
  readonly at: number;
}

/**
 * The decided index entries a function instance read last, per partition, so that a consumer's
 * next fetch starts without a Query of the offset index and reads on without a Query of the
 * segment index until it passes them (docs/produce-and-fetch.md, "Index cache").
 *
 * Decided entries never change while cached, with two exceptions that are safe for `ttlMs`
 * (far below the merge grace period): a merge replaces them (the replaced items and objects stay
 * readable through the grace period), and retention deletes them (the reader checks the log start
 * on the head first, and a missing object sends it back to DynamoDB with the cache dropped).
 */
export class IndexCache {
  private readonly chains = new Map<string, Chain>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly maxPartitions = 1024,
  ) {}

  /** Where to start walking for `offset`: the cached entry holding it. */
  startFor(partitionKey: string, offset: number): { seq: number; base: number } | undefined {
    const entries = this.fresh(partitionKey);
    if (!entries) return undefined;
    let lo = 0;
    let hi = entries.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = entries[mid] as IndexEntry;
      if (offset < e.base) hi = mid - 1;
      else if (offset >= e.base + e.count) lo = mid + 1;
      else return { seq: e.seq, base: e.base };
    }
    return undefined;
  }

  /** Cached entries from the one starting at `seq`, at most `limit`, and when they were read from
   * DynamoDB; undefined when none starts there. */
  from(partitionKey: string, seq: number, limit: number): { entries: IndexEntry[]; readAt: number } | undefined {
    const entries = this.fresh(partitionKey);
    const i = entries?.findIndex((e) => e.seq === seq) ?? -1;
    return entries && i >= 0 ? { entries: entries.slice(i, i + limit), readAt: (this.chains.get(partitionKey) as Chain).at } : undefined;
  }

  /**
   * Remembers consecutive decided entries (a walk's). Where they join what the partition has
   * (they start inside it or right after it, seq for seq), the chain keeps its entries before and
   * after them, so that a fetch walking a part of it leaves the rest for the next (up to
   * `MAX_CHAIN` entries, the oldest dropped first); otherwise they replace it, unless `joinOnly`
   * (a walk for the high watermark, which must not take the place of a reader's stretch). `readAt` is when
   * the oldest of them was read from DynamoDB, and a chain is as old as its oldest part: entries
   * that came from this cache keep their age, so that none is trusted longer than `ttlMs` after it
   * was read, however often fetches walk it again.
   */
  remember(partitionKey: string, entries: readonly IndexEntry[], readAt = this.now(), joinOnly = false): void {
    const first = entries[0];
    const last = entries.at(-1);
    if (first === undefined || last === undefined) return;
    const had = this.fresh(partitionKey);
    const before = had?.filter((e) => e.toSeq < first.seq) ?? [];
    const after = had?.filter((e) => e.seq > last.toSeq) ?? [];
    const joins = had !== undefined && (before.at(-1)?.toSeq ?? first.seq - 1) === first.seq - 1 && (after[0]?.seq ?? last.toSeq + 1) === last.toSeq + 1 && (before.length > 0 || had[0]?.seq === first.seq);
    if (!joins && joinOnly) return;
    const chain = joins ? [...before, ...entries, ...after] : entries;
    const at = joins ? Math.min(readAt, (this.chains.get(partitionKey) as Chain).at) : readAt;
    this.chains.delete(partitionKey);
    this.chains.set(partitionKey, { entries: chain.length > MAX_CHAIN ? chain.slice(-MAX_CHAIN) : chain, at });
    if (this.chains.size > this.maxPartitions) this.chains.delete(this.chains.keys().next().value as string);
  }

  forget(partitionKey: string): void {
    this.chains.delete(partitionKey);
  }

  private fresh(partitionKey: string): readonly IndexEntry[] | undefined {
    const chain = this.chains.get(partitionKey);
    if (chain && this.now() - chain.at < this.ttlMs) return chain.entries;
    if (chain) this.chains.delete(partitionKey);
    return undefined;
  }
}
