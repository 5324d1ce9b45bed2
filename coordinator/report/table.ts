// The report as plain text for a terminal.
import { type Quantiles, type Report, maxOf } from './report.js';

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

const q = (name: string, x: Quantiles): string[] => [name, String(x.count), x.p50.toFixed(2), x.p90.toFixed(2), x.p99.toFixed(2), x.max.toFixed(2)];

export function renderTable(r: Report): string {
  const lines = [
    `scenario ${r.scenario.name} (${r.scenario.id}) on ${r.scenario.hosts} hosts, provider ${r.scenario.provider}`,
    `VMs: ${r.vms.requested} requested, ${r.vms.ready} ready, ${r.vms.failed} failed`,
    '',
    table([['latency (ms)', 'count', 'p50', 'p90', 'p99', 'max'], q('end to end', r.latencyMs.endToEnd), ...Object.entries(r.latencyMs.steps).map(([s, x]) => q(`  step ${s}`, x))]),
  ];
  if (r.creationsPerSecond.length > 0) {
    const peak = maxOf(r.creationsPerSecond);
    const mean = r.vms.ready / r.creationsPerSecond.length;
    lines.push('', `creations per second: mean ${mean.toFixed(1)}, peak ${peak}`);
  }
  if (r.vms.failed > 0) {
    lines.push('', `failures by code: ${Object.entries(r.failures.byCode).map(([c, n]) => `${c} ${n}`).join(', ')}`);
    for (const f of r.failures.first.slice(0, 10)) lines.push(`  ${f.vm} on ${f.host}: [${f.code}] ${f.step}: ${f.message}`);
  }
  if (r.ping) {
    const p = r.ping;
    lines.push('', `ping: ${p.pairsPassed} pairs passed, ${p.pairsFailed} failed; isolation: ${p.isolationPassed} passed, ${p.isolationFailed} failed`);
    lines.push(`ping rtt (ms): p50 ${p.rttMs.p50.toFixed(3)}, p90 ${p.rttMs.p90.toFixed(3)}, p99 ${p.rttMs.p99.toFixed(3)}, max ${p.rttMs.max.toFixed(3)}`);
  }
  return lines.join('\n');
}
