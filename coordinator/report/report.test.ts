import { describe, expect, it } from 'vitest';
import { renderHtml } from './html.js';
import { buildReport, quantiles } from './report.js';
import { renderTable } from './table.js';

describe('report', () => {
  it('computes quantiles by nearest rank', () => {
    expect(quantiles([5, 1, 4, 2, 3])).toEqual({ count: 5, p50: 3, p90: 5, p99: 5, max: 5 });
    expect(quantiles([])).toMatchObject({ count: 0 });
  });

  const r = buildReport({
    scenario: { id: 's', name: 'demo', hosts: 2, provider: 'standalone' },
    vms: [
      { id: 'a', host: 'h0', ok: true, endToEndMs: 3, readyAtMs: 100, steps: [{ step: 'namespace', micros: 500 }] },
      { id: 'b', host: 'h1', ok: true, endToEndMs: 9, readyAtMs: 1500, steps: [{ step: 'namespace', micros: 700 }] },
      { id: 'c', host: 'h1', ok: false, endToEndMs: undefined, readyAtMs: undefined, steps: [], error: { code: 'NETLINK', message: 'EEXIST <x>', step: 'port' } },
    ],
    ping: [
      { src: 'a', dst: 'b', dstIp: '10.0.0.3', expect: 'reach', sent: 3, received: 3, rttAvgMs: 0.2, error: '' },
      { src: 'b', dst: 'a', dstIp: '10.0.0.2', expect: 'reach', sent: 3, received: 0, rttAvgMs: 0, error: '' },
      { src: 'a', dst: 'x', dstIp: '10.9.0.2', expect: 'isolated', sent: 3, received: 0, rttAvgMs: 0, error: '' },
    ],
    now: new Date(0),
  });

  it('counts VMs, failures, creations per second and ping outcomes', () => {
    expect(r.vms).toEqual({ requested: 3, ready: 2, failed: 1 });
    expect(r.failures.byCode).toEqual({ NETLINK: 1 });
    expect(r.creationsPerSecond).toEqual([1, 1]);
    expect(r.latencyMs.steps.namespace).toMatchObject({ count: 2, max: 0.7 });
    expect(r.histogram.reduce((a, b) => a + b.count, 0)).toBe(2);
    expect(r.ping).toMatchObject({ pairsPassed: 1, pairsFailed: 1, isolationPassed: 1, isolationFailed: 0 });
    expect(r.ping?.matrix?.a?.b).toBe('3/3');
  });

  it('renders a table and a self-contained, escaped HTML page', () => {
    expect(renderTable(r)).toMatch(/3 requested, 2 ready, 1 failed/);
    const html = renderHtml(r);
    expect(html).toMatch(/^<!doctype html>/);
    expect(html).toContain('<svg');
    expect(html).toContain('EEXIST &#60;x&#62;');
    expect(html).not.toMatch(/<script|https?:\/\//);
  });
});
