// Data-plane benchmark: one VPC of --vms VMs placed uniformly on --hosts emulated vhosts, then the
// ping test over --pairs sampled same-VPC pairs, from cold caches (a fresh emulation, the first
// test after creation), once with the neighbor tables (the coordinator's default) and once with the
// baseline, `--dataplane flood` (flood and learn over the same tunnels and static tunnel
// neighbors). What the report says is checked from outside before it is printed: VM namespaces by
// `ip netns`, br-tun's flows by `ovs-ofctl dump-flows` against what the plan implies, the pair
// count. Each mode runs on its own emulation, torn down after (also on failure or SIGINT/SIGTERM).
//
// Usage: npm run bench:dataplane -- [--hosts N (default 5, at most 64)] [--vms N (default 10 x hosts)]
//   [--pairs N (default 1000)] [--count N (default 3)] [--timeout-ms MS (default 15000)]
//   [--skip-baseline] [--modes neighbors,flood (which to run, in order)]
//   [--keep (leave each emulation up to look at it; remove with merak local down)]
// The last line of output is one JSON object with the figures.
//
// Why 3 echoes and 15 s: a VM's kernel queues its echoes while it resolves the target by ARP (up to
// 3 requests, 1 s apart), so a path that works after a lost request or two answers in about 2 s plus
// its RTT. But on a loaded 2-core machine the userspace datapaths hold packets for seconds: at 50
// vhosts (one run) the flood baseline's first replies came up to 7.3 s after the first echo (RTT p99 6 s);
// with 5 s it passed 166 pairs of 1,000 where 15 s gave it 402. 15 s is twice the slowest reply seen,
// so a slow but working path counts as working; the output says so when replies come near the end of
// the wait. The wait also paces the test (each agent pings from 4 VMs at a time), so it is the same
// for both modes.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { netnsDelete } from '@merak/native';
import { coordinatorV1 } from '@merak/proto';
import { readState, teardownLocalEmulation } from '@merak/coordinator';
import type * as ConnectCli from '../coordinator/cli/connect.js';
import type * as LocalCli from '../coordinator/cli/local.js';
import type * as PlanModule from '../coordinator/plan/index.js';
import type { Quantiles, Report } from '../coordinator/report/report.js';
import type * as ScenarioModule from '../coordinator/scenario/index.js';

const run = promisify(execFile);

type Mode = 'neighbors' | 'flood';

// SIGINT/SIGTERM stop the run: the watch is cancelled and the `finally` blocks tear the emulation
// down; a second signal exits at once (and says what is left).
let stopSignal: NodeJS.Signals | undefined;
let stopWatch: (() => void) | undefined;
let liveDir: string | undefined;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (stopSignal !== undefined) {
      if (liveDir) console.error(`bench: exiting; remove what is left with: npm run merak -- local down --local-dir ${liveDir}`);
      process.exit(130);
    }
    stopSignal = sig;
    console.error(`bench: ${sig}, stopping and cleaning up…`);
    stopWatch?.();
  });
}
function throwIfStopped(): void {
  if (stopSignal !== undefined) throw new Error(`stopped by ${stopSignal}`);
}

const started = performance.now();
function progress(line: string): void {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
}

/** The coordinator's CLI internals (local up/down, connect, the planner), which its package does not export. */
interface Modules {
  local: typeof LocalCli;
  connect: typeof ConnectCli;
  plan: typeof PlanModule;
  scenario: typeof ScenarioModule;
}

async function loadModules(): Promise<Modules> {
  // From the coordinator's build output beside this one (the package's exports name only its index).
  const dist = (path: string): string => new URL(`../../coordinator/dist/${path}`, import.meta.url).href;
  const [local, connect, plan, scenario] = await Promise.all([
    import(dist('cli/local.js')) as Promise<typeof LocalCli>,
    import(dist('cli/connect.js')) as Promise<typeof ConnectCli>,
    import(dist('plan/index.js')) as Promise<typeof PlanModule>,
    import(dist('scenario/index.js')) as Promise<typeof ScenarioModule>,
  ]);
  return { local, connect, plan, scenario };
}

