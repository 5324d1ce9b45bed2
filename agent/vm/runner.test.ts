import { agentV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import type { Clock } from './clock.js';
import { HollowExecutor } from './hollow-executor.js';
import { VmRunner, type VmResult } from './runner.js';
import { validateApply } from './spec.js';
import { type Stage, StepTimer, VmFailure, runStages } from './stages.js';

const limits = { maxOperations: 1000, maxConcurrency: 64, defaultConcurrency: 4 };
const create = (i: number, startOffsetMs = 0): agentV1.VmOperation => ({
  op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: `vm-${i}`, name: `ns-${i}`, ip: `10.0.0.${i + 2}`, prefixLength: 24, mac: `02:00:00:00:00:${(i + 1).toString(16).padStart(2, '0')}` }) },
  startOffsetMs,
});

/** A clock that jumps instead of waiting, recording when each sleep ended. */
function fakeClock(): Clock & { log: number[] } {
  let now = 1_000;
  const log: number[] = [];
  return { log, nowMs: () => now, sleep: async (ms) => { if (ms > 0) now += ms; log.push(now); } };
}

describe('VmRunner', () => {
  it('runs operations in schedule order and emits one result per VM', async () => {
    const clock = fakeClock();
    const runner = new VmRunner({ executor: new HollowExecutor(), clock, capacity: 100, initialCount: 0 });
    const batch = validateApply({ operations: [create(0, 30), create(1, 10), create(2, 20)], concurrency: 1, startAtUnixMs: 0 }, limits);
    const results: VmResult[] = [];
    await runner.run(batch, (r) => results.push(r));
    expect(results.map((r) => r.id)).toEqual(['vm-1', 'vm-2', 'vm-0']);
    expect(results.every((r) => r.status === 'ready')).toBe(true);
    expect(clock.log).toEqual([1010, 1020, 1030]);
    expect(runner.vmCount).toBe(3);
  });

  it('is idempotent for the same spec, rejects a different one, and deletes absent VMs as absent', async () => {
    const runner = new VmRunner({ executor: new HollowExecutor(), clock: fakeClock(), capacity: 100, initialCount: 0 });
    const results: VmResult[] = [];
    const run = (ops: agentV1.VmOperation[]): Promise<void> => runner.run(validateApply({ operations: ops, concurrency: 2, startAtUnixMs: 0 }, limits), (r) => results.push(r));
    await run([create(0)]);
    await run([create(0)]);
    const changed = create(0);
    if (changed.op?.$case === 'create') changed.op.value.ip = '10.0.0.99';
    await run([changed]);
    await run([{ op: { $case: 'delete', value: { id: 'vm-0', name: 'ns-0' } }, startOffsetMs: 0 }]);
    await run([{ op: { $case: 'delete', value: { id: 'vm-0', name: 'ns-0' } }, startOffsetMs: 0 }]);
    expect(results.map((r) => [r.status, r.error?.code])).toEqual([
      ['ready', undefined], ['ready', undefined], ['failed', 'CONFLICT'], ['deleted', undefined], ['absent', undefined],
    ]);
    expect(runner.vmCount).toBe(0);
  });

  it('fails creates beyond capacity with CAPACITY', async () => {
    const runner = new VmRunner({ executor: new HollowExecutor(), clock: fakeClock(), capacity: 2, initialCount: 0 });
    const results: VmResult[] = [];
    await runner.run(validateApply({ operations: [create(0), create(1), create(2)], concurrency: 1, startAtUnixMs: 0 }, limits), (r) => results.push(r));
    expect(results.map((r) => r.error?.code ?? r.status)).toEqual(['ready', 'ready', 'CAPACITY']);
  });
});

describe('runStages', () => {
  it('undoes finished stages in reverse order, times them, and names the failed step', async () => {
    const trail: string[] = [];
    const stage = (name: string, fail = false): Stage<null> => ({
      name,
      run: async () => { trail.push(name); if (fail) throw new VmFailure('NETLINK', name, 'EEXIST'); },
      undo: async () => { trail.push(`undo:${name}`); },
    });
    const timer = new StepTimer();
    const err = await runStages([stage('a'), stage('b'), stage('c', true), stage('d')], null, timer).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(VmFailure);
    expect((err as VmFailure).step).toBe('c');
    expect((err as VmFailure).code).toBe('NETLINK');
    expect(trail).toEqual(['a', 'b', 'c', 'undo:b', 'undo:a']);
    expect(timer.steps.map((s) => s.step)).toEqual(['a', 'b', 'c', 'undo:b', 'undo:a']);
  });
});
