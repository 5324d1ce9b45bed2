// Coordinator benchmark: a scenario of N VMs in one VPC fanned out to M hollow agents (the real
// agent and its gRPC API with no kernel work, many agents per process), each with its own underlay
// address, so the standalone control plane computes and sends every vhost its tunnel set. The
// coordinator (engine, store, registry, metrics, tunnel sets, gRPC) runs in this process alone, so
// its CPU time and peak RSS are what is measured. Then one more vhost joins the VPC and leaves it
// (join-leave.ts): each must cost the n - 1 others one one-entry delta each and the vhost one set. Every agent's tunnels are checked from outside (tunnel-digest.ts), and the
// coordinator's own Prometheus counters against the scenario's counts.
//
// Usage: npm run bench:coordinator -- [--vms N] [--agents M] [--per-process K] [--dataplane MODE] [--cpu-prof FILE]
// The last line of output is one JSON object; non-zero exit when a VM or a check failed.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { PerformanceObserver } from 'node:perf_hooks';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { StopOnSignals, runBenchMain } from '../common/lifecycle.js';
import { type BenchCoordinator, startCoordinator } from './coordinator.js';
import { Fleets } from './fleets.js';
import { joinAndLeave, vpcMembers } from './join-leave.js';
import { parseBenchOptions } from './options.js';
import { checkMesh } from './tunnel-digest.js';

let fleets: Fleets | undefined;
// SIGINT/SIGTERM end the wait in flight; the `finally` stops the fleets and removes the folder.
const stop = new StopOnSignals(() => fleets?.killAll());
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d;

/** --cpu-prof: a CPU profile of the measured window only (not of the fleets' start). */
async function startProfile(): Promise<(file: string) => Promise<void>> {
  const s = new Session();
  s.connect();
  await new Promise<void>((r) => s.post('Profiler.enable', () => s.post('Profiler.start', () => r())));
  return (file) => new Promise<void>((resolve, reject) => s.post('Profiler.stop', (e, r) => {
    s.disconnect();
    if (e) return reject(e);
    writeFileSync(file, JSON.stringify(r.profile));
    resolve();
  }));
}

/** The coordinator's own counters (what /metrics would say). */
async function metricValues(c: BenchCoordinator): Promise<{ vmResultsReady: number; vmResultsFailed: number; agentsConnected: number; agentsLost: number }> {
  const results = (await c.metrics.vmResults.get()).values;
  const of = (status: string): number => results.find((v) => v.labels.status === status)?.value ?? 0;
  const one = async (name: string): Promise<number> => (await c.metrics.registry.getSingleMetric(name)?.get())?.values[0]?.value ?? -1;
  return { vmResultsReady: of('ready'), vmResultsFailed: of('failed'), agentsConnected: await one('merak_coordinator_agents_connected'), agentsLost: await one('merak_coordinator_agents_lost_total') };
}

