import { describe, expect, it } from 'vitest';
import { forEachBounded, mapBounded } from './concurrency.js';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('forEachBounded', () => {
  it('never runs more than the limit at once and visits every item once', async () => {
    let inFlight = 0;
    let peak = 0;
    const seen: number[] = [];
    await forEachBounded([...Array(20).keys()], 3, async (n) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await tick();
      seen.push(n);
      inFlight--;
    });
    expect(peak).toBe(3);
    expect(seen.sort((a, b) => a - b)).toEqual([...Array(20).keys()]);
  });

  it('stops taking items after the first error, lets in-flight calls settle, then throws that error', async () => {
    const started: number[] = [];
    let settled = 0;
    const run = forEachBounded([...Array(10).keys()], 2, async (n) => {
      started.push(n);
      await tick();
      settled++;
      if (n === 1) throw new Error('item 1 failed');
    });
    await expect(run).rejects.toThrow('item 1 failed');
    expect(started.length).toBeLessThan(10);
    expect(settled).toBe(started.length);
  });

  it('starts nothing new once the signal aborts', async () => {
    const ac = new AbortController();
    const started: number[] = [];
    await forEachBounded([...Array(10).keys()], 1, async (n) => {
      started.push(n);
      if (n === 2) ac.abort();
    }, { signal: ac.signal });
    expect(started).toEqual([0, 1, 2]);
  });

  it('handles no items and a limit above the item count', async () => {
    await forEachBounded([], 4, () => Promise.reject(new Error('never called')));
    expect(await mapBounded([1, 2], 10, async (n) => n * 2)).toEqual([2, 4]);
  });
});

describe('mapBounded', () => {
  it('keeps results in item order whatever order the calls finish in', async () => {
    const out = await mapBounded([30, 10, 20], 3, async (ms) => {
      await new Promise((r) => setTimeout(r, ms));
      return ms;
    });
    expect(out).toEqual([30, 10, 20]);
  });
});
