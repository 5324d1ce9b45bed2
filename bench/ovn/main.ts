// bench:ovn — OVN's port pipeline on the local emulation, NB write -> ovn-installed per port, made
// three ways in the same run (see options.ts HELP): ours (the coordinator's batched NB writes, the
// agents' VMs), ovn-heater's (a transaction per port over one connection, a process per VM step) and
// the naive one (an ovn-nbctl process per port). One emulation for the whole run; each run of a mode
// on a fresh logical switch, removed (NB and VMs) before the next; the order of the modes reversed
// every other round; then ours alone at --sizes to see how it grows with the switch. What is printed
// is checked from outside first (checks.ts); a miss fails the run. Nothing is left behind: the
// emulation goes down also on failure and SIGINT/SIGTERM.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsDelete } from '@merak/native';
import { type LocalEmulation, startLocalEmulation, teardownLocalEmulation } from '@merak/lab';
import { errorMessage } from '@merak/common';
import { type ModeFigures, type RunResult, figuresOf } from './figures.js';
import { linksWithPrefix, namespacesWithPrefix, processesMentioning } from '../common/host-state.js';
import { runBenchMain } from '../common/lifecycle.js';
import { InstalledWatch } from './installed-watch.js';
import { loadOvnModules } from './modules.js';
import { HELP, type Mode, parseOptions } from './options.js';
import { growth, jsonLine, ratios, table } from './output.js';
import { type Bench, runOnce } from './run-mode.js';
import { handleStopSignals, progress, run, setLiveStateDir, stopped } from './stop.js';

