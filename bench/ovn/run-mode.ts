// One run of a mode: a fresh logical switch, the ports made the mode's way while the installs are
// watched (and a sample pinged), the CPU of OVN's daemons over it, the checks from outside, then
// the run's ports removed (NB and VMs) and checked gone before the next run.
import type { LocalEmulation } from '@merak/lab';
import { errorMessage } from '@merak/common';
import { checkMade, leftOf } from './checks.js';
import { type OvnPids, cpuBetween, sampleCpu, waitForQuiet } from './cpu.js';
import type { RunResult } from './figures.js';
import type { InstalledWatch } from './installed-watch.js';
import type { OvnModules } from './modules.js';
import type { Mode, Options } from './options.js';
import { type PingOutcome, pingUntilReachable } from './ping.js';
import { planRun } from './ports.js';
import { progress, stopped, wallMs } from './stop.js';
import { type WayContext, wayOf } from './ways.js';

export interface Bench {
  readonly o: Options;
  readonly m: OvnModules;
  readonly emulation: LocalEmulation;
  readonly watch: InstalledWatch;
  readonly prefix: string;
  readonly bridge: string;
  readonly pids: OvnPids;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Indices of the ports to ping: spread evenly, each from 1 (port i pings port i - 1). */
function pingSample(n: number, k: number): number[] {
  const m = Math.min(k, n - 1);
  return [...new Set(Array.from({ length: m }, (_, j) => 1 + Math.floor((j * (n - 1)) / m)))];
}

export async function runOnce(b: Bench, mode: Mode, label: string, roundNo: number, count: number, serial: number): Promise<RunResult> {
  const { o, emulation, watch } = b;
  const say = (line: string): void => progress(`${label}: ${line}`);
  const plan = planRun(b.prefix, mode, label, serial, count, emulation.vhosts.length);
  const n = plan.ports.length;
  const ctx: WayContext = {
    emulation, nb: emulation.ovn!.nb, bridge: b.bridge, benchTag: b.prefix, o, m: b.m, plan,
    sent: new Float64Array(n).fill(NaN), committed: new Float64Array(n).fill(NaN), nbWrites: 0, problems: [],
  };
  const way = wayOf(mode, ctx);
  const busy = await waitForQuiet(say, stopped);
  say(`${n} ports over ${emulation.vhosts.length} vhosts on switch ${plan.switchName} (CPUs ${busy}% busy before)`);
  let made = false;
  let makeDoneAt = NaN;
  let cpu0 = sampleCpu(b.pids);
  let cpu1 = cpu0;
  const pings: Array<Promise<PingOutcome>> = [];
  let pingsOff = false;
  let idleRate = { northd: 0, nb: 0, sb: 0, controllers: 0 };
  try {
    await way.setUp();
    made = true;
    // The daemons' idle CPU over 2 s, so that a long run's share of it can be told from the ports' cost.
    const idle0 = sampleCpu(b.pids);
    await sleep(2000);
    idleRate = cpuBetween(idle0, sampleCpu(b.pids));
    watch.expect(plan.ports);
    // Pings: each sampled port once it and the port before it are installed.
    const byIndex = plan.ports;
    for (const i of o.ping > 0 && n >= 2 ? pingSample(n, o.ping) : []) {
      pings.push((async (): Promise<PingOutcome> => {
        const p = byIndex[i]!;
        const q = byIndex[i - 1]!;
        while (!pingsOff && (watch.installedAt(p.lsp) === undefined || watch.installedAt(q.lsp) === undefined)) await watch.changed(1000);
        if (pingsOff) return { from: p.lsp, to: q.lsp, replyAt: undefined, error: 'not installed', attempts: 0 };
        return pingUntilReachable(p.vm, p.lsp, q.lsp, q.ip, o.pingTimeoutMs);
      })());
    }
    cpu0 = sampleCpu(b.pids);
    const makeP = way.make().then(
      () => { makeDoneAt = wallMs(); },
      (e: unknown) => {
        makeDoneAt = wallMs();
        ctx.problems.push(`making the ports: ${errorMessage(e)}`);
      },
    );
    let lastSaid = wallMs();
    for (;;) {
      if (watch.count >= n || watch.lost || stopped()) break;
      // Made (or failed): the stragglers get --timeout-ms.
      if (!Number.isNaN(makeDoneAt) && (wallMs() - makeDoneAt > o.timeoutMs || ctx.problems.length > 0)) break;
      await watch.changed(1000);
      if (wallMs() - lastSaid > 5000) {
        lastSaid = wallMs();
        say(`${watch.count}/${n} installed, ${ctx.nbWrites} NB writes`);
      }
    }
    cpu1 = sampleCpu(b.pids);
    // The wait is over: a sampled port not installed now never will be (its ping gives up; running pings finish).
    pingsOff = true;
    await makeP;
    if (watch.lost) ctx.problems.push(watch.lost);
    if (watch.count < n && !stopped()) ctx.problems.push(`${n - watch.count} of ${n} ports not installed ${o.timeoutMs} ms after the last was made`);
    const outcomes = await Promise.all(pings);
    for (const p of watch.misplaced) ctx.problems.push(`installed on the wrong vhost: ${p}`);
    // From outside, before anything is said of the run.
    if (!stopped()) ctx.problems.push(...(await checkMade(emulation, plan).catch((e: unknown) => [`checking from outside: ${errorMessage(e)}`])));

    const latencyMs: number[] = [];
    let lastInstalled = -Infinity;
    for (const p of plan.ports) {
      const at = watch.installedAt(p.lsp);
      if (at === undefined) continue;
      lastInstalled = Math.max(lastInstalled, at);
      if (!Number.isNaN(ctx.committed[p.index]!)) latencyMs.push(at - ctx.committed[p.index]!);
    }
    const firstSent = Math.min(...ctx.sent.filter((x) => !Number.isNaN(x)));
    const writes = new Map<number, number>();
    plan.ports.forEach((p) => {
      if (!Number.isNaN(ctx.sent[p.index]!)) writes.set(ctx.sent[p.index]!, ctx.committed[p.index]! - ctx.sent[p.index]!);
    });
    const replyMs: number[] = [];
    const pingFailures: string[] = [];
    for (const r of outcomes) {
      const p = plan.ports.find((x) => x.lsp === r.from)!;
      if (r.replyAt === undefined) pingFailures.push(`${r.from} -> ${r.to}: ${r.error ?? 'no reply'}`);
      else replyMs.push(r.replyAt - ctx.committed[p.index]!);
    }
    if (pingFailures.length > 0) ctx.problems.push(`${pingFailures.length} of ${outcomes.length} sampled ports never answered a ping: ${pingFailures.slice(0, 3).join('; ')}`);
    const seconds = (lastInstalled - firstSent) / 1000;
    const result: RunResult = {
      mode, label, round: roundNo, ports: n, installed: watch.count, seconds, makeSeconds: (makeDoneAt - firstSent) / 1000,
      latencyMs, nbWriteMs: [...writes.values()], nbWrites: ctx.nbWrites, firstReplyMs: replyMs, pingsSampled: outcomes.length, pingFailures,
      cpu: cpuBetween(cpu0, cpu1), idleCpuPerS: { northd: idleRate.northd / 2, nb: idleRate.nb / 2, sb: idleRate.sb / 2, controllers: idleRate.controllers / 2 }, installedFromTs: watch.fromTs, problems: ctx.problems,
    };
    say(`${watch.count}/${n} installed in ${seconds.toFixed(2)} s (${(n / seconds).toFixed(1)} ports/s; made in ${result.makeSeconds.toFixed(2)} s, ${ctx.nbWrites} NB writes), `
      + `northd ${(1000 * result.cpu.northd / n).toFixed(2)} + controllers ${(1000 * result.cpu.controllers / n).toFixed(2)} CPU ms/port${outcomes.length > 0 ? `, pings ${replyMs.length}/${outcomes.length}` : ''}`);
    for (const p of ctx.problems) say(`CHECK FAILED: ${p}`);
    return result;
  } finally {
    pingsOff = true;
    await Promise.all(pings).catch(() => undefined);
    if (made) {
      say('removing the run\'s ports (VMs, then NB)');
      await way.remove().catch((e: unknown) => ctx.problems.push(`removing: ${errorMessage(e)}`));
      // Gone everywhere before the next run: ovn-northd drops the bindings, ovn-controller lets go.
      let left: string[] = [];
      for (let i = 0; i < 120; i++) {
        left = await leftOf(emulation, plan, `${b.prefix}-vm-`).catch((e: unknown) => [`checking: ${errorMessage(e)}`]);
        if (left.length === 0) break;
        await sleep(500);
      }
      if (left.length > 0) ctx.problems.push(`left 60 s after removal: ${left.join(', ')}`);
      else say('removed: nothing of it in NB, SB, the vhosts\' OVSDBs or the namespaces');
    }
  }
}
