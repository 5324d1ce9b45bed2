// One bounded worker pool for every fan-out in the project (VM operations, agent chunks, pings,
// tunnel updates, vhost start-up): at most `limit` calls in flight, items taken in order.

export interface BoundedOptions {
  /** Once aborted, no further item is started; calls in flight finish. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * Calls `fn` for every item with at most `limit` calls in flight. The first error stops new items
 * from starting; the calls already in flight settle, then that first error is thrown, so nothing
 * is left running behind the caller's back.
 */
export async function forEachBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
  options: BoundedOptions = {},
): Promise<void> {
  const { signal } = options;
  let next = 0;
  let failed = false;
  let failure: unknown;
  const worker = async (): Promise<void> => {
    while (next < items.length && !failed && signal?.aborted !== true) {
      const index = next++;
      try {
        await fn(items[index]!, index);
      } catch (e) {
        if (!failed) failure = e;
        failed = true;
      }
    }
  };
  const workers = Math.max(1, Math.min(Math.floor(limit), items.length));
  await Promise.all(Array.from({ length: items.length === 0 ? 0 : workers }, worker));
  if (failed) throw failure;
}

/** `forEachBounded` that keeps each call's result at its item's index. */
export async function mapBounded<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  options: BoundedOptions = {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  await forEachBounded(items, limit, async (item, i) => { results[i] = await fn(item, i); }, options);
  return results;
}
