// Report v2's sections of the HTML page: software versions, the scenario, per-vhost figures,
// failures by reason, control-plane errors by reason, faults, and the step charts (stacked
// timeline, CDFs). html.ts assembles the page.
import { CDF_PERCENTILES } from './quantiles.js';
import type { Report } from './report.js';
import { FAULT_HEADER, VHOST_HEADER, controlPlaneErrorRows, faultEndMs, faultRow, vhostRow } from './rows.js';
import { bars, cdf, esc, stacked } from './svg.js';
import { versionsLine } from './versions.js';

/** Cells shown right-aligned (figures); text is left-aligned. */
const NUMERIC = /^[+-]?[\d.,]+( ms| s)?$/;

/** A table of text cells (escaped); the first row is the header; `cls` marks a row's class. */
export function htmlTable(rows: readonly (readonly string[])[], cls?: (row: readonly string[], i: number) => string): string {
  const [head, ...body] = rows;
  return `<table><tr>${(head ?? []).map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${body
    .map((r, i) => `<tr class="${cls?.(r, i) ?? ''}">${r.map((c) => `<td${NUMERIC.test(c) ? '' : ' class="t"'}>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

/** Vhosts shown on the page (the JSON has up to MAX_LISTED_VHOSTS). */
const PAGE_VHOSTS = 50;

export function versionsSection(r: Report): string {
  if (!r.versions) return '';
  const v = r.versions;
  const agents = v.agents.map((a) => [a.version || 'unknown', a.ovsVersion || 'unknown', String(a.vhosts)]);
  return `<h2>Software</h2><p>${esc(versionsLine(v))}</p>${htmlTable([['agent', 'OVS', 'vhosts'], ...agents])}`;
}

export function scenarioSection(r: Report): string {
  if (r.scenario.spec === undefined) return '';
  return `<details><summary>The scenario as it ran</summary><pre>${esc(JSON.stringify(r.scenario.spec, null, 2))}</pre></details>`;
}

export function vhostsSection(r: Report): string {
  const list = r.vhosts ?? [];
  if (list.length === 0) return '';
  const more = list.length - PAGE_VHOSTS + (r.vhostsNotListed ?? 0);
  return `<h2>Per vhost (the slowest first; latency since each VM's scheduled start)</h2>${htmlTable([VHOST_HEADER, ...list.slice(0, PAGE_VHOSTS).map(vhostRow)], (row) => (row[3] !== '0' ? 'bad' : ''))}${more > 0 ? `<p>${more} more vhosts in report.json${r.vhostsNotListed ? ` (${r.vhostsNotListed} beyond it)` : ''}.</p>` : ''}`;
}

export function reasonsSection(r: Report): string {
  const reasons = r.failures.byReason ?? [];
  const vmRows = reasons.map((x) => [x.code, x.step, x.reason, String(x.count), x.example]);
  const cp = controlPlaneErrorRows(r);
  return [
    vmRows.length === 0 ? '' : `<h3>VM failures by reason</h3>${htmlTable([['code', 'step', 'reason', 'VMs', 'example'], ...vmRows])}`,
    cp.length === 0 ? '' : `<h3>Control-plane errors by reason</h3>${htmlTable([['endpoint', 'reason', 'calls'], ...cp])}`,
  ].join('');
}

/** The end of the run's timeline (ms since accepted): the last VM ready, fault or timeline entry. */
export function runEndMs(r: Report): number {
  const t = r.creationTimeline;
  return Math.max(t.counts.length * t.bucketMs, ...(r.run?.timeline ?? []).map((e) => e.atMs), ...(r.faults ?? []).map((f) => f.endMs ?? f.startMs));
}

export function faultsSection(r: Report): string {
  const faults = r.faults ?? [];
  if (faults.length === 0) return '';
  return `<h2>Faults injected</h2><p>Each fault's span is marked on the timeline of VMs ready. VMs waited: due or in flight on its targets while it lasted; healthy after: from its start until every target was connected and nothing waited on it.</p>${htmlTable([FAULT_HEADER, ...faults.map(faultRow)], (row) => (row[6] !== '0' || row[8] === 'never' ? 'bad' : ''))}`;
}

/** VMs ready over time, each fault's span marked over it (the chart stretches to cover the faults). */
export function readyTimelineChart(r: Report): string {
  const t = r.creationTimeline;
  const faults = r.faults ?? [];
  const end = runEndMs(r);
  // The axis covers the faults too: a fault after the last VM still shows.
  const buckets = Math.max(t.counts.length, Math.ceil(end / t.bucketMs));
  const counts = Array.from({ length: buckets }, (_, i) => t.counts[i] ?? 0);
  const labels = counts.map((_, i) => `${((i * t.bucketMs) / 1000).toFixed(t.bucketMs < 1000 ? 2 : 0)}s`);
  const marks = faults.map((f) => ({ fromMs: f.startMs, toMs: faultEndMs(f, end), label: `fault ${f.index}: ${f.kind}` }));
  return bars(counts, labels, `VMs ready over time (per ${t.bucketMs} ms, since the scenario was accepted)${faults.length > 0 ? '; faults marked' : ''}`, 'VMs', { bucketMs: t.bucketMs, marks });
}

export function stepCharts(r: Report): string {
  const parts: string[] = [];
  const t = r.stepTimeline;
  if (t && t.steps.length > 0 && (t.meanMs[0]?.length ?? 0) > 0) {
    const labels = (t.meanMs[0] ?? []).map((_, b) => `${((b * t.bucketMs) / 1000).toFixed(t.bucketMs < 1000 ? 2 : 0)}s`);
    parts.push(stacked(t.meanMs, t.steps, labels, `Where a VM's time went over the run: each step's mean among the VMs ready in each ${t.bucketMs} ms (stacked)`, 'ms'));
  }
  const c = r.cdf;
  if (c && Object.keys(c.steps).length > 0) {
    const series = Object.entries(c.steps).filter(([, v]) => v.length > 0).map(([name, values]) => ({ name, values }));
    parts.push(cdf(series, c.percentiles, 'Per-step latency, CDF (share of VMs at or under each latency)', 'ms'));
  }
  if (c && c.endToEnd.length > 0) parts.push(cdf([{ name: 'end to end', values: c.endToEnd }], c.percentiles, 'End-to-end latency (accepted -> ready), CDF', 'ms'));
  const p = r.ping;
  if (p?.firstReplyCdf && p.firstReplyCdf.length > 0) parts.push(cdf([{ name: 'first reply', values: p.firstReplyCdf }], c?.percentiles ?? CDF_PERCENTILES, 'Time to first ping reply per pair, CDF', 'ms'));
  return parts.join('\n');
}
