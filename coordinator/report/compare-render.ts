// A comparison as text (terminal), and as one self-contained HTML page like the report's.
import { type CompareRow, type Comparison, MIN_BEYOND, type RunLabel } from './compare.js';
import { esc } from './svg.js';
import { table } from './table.js';
import { versionsLine } from './versions.js';

const num = (x: number | null, unit: string): string => (x === null ? '-' : `${Number.isInteger(x) ? x : x.toFixed(unit === 'ms' ? 3 : 1)}${unit === 'ms' ? '' : unit}`);
const signed = (x: number | null, unit: string): string => (x === null ? '' : `${x > 0 ? '+' : ''}${num(x, unit)}`);
const pct = (x: number | null): string => (x === null ? '' : `${x > 0 ? '+' : ''}${x.toFixed(1)}%`);
const VERDICT_TEXT: Record<CompareRow['verdict'], string> = { better: 'better', worse: 'WORSE', same: 'same', info: '', 'few-samples': 'few samples', 'only-a': 'only in A', 'only-b': 'only in B' };

export function summaryLine(c: Comparison): string {
  const same = c.rows.filter((r) => r.verdict === 'same').length;
  return `B against A: ${c.worse} worse, ${c.better} better, ${same} the same (within ${c.thresholds.pct}% or ${c.thresholds.floorMs} ms for latencies, ${c.thresholds.pct}% for rates, exact for counts; a quantile judged with ${MIN_BEYOND} samples beyond it)`;
}

const labelLine = (tag: string, l: RunLabel): string =>
  `${tag}: ${l.source} = scenario ${l.name} (${l.id}), provider ${l.provider}, generated ${l.generatedAt}${l.versions ? `; ${versionsLine(l.versions)}` : ''}`;

export function renderCompareText(c: Comparison): string {
  const lines = [labelLine('A', c.a), labelLine('B', c.b), ...c.caveats.map((x) => `note: ${x}`), ''];
  const rows: string[][] = [['figure', 'A', 'B', 'B - A', '%', 'verdict']];
  let section = '';
  for (const r of c.rows) {
    if (r.section !== section) {
      section = r.section;
      rows.push([section, '', '', '', '', '']);
    }
    rows.push([`  ${r.figure}${r.unit === 'ms' ? ' (ms)' : ''}`, num(r.a, r.unit), num(r.b, r.unit), signed(r.diff, r.unit), pct(r.diffPct), VERDICT_TEXT[r.verdict]]);
  }
  lines.push(table(rows), '', summaryLine(c));
  const worse = c.rows.filter((r) => r.verdict === 'worse');
  if (worse.length > 0) lines.push(`worse: ${worse.map((r) => `${r.section}: ${r.figure}`).join('; ')}`);
  return lines.join('\n');
}

export function renderCompareHtml(c: Comparison): string {
  let section = '';
  const body = c.rows
    .map((r) => {
      const head = r.section !== section ? `<tr class="section"><th colspan="6">${esc((section = r.section))}</th></tr>` : '';
      const cls = r.verdict === 'worse' ? 'bad' : r.verdict === 'better' ? 'good' : '';
      return `${head}<tr class="${cls}"><td>${esc(r.figure)}${r.unit === 'ms' ? ' (ms)' : ''}</td><td>${esc(num(r.a, r.unit))}</td><td>${esc(num(r.b, r.unit))}</td><td>${esc(signed(r.diff, r.unit))}</td><td>${esc(pct(r.diffPct))}</td><td>${esc(VERDICT_TEXT[r.verdict])}</td></tr>`;
    })
    .join('');
  const label = (tag: string, l: RunLabel): string => `<li><b>${tag}</b>: ${esc(labelLine(tag, l).slice(tag.length + 2))}</li>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Merak-TS comparison: ${esc(c.a.name)} vs ${esc(c.b.name)}</title>
<style>body{font:14px system-ui,sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}td:first-child,th:first-child{text-align:left}
.good{background:#e3f5e1}.bad{background:#fadcdc}tr.section th{background:#eef2f7;text-align:left}</style></head>
<body><h1>Comparison: ${esc(c.a.name)} (A) vs ${esc(c.b.name)} (B)</h1>
<ul>${label('A', c.a)}${label('B', c.b)}</ul>
${c.caveats.map((x) => `<p class="bad">Note: ${esc(x)}</p>`).join('')}
<p class="${c.worse > 0 ? 'bad' : 'good'}"><b>${esc(summaryLine(c))}</b></p>
<table><tr><th>figure</th><th>A</th><th>B</th><th>B − A</th><th>%</th><th>verdict</th></tr>${body}</table>
</body></html>
`;
}