interface Options {
  hosts: number;
  vms: number;
  pairs: number;
  count: number;
  timeoutMs: number;
  keep: boolean;
}

interface Spread {
  min: number;
  median: number;
  max: number;
}

interface ModeFigures {
  dataplane: Mode;
  pairs: { tested: number; distinct: number; passed: number; failed: number; crossHost: number };
  firstReplyMs: { count: number; p50: number; p99: number; max: number };
  rttMs: { p50: number; p99: number };
  vms: { requested: number; ready: number; failed: number; namespaces: number };
  seconds: { emulationUp: number; network: number | null; lastVmReady: number; test: number | null };
  flowsPerVhost: Spread & { expected: Spread; mismatched: number };
  tunnelsPerVhost: Spread;
  neighborTables: { coordinatorSlowestMs: number | null; coordinatorWallMs: number | null; coordinatorFlowMods: number | null; agentMs: Spread | null; agentUpdates: number; coordinatorUpdates: number };
  load: { atStart: number; mean: number; max: number; cpuBusyPct: number; cpuBusyPctBefore: number };
  agentsLost: number;
  /** Not failures of the bench, but what a reader of the figures must know. */
  notes: string[];
  failedPairsSample: string[];
  problems: string[];
}

const round = (x: number, digits = 1): number => Math.round(x * 10 ** digits) / 10 ** digits;
const FINAL = new Set([coordinatorV1.ScenarioPhase.SCENARIO_PHASE_READY, coordinatorV1.ScenarioPhase.SCENARIO_PHASE_FAILED, coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED]);
const phaseName = (p: coordinatorV1.ScenarioPhase): string => coordinatorV1.scenarioPhaseToJSON(p).replace('SCENARIO_PHASE_', '').toLowerCase();

function spread(values: readonly number[]): Spread {
  if (values.length === 0) return { min: 0, median: 0, max: 0 };
  const v = [...values].sort((a, b) => a - b);
  return { min: v[0]!, median: v[Math.floor((v.length - 1) / 2)]!, max: v[v.length - 1]! };
}

/** Busy and total jiffies of all CPUs, from /proc/stat. */
function cpuTimes(): { busy: number; total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - f[3]! - f[4]!, total }; // minus idle and iowait
}

/**
 * Waits (at most `maxMs`) until the CPUs were less than `busyPct` busy over a 2 s window, so a mode
 * does not start while the previous one's teardown (or anything else) still loads the machine.
 * Returns the last window's busy percentage.
 */
async function waitForQuiet(label: string, busyPct = 30, maxMs = 60_000): Promise<number> {
  const deadline = Date.now() + maxMs;
  for (let said = false; ;) {
    const a = cpuTimes();
    await new Promise((r) => setTimeout(r, 2000));
    const b = cpuTimes();
    const busy = (100 * (b.busy - a.busy)) / Math.max(1, b.total - a.total);
    if (busy < busyPct || Date.now() > deadline || stopSignal !== undefined) return round(busy);
    if (!said) progress(`${label}: waiting for the machine to be quiet (CPUs ${busy.toFixed(0)}% busy)`);
    said = true;
  }
}

async function namespacesWithPrefix(prefix: string): Promise<string[]> {
  const { stdout } = await run('ip', ['netns', 'list']);
  return stdout.split('\n').map((l) => l.split(' ')[0]!).filter((n) => n.startsWith(prefix));
}

async function linksWithPrefix(prefix: string): Promise<string[]> {
  const { stdout } = await run('ip', ['-j', 'link', 'show']);
  return (JSON.parse(stdout || '[]') as Array<{ ifname: string }>).map((l) => l.ifname).filter((n) => n.startsWith(prefix));
}

