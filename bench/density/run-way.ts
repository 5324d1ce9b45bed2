// One way of bench:density: a `local up` with N vhosts per agent process, its scenario and ping
// test, memory read before, idle and with the VMs, and everything removed after.
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import type { Report } from '../../coordinator/report/report.js';
import { namespacesWithPrefix, removeFolderAndCheck } from '../common/host-state.js';
import { oneVpcScenarioYaml } from '../common/scenario.js';
import type { Modules } from '../dataplane/coordinator-modules.js';
import { progress, stop, throwIfStopped } from '../dataplane/stop.js';
import { teardown } from '../dataplane/teardown.js';
import { type Kind, type KindMemory, emulationPids, memAvailableMiB, memoryByKind } from './memory.js';
import type { DensityOptions } from './options.js';

const round1 = (x: number): number => Math.round(x * 10) / 10;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Reading {
  readonly memAvailableMiB: number;
  readonly byKind: Record<Kind, KindMemory>;
}

export interface WayFigures {
  readonly agentsPerProcess: number;
  readonly upSeconds: number;
  readonly createSeconds: number;
  readonly vmsPerSecond: number;
  readonly vms: { readonly ready: number; readonly failed: number; readonly namespaces: number };
  readonly ping: { readonly passed: number; readonly failed: number; readonly crossHost: number };
  readonly memAvailableMiB: { readonly before: number; readonly idle: number; readonly withVms: number; readonly afterTeardown: number };
  /** (MemAvailable before - MemAvailable idle or with the VMs) / vhosts: everything included. */
  readonly miBPerVhost: { readonly idle: number; readonly withVms: number };
  readonly processesIdle: Record<Kind, KindMemory>;
  readonly processesWithVms: Record<Kind, KindMemory>;
  readonly problems: string[];
}

/** One way (vhosts per agent process) on its own emulation, removed at the end. */
export async function runWay(o: DensityOptions, agentsPerProcess: number, m: Modules): Promise<WayFigures> {
  const prefix = `mz${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `merak-${prefix}-`));
  const problems: string[] = [];
  const tag = `[${agentsPerProcess} per process]`;
  let figures: Omit<WayFigures, 'problems' | 'memAvailableMiB'> & { memAvailableMiB: Omit<WayFigures['memAvailableMiB'], 'afterTeardown'> } | undefined;
  try {
    await sleep(o.settleMs);
    const before = memAvailableMiB();
    progress(`${tag} MemAvailable ${Math.round(before)} MiB; bringing up ${o.hosts} vhosts (prefix ${prefix}, folder ${dir})`);
    stop.liveDir = dir;
    let t = performance.now();
    const up = await m.local.localUp({ dir, hosts: o.hosts, prefix, agentsPerProcess, log: (l) => progress(`${tag} ${l.trim()}`) });
    const upSeconds = (performance.now() - t) / 1000;
    const vhosts = up.emulation.vhosts.map((v) => v.name);
    const read = async (): Promise<Reading> => {
      await sleep(o.settleMs);
      throwIfStopped();
      const pids = emulationPids(dir, up.record.coordinatorProcess.pid);
      return { memAvailableMiB: memAvailableMiB(), byKind: memoryByKind(pids, o.hosts) };
    };
    const idle = await read();
    progress(`${tag} up in ${round1(upSeconds)} s; idle: ${round1((before - idle.memAvailableMiB) / o.hosts)} MiB per vhost (MemAvailable)`);

    const name = `${prefix}-s`;
    const client = m.connect.connect({ localDir: dir });
    let report: Report;
    const marks: { creating?: number } = {};
    try {
      progress(`${tag} scenario ${name}: ${o.vms} VMs on ${o.hosts} vhosts, then ${o.pairs} sampled pairs`);
      t = performance.now();
      const created = await client.createScenario(oneVpcScenarioYaml(name, vhosts, { vms: o.vms, pairs: o.pairs, count: 3, timeoutMs: 15_000, concurrency: 64 }), 'yaml');
      const abort = new AbortController();
      stop.watch = () => abort.abort();
      let lastLine = 0;
      await client.watch(created.id, (e) => {
        const s = e.scenario;
        if (!s) return;
        if (s.phase >= coordinatorV1.ScenarioPhase.SCENARIO_PHASE_CREATING) marks.creating ??= (performance.now() - t) / 1000;
        if (performance.now() - lastLine > 5000) {
          lastLine = performance.now();
          progress(`${tag} VMs ready ${s.vms?.ready ?? 0}/${s.vms?.requested ?? 0}, failed ${s.vms?.failed ?? 0}`);
        }
      }, abort.signal);
      stop.watch = undefined;
      throwIfStopped();
      report = JSON.parse((await client.getReport(created.id)).json) as Report;
    } finally {
      client.close();
    }
    // Checked from outside: the kernel's namespaces, not the report's word.
    const namespaces = (await namespacesWithPrefix(`${name}-`)).length;
    if (namespaces !== o.vms) problems.push(`ip netns shows ${namespaces} VM namespaces of ${name}; ${o.vms} were requested`);
    if (report.vms.ready !== o.vms) problems.push(`${report.vms.ready} of ${o.vms} VMs ready (${report.vms.failed} failed)`);
    const ping = report.ping;
    if (!ping) problems.push('the report has no ping results');
    else if (ping.pairsFailed > 0) problems.push(`${ping.pairsFailed} of ${ping.pairsPassed + ping.pairsFailed} ping pairs failed`);
    const loaded = await read();
    // From the first VM asked for to the last ready (the report's end-to-end maximum counts from acceptance).
    const createSeconds = report.vms.ready === 0 ? 0 : report.latencyMs.endToEnd.max / 1000 - (marks.creating ?? 0);
    const perVhost = round1((before - loaded.memAvailableMiB) / o.hosts);
    progress(`${tag} ${report.vms.ready} VMs ready; ${perVhost} MiB per vhost with its VMs (MemAvailable); ping ${ping?.pairsPassed ?? 0}/${(ping?.pairsPassed ?? 0) + (ping?.pairsFailed ?? 0)}`);
    figures = {
      agentsPerProcess, upSeconds: round1(upSeconds), createSeconds: round1(createSeconds), vmsPerSecond: report.vms.ready === 0 ? 0 : round1(report.vms.ready / Math.max(createSeconds, 0.001)),
      vms: { ready: report.vms.ready, failed: report.vms.failed, namespaces },
      ping: { passed: ping?.pairsPassed ?? 0, failed: ping?.pairsFailed ?? 0, crossHost: ping?.crossHostPairs ?? 0 },
      memAvailableMiB: { before: Math.round(before), idle: Math.round(idle.memAvailableMiB), withVms: Math.round(loaded.memAvailableMiB) },
      miBPerVhost: { idle: round1((before - idle.memAvailableMiB) / o.hosts), withVms: perVhost },
      processesIdle: idle.byKind, processesWithVms: loaded.byKind,
    };
  } finally {
    const left = await teardown(m, dir, prefix, (l) => progress(`${tag} ${l.trim()}`));
    problems.push(...left.map((l) => `left after local down (then removed): ${l}`));
    stop.liveDir = undefined;
    await removeFolderAndCheck(prefix, dir);
  }
  // What the machine got back: the kernel frees namespaces in the background, so after a settle.
  await sleep(o.settleMs);
  const afterTeardown = Math.round(memAvailableMiB());
  return { ...figures, memAvailableMiB: { ...figures.memAvailableMiB, afterTeardown }, problems };
}