handleStopSignals();

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  if (o === 'help') {
    console.log(HELP);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, OVS, OVN)');
  const m = await loadOvnModules();
  const prefix = `mo${randomBytes(2).toString('hex')}`;
  const root = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  const stateDir = join(root, 'emulation');
  const runs: RunResult[] = [];
  const sizeRuns: RunResult[] = [];
  const errors: string[] = [];
  const started = Date.now();
  let emulation: LocalEmulation | undefined;
  let watch: InstalledWatch | undefined;
  let emulationUpSeconds = 0;
  try {
    progress(`bringing up the local emulation with OVN: ${o.vhosts} vhosts (prefix ${prefix}, folder ${stateDir})`);
    setLiveStateDir(stateDir, `${prefix}-vm-`);
    const t = Date.now();
    emulation = await startLocalEmulation({ prefix, hosts: o.vhosts, stateDir, ovn: true, goalState: false, onTuning: (c) => progress(`kernel settings raised: ${c.join(', ')}`) });
    emulationUpSeconds = (Date.now() - t) / 1000;
    const ovn = emulation.ovn!;
    const bridge = (await run('ovs-vsctl', [`--db=unix:${emulation.vhosts[0]!.dbSocket}`, 'get', 'Open_vSwitch', '.', 'external_ids:ovn-bridge'])).trim().replace(/^"(.*)"$/, '$1');
    const pids = { northd: ovn.pids.northd, nb: ovn.pids.nb, sb: ovn.pids.sb, controllers: emulation.vhosts.map((v) => v.ovnControllerPid ?? 0) };
    if (pids.controllers.some((p) => p === 0) || pids.northd === 0) throw new Error('the emulation recorded no PID for ovn-northd or an ovn-controller');
    progress(`up in ${emulationUpSeconds.toFixed(1)} s: NB ${ovn.nb}, SB ${ovn.sb}, bridge ${bridge}, northd PID ${pids.northd}, ovn-controller PIDs ${pids.controllers.join(' ')}`);
    watch = await InstalledWatch.start(emulation.vhosts.map((v) => v.dbSocket));
    const b: Bench = { o, m, emulation, watch, prefix, bridge, pids };
    let serial = 0;
    const attempt = async (into: RunResult[], mode: Mode, label: string, roundNo: number, count: number): Promise<void> => {
      try {
        into.push(await runOnce(b, mode, label, roundNo, count, serial++));
      } catch (e) {
        errors.push(`${label}: ${errorMessage(e)}`);
        progress(`${label}: ${errorMessage(e)} (run abandoned)`);
      }
    };
    for (let r = 1; r <= o.rounds && !stopped(); r++) {
      // Every other round the other way round, so no mode always runs first or last.
      const order = r % 2 === 1 ? o.modes : [...o.modes].reverse();
      for (const mode of order) if (!stopped()) await attempt(runs, mode, `${mode}-r${r}`, r, o.ports);
    }
    for (const size of o.sizes) if (!stopped()) await attempt(sizeRuns, 'ours', `ours-size${size}`, 0, size);
  } catch (e) {
    errors.push(errorMessage(e));
    progress(`FAILED: ${errorMessage(e)}`);
  } finally {
    watch?.close();
    // A stopped run's abandoned VMs (its removal may have been cut short): by name.
    const vms = await namespacesWithPrefix(`${prefix}-vm-`, run).catch(() => []);
    if (vms.length > 0 && !o.keep) {
      errors.push(`${vms.length} VM namespaces were left by the runs (removed now)`);
      await netnsDelete(vms);
    }
    if (o.keep && emulation) {
      progress(`kept up (--keep); remove it with: npm run merak -- local down --local-dir ${root}  (or teardownLocalEmulation('${stateDir}'))`);
    } else {
      progress('taking the emulation down');
      const report = await (emulation ? emulation.stop() : existsSync(stateDir) ? teardownLocalEmulation(stateDir) : Promise.resolve(undefined)).catch((e: unknown) => {
        errors.push(`emulation down: ${errorMessage(e)}`);
        return undefined;
      });
      for (const f of report?.failed ?? []) errors.push(`emulation down could not remove ${f.what}: ${f.error}`);
      setLiveStateDir(undefined);
      // Seen from outside: nothing of the prefix may be left.
      const left = [
        ...(await namespacesWithPrefix(prefix, run)).map((x) => `namespace ${x}`), ...(await linksWithPrefix(prefix, run)).map((x) => `link ${x}`),
        ...processesMentioning(root).map((p) => `process ${p}`),
      ];
      rmSync(root, { recursive: true, force: true });
      if (left.length > 0) errors.push(`left behind: ${left.join(', ')}`);
      progress(left.length === 0 ? `nothing of ${prefix} is left (namespaces, links, processes, files)` : `LEFT BEHIND: ${left.join(', ')}`);
    }
  }

  const figures: Partial<Record<Mode, ModeFigures>> = {};
  for (const mode of o.modes) {
    const mine = runs.filter((x) => x.mode === mode);
    if (mine.length > 0) figures[mode] = figuresOf(mode, mode, mine);
  }
  const bySize = sizeRuns.map((r) => figuresOf('ours', r.label, [r]));
  const cols = o.modes.flatMap((x) => figures[x] ?? []);
  const r = ratios(figures);
  const g = growth(bySize);
  if (cols.length > 0 || bySize.length > 0) {
    console.log('');
    console.log(table(o, cols, r, bySize, g));
  }
  const problems = [...errors, ...cols.flatMap((c) => c.problems), ...bySize.flatMap((s) => s.problems)];
  const complete = o.modes.every((x) => figures[x]?.runs === o.rounds) && bySize.length === o.sizes.length;
  if (!complete && !stopped()) errors.push('not every mode ran every round (see the errors above)');
  for (const p of problems) console.log(`FAILED: ${p}`);
  const ok = problems.length === 0 && complete && !stopped();
  if (!ok) process.exitCode = 1;
  console.log(jsonLine(o, figures, r, bySize, g, errors, ok, { emulation_up_s: Math.round(emulationUpSeconds * 10) / 10, total_s: Math.round((Date.now() - started) / 100) / 10 }));
}

// The event loop held until the teardown ends; an error outside the run stops it like SIGTERM.
runBenchMain(main);
