// The report as one self-contained HTML page (inline CSS and SVG, no scripts, no network), which a
// browser opens from disk. The v2 sections and charts are in html-sections.ts and svg.ts.
import { faultsSection, readyTimelineChart, reasonsSection, scenarioSection, stepCharts, versionsSection, vhostsSection } from './html-sections.js';
import type { Quantiles, Report } from './report.js';
import { rateLine } from './rows.js';
import { runSummaryLines } from './run-summary.js';
import { bars, esc } from './svg.js';
import { alcorRows, ovnRows } from './table.js';

const qRow = (name: string, x: Quantiles): string =>
  `<tr><td>${esc(name)}</td><td>${x.count}</td><td>${x.p50.toFixed(2)}</td><td>${x.p90.toFixed(2)}</td><td>${x.p99.toFixed(2)}</td><td>${x.max.toFixed(2)}</td></tr>`;

export function renderHtml(r: Report): string {
  const steps = Object.entries(r.latencyMs.steps).map(([s, x]) => qRow(`step ${s}`, x)).join('');
  const endpoints = r.controlPlane?.endpoints ?? [];
  const controlPlane = endpoints.length === 0 ? '' : `<h2>Control plane API (ms)</h2><table><tr><th>endpoint</th><th>calls</th><th>errors</th><th>retries</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>${endpoints
    .map((e) => `<tr><td>${esc(e.endpoint)}</td><td>${e.count}</td><td class="${e.errors > 0 ? 'bad' : ''}">${e.errors}</td><td>${e.retries ?? 0}</td><td>${e.p50.toFixed(2)}</td><td>${e.p90.toFixed(2)}</td><td>${e.p99.toFixed(2)}</td><td>${e.max.toFixed(2)}</td></tr>`)
    .join('')}</table>`;
  const alcor = !r.alcor ? '' : r.alcor.goalStateVms === 0
    ? '<h2>Alcor bind</h2><p>No VM waited for its GoalState (the agents serve none): Alcor\'s data plane was not part of readiness.</p>'
    : `<h2>Alcor bind: REST work vs GoalState push and programming (ms)</h2><p>Per VM; ${r.alcor.goalStateVms} VMs waited for their port's GoalState on their host.</p><table><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>${alcorRows(r.alcor).map(([name, x]) => qRow(name.trim(), x)).join('')}</table>`;
  const ovn = !r.ovn ? '' : `<h2>OVN: northbound write to installed (ms)</h2><p>Per VM; ${r.ovn.vms} VMs whose port this coordinator wrote${r.ovn.boundMs.count === 0 ? '; no southbound monitor: bound and up not measured' : ''}. The NB transactions are in the control plane table.</p><table><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>${ovnRows(r.ovn).map(([name, x]) => qRow(name, x)).join('')}${r.ping ? qRow('ping: first reply', r.ping.firstReplyMs) : ''}</table>`;
  const failures = r.failures.first
    .map((f) => `<tr><td>${esc(f.vm)}</td><td>${esc(f.host)}</td><td>${esc(f.code)}</td><td>${esc(f.step)}</td><td>${esc(f.message)}</td></tr>`)
    .join('');
  let ping = '';
  if (r.ping) {
    const p = r.ping;
    ping = `<h2>Connectivity</h2><p>${p.pairsPassed} pairs reached, ${p.pairsFailed} did not (${p.crossHostPairs} pairs across vhosts); isolation held for ${p.isolationPassed}, broken for ${p.isolationFailed}.</p>
<table><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>${qRow('rtt (ms)', p.rttMs)}${p.firstReplyMs ? qRow('first reply (ms)', p.firstReplyMs) : ''}</table>`;
    if (p.matrix) {
      const srcs = Object.keys(p.matrix).sort();
      const dsts = [...new Set(srcs.flatMap((s) => Object.keys(p.matrix![s]!)))].sort();
      ping += `<h3>Pairs (received/sent)</h3><table class="matrix"><tr><th>src \\ dst</th>${dsts.map((d) => `<th>${esc(d)}</th>`).join('')}</tr>${srcs
        .map((s) => `<tr><th>${esc(s)}</th>${dsts.map((d) => {
          const v = p.matrix![s]![d];
          const cls = v === undefined ? '' : v.startsWith('0/') ? 'bad' : 'good';
          return `<td class="${cls}">${v ?? ''}</td>`;
        }).join('')}</tr>`)
        .join('')}</table>`;
    }
  }
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Merak-TS report: ${esc(r.scenario.name)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.good{background:#e3f5e1}.bad{background:#fadcdc}figure{margin:1em 0}figcaption{font-weight:600}.matrix td{font-size:11px}svg.chart{background:#fcfcfc;border:1px solid #eee}td{vertical-align:top}td.t{text-align:left}pre{white-space:pre-wrap}</style></head>
<body><h1>Scenario ${esc(r.scenario.name)}</h1>
<p>${esc(r.scenario.id)} · ${r.scenario.hosts} hosts · provider ${esc(r.scenario.provider)} · generated ${esc(r.generatedAt)}</p>
<p><b>${r.vms.requested}</b> VMs requested, <b>${r.vms.ready}</b> ready, <b>${r.vms.failed}</b> failed${r.vms.pending > 0 ? `, <b>${r.vms.pending}</b> without a result` : ''}. ${esc(rateLine(r))}.</p>
${versionsSection(r)}
${scenarioSection(r)}
${r.run ? `<h2>Run</h2><pre class="${r.run.outcome === 'failed' ? 'bad' : ''}">${esc(runSummaryLines(r.run).join('\n'))}</pre>` : ''}
<h2>Latency (ms)</h2><table><tr><th></th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr>${qRow('end to end (accepted → ready)', r.latencyMs.endToEnd)}${qRow('since scheduled start', r.latencyMs.sinceScheduled)}${qRow('agent, whole VM', r.latencyMs.agent)}${steps}</table>
${alcor}
${ovn}
${controlPlane}
${bars(r.histogram.map((b) => b.count), r.histogram.map((b) => `≤${b.leMs}`), 'End-to-end latency histogram', 'VMs')}
${readyTimelineChart(r)}
${faultsSection(r)}
${stepCharts(r)}
${vhostsSection(r)}
${ping}
<h2>Failures</h2>${r.vms.failed === 0 ? '<p>None.</p>' : `<p>${Object.entries(r.failures.byCode).map(([c, n]) => `${esc(c)}: ${n}`).join(', ')}</p><table><tr><th>VM</th><th>host</th><th>code</th><th>step</th><th>message</th></tr>${failures}</table>`}
${reasonsSection(r)}
</body></html>
`;
}
