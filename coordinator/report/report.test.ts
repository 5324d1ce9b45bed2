import { describe, expect, it } from 'vitest';
import { renderHtml } from './html.js';
import { type ResultRow, buildReport, quantiles } from './report.js';
import { renderTable } from './table.js';

describe('report', () => {
  it('computes quantiles by nearest rank', () => {
    expect(quantiles([5, 1, 4, 2, 3])).toEqual({ count: 5, p50: 3, p90: 5, p99: 5, max: 5 });
    expect(quantiles([])).toMatchObject({ count: 0 });
  });

  const rows: ResultRow[] = [
    { vmIndex: 0, phase: 'ready', atMs: 100, totalMicros: 3000, steps: 'namespace=500;port=100', errorCode: '', errorStep: '', errorMessage: '', ip: '10.0.0.2' },
    { vmIndex: 1, phase: 'ready', atMs: 1500, totalMicros: 9000, steps: 'namespace=700', errorCode: '', errorStep: '', errorMessage: '', ip: '10.0.0.3' },
    { vmIndex: 2, phase: 'failed', atMs: 1600, totalMicros: 10, steps: '', errorCode: 'NETLINK', errorStep: 'port', errorMessage: 'EEXIST <x>', ip: '' },
  ];
  const ids = ['a', 'b', 'c', 'd'];
  const hosts = ['h0', 'h1', 'h1', 'h0'];
  const r = buildReport({
    scenario: { id: 's', name: 'demo', hosts: 2, provider: 'standalone', acceptedAtMs: 0 },
    total: 4, rows, idOf: (i) => ids[i]!, hostOf: (i) => hosts[i]!, offsetOf: (i) => i * 50,
    ping: [
      { src: 'a', dst: 'b', srcHost: 'h0', dstHost: 'h1', dstIp: '10.0.0.3', expect: 'reach', sent: 3, received: 3, rttAvgMs: 0.2, firstReplyMs: 1.5, error: '' },
      { src: 'b', dst: 'a', srcHost: 'h1', dstHost: 'h0', dstIp: '10.0.0.2', expect: 'reach', sent: 3, received: 0, rttAvgMs: 0, firstReplyMs: 0, error: '' },
      { src: 'a', dst: 'x', srcHost: 'h0', dstHost: 'h0', dstIp: '10.9.0.2', expect: 'isolated', sent: 3, received: 0, rttAvgMs: 0, firstReplyMs: 0, error: '' },
    ],
    controlPlane: [{ endpoint: 'POST /project/{p}/ports', count: 3, errors: 1, p50: 2, p90: 3, p99: 3, max: 3 }],
    now: new Date(0),
  });

  it('counts VMs, failures, creations per second and ping outcomes', () => {
    expect(r.vms).toEqual({ requested: 4, ready: 2, failed: 1, pending: 1 });
    expect(r.failures.byCode).toEqual({ NETLINK: 1 });
    expect(r.failures.first).toEqual([{ vm: 'c', host: 'h1', code: 'NETLINK', step: 'port', message: 'EEXIST <x>' }]);
    expect(r.creationsPerSecond).toEqual([1, 1]);
    // Over the real span: the first VM's start on its agent (100 - 3 ms) to the last ready (1500 ms).
    expect(r.creationRate).toEqual({ mean: 1.4, peak: 5, spanMs: 1403, peakWindowMs: 200 });
    expect(r.latencyMs.endToEnd).toMatchObject({ count: 2, p50: 100, max: 1500 });
    expect(r.latencyMs.sinceScheduled).toMatchObject({ count: 2, p50: 100, max: 1450 });
    expect(r.latencyMs.agent).toMatchObject({ count: 2, max: 9 });
    expect(r.latencyMs.steps.namespace).toMatchObject({ count: 2, max: 0.7 });
    expect(r.latencyMs.steps.port).toMatchObject({ count: 1, max: 0.1 });
    expect(r.histogram.reduce((a, b) => a + b.count, 0)).toBe(2);
    // Equal-width buckets over the observed range (100..1500 ms: 100 ms wide), bounded above.
    expect(r.histogram[0]).toEqual({ leMs: 200, count: 1 });
    expect(r.histogram.at(-1)).toEqual({ leMs: 1500, count: 1 });
    expect(r.histogram).toHaveLength(14);
    // The timeline's resolution suits the run: 1.5 s in 50 ms buckets.
    expect(r.creationTimeline.bucketMs).toBe(50);
    expect(r.creationTimeline.counts[2]).toBe(1);
    expect(r.creationTimeline.counts[30]).toBe(1);
    expect(r.ping).toMatchObject({ pairsPassed: 1, pairsFailed: 1, isolationPassed: 1, isolationFailed: 0, crossHostPairs: 2 });
    expect(r.ping?.matrix?.a?.b).toBe('3/3');
    // Time to the first reply counts the pairs that got one.
    expect(r.ping?.firstReplyMs).toMatchObject({ count: 1, p50: 1.5, max: 1.5 });
    // Each pair's own first reply and steady RTT, for JSON readers.
    expect(r.ping?.pairs).toHaveLength(3);
    expect(r.ping?.pairs.find((p) => p.src === 'a' && p.dst === 'b')).toMatchObject({ expect: 'reach', firstReplyMs: 1.5, received: 3, sent: 3 });
    expect(r.ping?.pairsNotListed).toBe(0);
  });

  it('renders a table and a self-contained, escaped HTML page', () => {
    const text = renderTable(r);
    expect(text).toMatch(/4 requested, 2 ready, 1 failed, 1 without a result/);
    expect(text).toMatch(/POST \/project\/\{p\}\/ports\s+3\s+1/);
    expect(text).toMatch(/unreachable: b \(h1\) -> a 10\.0\.0\.2 \(h0\): 0\/3/);
    const html = renderHtml(r);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).toContain('EEXIST &#60;x&#62;');
    expect(html).toContain('Control plane API');
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(r.alcor).toBeUndefined();
    expect(text).not.toMatch(/Alcor/);
  });

  describe('an Alcor scenario', () => {
    // Micros, as agents send them: bind is the PUT, goalstate bind sent -> applied, goalstate-apply received -> applied.
    const alcorRow = (vmIndex: number, bind: number, goalstate: number, apply: number): ResultRow => ({
      vmIndex, phase: 'ready', atMs: 100 + vmIndex, totalMicros: bind + 1000, steps: `allocate=800;attach=300;bind=${bind};goalstate=${goalstate};goalstate-apply=${apply};move=50`,
      errorCode: '', errorStep: '', errorMessage: '', ip: `10.1.0.${vmIndex + 2}`,
    });
    const alcorRows = [
      alcorRow(0, 12_000, 10_000, 2_000), alcorRow(1, 20_000, 17_000, 5_000), alcorRow(2, 9_000, 8_500, 500),
      // Failed waiting: its goalstate step counts among the steps, not in the split.
      { vmIndex: 3, phase: 'failed', atMs: 400, totalMicros: 21_000_000, steps: 'allocate=800;bind=9000;goalstate=20000000;undo:allocate=700', errorCode: 'ALCOR', errorStep: 'goalstate', errorMessage: 'port p: no GoalState applied on this host within 20000 ms (x)', ip: '' },
    ] satisfies ResultRow[];
    const a = buildReport({
      scenario: { id: 'al', name: 'alcor-e2e', hosts: 2, provider: 'alcor', acceptedAtMs: 0 },
      total: 4, rows: alcorRows, idOf: (i) => `vm${i}`, hostOf: (i) => `h${i % 2}`, offsetOf: () => 0, now: new Date(0),
    });

    it("splits each ready VM's bind into Alcor's REST work and push, the programming on its host, and the answer", () => {
      expect(a.latencyMs.steps.goalstate).toMatchObject({ count: 4, max: 20_000 });
      expect(a.alcor).toEqual({
        goalStateVms: 3,
        bindMs: { count: 3, p50: 12, p90: 20, p99: 20, max: 20 },
        goalStateMs: { count: 3, p50: 10, p90: 17, p99: 17, max: 17 },
        restAndPushMs: { count: 3, p50: 8, p90: 12, p99: 12, max: 12 },
        programmingMs: { count: 3, p50: 2, p90: 5, p99: 5, max: 5 },
        answerMs: { count: 3, p50: 2, p90: 3, p99: 3, max: 3 },
      });
      expect(a.failures.first[0]).toMatchObject({ vm: 'vm3', code: 'ALCOR', step: 'goalstate' });
      // report.json is the report as data: the split is in it.
      expect(JSON.parse(JSON.stringify(a)).alcor.restAndPushMs.p50).toBe(8);
    });

    it('says so in the table and the HTML page', () => {
      const text = renderTable(a);
      expect(text).toMatch(/REST work vs GoalState push and programming, per VM \(3 VMs waited/);
      expect(text).toMatch(/REST work and push \(bind sent -> GoalState on the host\)\s+3\s+8\.00\s+12\.00\s+12\.00\s+12\.00/);
      expect(text).toMatch(/GoalState programming on the host \(received -> applied\)\s+3\s+2\.00\s+5\.00/);
      expect(text).toMatch(/step goalstate\s+4\s+/);
      const html = renderHtml(a);
      expect(html).toContain('REST work vs GoalState push and programming');
      expect(html).toMatch(/<td>GoalState programming on the host \(received -&#62; applied\)<\/td><td>3<\/td><td>2\.00<\/td>/);
    });

    it('says when no VM waited for its GoalState', () => {
      const none = buildReport({
        scenario: { id: 'al', name: 'alcor-e2e', hosts: 1, provider: 'alcor', acceptedAtMs: 0 },
        total: 1, rows: [{ ...alcorRow(0, 9000, 0, 0), steps: 'allocate=800;bind=9000' }], idOf: () => 'vm0', hostOf: () => 'h0', offsetOf: () => 0,
      });
      expect(none.alcor?.goalStateVms).toBe(0);
      expect(renderTable(none)).toMatch(/no VM waited for its GoalState/);
      expect(renderHtml(none)).toMatch(/No VM waited for its GoalState/);
    });
  });

  it('splits an OVN port from the NB write to installed, per ready VM, in the table and the page', () => {
    const row = (i: number, steps: string): ResultRow => ({ vmIndex: i, phase: 'ready', atMs: 10 * i, totalMicros: 1000, steps, errorCode: '', errorStep: '', errorMessage: '', ip: '' });
    const o = buildReport({
      scenario: { id: 's', name: 'ovn', hosts: 1, provider: 'ovn', acceptedAtMs: 0 }, total: 3,
      rows: [row(0, 'port=100;installed=40000;nb-write=2000;bound=30000;up=45000'), row(1, 'installed=20000;nb-write=2000;bound=10000'), row(2, 'installed=1000')],
      idOf: String, hostOf: () => 'h0', offsetOf: () => 0,
      controlPlane: [{ endpoint: 'NB write (VM ports of a chunk)', count: 1, errors: 0, p50: 2, p90: 2, p99: 2, max: 2 }],
    });
    expect(o.ovn).toEqual({
      vms: 2, nbWriteMs: { count: 2, p50: 2, p90: 2, p99: 2, max: 2 }, boundMs: { count: 2, p50: 10, p90: 30, p99: 30, max: 30 },
      upMs: { count: 1, p50: 45, p90: 45, p99: 45, max: 45 }, installedMs: { count: 3, p50: 20, p90: 40, p99: 40, max: 40 },
    });
    expect(renderTable(o)).toContain('NB commit -> Port_Binding bound to a chassis');
    expect(renderHtml(o)).toContain('OVN: northbound write to installed');
    expect(r.ovn).toBeUndefined();
  });
});
