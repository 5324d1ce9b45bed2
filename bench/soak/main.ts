// npm run soak -- --cycles N: create/delete cycles on a local emulation with faults injected
// between them, checking after each create and delete that what the coordinator's store says
// exists is exactly what the kernel and OVS hold. See options.ts (--help).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { netnsDelete } from '@merak/native';
import { errorMessage } from '@merak/common';
import { leftBehind, linksWithPrefix, namespacesWithPrefix, processesMentioning, run } from '../common/host-state.js';
import { StopOnSignals, runBenchMain } from '../common/lifecycle.js';
import { takeBaseline } from './checks.js';
import { type Soak} from './context.js';
import { runCycle } from './cycle.js';
import { injectFault } from './faults.js';
import { awaitHealed } from './heal.js';
import { loadSoakModules } from './modules.js';
import { FAULT_KINDS, HELP, type FaultKind, parseSoakOptions } from './options.js';

let liveDir: string | undefined;
const stop = new StopOnSignals(() => {
  if (liveDir) console.error(`soak: exiting; remove what is left with: npm run merak -- local down --local-dir ${liveDir}`);
});

const started = performance.now();
const log = (line: string): void => console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);

/** What `local down` did not remove (it should be nothing): removed by name and PID, and said. */
async function sweep(prefix: string, dir: string, root: string): Promise<string[]> {
  const left = await leftBehind([prefix], dir);
  await netnsDelete(await namespacesWithPrefix(prefix)).catch(() => undefined);
  for (const l of await linksWithPrefix(prefix)) await run('ip', ['link', 'del', l]).catch(() => undefined);
  for (const pid of processesMentioning(root)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  rmSync(root, { recursive: true, force: true });
  return left;
}

async function main(): Promise<void> {
  const o = parseSoakOptions(process.argv.slice(2));
  if (o === 'help') {
    console.log(HELP);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('the soak needs root (network namespaces, OVS)');
  const m = await loadSoakModules();
  const prefix = `ms${randomBytes(2).toString('hex')}`;
  const root = mkdtempSync(join(tmpdir(), `merak-soak-${prefix}-`));
  const dir = join(root, 'local');
  liveDir = dir;
  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  const totals = { cycles: 0, healedByUp: 0, leaks: 0, lost: 0, duplicated: 0, failedCycles: 0 };
  const errors: string[] = [];
  let soak: Soak | undefined;
  try {
    log(`bringing up ${o.vhosts} vhosts (prefix ${prefix}, folder ${dir}) and the Alcor-compatible server`);
    const up = await m.local.localUp({ dir, prefix, hosts: o.vhosts, hostAccess: true, log: (l) => log(`  ${l.trim()}`) });
    const alcor = await m.alcor.startAlcorServer({ mode: 'node-ports', seed: o.seed, host: up.emulation.hostIp!, goalState: { ncmPort: 0 } });
    soak = { o, m, dir, prefix, alcor, client: m.connect.connect({ localDir: dir }), log, stop: stop.signal };
    const baseline = await takeBaseline(soak);
    for (let n = 1; n <= o.cycles; n++) {
      stop.throwIfStopped();
      const kind = o.faults[(n - 1) % o.faults.length]!;
      const fault = await injectFault(soak, kind, n);
      faults[kind]++;
      log(`cycle ${n}: fault: ${fault.what}`);
      try {
        if (fault.needsHeal) {
          const how = await awaitHealed(soak);
          if (how === 'up') totals.healedByUp++;
          log(`cycle ${n}: ${how === 'self' ? 'healed by itself' : 'healed by local up'}`);
        }
        const r = await runCycle(soak, n, baseline);
        stop.throwIfStopped(); // a cycle cut short by a signal is no cycle
        totals.cycles++;
        const checks = [r.afterCreate, r.afterDelete].flatMap((c) => (c ? [c] : []));
        const leaks = checks.flatMap((c) => c.leaks);
        const lost = checks.flatMap((c) => c.lost);
        const duplicated = checks.flatMap((c) => c.duplicated);
        totals.leaks += leaks.length;
        totals.lost += lost.length;
        totals.duplicated += duplicated.length;
        if (r.failure) {
          totals.failedCycles++;
          errors.push(`cycle ${n}: ${r.failure}`);
        }
        for (const x of [...leaks.map((l) => `leak: ${l}`), ...lost.map((l) => `lost: ${l}`), ...duplicated.map((d) => `duplicated: ${d}`)].slice(0, 10)) log(`cycle ${n}:   ${x}`);
        log(`cycle ${n}: ${r.failure ? `FAILED: ${r.failure}` : 'done'}; after create ${r.afterCreate?.expected ?? '?'} VMs in the store, leaks ${leaks.length}, lost ${lost.length}, duplicated ${duplicated.length}`);
      } finally {
        fault.clear();
      }
    }
  } catch (e) {
    errors.push(errorMessage(e));
    log(`FAILED: ${errorMessage(e)}`);
  } finally {
    soak?.client.close();
    await soak?.alcor.close().catch(() => undefined);
    log('taking the emulation down');
    const report = await m.local.localDown(dir, (l) => log(`  ${l.trim()}`)).catch((e: unknown) => {
      errors.push(`local down: ${errorMessage(e)}`);
      return undefined;
    });
    for (const f of report?.failed ?? []) errors.push(`local down could not remove ${f.what}: ${f.error}`);
    const left = await sweep(prefix, dir, root);
    // Left after local down counts as leaked too: the emulation must take everything with it.
    totals.leaks += left.length;
    log(left.length === 0 ? `nothing of ${prefix} is left (namespaces, links, processes, files)` : `LEFT BEHIND after local down (removed now): ${left.join(', ')}`);
    liveDir = undefined;
  }
  if (stop.stopped && !errors.some((e) => e.startsWith('stopped'))) errors.push('stopped by a signal');
  const ok = errors.length === 0 && totals.cycles === o.cycles && totals.leaks + totals.lost + totals.duplicated === 0;
  if (!ok) process.exitCode = 1;
  console.log(JSON.stringify({
    cycles: totals.cycles, faults, healedByUp: totals.healedByUp, leaks: totals.leaks, lost: totals.lost, duplicated: totals.duplicated,
    failedCycles: totals.failedCycles, errors, seconds: Math.round((performance.now() - started) / 100) / 10, vhosts: o.vhosts, vms: o.vms, ok,
  }));
}

runBenchMain(main);
