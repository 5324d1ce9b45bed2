import { describe, expect, it } from 'vitest';
import { DEFAULT_BACKOFF, restartDelayMs } from './backoff.js';

describe('restart backoff', () => {
  it('doubles from the base with each crash in a row and stays at the cap', () => {
    const p = { baseMs: 1000, maxMs: 10_000, resetAfterMs: 60_000 };
    expect([1, 2, 3, 4, 5, 6, 40].map((n) => restartDelayMs(p, n))).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000, 10_000]);
  });

  it('starts a process that is down for no crash of its own (a heal) at once', () => {
    expect(restartDelayMs(DEFAULT_BACKOFF, 0)).toBe(0);
  });
});
