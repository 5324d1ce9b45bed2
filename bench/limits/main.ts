// Limits benchmark: two costs outside Merak's code that grow with the number of VMs on one vhost,
// measured so the project can cite them (docs/performance.md):
//   kernel  creating VM namespaces, bare and with the sysctls the agent writes into each
//   ovs     adding veth ports to a userspace-datapath bridge, by size and group size
//
// Usage: npm run bench:limits -- [--vms N (default 3000)] [--groups 500,1000] [--part kernel|ovs|all]
// The last line of output is one JSON object with every figure.
import { mkdtempSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { removeFolderAndCheck } from '../common/host-state.js';
import { StopOnSignals, runBenchMain } from '../common/lifecycle.js';
import { BenchOptionError, parseFlags } from '../common/options.js';
import { type KernelFigure, measureNamespaces } from './kernel.js';
import { type OvsFigure, measurePorts } from './ovs.js';

let live: { prefix: string; dir: string } | undefined;
const stop = new StopOnSignals(() => {
  if (live) console.error(`bench: exiting; what is left carries the prefix ${live.prefix} (ip netns list) or names ${live.dir}`);
});

const HELP = `npm run bench:limits -- [options]
  --vms N          the largest count measured; the OVS part also measures N/3 and 2N/3 (default 3000)
  --groups a,b     ports per ovs-vsctl transaction in the OVS part (default 500)
  --part P         kernel, ovs or all (default all)
The last line of output is one JSON object with every figure.`;

function options(): { vms: number; groups: number[]; part: 'kernel' | 'ovs' | 'all' } | 'help' {
  const values = parseFlags(process.argv.slice(2), { vms: { type: 'string', default: '3000' }, groups: { type: 'string', default: '500' }, part: { type: 'string', default: 'all' }, help: { type: 'boolean' } });
  if (values.help) return (console.log(HELP), 'help');
  const vms = Number(values.vms);
  if (!Number.isInteger(vms) || vms < 3 || vms > 20_000) throw new BenchOptionError('vms', `'${values.vms}' is not an integer in 3..20000`);
  const groups = values.groups!.split(',').map(Number);
  if (groups.some((g) => !Number.isInteger(g) || g < 1)) throw new BenchOptionError('groups', `'${values.groups}' is not a list of positive integers`);
  if (!['kernel', 'ovs', 'all'].includes(values.part!)) throw new BenchOptionError('part', `'${values.part}' is not kernel, ovs or all`);
  return { vms, groups, part: values.part as 'kernel' | 'ovs' | 'all' };
}

async function main(): Promise<void> {
  const o = options();
  if (o === 'help') return;
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, OVS)');
  const prefix = `ml${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'merak-limits-'));
  live = { prefix, dir };
  console.log(`bench: prefix ${prefix}, folder ${dir}`);
  let kernel: KernelFigure[] = [];
  const ovs: OvsFigure[] = [];
  let json = '';
  try {
    if (o.part !== 'ovs') {
      console.log(`kernel: ${o.vms} namespaces one after another, by the sysctls written into each…`);
      kernel = await measureNamespaces(prefix, o.vms, 3, stop);
    }
    if (o.part !== 'kernel') {
      console.log('ovs: veth ports added to a netdev br-int with ovs-vsctl, by count and group…');
      for (const g of o.groups) for (const n of [Math.round(o.vms / 3), Math.round((2 * o.vms) / 3), o.vms]) ovs.push(await measurePorts(prefix, dir, n, g, stop));
    }
    json = JSON.stringify({ vms: o.vms, kernel, ovs });
  } finally {
    await removeFolderAndCheck(prefix, dir);
    live = undefined;
  }
  stop.throwIfStopped();
  console.log(json);
}

runBenchMain(main);
