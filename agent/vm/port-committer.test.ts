import { describe, expect, it } from 'vitest';
import { VswitchdNotAppliedError } from '../vswitch/vswitch.js';
import { type PortChange, PortCommitter } from './port-committer.js';

describe('PortCommitter', () => {
  it('groups requests made while a commit is in flight', async () => {
    const groups: string[][] = [];
    const committer = new PortCommitter(async (changes) => {
      groups.push(changes.map((c) => c.name));
      await new Promise((r) => setTimeout(r, 5));
      return changes.map((_, i) => ({ ofport: i + 1 }));
    }, 1);
    const first = Array.from({ length: 3 }, (_, i) => committer.add(`a${i}`, '', {}));
    await new Promise((r) => setTimeout(r, 1));
    const second = Array.from({ length: 4 }, (_, i) => committer.add(`b${i}`, '', {}));
    expect(await Promise.all([...first, ...second])).toEqual([1, 2, 3, 1, 2, 3, 4]);
    expect(groups).toEqual([['a0', 'a1', 'a2'], ['b0', 'b1', 'b2', 'b3']]);
  });

  it('retries a failed group one by one so only the bad change fails', async () => {
    const calls: number[] = [];
    const committer = new PortCommitter(async (changes: readonly PortChange[]) => {
      calls.push(changes.length);
      if (changes.some((c) => c.name === 'bad')) throw new Error('constraint violation on bad');
      return changes.map(() => ({ ofport: 7 }));
    }, 1);
    const results = await Promise.allSettled(['ok1', 'bad', 'ok2'].map((n) => committer.add(n, '', {})));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(calls).toEqual([3, 1, 1, 1]);
  });

  it('keeps up to maxInFlight groups waiting at once', async () => {
    let concurrent = 0;
    let peak = 0;
    const committer = new PortCommitter(async (changes) => {
      peak = Math.max(peak, ++concurrent);
      await new Promise((r) => setTimeout(r, 5));
      concurrent--;
      return changes.map(() => ({ ofport: 1 }));
    }, 3);
    const all: Promise<number>[] = [];
    for (let i = 0; i < 6; i++) {
      all.push(committer.add(`p${i}`, '', {}));
      await new Promise((r) => setImmediate(r));
    }
    await Promise.all(all);
    expect(peak).toBe(3);
  });

  it('passes per-change errors through without failing the others', async () => {
    const committer = new PortCommitter(async (changes) =>
      changes.map((c) => (c.name === 'x' ? { error: new Error('ofport -1') } : { ofport: 3 })),
    );
    const [a, b] = await Promise.allSettled([committer.add('x', '', {}), committer.add('y', '', {})]);
    expect(a.status).toBe('rejected');
    expect(b).toEqual({ status: 'fulfilled', value: 3 });
  });

  it('does not add again a group that committed but vswitchd did not apply in time', async () => {
    const calls: number[] = [];
    const committer = new PortCommitter(async (changes) => {
      calls.push(changes.length);
      throw new VswitchdNotAppliedError(5, 4, 60_000);
    }, 1);
    const results = await Promise.allSettled(['a', 'b', 'c'].map((n) => committer.add(n, '', {})));
    // One transaction, no per-port retry (the ports exist: a retry would collide on their names).
    expect(calls).toEqual([3]);
    for (const r of results) {
      expect(r.status).toBe('rejected');
      expect((r as PromiseRejectedResult).reason).toBeInstanceOf(VswitchdNotAppliedError);
    }
  });

  it('puts at most maxGroup changes in one transaction', async () => {
    const groups: number[] = [];
    const committer = new PortCommitter(async (changes) => {
      groups.push(changes.length);
      await new Promise((r) => setTimeout(r, 2));
      return changes.map(() => ({ ofport: 1 }));
    }, 2, 4);
    await Promise.all(Array.from({ length: 10 }, (_, i) => committer.add(`p${i}`, '', {})));
    expect(groups).toEqual([4, 4, 2]);
  });
});
