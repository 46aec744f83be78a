/** A byte range wanted of an object, end exclusive. */
export interface WantedRange {
  readonly start: number;
  readonly end: number;
}

/** Ranges of one object read with one GET: the span from the first to the last. */
export interface RangeGroup<T extends WantedRange> {
  readonly start: number;
  readonly end: number;
  /** In order of `start`. */
  readonly members: readonly T[];
}

/**
 * Which ranges of one object to read together. In order of start, each range joins the GET
 * before it unless that GET would then span more than `maxSpanRatio` times the bytes its ranges
 * want: the bytes between them (other partitions' batches in a shared object) are read and left,
 * so a GET reads at most that many times what it serves. Shared by a fetch (which names one GET
 * for the ranges its partitions want of an object) and a merge (which reads its runs' ranges).
 */
export function groupRanges<T extends WantedRange>(ranges: readonly T[], maxSpanRatio: number): RangeGroup<T>[] {
  const groups: RangeGroup<T>[] = [];
  let group: { start: number; end: number; members: T[] } | undefined;
  let wanted = 0;
  for (const range of [...ranges].sort((a, b) => a.start - b.start)) {
    const bytes = range.end - range.start;
    if (group !== undefined && Math.max(group.end, range.end) - group.start <= maxSpanRatio * (wanted + bytes)) {
      group.end = Math.max(group.end, range.end);
      group.members.push(range);
      wanted += bytes;
      continue;
    }
    if (group !== undefined) groups.push(group);
    group = { start: range.start, end: range.end, members: [range] };
    wanted = bytes;
  }
  if (group !== undefined) groups.push(group);
  return groups;
}
