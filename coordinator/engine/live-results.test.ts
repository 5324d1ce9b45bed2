import { agentV1 } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import { type ReportInput, buildReport } from '../report/report.js';
import { Store, type VmResultRow, stepsText } from '../store/store.js';
import { LiveResults } from './live-results.js';

/** One result as an agent sends it (stored as vm-fanout stores it). */
interface Arrival {
  readonly i: number;
  readonly ready: boolean;
  readonly atMs: number;
  readonly totalMicros: number;
  readonly steps: agentV1.StepTiming[];
  readonly error?: agentV1.VmError;
}

const storedRow = (a: Arrival): VmResultRow => ({
  vmIndex: a.i, phase: a.ready ? 'ready' : 'failed', ip: a.ready ? `10.0.0.${a.i}` : '', atMs: a.atMs, totalMicros: a.totalMicros,
  steps: stepsText(a.steps),
  errorCode: a.error?.code ?? '', errorStep: a.error?.step ?? '', errorMessage: a.error?.message ?? '',
});

const TOTAL = 600;
const HOSTS = 7;

/** Results in no order: VMs ready and failed (more failures than the report lists), one failed then ready, some never answered, step sets that differ. */
function arrivals(): Arrival[] {
  const out: Arrival[] = [];
  for (let n = 0; n < TOTAL; n++) {
    const i = (n * 389) % TOTAL; // every index once, out of order
    if (i % 50 === 49) continue; // no result
    const atMs = 1000 + ((n * 7919) % 5000) + 0.37 * (n % 3); // not whole: stored rounded
    const steps = [{ step: 'netns', micros: 1000 + (i % 13) * 17 }, { step: i % 4 === 0 ? 'internal-port' : 'veth', micros: 300 + (i % 7) * 41 }];
    if (i % 5 < 2) out.push({ i, ready: false, atMs, totalMicros: 2000, steps, error: { code: 'NETLINK', step: 'port', message: `port vm${i}: EEXIST on 10.1.${i >> 8}.${i & 255}` } });
    else out.push({ i, ready: true, atMs, totalMicros: 1500 + (i % 11) * 10, steps: [...steps, { step: 'ovs-port', micros: 700 + (i % 5) * 3 }] });
  }
  // VM 5 failed, then was made when its agent came back: its later result supersedes the first.
  out.push({ i: 5, ready: true, atMs: 9000.5, totalMicros: 4000, steps: [{ step: 'netns', micros: 900 }, { step: 'ovs-port', micros: 333 }] });
  // VM 7 was ready, then a repeated create failed (as a restarted agent might answer).
  out.push({ i: 7, ready: false, atMs: 9100, totalMicros: 10, steps: [], error: { code: 'UNAVAILABLE', step: 'fanout', message: 'h0: the agent is not connected' } });
  return out;
}

const input = (rows: ReportInput['rows']): ReportInput => ({
  scenario: { id: 's1', name: 'live', hosts: HOSTS, provider: 'standalone', acceptedAtMs: 0 },
  total: TOTAL, rows, idOf: (i) => `live-0-0-${i}`, hostOf: (i) => `h${i % HOSTS}`, offsetOf: (i) => i * 2, now: new Date(0),
});

describe('LiveResults', () => {
  it('gives the report the store would: the latest result per VM in index order, times rounded as stored', () => {
    const store = new Store(':memory:');
    const { seq } = store.insertScenario({ id: 's1', name: 'live', specJson: '{}', phase: 'creating', error: '', createdAt: 0, updatedAt: 0 });
    const live = new LiveResults(TOTAL);
    const all = arrivals();
    for (let k = 0; k < all.length; k += 64) store.recordResults(seq, all.slice(k, k + 64).map(storedRow));
    for (const a of all) live.record(a.i, a.ready, a.atMs, a.totalMicros, a.steps, a.error);

    const fromStore = buildReport(input(store.results(seq)));
    const fromLive = buildReport(input(live.rows()));
    expect(live.usable).toBe(true);
    expect(fromLive).toEqual(fromStore);
    // What the comparison covers: failures past the listed 200, a superseded result each way.
    expect(fromStore.vms.failed).toBeGreaterThan(200);
    expect(fromStore.failures.first).toHaveLength(200);
    expect(fromStore.vms.pending).toBe(12);
    expect(fromStore.failures.first.some((f) => f.vm === 'live-0-0-5')).toBe(false);
    expect(fromStore.failures.first.find((f) => f.vm === 'live-0-0-7')?.code).toBe('UNAVAILABLE');
  });

  it('says it is not the whole story once a result does not fit its columns (the report then reads the store)', () => {
    const live = new LiveResults(2);
    live.record(0, true, 10, 100, [{ step: 'netns', micros: 5 }], undefined);
    expect(live.usable).toBe(true);
    live.record(1, true, 10, 100, Array.from({ length: 0x10000 }, () => ({ step: 'netns', micros: 1 })), undefined);
    expect(live.usable).toBe(false);
  });
});