/** PIDs of running processes whose command line mentions `text` (the bench's own folder). */
function processesMentioning(text: string): number[] {
  const out: number[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e) || Number(e) === process.pid) continue;
    try {
      const state = readFileSync(`/proc/${e}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0').join(' ').includes(text)) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Runs `fn` over `items`, `limit` at once (2 cores: more ovs-ofctl at once only queue). */
async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Pino JSON lines of a log file whose message passes `keep`. */
function logLines(file: string, keep: (msg: string) => boolean): Array<Record<string, unknown>> {
  if (!existsSync(file)) return [];
  const out: Array<Record<string, unknown>> = [];
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const o = JSON.parse(line) as Record<string, unknown>;
      if (typeof o.msg === 'string' && keep(o.msg)) out.push(o);
    } catch {
      // a line cut short by a process that was killed
    }
  }
  return out;
}

function scenarioYaml(name: string, hosts: readonly string[], o: Options): string {
  // pairs_per_vpc_limit 2: always the sample of exactly --pairs pairs, never every pair of a small VPC.
  return [
    `name: ${name}`,
    'seed: 1',
    `hosts: { names: [${hosts.join(', ')}] }`,
    `vpcs: [{ name: vpc, cidr: 10.64.0.0/16, subnets: [{ name: s, cidr: 10.64.0.0/16, vms: ${o.vms} }] }]`,
    'placement: { type: uniform }',
    'schedule: { type: sequential, concurrency: 16 }',
    `test: { type: ping, pairs_per_vpc_limit: 2, sample_pairs: ${o.pairs}, count: ${o.count}, timeout_ms: ${o.timeoutMs}, cross_vpc_checks: 0 }`,
    '',
  ].join('\n');
}

// br-tun's program as tunnel-flows.ts writes it: 3 fixed flows, one ingress flow per VNI, 2 per
// remote neighbor (ARP responder, unicast to its tunnel); the flood baseline is one NORMAL flow.
const FIXED_FLOWS = 3;
const FLOWS_PER_REMOTE_NEIGHBOR = 2;
const FLOOD_FLOWS = 1;

async function runMode(mode: Mode, o: Options, root: string, benchPrefix: string, m: Modules): Promise<ModeFigures> {
  const prefix = `${benchPrefix}${mode[0]}`;
  const dir = join(root, mode[0]!);
  const problems: string[] = [];
  const busyBefore = await waitForQuiet(mode);
  throwIfStopped();
  const loadAtStart = loadavg()[0]!;
  let t = performance.now();
  liveDir = dir;
  progress(`${mode}: bringing up ${o.hosts} vhosts (prefix ${prefix}, folder ${dir})`);
  let up: LocalCli.LocalUp | undefined;
  try {
    up = await m.local.localUp({ dir, hosts: o.hosts, prefix, dataplane: mode, log: (l) => progress(`${mode}: ${l.trim()}`) });
    const emulationUp = (performance.now() - t) / 1000;
    throwIfStopped();
    const vhosts = up.emulation.vhosts;
    const hostNames = vhosts.map((v) => v.name);
    const name = `${prefix}-s`;
    const text = scenarioYaml(name, hostNames, o);
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
      const loads: number[] = [];
      const cpu0 = cpuTimes();
      const sampler = setInterval(() => loads.push(loadavg()[0]!), 2000);
      t = performance.now();
      const marks: { creating?: number; testing?: number; done?: number } = {};
      let last: coordinatorV1.Scenario | undefined;
      let submittedAt = Date.now();
      // An agent whose stream to the coordinator dropped mid-scenario (the coordinator says so).
      let agentsLost = 0;
      let lastLine = 0;
      let lastMessage = '';
      const abort = new AbortController();
      stopWatch = () => abort.abort();
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
        stopWatch = undefined;
        clearInterval(sampler);
      }
      const cpu1 = cpuTimes();
      progress(`${mode}: scenario ${phaseName(last.phase)}${last.error ? `: ${last.error}` : ''}; checking from outside`);
      const report = JSON.parse((await client.getReport(last.id)).json) as Report;
      const ping = report.ping;
      if (!ping) throw new Error('the report has no ping results');

      // br-tun's flows and tunnels, read from OVS itself.
      const flows = await mapLimit(vhosts, 4, async (v) => {
        const { stdout } = await run('ovs-ofctl', ['-O', 'OpenFlow13', 'dump-flows', `unix:${join(v.dir, 'ovs', 'br-tun.mgmt')}`], { maxBuffer: 256 * 1024 * 1024 });
        return stdout.split('\n').filter((l) => /^\s*cookie=/.test(l)).length;
      });
      const tunnels = await mapLimit(vhosts, 4, async (v) => {
        const { stdout } = await run('ovs-vsctl', [`--db=unix:${v.dbSocket}`, 'list-ports', 'br-tun']);
        return stdout.split('\n').filter((p) => p !== '' && p !== 'patch-int').length;
      });
      const expected = vmsOn.map((n) => (mode === 'flood' ? FLOOD_FLOWS : FIXED_FLOWS + 1 + FLOWS_PER_REMOTE_NEIGHBOR * (o.vms - n)));
      const mismatched = hostNames.filter((_, h) => flows[h] !== expected[h]);
      if (mismatched.length > 0) {
        problems.push(`br-tun flows differ from the plan's on ${mismatched.length} vhosts, e.g. ${mismatched.slice(0, 3).map((h) => `${h}: ${flows[hostNames.indexOf(h)]} (expected ${expected[hostNames.indexOf(h)]})`).join(', ')}`);
      }
      const wrongTunnels = tunnels.filter((n) => n !== o.hosts - 1).length;
      if (wrongTunnels > 0) problems.push(`${wrongTunnels} vhosts do not have ${o.hosts - 1} tunnel ports on br-tun (${tunnels.join(',')})`);
      const namespaces = (await namespacesWithPrefix(`${name}-`)).length;
      if (namespaces !== o.vms) problems.push(`ip netns shows ${namespaces} VM namespaces of ${name}, ${o.vms} were requested`);
      if (report.vms.requested !== o.vms) problems.push(`the report requested ${report.vms.requested} VMs, not ${o.vms}`);
      const tested = ping.pairsPassed + ping.pairsFailed;
      if (tested !== o.pairs) problems.push(`the report tested ${tested} pairs, not ${o.pairs}`);
      if (report.vms.ready === o.vms && ping.crossHostPairs !== expectedCross) problems.push(`the report has ${ping.crossHostPairs} pairs across vhosts, the plan ${expectedCross}`);

      // Time to program the neighbor tables: the coordinator's line for the scenario's VMs (its wall
      // wall time runs from the scenario's tunnels being set: the first 'overlay set' after it was submitted) and each agent's own figure, from
      // the updates that changed its table (a refresh that re-sends the same table programs nothing).
      const coordinatorLog = join(dir, 'coordinator.log');
      const coordinatorLines = logLines(coordinatorLog, (msg) => msg.startsWith('neighbor tables:'));
      const scenarioLine = coordinatorLines.find((l) => l.msg === "neighbor tables: add the scenario's VMs" && Number(l.vhostsTold) > 0);
      const overlaySet = scenarioLine && logLines(coordinatorLog, (msg) => msg === 'overlay set').find((l) => Number(l.time) >= submittedAt);
      if (mode === 'neighbors' && !scenarioLine) problems.push("no 'neighbor tables: add the scenario's VMs' line in the coordinator's log");
      const agentLines = vhosts.map((v) => logLines(join(v.dir, 'agent.log'), (msg) => msg === 'neighbor table updated'));
      const agentMs = agentLines.map((l) => l.filter((x) => Number(x.upserted) + Number(x.removed) > 0)).filter((l) => l.length > 0)
        .map((l) => l.reduce((a, x) => a + Number(x.micros), 0) / 1000);
      // The agent's word on its flows, against what OVS holds.
      const agentFlows = agentLines.map((l) => (l.length > 0 ? Number(l[l.length - 1]!.flows) : undefined));
      const disagree = hostNames.filter((_, h) => agentFlows[h] !== undefined && agentFlows[h] !== flows[h]);
      if (disagree.length > 0) problems.push(`on ${disagree.length} vhosts the agent's last 'flows' differs from dump-flows (e.g. ${disagree[0]})`);

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
        pairs: { tested, distinct, passed: ping.pairsPassed, failed: ping.pairsFailed, crossHost: ping.crossHostPairs },
        firstReplyMs: { count: ping.firstReplyMs.count, ...q(ping.firstReplyMs), max: round(ping.firstReplyMs.max, 2) },
        rttMs: q(ping.rttMs),
        vms: { requested: report.vms.requested, ready: report.vms.ready, failed: report.vms.failed, namespaces },
        seconds: {
          emulationUp: round(emulationUp),
          network: marks.creating === undefined ? null : round(marks.creating),
          lastVmReady: round(report.latencyMs.endToEnd.max / 1000),
          test: marks.testing === undefined || marks.done === undefined ? null : round(marks.done - marks.testing),
        },
        flowsPerVhost: { ...spread(flows), expected: spread(expected), mismatched: mismatched.length },
        tunnelsPerVhost: spread(tunnels),
        neighborTables: {
          coordinatorSlowestMs: scenarioLine ? round(Number(scenarioLine.slowestMs), 2) : null,
          coordinatorWallMs: scenarioLine && overlaySet ? Number(scenarioLine.time) - Number(overlaySet.time) : null,
          coordinatorFlowMods: scenarioLine ? Number(scenarioLine.flowMods) : null,
          agentMs: agentMs.length > 0 ? (({ min, median, max }) => ({ min: round(min, 2), median: round(median, 2), max: round(max, 2) }))(spread(agentMs)) : null,
          agentUpdates: agentLines.reduce((a, l) => a + l.length, 0),
          coordinatorUpdates: coordinatorLines.filter((l) => Number(l.vhostsTold) > 0).length,
        },
        load: {
          atStart: round(loadAtStart, 2),
          mean: round(loads.length > 0 ? loads.reduce((a, b) => a + b, 0) / loads.length : loadavg()[0]!, 2),
          max: round(Math.max(loadavg()[0]!, ...loads), 2),
          cpuBusyPct: round((100 * (cpu1.busy - cpu0.busy)) / Math.max(1, cpu1.total - cpu0.total)),
          cpuBusyPctBefore: busyBefore,
        },
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
      liveDir = undefined;
    }
  }
}

