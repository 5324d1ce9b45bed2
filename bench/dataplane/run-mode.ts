// One mode on its own local emulation: bring it up, run the scenario (VMs, then the ping test) and
// watch it, check what the report says from outside, read the table timings, tear it down.
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import type * as LocalCli from '../../lab/cli/local.js';
import type { Quantiles, Report } from '../../coordinator/report/report.js';
import type { Modules } from './coordinator-modules.js';
import { round, spread, type Mode, type ModeFigures, type Options } from './figures.js';
import { sampleLoad, waitForQuiet } from './load.js';
import { checkFromOutside } from './outside-checks.js';
import { oneVpcScenarioYaml } from '../common/scenario.js';
import { progress, stop, throwIfStopped } from './stop.js';
import { tableTimings } from './table-timings.js';
import { teardown } from './teardown.js';

const FINAL = new Set([coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY, coordinatorV1.ScenarioPhase.SCENARIO_PHASE_FAILED, coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED]);
const phaseName = (p: coordinatorV1.ScenarioPhase): string => coordinatorV1.scenarioPhaseToJSON(p).replace('SCENARIO_PHASE_', '').toLowerCase();

export async function runMode(mode: Mode, o: Options, root: string, benchPrefix: string, m: Modules): Promise<ModeFigures> {
  const prefix = `${benchPrefix}${mode[0]}`;
  const dir = join(root, mode[0]!);
  const problems: string[] = [];
  const busyBefore = await waitForQuiet(mode);
  throwIfStopped();
  const loadAtStart = loadavg()[0]!;
  let t = performance.now();
  stop.liveDir = dir;
  progress(`${mode}: bringing up ${o.hosts} vhosts (prefix ${prefix}, folder ${dir})`);
  let up: LocalCli.LocalUp | undefined;
  try {
    up = await m.local.localUp({ dir, hosts: o.hosts, prefix, dataplane: mode, log: (l) => progress(`${mode}: ${l.trim()}`) });
    const emulationUp = (performance.now() - t) / 1000;
    throwIfStopped();
    const vhosts = up.emulation.vhosts;
    const hostNames = vhosts.map((v) => v.name);
    const name = `${prefix}-s`;
    const text = oneVpcScenarioYaml(name, hostNames, { ...o, concurrency: 16 });
    const plan = new m.plan.Plan(m.scenario.parseScenario(text), hostNames, '1');
    const byHost = plan.byHost();
    const vmsOn = hostNames.map((_, h) => byHost.get(h)?.length ?? 0);
    // The pairs the coordinator will test when every VM is ready (the same seeded sample).
    const expectedPairs = m.plan.selectPingPairs(plan, () => true);
    const expectedCross = expectedPairs.filter((p) => plan.hostOf[p.src] !== plan.hostOf[p.dst]).length;
    // Sampled with replacement: a repeated pair is pinged twice, at the same time, both cold.
    const distinct = new Set(expectedPairs.map((p) => `${p.src}>${p.dst}`)).size;

    // The coordinator re-sends the overlay to agents that registered within the last 200 ms (a
    // debounced refresh): let it pass, so the scenario's tables are programmed on a quiet system.
    await new Promise((r) => setTimeout(r, 1000));
    const client = m.connect.connect({ localDir: dir });
    try {
      progress(`${mode}: scenario ${name}: ${o.vms} VMs, then ${o.pairs} pairs x ${o.count} echoes (${distinct} distinct, ${expectedCross} across vhosts)`);
      const load = sampleLoad();
      t = performance.now();
      const marks: { creating?: number; testing?: number; done?: number } = {};
      let last: coordinatorV1.Scenario | undefined;
      let submittedAt = Date.now();
      // An agent whose stream to the coordinator dropped mid-scenario (the coordinator says so).
      let agentsLost = 0;
      let lastLine = 0;
      let lastMessage = '';
      const abort = new AbortController();
      stop.watch = () => abort.abort();
      try {
        submittedAt = Date.now();
        const created = await client.createScenario(text, 'yaml');
        await client.watch(created.id, (e) => {
          const s = e.scenario;
          if (!s) return;
          last = s;
          const at = (performance.now() - t) / 1000;
          if (s.phase >= coordinatorV1.ScenarioPhase.SCENARIO_PHASE_CREATING) marks.creating ??= at;
          if (s.phase >= coordinatorV1.ScenarioPhase.SCENARIO_PHASE_TESTING) marks.testing ??= at;
          const message = e.message && e.message !== 'progress' && e.message !== lastMessage ? e.message : '';
          if (message) lastMessage = e.message;
          if (/^agent \S+ is lost/.test(message)) agentsLost++;
          if (message || performance.now() - lastLine > 5000) {
            lastLine = performance.now();
            const c = s.vms;
            progress(`${mode}: ${phaseName(s.phase)}, VMs ready ${c?.ready ?? 0}/${c?.requested ?? 0}, failed ${c?.failed ?? 0}, load ${loadavg()[0]!.toFixed(1)}${message ? ` (${message})` : ''}`);
          }
        }, abort.signal);
        throwIfStopped();
        last = await client.getScenario(created.id);
        marks.done = (performance.now() - t) / 1000;
        if (!FINAL.has(last.phase)) throw new Error(`the watch ended with the scenario ${phaseName(last.phase)}`);
      } finally {
        stop.watch = undefined;
        load.stop();
      }
      progress(`${mode}: scenario ${phaseName(last.phase)}${last.error ? `: ${last.error}` : ''}; checking from outside`);
      const report = JSON.parse((await client.getReport(last.id)).json) as Report;
      const ping = report.ping;
      if (!ping) throw new Error('the report has no ping results');

      const seen = await checkFromOutside({ mode, o, vhosts, hostNames, vmsOn, name, expectedCross }, report, ping, problems);
      const neighborTables = tableTimings(mode, dir, vhosts, submittedAt, seen.flows, problems);

      for (const p of problems) progress(`${mode}: CHECK FAILED: ${p}`);
      const notes: string[] = [];
      // Echoes go out over (count - 1) x 100 ms, then the agent waits timeout-ms for the last replies.
      const windowMs = (o.count - 1) * 100 + o.timeoutMs;
      if (ping.firstReplyMs.max > 0.8 * windowMs) notes.push(`first replies came up to ${round(ping.firstReplyMs.max)} ms, near the end of the ${windowMs} ms wait: a longer --timeout-ms may pass more pairs`);
      if (agentsLost > 0) notes.push(`the coordinator lost agents ${agentsLost} times mid-scenario (missed heartbeats or a dropped stream)`);
      const failedPairsSample = ping.failedPairs.slice(0, 5).map((p) => `${p.src} -> ${p.dstIp} (${p.srcHost} -> ${p.dstHost}): ${p.received}/${p.sent}${p.error ? ` ${p.error}` : ''}`);
      const q = (x: Quantiles): { p50: number; p99: number } => ({ p50: round(x.p50, 2), p99: round(x.p99, 2) });
      return {
        dataplane: mode,
        pairs: { tested: seen.tested, distinct, passed: ping.pairsPassed, failed: ping.pairsFailed, crossHost: ping.crossHostPairs },
        firstReplyMs: { count: ping.firstReplyMs.count, ...q(ping.firstReplyMs), max: round(ping.firstReplyMs.max, 2) },
        rttMs: q(ping.rttMs),
        vms: { requested: report.vms.requested, ready: report.vms.ready, failed: report.vms.failed, namespaces: seen.namespaces },
        seconds: {
          emulationUp: round(emulationUp),
          network: marks.creating === undefined ? null : round(marks.creating),
          lastVmReady: round(report.latencyMs.endToEnd.max / 1000),
          test: marks.testing === undefined || marks.done === undefined ? null : round(marks.done - marks.testing),
        },
        flowsPerVhost: { ...spread(seen.flows), expected: spread(seen.expected), mismatched: seen.mismatched.length },
        tunnelsPerVhost: spread(seen.tunnels),
        neighborTables,
        load: load.figures(loadAtStart, busyBefore),
        agentsLost,
        notes,
        failedPairsSample,
        problems,
      };
    } finally {
      client.close();
    }
  } finally {
    if (o.keep && up) {
      progress(`${mode}: kept up (--keep); remove it with: npm run merak -- local down --local-dir ${dir}`);
    } else {
      const left = await teardown(m, dir, prefix, (l) => progress(`${mode}: ${l.trim()}`));
      if (left.length > 0) problems.push(...left.map((l) => `left after teardown (then removed): ${l}`));
      stop.liveDir = undefined;
    }
  }
}
