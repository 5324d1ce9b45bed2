// Density benchmark: how many vhosts one machine holds, as `merak local up` makes them (each its
// own namespace, ovsdb-server, ovs-vswitchd and agent, under one supervisor and coordinator). For
// each way (--agents-per-process: an agent process per vhost, the baseline, and N vhosts per agent
// process), on its own emulation: brings up --hosts vhosts, creates --vms VMs in one VPC spread
// evenly over them, runs the ping test on --pairs sampled pairs, and reads memory before anything,
// with the vhosts idle and with the VMs (MemAvailable, all included, and every process's PSS by
// kind). Checked from outside before printing: every VM's namespace in `ip netns`, every recorded
// process alive when read. Removed at the end (also on failure or SIGINT/SIGTERM), and checked that
// nothing is left. Usage: npm run bench:density -- --help. The last line is one JSON object.
import { BenchOptionError } from '../common/options.js';
import { runBenchMain } from '../common/lifecycle.js';
import { loadModules } from '../dataplane/coordinator-modules.js';
import { handleStopSignals, progress, stop } from '../dataplane/stop.js';
import { DENSITY_HELP, parseDensityOptions } from './options.js';
import { type WayFigures, runWay } from './run-way.js';

async function main(): Promise<void> {
  const parsed = parseDensityOptions(process.argv.slice(2));
  if (parsed === 'help') {
    process.stdout.write(DENSITY_HELP);
    return;
  }
  const o = parsed;
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, OVS)');
  handleStopSignals();
  const m = await loadModules();
  const ways: WayFigures[] = [];
  /** A way that did not finish: why. */
  const abandoned = new Map<number, string>();
  for (const k of o.agentsPerProcess) {
    if (stop.signal !== undefined) break;
    try {
      ways.push(await runWay(o, k, m));
    } catch (e) {
      abandoned.set(k, e instanceof Error ? e.message : String(e));
      progress(`${k} per process: ${abandoned.get(k)!} (way abandoned)`);
    }
  }
  // The baseline (an agent process per vhost) failing is a finding about it, said as such: at 200
  // vhosts on 2 cores it does not come up in time. The run fails when a sharing way fails.
  const problemsOf = (k: number): string[] => [
    ...(abandoned.has(k) ? [abandoned.get(k)!] : []),
    ...ways.filter((w) => w.agentsPerProcess === k).flatMap((w) => w.problems),
  ].map((p) => `${k} per process: ${p}`);
  const problems = o.agentsPerProcess.filter((k) => k !== 1).flatMap(problemsOf);
  const baselineProblems = o.agentsPerProcess.includes(1) ? problemsOf(1) : [];
  for (const w of ways) {
    console.log(`${String(w.agentsPerProcess).padStart(4)} vhosts per agent process: ${w.miBPerVhost.withVms} MiB per vhost with VMs (${w.miBPerVhost.idle} idle), up ${w.upSeconds} s, ${w.vmsPerSecond} VMs/s, ping ${w.ping.passed}/${w.ping.passed + w.ping.failed}`);
  }
  // Ratios only against a baseline that worked.
  const base = baselineProblems.length === 0 ? ways.find((w) => w.agentsPerProcess === 1) : undefined;
  const ratios = base ? Object.fromEntries(ways.filter((w) => w !== base).map((w) => [`${w.agentsPerProcess}PerProcess`, {
    memoryPerVhost: Math.round((base.miBPerVhost.withVms / w.miBPerVhost.withVms) * 100) / 100,
    up: Math.round((base.upSeconds / w.upSeconds) * 100) / 100,
    createRate: Math.round((w.vmsPerSecond / base.vmsPerSecond) * 100) / 100,
  }])) : {};
  for (const p of baselineProblems) progress(`baseline failed: ${p}`);
  for (const p of problems) progress(`CHECK FAILED: ${p}`);
  if (problems.length > 0 || ways.filter((w) => w.agentsPerProcess !== 1).length < o.agentsPerProcess.filter((k) => k !== 1).length) process.exitCode = 1;
  console.log(JSON.stringify({ bench: 'density', hosts: o.hosts, vms: o.vms, pairs: o.pairs, goalMiBPerVhost: 40, ways, ratiosVsOnePerProcess: ratios, baselineProblems, problems }));
}

runBenchMain(async () => {
  try {
    await main();
  } catch (e) {
    if (e instanceof BenchOptionError) {
      console.error(`bench:density: ${e.message}`);
      process.exitCode = 2;
      return;
    }
    throw e;
  }
});