async function main(): Promise<void> {
  const o = parseBenchOptions(process.argv.slice(2));
  if (o === 'help') return;
  const dir = mkdtempSync(join(tmpdir(), 'merak-cbench-'));
  const token = randomBytes(16).toString('hex');
  const logger = pino({ level: 'warn' });
  let c: BenchCoordinator | undefined;
  let progress: NodeJS.Timeout | undefined;
  try {
    const sock = join(dir, 'coordinator.sock');
    c = await startCoordinator({ statePath: join(dir, 'state.db'), socket: sock, token, flood: o.dataplane === 'flood', logger });
    const f = (fleets = new Fleets(`unix:${sock}`, dir, token));
    console.log(`starting ${o.agents} hollow agents in ${Math.ceil(o.agents / o.perProcess)} processes…`);
    const starts: Promise<void>[] = [];
    for (let first = 0; first < o.agents; first += o.perProcess) starts.push(f.start(first, Math.min(o.perProcess, o.agents - first)));
    await stop.race(Promise.all(starts));
    while (c.registry.connected().length < o.agents) await stop.sleep(100);
    // Each registration makes the control plane refresh that vhost 200 ms later: let that pass.
    await stop.sleep(1000);
    console.log(`${o.agents} agents registered; creating ${o.vms} VMs in one VPC (data plane: ${o.dataplane})…`);
    const text = JSON.stringify({
      name: 'bench', hosts: { count: o.agents }, test: { type: 'none' },
      vpcs: [{ name: 'vpc1', cidr: '10.0.0.0/8', subnets: [{ name: 's1', cidr: '10.0.0.0/8', vms: o.vms }] }],
    });
    const stopProfile = o.cpuProf ? await startProfile() : undefined;
    const sent0 = { ...c.sent };
    // The main thread's GC pauses in the measured window (its helper threads' work is in the CPU time only).
    let gcPauseMillis = 0;
    const gcWatch = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcPauseMillis += e.duration;
    });
    gcWatch.observe({ entryTypes: ['gc'] });
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const engine = c.engine;
    progress = setInterval(() => {
      const s = engine.list()[0];
      if (s) process.stdout.write(`\r  ${s.counts.ready + s.counts.failed}/${o.vms} VMs`);
    }, 1000);
    const created = engine.create(text, 'json');
    await stop.race(engine.settled(created.id));
    clearInterval(progress);
    const wallSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    // GC entries are delivered after the turn they happened in.
    await new Promise((r) => setImmediate(r));
    gcWatch.disconnect();
    const sent = {
      tunnelMessages: c.sent.tunnelMessages - sent0.tunnelMessages, tunnelEntries: c.sent.tunnelEntries - sent0.tunnelEntries, tunnelSets: c.sent.tunnelSets - sent0.tunnelSets, tunnelDeltas: c.sent.tunnelDeltas - sent0.tunnelDeltas,
      neighborMessages: c.sent.neighborMessages - sent0.neighborMessages, neighborEntries: c.sent.neighborEntries - sent0.neighborEntries,
    };
    const status = engine.status(created.id)!;
    const { ready, failed } = status.counts;
    console.log(`\n${ready} ready, ${failed} failed, phase ${status.phase}${status.error ? `: ${status.error}` : ''}`);
    for (const x of status.report?.failures.first.slice(0, 3) ?? []) console.log(`  failed: ${x.vm} on ${x.host}: [${x.code}] ${x.message}`);

    // From outside: the agents' VMs and tunnel sets, against the plan and the control plane's view.
    const problems: string[] = [];
    const report = await stop.race(f.report());
    const agentVms = report.reduce((s, a) => s + a.vms, 0);
    if (agentVms !== ready) problems.push(`the agents hold ${agentVms} VMs, the scenario says ${ready} ready`);
    const { vni, members } = vpcMembers(c);
    const holding = new Set(report.filter((a) => a.vms > 0).map((a) => a.index));
    if (holding.size !== members.size || [...holding].some((i) => !members.has(i))) problems.push(`${holding.size} agents hold VMs, the control plane counts ${members.size} vhosts in the VPC`);
    for (const w of checkMesh(report, holding, vni)) problems.push(`scenario: ${w}`);
    const received = report.reduce((s, a) => ({ messages: s.messages + a.calls, entries: s.entries + a.entries }), { messages: 0, entries: 0 });
    if (received.messages !== sent.tunnelMessages || received.entries !== sent.tunnelEntries) {
      problems.push(`tunnels: the coordinator sent ${sent.tunnelMessages} calls (${sent.tunnelEntries} tunnels), the agents received ${received.messages} (${received.entries})`);
    }
    const metrics = await metricValues(c);
    if (metrics.vmResultsReady !== ready || metrics.vmResultsFailed !== failed) problems.push(`metrics: vm_results_total ready ${metrics.vmResultsReady} failed ${metrics.vmResultsFailed}, the scenario ${ready} and ${failed}`);
    if (metrics.agentsConnected !== o.agents) problems.push(`metrics: ${metrics.agentsConnected} agents connected, want ${o.agents}`);

    console.log(`one more vhost (vhost-${o.agents}) joins the VPC of ${members.size} vhosts, then leaves…`);
    const jl = await joinAndLeave(c, f, o.agents, stop);
    problems.push(...jl.problems);
    if (stopProfile) await stopProfile(o.cpuProf!);
    for (const p of problems) console.log(`  check failed: ${p}`);
    console.log(JSON.stringify({
      vms: o.vms, agents: o.agents, dataplane: o.dataplane, ready, failed,
      // Divided by the VMs that came back (ready + failed), not by the VMs asked for.
      cpuMicrosPerVm: round((cpu.user + cpu.system) / Math.max(1, ready + failed), 2),
      cpuSeconds: round((cpu.user + cpu.system) / 1e6, 2),
      gcPauseMillis: Math.round(gcPauseMillis),
      peakRssMiB: round(process.resourceUsage().maxRSS / 1024),
      wallSeconds: round(wallSeconds, 2),
      tunnels: { vhostsInVpc: members.size, messagesSent: sent.tunnelMessages, setsSent: sent.tunnelSets, deltasSent: sent.tunnelDeltas, tunnelsSent: sent.tunnelEntries, messagesReceived: received.messages, tunnelsReceived: received.entries },
      neighbors: { messagesSent: sent.neighborMessages, entriesSent: sent.neighborEntries },
      metrics,
      join: jl.join, leave: jl.leave,
      checksFailed: problems.length,
    }));
    if (failed > 0 || problems.length > 0 || ready !== o.vms) process.exitCode = 1;
  } finally {
    clearInterval(progress);
    await fleets?.stopAll();
    c?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

runBenchMain(main);
