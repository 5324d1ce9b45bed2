import { describe, expect, it } from 'vitest';
import { StepTimelineAcc, creationRate, reasonOf } from './figures.js';
import { renderHtml } from './html.js';
import { CDF_PERCENTILES } from './quantiles.js';
import { REPORT_VERSION } from './report.js';
import { renderTable } from './table.js';
import { faults, knownRun } from './test-support/known-run.js';

describe('report v2 figures from a known run', () => {
  const r = knownRun();

  it('gives the creation rate over the real span of a sub-second run', () => {
    // 48 ready (h4's VMs 44 and 49 failed); the first VM started at 998 ms (1,000 - 2 ms on its agent), the last ready (VM 48) at 1,192 ms: 194 ms.
    expect(r.vms).toEqual({ requested: 50, ready: 48, failed: 2, pending: 0 });
    expect(r.creationRate.spanMs).toBe(194);
    expect(r.creationRate.mean).toBe(247.4);
    expect(r.creationRate.mean).toBeGreaterThan(200);
    // Window: a tenth of the span as a round width (20 ms), holding 5 VMs (one every 4 ms): 250/s.
    expect(r.creationRate.peakWindowMs).toBe(20);
    expect(r.creationRate.peak).toBe(250);
    // Per started second since acceptance it was [0, 48]: the old figure said "mean 24, peak 48".
    expect(r.creationsPerSecond).toEqual([0, 48]);
    expect(r.reportVersion).toBe(REPORT_VERSION);
    expect(renderTable(r)).toMatch(/creations per second: mean 247\.4 over 0\.19 s \(first VM started -> last ready\), peak 250 \(most ready within 20 ms\)/);
  });

  it('has a per-vhost table, the slowest first, with its slowest step', () => {
    expect(r.vhosts).toHaveLength(5);
    // h4's ready VMs: 1 ms waiting + 6.5 ms on the agent since their scheduled start; the others' 1 + 2.
    expect(r.vhosts![0]).toEqual({ host: 'h4', vms: 10, ready: 8, failed: 2, p50Ms: 7.5, p99Ms: 7.5, slowestStep: 'port', slowestStepMeanMs: 5 });
    expect(r.vhosts!.map((v) => v.host)).toEqual(['h4', 'h0', 'h1', 'h2', 'h3']);
    expect(r.vhosts!.find((v) => v.host === 'h0')).toMatchObject({ vms: 10, ready: 10, failed: 0, p50Ms: 3, p99Ms: 3, slowestStep: 'namespace', slowestStepMeanMs: 1.5 });
    expect(r.vhostsNotListed).toBe(0);
    expect(renderTable(r)).toMatch(/h4\s+10\s+8\s+2\s+7\.50\s+7\.50\s+port \(5\.00\)/);
  });

  it('has each step as a CDF and over time', () => {
    expect(r.cdf?.percentiles).toEqual(CDF_PERCENTILES);
    const port = r.cdf!.steps.port!;
    expect(port).toHaveLength(CDF_PERCENTILES.length);
    // 40 of 48 ready ports took 0.5 ms, 8 (h4's) 5 ms; the failed ones have no port step.
    expect(port[0]).toBe(0.5);
    expect(port.at(-1)).toBe(5);
    expect(r.cdf!.endToEnd.at(-1)).toBe(1192);
    const t = r.stepTimeline!;
    expect(t.steps).toEqual(['namespace', 'port']);
    // 200 ms of readiness from 1,000 ms: 10 ms buckets, 120 of them, merged to 60 of 20 ms.
    expect(t.bucketMs).toBe(20);
    expect(t.meanMs[0]![50]).toBe(1.5);
    // Bucket 50 (1,000-1,020 ms) holds VMs 0-4: h4's VM 4 among them (port 5 ms): mean (4 x 0.5 + 5) / 5.
    expect(t.meanMs[1]![50]).toBe(1.4);
  });

  it('groups failures and control-plane errors by reason', () => {
    expect(r.failures.byReason).toEqual([{ code: 'NETLINK', step: 'port', reason: 'port vm#: EEXIST on <ip>', count: 2, example: 'port vm44: EEXIST on 10.1.0.46' }]);
    expect(reasonOf('port 6f1c2a3b-1111-2222-3333-444455556666 on 02:00:00:00:00:01 took 20000 ms')).toBe('port <id> on <mac> took # ms');
    expect(renderTable(r)).toMatch(/2 x \[NETLINK\] port: port vm#: EEXIST on <ip>/);
    expect(renderTable(r)).toMatch(/POST \/ports\s+503: busy\s+2/);
  });

  it('names the software that ran it', () => {
    expect(r.versions?.agents).toEqual([{ version: '0.1.0', ovsVersion: '3.1.0', vhosts: 4 }, { version: '', ovsVersion: '', vhosts: 1 }]);
    expect(r.versions?.controlPlane.version).toMatch(/^built in \(coordinator /);
    expect(renderTable(r)).toMatch(/software: coordinator \S+ \(Node v\d+.*agents 0\.1\.0 with OVS 3\.1\.0 on 4 vhosts, unknown with OVS unknown on 1 vhost; control plane standalone built in/);
    expect(r.scenario.spec).toEqual({ name: 'known', seed: 1 });
  });

  it('renders one self-contained page with every chart', () => {
    const html = renderHtml(r);
    expect(html).not.toMatch(/<script|https?:\/\/|<link|<img|@import|url\(/);
    // Histogram, ready timeline, stacked steps, step CDFs, end-to-end CDF.
    expect(html.match(/<svg class="chart"/g)).toHaveLength(5);
    expect(html).toContain('Per vhost');
    expect(html).toContain('VM failures by reason');
    expect(html).toContain('Control-plane errors by reason');
    expect(html).toContain('<summary>The scenario as it ran</summary>');
  });
});

describe('faults in the report', () => {
  const r = knownRun(faults);

  it('lists each fault in the table with what it did', () => {
    const text = renderTable(r);
    expect(text).toMatch(/0\s+agent-kill\s+h2\s+\+1\.05 s\s+\+1\.12 s\s+4\s+0\s+2\s+0\.30 s\s+SIGKILL to the agent of h2/);
    expect(text).toMatch(/1\s+control-plane-delay\s+control plane\s+\+1\.10 s\s+never ended\s+10\s+1\s+0\s+never\s+every control-plane call/);
  });

  it('keeps them as they are in the JSON', () => {
    expect(JSON.parse(JSON.stringify(r)).faults).toEqual(faults);
  });

  it("marks each fault's span on the timeline and has a per-fault table", () => {
    const html = renderHtml(r);
    expect(html.match(/<g class="mark">/g)).toHaveLength(2);
    expect(html).toContain('fault 0: agent-kill');
    expect(html).toContain('fault 1: control-plane-delay');
    expect(html).toContain('<h2>Faults injected</h2>');
    expect(html).toContain('&#60;never lifted&#62;');
    expect(html).toContain('<td class="t">never ended</td>');
  });
});

describe('figures at their edges', () => {
  it('a single VM: its own span, and a peak never below the mean', () => {
    const rate = creationRate(Float64Array.from([50]), 1, 47);
    expect(rate).toEqual({ mean: 333.3, peak: 333.3, spanMs: 3, peakWindowMs: 3 });
    expect(creationRate(new Float64Array(0), 0, 0)).toEqual({ mean: 0, peak: 0, spanMs: 0, peakWindowMs: 0 });
  });

  it('a long run: a second-wide peak window, and the step timeline stays bounded', () => {
    const ready = Float64Array.from({ length: 3600 }, (_, i) => i * 1000 + 500);
    expect(creationRate(ready, 3600, 0)).toMatchObject({ peakWindowMs: 1000, peak: 1, mean: 1 });
    const t = new StepTimelineAcc();
    for (let i = 0; i < 3600; i++) t.add(i * 1000, 'port', i < 1800 ? 1 : 3);
    const s = t.summary();
    expect(s.meanMs[0]!.length).toBeLessThanOrEqual(60);
    expect(s.bucketMs * s.meanMs[0]!.length).toBeGreaterThanOrEqual(3_600_000);
    expect(s.meanMs[0]![0]).toBe(1);
    expect(s.meanMs[0]!.at(-1)).toBe(3);
  });
});
