import { describe, expect, it } from 'vitest';
import { DEFAULT_THRESHOLDS, compareReports } from './compare.js';
import { renderCompareHtml, renderCompareText } from './compare-render.js';
import type { Quantiles, Report } from './report.js';
import { ReportFormatError, parseReportJson } from './report-json.js';
import { knownRun } from './test-support/known-run.js';

const q = (p50: number, p90: number, p99: number, max = p99, count = 48): Quantiles => ({ count, p50, p90, p99, max });

/** The known run with some figures changed (as a report.json from another run would have them). */
function modified(r: Report, steps: Record<string, Quantiles>, more: Partial<Report> = {}): Report {
  return JSON.parse(JSON.stringify({ ...r, ...more, latencyMs: { ...r.latencyMs, steps: { ...r.latencyMs.steps, ...steps } } })) as Report;
}

describe('compare', () => {
  const a = knownRun();

  it('finds nothing between a report and itself read back from JSON', () => {
    const b = parseReportJson(JSON.stringify(a), 'B');
    const c = compareReports(a, b, { a: 'a.json', b: 'b.json' });
    expect(c.worse).toBe(0);
    expect(c.better).toBe(0);
    expect(c.rows.every((r) => r.verdict === 'same' || r.verdict === 'info')).toBe(true);
    expect(c.caveats).toEqual([]);
    // Every figure has its row: counts, rates, each quantile of each latency and step, endpoints.
    const figures = c.rows.map((r) => `${r.section}: ${r.figure}`);
    for (const f of ['VMs: ready', 'VMs: failed NETLINK', 'rates: creations per second, mean', 'latency: end to end p99', 'steps: port p50', 'steps: namespace max', 'control plane: POST /ports p90', 'control plane: POST /ports errors']) {
      expect(figures).toContain(f);
    }
  });

  it('judges latencies by the threshold and the floor, max not at all', () => {
    // port: 0.5 -> 2 ms p50 is +300% but under the 5 ms floor; p90 5 -> 5.5 ms within 25%;
    // p99 5 -> 12 ms beyond both; max 5 -> 500 ms is one sample. namespace 1.5 -> 0.2: under the floor.
    const b = modified(a, { port: q(2, 5.5, 12, 500), namespace: q(0.2, 0.2, 0.2, 0.2, 50) });
    const c = compareReports(a, b, { a: 'A', b: 'B' });
    const verdict = (figure: string): string => c.rows.find((r) => r.figure === figure)!.verdict;
    expect(verdict('port p50')).toBe('same');
    expect(verdict('port p90')).toBe('same');
    expect(verdict('port p99')).toBe('worse');
    expect(verdict('port max')).toBe('info');
    expect(verdict('namespace p50')).toBe('same');
    expect(c.worse).toBe(1);
    expect(c.rows.find((r) => r.figure === 'port p99')).toMatchObject({ a: 5, b: 12, diff: 7, diffPct: 140 });
    // A tighter floor: the p50 too.
    expect(compareReports(a, b, { a: 'A', b: 'B' }, { pct: 25, floorMs: 1 }).rows.find((r) => r.figure === 'port p50')!.verdict).toBe('worse');
    // Faster beyond both: better.
    const faster = compareReports(b, a, { a: 'B', b: 'A' });
    expect(faster.rows.find((r) => r.figure === 'port p99')!.verdict).toBe('better');
    expect(faster.worse).toBe(0);
  });

  it('counts that mean broken are exact; rates go by the threshold', () => {
    const b = JSON.parse(JSON.stringify(a)) as { vms: { failed: number; ready: number }; failures: { byCode: Record<string, number> }; creationRate: { mean: number; peak: number } };
    b.vms.failed = 3;
    b.vms.ready = 47;
    b.failures.byCode.TIMEOUT = 1;
    b.creationRate.mean = a.creationRate.mean * 0.8; // -20%: within 25%
    b.creationRate.peak = a.creationRate.peak * 0.5;
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