/**
 * `local down`, then whatever still carries the prefix: the emulation by its record, namespaces,
 * links, processes that name the folder (started by this run: stopped by PID), the folder.
 * Returns what had to be removed after `local down`, which should be nothing.
 */
async function teardown(m: Modules, dir: string, prefix: string, log: (line: string) => void): Promise<string[]> {
  const left: string[] = [];
  await m.local.localDown(dir, log).catch((e: unknown) => log(`local down failed: ${e instanceof Error ? e.message : String(e)}`));
  const stateDir = join(dir, 'emulation');
  if (existsSync(stateDir) && readState(stateDir)) {
    left.push(`the emulation record in ${stateDir}`);
    await teardownLocalEmulation(stateDir);
  }
  const namespaces = await namespacesWithPrefix(prefix);
  if (namespaces.length > 0) {
    left.push(`${namespaces.length} namespaces`);
    await netnsDelete(namespaces);
  }
  for (const link of await linksWithPrefix(prefix)) {
    left.push(`link ${link}`);
    await run('ip', ['link', 'del', link]).catch(() => undefined); // gone with its peer meanwhile
  }
  for (const pid of processesMentioning(dir)) {
    left.push(`process ${pid}`);
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  if (existsSync(dir)) {
    left.push(`folder ${dir}`);
    rmSync(dir, { recursive: true, force: true });
  }
  for (const l of left) log(`had to remove after local down: ${l}`);
  return left;
}

/** How many times better neighbors is than flood on a figure; null when a side has none. */
function better(neighbors: number, flood: number, higherIsBetter: boolean): number | null {
  if (!(neighbors > 0) || !(flood > 0)) return null;
  return round(higherIsBetter ? neighbors / flood : flood / neighbors, 2);
}

function table(o: Options, cols: readonly ModeFigures[], ratio: Record<string, number | null> | undefined): string {
  const fmtSpread = (s: Spread): string => `${s.min}/${s.median}/${s.max}`;
  const W = 26;
  const rows: Array<[string, (x: ModeFigures) => string, string]> = [
    ['pairs passed (first test)', (x) => `${x.pairs.passed}/${x.pairs.tested}`, 'pairsPassed'],
    ['time to first reply p50 (ms)', (x) => String(x.firstReplyMs.p50), 'firstReplyP50'],
    ['time to first reply p99 (ms)', (x) => String(x.firstReplyMs.p99), 'firstReplyP99'],
    ['RTT p50 (ms)', (x) => String(x.rttMs.p50), 'rttP50'],
    ['RTT p99 (ms)', (x) => String(x.rttMs.p99), 'rttP99'],
    ['VMs ready / failed', (x) => `${x.vms.ready} / ${x.vms.failed}`, ''],
    ['last VM ready after (s)', (x) => String(x.seconds.lastVmReady), 'lastVmReady'],
    ['network phase (s)', (x) => String(x.seconds.network ?? '-'), ''],
    ['ping test (s)', (x) => String(x.seconds.test ?? '-'), ''],
    ['flows per vhost min/med/max', (x) => fmtSpread(x.flowsPerVhost), ''],
    ['  expected from the plan', (x) => fmtSpread(x.flowsPerVhost.expected), ''],
    ['tunnels per vhost min/med/max', (x) => fmtSpread(x.tunnelsPerVhost), ''],
    ['tables: slowest vhost (ms)', (x) => String(x.neighborTables.coordinatorSlowestMs ?? '-'), ''],
    ['tables: all vhosts, wall (ms)', (x) => String(x.neighborTables.coordinatorWallMs ?? '-'), ''],
    ['tables: flow_mods sent', (x) => String(x.neighborTables.coordinatorFlowMods ?? '-'), ''],
    ['tables: agent ms min/med/max', (x) => (x.neighborTables.agentMs ? fmtSpread(x.neighborTables.agentMs) : '-'), ''],
    ['load 1-min start/mean/max', (x) => `${x.load.atStart}/${x.load.mean}/${x.load.max}`, ''],
    ['CPU busy before / during (%)', (x) => `${x.load.cpuBusyPctBefore} / ${x.load.cpuBusyPct}`, ''],
    ['agents lost mid-scenario', (x) => String(x.agentsLost), ''],
    ['checks', (x) => (x.problems.length === 0 ? 'ok' : `${x.problems.length} FAILED`), ''],
  ];
  const lines = [
    `data plane, ${o.hosts} vhosts, ${o.vms} VMs in one VPC (uniform), ${o.pairs} sampled pairs, ${o.count} echoes, ${o.timeoutMs} ms timeout, cold caches`,
    `${'metric'.padEnd(34)}${cols.map((c) => c.dataplane.padStart(W)).join('')}${ratio ? '  ratio (>1: neighbors better)' : ''}`,
  ];
  for (const [label, get, key] of rows) {
    const r = ratio && key ? ratio[key] : undefined;
    lines.push(`${label.padEnd(34)}${cols.map((c) => get(c).padStart(W)).join('')}${r === undefined ? '' : `  ${r === null ? '-' : `${r}x`}`}`);
  }
  return lines.join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      hosts: { type: 'string', default: '5' }, vms: { type: 'string' }, pairs: { type: 'string', default: '1000' }, count: { type: 'string', default: '3' },
      'timeout-ms': { type: 'string', default: '15000' }, 'skip-baseline': { type: 'boolean', default: false }, modes: { type: 'string', default: 'neighbors,flood' }, keep: { type: 'boolean', default: false },
    },
  });
  const hosts = Number(values.hosts);
  const o: Options = {
    hosts, vms: Number(values.vms ?? 10 * hosts), pairs: Number(values.pairs), count: Number(values.count), timeoutMs: Number(values['timeout-ms']), keep: values.keep!,
  };
  // 64: what `merak local up` allows.
  if (!Number.isInteger(o.hosts) || o.hosts < 2 || o.hosts > 64) throw new Error('--hosts must be an integer in 2..64');
  // Every vhost holds a VM, so every one has a neighbor table to program and flows to count.
  if (!Number.isInteger(o.vms) || o.vms < o.hosts || o.vms > 10_000) throw new Error(`--vms must be an integer in ${o.hosts}..10000`);
  if (!Number.isInteger(o.pairs) || o.pairs < 1 || o.pairs > 1_000_000) throw new Error('--pairs must be an integer in 1..1000000');
  if (!Number.isInteger(o.count) || o.count < 1 || o.count > 100) throw new Error('--count must be an integer in 1..100');
  if (!Number.isInteger(o.timeoutMs) || o.timeoutMs < 100 || o.timeoutMs > 60_000) throw new Error('--timeout-ms must be an integer in 100..60000');
  const modes = values.modes!.split(',').filter((x) => !(values['skip-baseline'] && x === 'flood'));
  if (modes.length === 0 || modes.some((x) => x !== 'neighbors' && x !== 'flood')) throw new Error('--modes must list neighbors and/or flood');
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, OVS)');
  const m = await loadModules();
  const prefix = `md${randomBytes(3).toString('hex')}`;
  const root = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  const results: Partial<Record<Mode, ModeFigures>> = {};
  const errors: string[] = [];
  try {
    for (const mode of modes as Mode[]) {
      throwIfStopped();
      try {
        results[mode] = await runMode(mode, o, root, prefix, m);
        const r = results[mode];
        progress(`${mode}: ${r.pairs.passed}/${r.pairs.tested} pairs passed, first reply p50 ${r.firstReplyMs.p50} ms p99 ${r.firstReplyMs.p99} ms, ${r.vms.ready} VMs ready`);
        for (const p of r.failedPairsSample) progress(`${mode}:   failed pair ${p}`);
      } catch (e) {
        const msg = `${mode}: ${e instanceof Error ? e.message : String(e)}`;
        errors.push(msg);
        progress(`${msg} (mode abandoned)`);
        if (stopSignal !== undefined) break;
      }
    }
  } finally {
    if (!o.keep) rmSync(root, { recursive: true, force: true });
  }
  if (!o.keep) {
    // Seen from outside: nothing of the prefix may be left.
    const left = [...(await namespacesWithPrefix(prefix)), ...(await linksWithPrefix(prefix)), ...processesMentioning(root).map((p) => `process ${p}`), ...(existsSync(root) ? [root] : [])];
    if (left.length > 0) errors.push(`left behind: ${left.join(', ')}`);
    progress(left.length === 0 ? `nothing of ${prefix} is left (namespaces, links, processes, files)` : `LEFT BEHIND: ${left.join(', ')}`);
  }
  const n = results.neighbors;
  const f = results.flood;
  const ratio = n && f ? {
    pairsPassed: better(n.pairs.passed, f.pairs.passed, true),
    firstReplyP50: better(n.firstReplyMs.p50, f.firstReplyMs.p50, false),
    firstReplyP99: better(n.firstReplyMs.p99, f.firstReplyMs.p99, false),
    rttP50: better(n.rttMs.p50, f.rttMs.p50, false),
    rttP99: better(n.rttMs.p99, f.rttMs.p99, false),
    lastVmReady: better(n.seconds.lastVmReady, f.seconds.lastVmReady, false),
  } : undefined;
  const cols = modes.flatMap((x) => results[x as Mode] ?? []);
  if (cols.length > 0) {
    console.log('');
    console.log(table(o, cols, ratio));
    for (const c of cols) for (const note of c.notes) console.log(`note (${c.dataplane}): ${note}`);
  }
  const problems = [...errors, ...(n?.problems ?? []).map((p) => `neighbors: ${p}`), ...(f?.problems ?? []).map((p) => `flood: ${p}`)];
  if (problems.length > 0) process.exitCode = 1;
  console.log(JSON.stringify({
    bench: 'dataplane', hosts: o.hosts, vms: o.vms, pairs: o.pairs, count: o.count, timeoutMs: o.timeoutMs,
    neighbors: n ?? null, flood: f ?? null, ratio: ratio ?? null, ...(errors.length > 0 ? { errors } : {}),
  }));
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
