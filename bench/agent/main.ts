// Agent benchmark: N VMs created and deleted on a fresh vhost (namespace + private OVS, userspace
// datapath) by each way, in the same run, in an order that changes every round:
//   agent-veth, agent-internal  the agent (gRPC → netlink + group-committed OVSDB), both port kinds
//   merak                       the original Merak: bulk ovs-vsctl, then `bash -c` per step, the
//                               host's VMs concurrently (--concurrency, default min(N, 1000))
//   merak-serial                the same, one VM after another (concurrency 1)
//   ovn-heater                  one ovs-vsctl transaction per port, an `ip netns exec` per step
// Every VM of every way is checked from outside before any figure is printed. Not a timed test:
// the figures are only compared with each other, within one run.
//
// Usage: npm run bench:agent -- [--vms N] [--ways a,b,…] [--rounds R] [--concurrency C]
//                               [--agent-concurrency C] [--seed S]
// The last line of output is one JSON object with every figure.
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mulberry32 } from '@merak/coordinator';
import { removeFolderAndCheck } from '../common/host-state.js';
import { StopOnSignals, runBenchMain } from '../common/lifecycle.js';
import { runAgentWay } from './agent-way.js';
import { type BenchOptions, type WayName, parseBenchOptions } from './options.js';
import { runShellWay } from './shell-ways.js';
import { startBenchVhost, stopBenchVhost } from './vhost.js';
import { benchVms } from './vms.js';
import { verifyCreated, verifyDeleted } from './verify.js';
import type { WayRun } from './way.js';

let live: { prefix: string; dir: string } | undefined;
// SIGINT/SIGTERM stop the run: the way in flight fails at once, the `finally` blocks remove what
// the run made (VM namespaces by prefix, OVS, the vhost, the folder); a second signal exits at once.
const stop = new StopOnSignals(() => {
  if (live) console.error(`bench: exiting; what is left carries the prefix ${live.prefix} (ip netns list) or names ${live.dir}`);
});

interface Measured {
  createPerSec: number;
  deletePerSec: number;
}

function concurrencyOf(way: WayName, o: BenchOptions): number {
  if (way === 'merak-serial') return 1;
  return way.startsWith('agent') ? o.agentConcurrency : o.concurrency;
}

async function measure(way: WayName, o: BenchOptions, prefix: string, dir: string): Promise<Measured> {
  const vhost = await startBenchVhost(prefix, dir);
  let built: WayRun | undefined;
  try {
    const vms = benchVms(prefix, o.vms);
    const c = concurrencyOf(way, o);
    if (way === 'agent-veth' || way === 'agent-internal') built = await runAgentWay(vhost, vms, way === 'agent-veth' ? 'veth' : 'internal', c, stop);
    else built = await runShellWay(way === 'ovn-heater' ? 'ovn-heater' : 'merak', vhost, vms, c, stop);
    stop.throwIfStopped();
    await verifyCreated(way, vhost, vms, built.ports);
    const deleteSec = await built.remove();
    await verifyDeleted(way, vhost, vms, built.ports);
    return { createPerSec: o.vms / built.createSec, deletePerSec: o.vms / deleteSec };
  } finally {
    await built?.close();
    await stopBenchVhost(vhost);
  }
}

/** Each round runs every way once; the order is a seeded shuffle, rotated every round. */
function orders(ways: readonly WayName[], rounds: number, seed: number): WayName[][] {
  const random = mulberry32(seed);
  const base = [...ways];
  for (let i = base.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [base[i], base[j]] = [base[j]!, base[i]!];
  }
  return Array.from({ length: rounds }, (_, r) => base.map((_, i) => base[(i + r) % base.length]!));
}

async function main(): Promise<void> {
  const o = parseBenchOptions(process.argv.slice(2));
  if (o === 'help') return;
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, OVS)');
  const prefix = `mb${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'merak-bench-'));
  live = { prefix, dir };
  const plan = orders(o.ways, o.rounds, o.seed);
  console.log(`bench: prefix ${prefix}, folder ${dir}`);
  console.log(`bench: ${o.vms} VMs per way, ${o.rounds} round(s), order seed ${o.seed}`);
  const results = new Map<WayName, Measured[]>(o.ways.map((w) => [w, []]));
  let json = '';
  try {
    for (const [r, order] of plan.entries()) {
      console.log(`round ${r + 1}: ${order.join(', ')}`);
      for (const [i, way] of order.entries()) {
        stop.throwIfStopped();
        const wayPrefix = `${prefix}${r}${i}`;
        const wayDir = join(dir, `${r}-${way}`);
        console.log(`  ${way} (concurrency ${concurrencyOf(way, o)}): creating and deleting ${o.vms} VMs…`);
        const m = await measure(way, o, wayPrefix, wayDir);
        console.log(`  ${way}: create ${m.createPerSec.toFixed(1)} VMs/s, delete ${m.deletePerSec.toFixed(1)} VMs/s (every VM checked from outside)`);
        results.get(way)!.push(m);
      }
    }
    json = summarise(o, plan, results);
  } finally {
    await removeFolderAndCheck(prefix, dir);
    live = undefined;
  }
  stop.throwIfStopped();
  console.log(json);
}

function summarise(o: BenchOptions, plan: WayName[][], results: Map<WayName, Measured[]>): string {
  const round = (x: number): number => Math.round(x * 10) / 10;
  const mean = (v: number[]): number => v.reduce((a, b) => a + b, 0) / v.length;
  const ways = o.ways.map((w) => {
    const m = results.get(w)!;
    return {
      name: w, portKind: w === 'agent-veth' ? 'veth' : 'internal', concurrency: concurrencyOf(w, o),
      createPerSec: round(mean(m.map((x) => x.createPerSec))), deletePerSec: round(mean(m.map((x) => x.deletePerSec))),
    };
  });
  const ratios: Record<string, { create: number; delete: number }> = {};
  for (const a of ways.filter((w) => w.name.startsWith('agent'))) {
    for (const b of ways.filter((w) => !w.name.startsWith('agent'))) {
      ratios[`${a.name}/${b.name}`] = { create: round(a.createPerSec / b.createPerSec), delete: round(a.deletePerSec / b.deletePerSec) };
    }
  }
  console.log('ratios (agent / baseline, create and delete):');
  for (const [k, v] of Object.entries(ratios)) console.log(`  ${k}: ${v.create}x, ${v.delete}x`);
  return JSON.stringify({ vms: o.vms, rounds: o.rounds, seed: o.seed, order: plan, ways, ratios });
}

runBenchMain(main);
