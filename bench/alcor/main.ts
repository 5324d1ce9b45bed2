// bench:alcor — Alcor's bind path with GoalState push, at fleet scale. The Alcor-compatible server
// (this process) binds --ports ports Merak's way to --agents GoalState hosts (a child process), each
// a real gRPC server on 127.0.0.1 registered as an Alcor node, and every PUT answers after NCM's
// pushes for it. Measured per port: the PUT's answer time, bind → on its host and bind → applied
// there, pushes per second; against null receivers (the floor of the push pipeline) and push off
// (REST only), in the same run, the order of modes alternated between rounds. What is printed is
// checked from outside first (checks.ts); a miss fails the run. Nothing is left behind: the fleet
// child is stopped (killed when it does not stop), also on SIGINT/SIGTERM. See --help.
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from '@merak/common';
import { type ModeFigures, type ModeRun, figuresOf } from './figures.js';
import { liveFleets, startedFleetPids } from './fleet-client.js';
import { runBenchMain } from '../common/lifecycle.js';
import { loadAlcor } from './modules.js';
import { HELP, type Mode, parseOptions } from './options.js';
import { jsonLine, ratios, table } from './output.js';
import { runMode } from './run-mode.js';
import { handleStopSignals, progress, stopped } from './stop.js';
import { planTopology } from './topology.js';

handleStopSignals();

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** What this run may have left: fleet processes, and TCP handles of this process. */
async function leftBehind(): Promise<string[]> {
  for (let i = 0; i < 20; i++) {
    const procs = startedFleetPids.filter(alive);
    const handles = process.getActiveResourcesInfo().filter((r) => r.startsWith('TCP'));
    if (procs.length + handles.length === 0) return [];
    if (i === 19) return [...procs.map((p) => `fleet process ${p}`), ...(handles.length > 0 ? [`${handles.length} TCP handles in the bench process`] : [])];
    await sleep(100);
  }
  return [];
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o === 'help') {
    console.log(HELP);
    return;
  }
  const alcor = await loadAlcor();
  const topo = planTopology('ab', o.agents, o.ports, o.portsPerSubnet);
  progress(`${o.ports} ports in ${topo.subnetCidrs.length} subnets (${topo.subnetCidrs[0]}…), each over ${topo.hostsPerSubnet} of ${o.agents} hosts; modes ${o.modes.join(', ')}, ${o.rounds} round(s)`);
  const runs: ModeRun[] = [];
  const errors: string[] = [];
  for (let r = 1; r <= o.rounds && !stopped(); r++) {
    // Every other round the other way round, so no mode always runs first (cold) or last.
    const order = r % 2 === 1 ? o.modes : [...o.modes].reverse();
    for (const mode of order) {
      if (stopped()) break;
      try {
        runs.push(await runMode(mode, r, o, topo, alcor));
      } catch (e) {
        const msg = `${mode} round ${r}: ${errorMessage(e)}`;
        errors.push(msg);
        progress(`${msg} (run abandoned)`);
      }
    }
  }
  const left = await leftBehind();
  if (left.length > 0) errors.push(`left behind: ${left.join(', ')}`);
  progress(left.length === 0 ? 'nothing is left (fleet processes, sockets)' : `LEFT BEHIND: ${left.join(', ')}`);

  const figures: Partial<Record<Mode, ModeFigures>> = {};
  for (const mode of o.modes) {
    const mine = runs.filter((x) => x.mode === mode);
    if (mine.length > 0) figures[mode] = figuresOf(mode, mine);
  }
  const cols = o.modes.flatMap((m) => figures[m] ?? []);
  const r = ratios(figures);
  if (cols.length > 0) {
    console.log('');
    console.log(table(o, topo, cols, r));
  }
  const problems = [...errors, ...cols.flatMap((c) => c.problems)];
  const complete = o.modes.every((m) => figures[m]?.rounds === o.rounds);
  if (!complete && !errors.some((e) => e.startsWith('stopped'))) errors.push('not every mode ran every round');
  for (const p of problems) console.log(`FAILED: ${p}`);
  const ok = problems.length === 0 && complete && !stopped();
  if (!ok) process.exitCode = 1;
  console.log(jsonLine(o, topo, figures, r, errors, ok));
}

// The event loop held until the fleet is stopped; an error outside the run stops it like SIGTERM.
runBenchMain(() => main().catch((e: unknown) => {
  for (const child of liveFleets) child.kill('SIGKILL');
  throw e;
}));
