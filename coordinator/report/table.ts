// The report as plain text for a terminal.
import type { AlcorBindSplit, OvnPortSplit, Quantiles, Report } from './report.js';
import { FAULT_HEADER, VHOST_HEADER, controlPlaneErrorRows, faultRow, rateLine, vhostRow } from './rows.js';
import { runSummaryLines } from './run-summary.js';
import { versionsLine } from './versions.js';

/** Vhosts the table lists (the slowest); the JSON and the page have more. */
const TABLE_VHOSTS = 10;

/** Columns padded to their widest cell, the first left-aligned, the rest right-aligned. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

const q = (name: string, x: Quantiles): string[] => [name, String(x.count), x.p50.toFixed(2), x.p90.toFixed(2), x.p99.toFixed(2), x.max.toFixed(2)];

/** The labels of the Alcor split's rows, in order (the HTML page uses them too). */
export function alcorRows(a: AlcorBindSplit): Array<[string, Quantiles]> {
  return [
    ['Alcor bind PUT, whole', a.bindMs],
    ['  REST work and push (bind sent -> GoalState on the host)', a.restAndPushMs],
    ['  GoalState programming on the host (received -> applied)', a.programmingMs],
    ['  answer after programming (applied -> PUT answered)', a.answerMs],
    ['bind sent -> port programmed (step goalstate)', a.goalStateMs],
  ];
}

/** The labels of the OVN split's rows, in order (the HTML page uses them too). */
export function ovnRows(o: OvnPortSplit): Array<[string, Quantiles]> {
  return [
    ['NB write of the chunk (sent -> committed)', o.nbWriteMs],
    ['NB commit -> Port_Binding bound to a chassis', o.boundMs],
    ['NB commit -> Port_Binding up', o.upMs],
    ['on the vhost: port -> ovn-installed (agent)', o.installedMs],
  ];
}

function ovnLines(o: OvnPortSplit, firstReply: Quantiles | undefined): string[] {
  return [
    `OVN: each port from the northbound write to installed on its chassis (${o.vms} VMs written by this coordinator${o.boundMs.count === 0 ? '; no southbound: bound/up not measured' : ''})`,
    table([['OVN port (ms)', 'count', 'p50', 'p90', 'p99', 'max'], ...ovnRows(o).map(([name, x]) => q(name, x)), ...(firstReply ? [q('ping: first reply', firstReply)] : [])]),
  ];
}

function alcorLines(a: AlcorBindSplit): string[] {
  if (a.goalStateVms === 0) return ['Alcor: no VM waited for its GoalState (the agents serve none): Alcor\'s data plane was not part of readiness'];
  return [
    `Alcor: REST work vs GoalState push and programming, per VM (${a.goalStateVms} VMs waited for their GoalState)`,
    table([['Alcor bind (ms)', 'count', 'p50', 'p90', 'p99', 'max'], ...alcorRows(a).map(([name, x]) => q(name, x))]),
  ];
}

