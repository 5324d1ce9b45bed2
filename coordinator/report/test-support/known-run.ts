// A known run for the report's tests (figures worked out by hand in report-v2.test.ts) and the
// HTML render test: every section of the page, faults included.
import type { FaultOutcome } from '../fault-outcome.js';
import { type Report, type ResultRow, buildReport } from '../report.js';
import { softwareVersions } from '../versions.js';

/**
 * A known run, as the demo makes it: 50 VMs on 5 vhosts after a second of network set-up, one
 * ready every 4 ms from 1,000 ms, each 2 ms on its agent (namespace 1.5 ms, port 0.5 ms); vhost
 * h4's VMs are slower (port 5 ms) and two of them fail. Each VM was scheduled 1 ms before its agent
 * started on it.
 */
export function knownRun(faults?: readonly FaultOutcome[]): Report {
  const rows: ResultRow[] = [];
  for (let i = 0; i < 50; i++) {
    const host = i % 5;
    if (host === 4 && i >= 40) {
      rows.push({ vmIndex: i, phase: 'failed', atMs: 1000 + 4 * i, totalMicros: 2000, steps: 'namespace=1500', errorCode: 'NETLINK', errorStep: 'port', errorMessage: `port vm${i}: EEXIST on 10.1.0.${i + 2}`, ip: '' });
      continue;
    }
    const port = host === 4 ? 5000 : 500;
    rows.push({ vmIndex: i, phase: 'ready', atMs: 1000 + 4 * i, totalMicros: 1500 + port, steps: `namespace=1500;port=${port}`, errorCode: '', errorStep: '', errorMessage: '', ip: `10.1.0.${i + 2}` });
  }
  const report = buildReport({
    scenario: { id: 's1', name: 'known', hosts: 5, provider: 'standalone', acceptedAtMs: 0, spec: { name: 'known', seed: 1 } },
    total: 50, rows, idOf: (i) => `vm${i}`, hostOf: (i) => `h${i % 5}`, offsetOf: (i) => 1000 + 4 * i - 1 - (i % 5 === 4 ? 6.5 : 2),
    controlPlane: [{ endpoint: 'POST /ports', count: 10, errors: 3, p50: 2, p90: 3, p99: 3, max: 3, errorReasons: [{ reason: '503: busy', count: 2 }, { reason: 'no answer: timeout', count: 1 }] }],
    versions: softwareVersions(['h0', 'h1', 'h2', 'h3', 'h4'], (h) => (h === 'h4' ? undefined : { version: '0.1.0', ovsVersion: '3.1.0' }), { provider: 'standalone', version: '' }),
    now: new Date(0),
  });
  return faults ? { ...report, faults } : report;
}

export const faults: FaultOutcome[] = [
  { index: 0, kind: 'agent-kill', targets: ['h2'], startMs: 1050, endMs: 1120, vmsWaited: 4, vmsFailed: 0, vmsResent: 2, healthyAfterMs: 300, detail: 'SIGKILL to the agent of h2 (pid 1234); back after 0.07 s' },
  { index: 1, kind: 'control-plane-delay', targets: [], startMs: 1100, vmsWaited: 10, vmsFailed: 1, vmsResent: 0, detail: 'every control-plane call delayed 200 ms <never lifted>' },
];
