import { describe, expect, it } from 'vitest';
import type { VmResultRow } from '../store/store.js';
import { type FaultRecord, faultOutcomes } from './outcomes.js';

const row = (vmIndex: number, atMs: number, phase: 'ready' | 'failed' = 'ready'): VmResultRow => ({
  vmIndex, phase, ip: '', atMs, totalMicros: 0, steps: '', errorCode: '', errorStep: '', errorMessage: '',
});

// 6 VMs: 0-2 on h0, 3-5 on h1, scheduled at 0, 100, ..., 500 ms.
const plan = { total: 6, hosts: ['h0', 'h1'], hostOf: [0, 0, 0, 1, 1, 1], offsets: [0, 100, 200, 300, 400, 500] };
const record = (over: Partial<FaultRecord>): FaultRecord => ({
  index: 0, kind: 'agent-kill', targets: ['h1'], startMs: 250, endMs: 1000, backMs: new Map([['h1', 1000]]), details: ['x'], problem: undefined, ...over,
});

describe('fault outcomes', () => {
  it('counts the VMs on its targets that were due and unfinished while it lasted, those resent after the target came back, and when creation flowed again', () => {
    // h1's VM 3 finished before the fault; 4 and 5 after the agent came back (resent); h0 untouched.
    const rows = [row(0, 10), row(1, 110), row(2, 210), row(3, 240), row(4, 1100), row(5, 1200)];
    expect(faultOutcomes([record({})], plan, rows, 5000)).toEqual([
      { index: 0, kind: 'agent-kill', targets: ['h1'], startMs: 250, endMs: 1000, vmsWaited: 2, vmsFailed: 0, vmsResent: 2, healthyAfterMs: 850, detail: 'x' },
    ]);
  });

  it('counts failed and unfinished VMs, and gives no healthy time while any is unfinished', () => {
    const rows = [row(3, 300, 'failed'), row(4, 900)];
    const [o] = faultOutcomes([record({ kind: 'vhost-isolate', backMs: new Map() })], plan, rows, 5000);
    expect(o).toMatchObject({ vmsWaited: 3, vmsFailed: 2, vmsResent: 0 });
    expect(o!.healthyAfterMs).toBeUndefined();
  });

  it('takes every vhost for a control-plane fault, and reports one never started', () => {
    const rows = [0, 1, 2, 3, 4, 5].map((i) => row(i, 600 + i));
    const [cp, never] = faultOutcomes([
      record({ kind: 'control-plane-delay', targets: [], startMs: 0, endMs: 550, backMs: new Map() }),
      record({ index: 1, startMs: undefined, endMs: undefined, details: [], problem: 'not started: the VMs were all created before it was due' }),
    ], plan, rows, 5000);
    expect(cp).toMatchObject({ targets: [], vmsWaited: 6, vmsFailed: 0, vmsResent: 0, healthyAfterMs: 600 });
    expect(never).toEqual({ index: 1, kind: 'agent-kill', targets: ['h1'], startMs: 5000, vmsWaited: 0, vmsFailed: 0, vmsResent: 0, detail: 'not started: the VMs were all created before it was due' });
  });
});