export function renderTable(r: Report): string {
  const l = r.latencyMs;
  const lines = [
    `scenario ${r.scenario.name} (${r.scenario.id}) on ${r.scenario.hosts} hosts, provider ${r.scenario.provider}`,
    `VMs: ${r.vms.requested} requested, ${r.vms.ready} ready, ${r.vms.failed} failed${r.vms.pending > 0 ? `, ${r.vms.pending} without a result` : ''}`,
    // A failed run says why first.
    ...(r.run?.outcome === 'failed' ? ['', ...runSummaryLines(r.run)] : []),
  ];
  // A run that made no VM has no latency to show (a failed set-up): no table of zeros.
  if (l.endToEnd.count > 0 || Object.keys(l.steps).length > 0) {
    lines.push('', table([
      ['latency (ms)', 'count', 'p50', 'p90', 'p99', 'max'],
      q('end to end (accepted -> ready)', l.endToEnd),
      q('since scheduled start', l.sinceScheduled),
      q('agent, whole VM', l.agent),
      ...Object.entries(l.steps).map(([s, x]) => q(`  step ${s}`, x)),
    ]));
  }
  if (r.alcor) lines.push('', ...alcorLines(r.alcor));
  if (r.ovn) lines.push('', ...ovnLines(r.ovn, r.ping?.firstReplyMs));
  if (r.creationsPerSecond.length > 0) lines.push('', rateLine(r));
  const vhosts = r.vhosts ?? [];
  if (vhosts.length > 1) {
    const shown = vhosts.slice(0, TABLE_VHOSTS);
    lines.push('', table([VHOST_HEADER, ...shown.map(vhostRow)]));
    if (vhosts.length > shown.length || r.vhostsNotListed) lines.push(`  (the ${shown.length} slowest of ${vhosts.length + (r.vhostsNotListed ?? 0)} vhosts; all in report.json / report.html)`);
  }
  if (r.controlPlane && r.controlPlane.endpoints.length > 0) {
    lines.push('', table([
      ['control plane (ms)', 'calls', 'errors', 'retries', 'p50', 'p90', 'p99', 'max'],
      ...r.controlPlane.endpoints.map((e) => [e.endpoint, String(e.count), String(e.errors), String(e.retries ?? 0), e.p50.toFixed(2), e.p90.toFixed(2), e.p99.toFixed(2), e.max.toFixed(2)]),
    ]));
  }
  const cpErrors = controlPlaneErrorRows(r);
  if (cpErrors.length > 0) lines.push('', table([['control-plane errors by reason', 'reason', 'calls'], ...cpErrors.slice(0, 20)]));
  if (r.faults && r.faults.length > 0) lines.push('', 'faults injected:', table([FAULT_HEADER, ...r.faults.map(faultRow)]));
  if (r.vms.failed > 0) {
    lines.push('', `failures by code: ${Object.entries(r.failures.byCode).map(([c, n]) => `${c} ${n}`).join(', ')}`);
    for (const x of (r.failures.byReason ?? []).slice(0, 10)) lines.push(`  ${x.count} x [${x.code}] ${x.step}: ${x.reason}`);
    for (const f of r.failures.first.slice(0, 10)) lines.push(`  ${f.vm} on ${f.host}: [${f.code}] ${f.step}: ${f.message}`);
  }
  if (r.ping) {
    const p = r.ping;
    lines.push('', `ping: ${p.pairsPassed} pairs passed, ${p.pairsFailed} failed (${p.crossHostPairs} pairs across vhosts); isolation: ${p.isolationPassed} passed, ${p.isolationFailed} failed`);
    lines.push(`ping rtt (ms): p50 ${p.rttMs.p50.toFixed(3)}, p90 ${p.rttMs.p90.toFixed(3)}, p99 ${p.rttMs.p99.toFixed(3)}, max ${p.rttMs.max.toFixed(3)}`);
    if (p.firstReplyMs) lines.push(`first reply (ms): p50 ${p.firstReplyMs.p50.toFixed(3)}, p90 ${p.firstReplyMs.p90.toFixed(3)}, p99 ${p.firstReplyMs.p99.toFixed(3)}, max ${p.firstReplyMs.max.toFixed(3)}`);
    for (const f of p.failedPairs.slice(0, 10)) {
      lines.push(`  ${f.expect === 'reach' ? 'unreachable' : 'NOT ISOLATED'}: ${f.src} (${f.srcHost}) -> ${f.dst} ${f.dstIp} (${f.dstHost}): ${f.received}/${f.sent}${f.error ? ` ${f.error}` : ''}`);
    }
  }
  if (r.run && r.run.outcome !== 'failed') lines.push('', ...runSummaryLines(r.run));
  if (r.versions) lines.push('', `software: ${versionsLine(r.versions)}`);
  return lines.join('\n');
}
