import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS, compareReports } from './compare.js';
import { renderCompareHtml, renderCompareText } from './compare-render.js';
import type { Quantiles, Report } from './report.js';
import { ReportFormatError, parseReportJson } from './report-json.js';
import { knownRun } from './test-support/known-run.js';

const q = (p50: number, p90: number, p99: number, max = p99, count = 1000): Quantiles => ({ count, p50, p90, p99, max });

/** The known run with some figures changed (as a report.json from another run would have them). */
function modified(r: Report, steps: Record<string, Quantiles>, more: Partial<Report> = {}): Report {
  return JSON.parse(JSON.stringify({ ...r, ...more, latencyMs: { ...r.latencyMs, steps: { ...r.latencyMs.steps, ...steps } } })) as Report;
}

describe('compare', () => {
  // The known run's steps as if from 1,000 VMs: every quantile up to p99 has enough samples to judge.
  const a = modified(knownRun(), { port: q(0.5, 5, 5), namespace: q(1.5, 1.5, 1.5) });

  it('finds nothing between a report and itself read back from JSON', () => {
    const b = parseReportJson(JSON.stringify(a), 'B');
    const c = compareReports(a, b, { a: 'a.json', b: 'b.json' });
    expect(c.worse).toBe(0);
    expect(c.better).toBe(0);
    expect(c.rows.every((r) => ['same', 'info', 'few-samples'].includes(r.verdict))).toBe(true);
    expect(c.caveats).toEqual([]);
    // Every figure has its row: counts, rates, each quantile of each latency and step, endpoints.
    const figures = c.rows.map((r) => `${r.section}: ${r.figure}`);
    for (const f of ['VMs: ready', 'VMs: failed NETLINK', 'rates: creations per second, mean', 'latency: end to end p99', 'steps: port p50', 'steps: namespace max', 'control plane: POST /ports p90', 'control plane: POST /ports errors']) {
      expect(figures).toContain(f);
    }
  });

  it('judges latencies by the threshold and the floor, max not at all', () => {
    // port: 0.5 -> 2 ms p50 is +300% but under the 10 ms floor; p90 5 -> 5.5 ms within 60%;
    // p99 5 -> 22 ms beyond both; max 5 -> 500 ms is one sample. namespace 1.5 -> 0.2: under the floor.
    const b = modified(a, { port: q(2, 5.5, 22, 500), namespace: q(0.2, 0.2, 0.2) });
    const c = compareReports(a, b, { a: 'A', b: 'B' });
    const verdict = (figure: string): string => c.rows.find((r) => r.figure === figure)!.verdict;
    expect(verdict('port p50')).toBe('same');
    expect(verdict('port p90')).toBe('same');
    expect(verdict('port p99')).toBe('worse');
    expect(verdict('port max')).toBe('info');
    expect(verdict('namespace p50')).toBe('same');
    expect(c.worse).toBe(1);
    expect(c.rows.find((r) => r.figure === 'port p99')).toMatchObject({ a: 5, b: 22, diff: 17, diffPct: 340 });
    // A tighter floor: the p50 too.
    expect(compareReports(a, b, { a: 'A', b: 'B' }, { pct: 50, floorMs: 1 }).rows.find((r) => r.figure === 'port p50')!.verdict).toBe('worse');
    // Faster beyond both: better.
    const faster = compareReports(b, a, { a: 'B', b: 'A' });
    expect(faster.rows.find((r) => r.figure === 'port p99')!.verdict).toBe('better');
    expect(faster.worse).toBe(0);
  });

  it('judges a quantile only with enough samples beyond it in both runs, and first replies above the echo retry', () => {
    // 48 VMs: 24 beyond p50 (judged), 4.8 beyond p90 and 0.48 beyond p99 (shown, not judged).
    const few = knownRun();
    const c = compareReports(few, modified(few, { port: q(30, 60, 90, 90, 48) }), { a: 'A', b: 'B' });
    expect(c.rows.filter((r) => r.figure.startsWith('port p')).map((r) => r.verdict)).toEqual(['worse', 'few-samples', 'few-samples']);
    const ping = (firstP50: number): Report => ({ ...a, ping: { pairsPassed: 870, pairsFailed: 0, isolationPassed: 0, isolationFailed: 0, crossHostPairs: 580, rttMs: q(0.2, 0.3, 0.5, 1, 870), firstReplyMs: q(firstP50, 90, 110, 200, 870), failedPairs: [], pairs: [], pairsNotListed: 0 } });
    const p = compareReports(ping(5), ping(60), { a: 'A', b: 'B' });
    // +55 ms (+1,100%) is within one echo retry; 87 samples beyond p90: judged, 8.7 beyond p99: not.
    expect(p.rows.filter((r) => r.figure.startsWith('first reply p')).map((r) => r.verdict)).toEqual(['same', 'same', 'few-samples']);
    expect(compareReports(ping(5), ping(120), { a: 'A', b: 'B' }).rows.find((r) => r.figure === 'first reply p50')!.verdict).toBe('worse');
  });

  it('counts that mean broken are exact; rates go by the threshold', () => {
    const b = JSON.parse(JSON.stringify(a)) as { vms: { failed: number; ready: number }; failures: { byCode: Record<string, number> }; creationRate: { mean: number; peak: number } };
    b.vms.failed = 3;
    b.vms.ready = 47;
    b.failures.byCode.TIMEOUT = 1;
    b.creationRate.mean = a.creationRate.mean * 0.6; // -40%: within 60%
    b.creationRate.peak = a.creationRate.peak * 0.3;
    const c = compareReports(a, b as unknown as Report, { a: 'A', b: 'B' });
    const worse = c.rows.filter((r) => r.verdict === 'worse').map((r) => r.figure);
    expect(worse).toEqual(['ready', 'failed', 'failed TIMEOUT', 'creations per second, peak']);
    expect(c.rows.find((r) => r.figure === 'failed TIMEOUT')).toMatchObject({ a: 0, b: 1 });
  });

  it('shows a step only one run has, and says when the runs differ in size or control plane', () => {
    const b = modified(a, { 'goalstate-apply': q(3, 4, 5) }, { vms: { ...a.vms, requested: 60 }, scenario: { ...a.scenario, provider: 'alcor' } });
    const c = compareReports(a, b, { a: 'A', b: 'B' });
    expect(c.rows.find((r) => r.figure === 'goalstate-apply p50')).toMatchObject({ a: null, b: 3, diff: null, verdict: 'only-b' });
    expect(c.caveats).toEqual(['the runs asked for different numbers of VMs (50 and 60)', 'the runs have different control planes (standalone and alcor)']);
  });

  it('renders text and a self-contained page, worse rows named', () => {
    const c = compareReports(a, modified(a, { port: q(0.5, 50, 60) }), { a: 'run-a/report.json', b: 'run-b/report.json' });
    expect(c.worse).toBe(2);
    const text = renderCompareText(c);
    expect(text).toMatch(/^A: run-a\/report\.json = scenario known \(s1\)/);
    expect(text).toMatch(/port p90 \(ms\)\s+5\s+50\s+\+45\s+\+900\.0%\s+WORSE/);
    expect(text).toContain(`B against A: 2 worse, 0 better`);
    expect(text).toContain(`within ${DEFAULT_THRESHOLDS.pct}% or ${DEFAULT_THRESHOLDS.floorMs} ms`);
    expect(text).toMatch(/\nworse: steps: port p90; steps: port p99$/);
    const html = renderCompareHtml(c);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).not.toMatch(/<script|https?:\/\//);
    expect(html).toContain('<tr class="bad"><td>port p90 (ms)</td>');
  });

  it('refuses what is not a report, naming the argument and the field', () => {
    expect(() => parseReportJson('{', 'A (x.json)')).toThrow(ReportFormatError);
    expect(() => parseReportJson('{', 'A (x.json)')).toThrow(/^A \(x\.json\): not a Merak report: not JSON/);
    const noSteps = JSON.parse(JSON.stringify(a)) as { latencyMs: { steps: Record<string, unknown> } };
    noSteps.latencyMs.steps.port = { count: 1 };
    expect(() => parseReportJson(JSON.stringify(noSteps), 'B (b.json)')).toThrow('B (b.json): not a Merak report (latencyMs.steps.port.p50: missing or not a number)');
    // A v1 report (before reportVersion) is read: what it lacks shows as missing.
    const v1 = JSON.parse(JSON.stringify(a)) as Record<string, unknown>;
    for (const k of ['reportVersion', 'vhosts', 'cdf', 'stepTimeline', 'versions']) delete v1[k];
    expect(parseReportJson(JSON.stringify(v1), 'A').scenario.id).toBe('s1');
  });
});
