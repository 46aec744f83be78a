/**
 * Maps `items` through `fn` with at most `limit` calls in flight; results keep the input order.
 * Once `stop()` says so, no further call starts (the first always does), and the results are
 * those of the longest prefix of items that completed.
 */
export async function mapConcurrent<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
  stop: () => boolean = () => false,
): Promise<R[]> {
  const out: R[] = [];
  const done: boolean[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && !(next > 0 && stop())) {
      const i = next++;
      out[i] = await fn(items[i] as T);
      done[i] = true;
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  let completed = 0;
  while (done[completed]) completed++;
  return out.slice(0, completed);
}
