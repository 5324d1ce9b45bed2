// Agent benchmark: creates and deletes N VMs on a fresh bridge, once through the agent (gRPC,
// netlink, one OVSDB transaction per group) and once the Merak way (one `ip` / `ip netns exec` /
// `ovs-vsctl` process per step, as the original Merak's code does), and prints the
// ratio. Not a timed test: the figures are only compared with each other, within one run.
//
// Usage: npm run bench:agent -- [--vms N] [--concurrency C (default N)] [--skip-baseline]
// The last line of output is one JSON object with the figures.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseArgs } from 'node:util';
import { errorMessage } from '@merak/common';
import { netnsCreate, netnsDelete } from '@merak/native';
import { agentV1 } from '@merak/proto';
import { AgentClient, type OvsInstance, startAgentProcess, startOvsInstance } from '@merak/lab';
import { leftBehind, namespacesWithPrefix } from './common/host-state.js';
import { StopOnSignals, runBenchMain } from './common/lifecycle.js';

const run = promisify(execFile);

/** The run's name prefix and folder, said on a hard exit (a second signal). */
let live: { prefix: string; dir: string } | undefined;

// SIGINT/SIGTERM stop the run: the agent is killed (its batch ends at once), the `finally` blocks
// remove what the run made (namespaces by prefix, OVS, the folder); a second signal exits at once.
const stop = new StopOnSignals(() => {
  if (live) console.error(`bench: exiting; what is left carries the prefix ${live.prefix} (ip netns list) or names ${live.dir}`);
});

interface Figures {
  createPerSec: number;
  deletePerSec: number;
}

function vmAt(prefix: string, i: number): { id: string; name: string; ip: string; mac: string; port: string } {
  const host = i + 2; // 10.200.0.2 upwards in a /16
  return {
    id: `${prefix}-v${i}`,
    name: `${prefix}-v${i}`,
    ip: `10.200.${host >> 8}.${host & 255}`,
    mac: `02:00:00:00:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`,
    port: `${prefix.slice(-6)}p${i}`,
  };
}

async function benchAgent(vhostNs: string, db: string, dir: string, prefix: string, n: number, concurrency: number): Promise<Figures> {
  const token = randomBytes(16).toString('hex');
  writeFileSync(join(dir, 'token'), token, { mode: 0o600 });
  const socket = join(dir, 'agent.sock');
  const agent = await startAgentProcess({
    netns: vhostNs,
    logFile: join(dir, 'agent.log'),
    args: ['--vhost', `${prefix}-vh`, '--ovsdb', db, '--datapath-type', 'netdev', '--listen', `unix:${socket}`,
      '--http', `unix:${join(dir, 'agent-http.sock')}`, '--token-file', join(dir, 'token')],
  });
  const client = new AgentClient(`unix:${socket}`, { token, deadlineMs: 600_000 });
  // A stop kills the agent: the batch in flight fails at once instead of running to its end.
  const killOnStop = (): void => void agent.kill();
  stop.signal.addEventListener('abort', killOnStop, { once: true });
  try {
    stop.throwIfStopped();
    const creates: agentV1.VmOperation[] = Array.from({ length: n }, (_, i) => {
      const v = vmAt(prefix, i);
      return { op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: v.id, name: v.name, ip: v.ip, prefixLength: 16, gateway: '10.200.0.1', mac: v.mac }) }, startOffsetMs: 0 };
    });
    let t0 = process.hrtime.bigint();
    const created = await client.applyAll({ operations: creates, concurrency, startAtUnixMs: 0 });
    const createSec = Number(process.hrtime.bigint() - t0) / 1e9;
    const failed = created.filter((r) => r.status !== agentV1.VmStatus.VM_STATUS_READY);
    if (failed.length > 0) throw new Error(`${failed.length} VMs failed, first: ${failed[0]!.error?.message}`);
    if (created.some((r) => r.ofport <= 0)) throw new Error('a VM is not attached to OVS (ofport <= 0)');
    const deletes: agentV1.VmOperation[] = creates.map((c) => {
      const v = c.op!.value as agentV1.VmSpec;
      return { op: { $case: 'delete', value: { id: v.id, name: v.name } }, startOffsetMs: 0 };
    });
    t0 = process.hrtime.bigint();
    const deleted = await client.applyAll({ operations: deletes, concurrency, startAtUnixMs: 0 });
    const deleteSec = Number(process.hrtime.bigint() - t0) / 1e9;
    if (deleted.some((r) => r.status !== agentV1.VmStatus.VM_STATUS_DELETED)) throw new Error('a VM was not deleted');
    console.log(stepSummary('create', created));
    console.log(stepSummary('delete', deleted));
    return { createPerSec: n / createSec, deletePerSec: n / deleteSec };
  } catch (e) {
    throw stop.stopped ? stop.signal.reason : e;
  } finally {
    stop.signal.removeEventListener('abort', killOnStop);
    client.close();
    await agent.stop();
  }
}

/** p50/p90 of each step, to see where the time goes. */
function stepSummary(what: string, results: agentV1.VmResult[]): string {
  const by = new Map<string, number[]>();
  for (const r of results) for (const s of r.steps) (by.get(s.step) ?? by.set(s.step, []).get(s.step)!).push(s.micros / 1000);
  const q = (v: number[], p: number): string => v[Math.min(v.length - 1, Math.floor(p * v.length))]!.toFixed(2);
  return `  ${what} steps (ms p50/p90): ${[...by].map(([s, v]) => (v.sort((a, b) => a - b), `${s} ${q(v, 0.5)}/${q(v, 0.9)}`)).join(', ')}`;
}

/**
 * Merak's Alcor-mode create and delete, step by step as the original Merak's code does
 * them: every step is its own `bash -c "<command string>"` (Merak's BashExecute), and the ports
 * are added by one bulk ovs-vsctl per host (its BulkPortAdd).
 */
async function benchBaseline(vhostNs: string, db: string, prefix: string, n: number): Promise<Figures> {
  const bash = (cmd: string): Promise<unknown> => {
    stop.throwIfStopped();
    return run('bash', ['-c', cmd]);
  };
  const inVhost = (cmd: string): string => `nsenter --net=/run/netns/${vhostNs} -- ${cmd}`;
  const vsctl = `ovs-vsctl --db=unix:${db}`;
  const vms = Array.from({ length: n }, (_, i) => vmAt(`${prefix}b`, i));
  let t0 = process.hrtime.bigint();
  await bash(`${vsctl} ${vms.map((v) => `-- add-port br-int ${v.port} -- set Interface ${v.port} type=internal`).join(' ')}`);
  for (const v of vms) {
    await bash(`ip netns add ${v.name}`);
    await bash(inVhost(`ip link set ${v.port} netns ${v.name}`));
    await bash(`ip netns exec ${v.name} ip addr add ${v.ip}/16 dev ${v.port}`);
    await bash(`ip netns exec ${v.name} ip link set dev lo up`);
    await bash(`ip netns exec ${v.name} ip link set dev ${v.port} address ${v.mac}`);
    await bash(`ip netns exec ${v.name} ip link set dev ${v.port} up`);
    await bash(`ip netns exec ${v.name} ip r add default via 10.200.0.1`);
    await bash(`ip netns exec ${v.name} sysctl -w net.ipv4.tcp_mtu_probing=2`);
  }
  const createSec = Number(process.hrtime.bigint() - t0) / 1e9;
  t0 = process.hrtime.bigint();
  for (const v of vms) {
    await bash(`ip netns exec ${v.name} ip link set ${v.port} netns /run/netns/${vhostNs}`);
    await bash(`ip netns delete ${v.name}`);
    await bash(`${vsctl} del-port br-int ${v.port}`);
  }
  const deleteSec = Number(process.hrtime.bigint() - t0) / 1e9;
  return { createPerSec: n / createSec, deletePerSec: n / deleteSec };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { vms: { type: 'string', default: '500' }, concurrency: { type: 'string' }, 'skip-baseline': { type: 'boolean', default: false } } });
  const n = Number(values.vms);
  // The whole batch in flight by default: one burst, so OVS ports group into few transactions.
  const concurrency = values.concurrency === undefined ? Math.min(n, 4096) : Number(values.concurrency);
  if (!Number.isInteger(n) || n < 1 || n > 60_000) throw new Error('--vms must be an integer in 1..60000');
  if (process.getuid?.() !== 0) throw new Error('the benchmark needs root (network namespaces, OVS)');
  const prefix = `mb${randomBytes(3).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), 'merak-bench-'));
  const vhostNs = `${prefix}-vhost`;
  live = { prefix, dir };
  console.log(`bench: prefix ${prefix}, folder ${dir}`);
  let json = '';
  let ovs: OvsInstance | undefined;
  try {
    await netnsCreate(vhostNs);
    ovs = await startOvsInstance({ dir, netnsName: vhostNs });
    stop.throwIfStopped();
    await run('ovs-vsctl', [`--db=unix:${ovs.dbSocket}`, '--may-exist', 'add-br', 'br-int', '--', 'set', 'Bridge', 'br-int', 'datapath_type=netdev']);
    console.log(`agent: creating and deleting ${n} VMs (concurrency ${concurrency})…`);
    const agent = await benchAgent(vhostNs, ovs.dbSocket, dir, prefix, n, concurrency);
    stop.throwIfStopped();
    console.log(`agent:    create ${agent.createPerSec.toFixed(1)} VMs/s, delete ${agent.deletePerSec.toFixed(1)} VMs/s`);
    let baseline: Figures = { createPerSec: 0, deletePerSec: 0 };
    if (!values['skip-baseline']) {
      console.log(`baseline: the Merak way (bash -c per step, bulk ovs-vsctl), ${n} VMs…`);
      baseline = await benchBaseline(vhostNs, ovs.dbSocket, prefix, n);
      console.log(`baseline: create ${baseline.createPerSec.toFixed(1)} VMs/s, delete ${baseline.deletePerSec.toFixed(1)} VMs/s`);
    }
    const ratio = {
      create: baseline.createPerSec > 0 ? agent.createPerSec / baseline.createPerSec : 0,
      delete: baseline.deletePerSec > 0 ? agent.deletePerSec / baseline.deletePerSec : 0,
    };
    console.log(`ratio:    create ${ratio.create.toFixed(1)}x, delete ${ratio.delete.toFixed(1)}x (targets: 30x, 20x)`);
    const round = (x: number): number => Math.round(x * 10) / 10;
    json = JSON.stringify({
      vms: n,
      agent: { createPerSec: round(agent.createPerSec), deletePerSec: round(agent.deletePerSec) },
      baseline: { createPerSec: round(baseline.createPerSec), deletePerSec: round(baseline.deletePerSec) },
      ratio: { create: round(ratio.create), delete: round(ratio.delete) },
    });
  } finally {
    // Each step even when the one before failed: OVS, then whatever a failed or stopped run left
    // (VM namespaces by prefix, the vhost's), then the folder.
    const warn = (what: string) => (e: unknown): void => console.error(`bench: ${what}: ${errorMessage(e)}`);
    await ovs?.stop().catch(warn('stopping OVS'));
    await namespacesWithPrefix(prefix).then((names) => netnsDelete(names)).catch(warn('deleting namespaces'));
    rmSync(dir, { recursive: true, force: true });
    const left = await leftBehind([prefix], dir);
    console.log(left.length === 0 ? `bench: nothing of ${prefix} is left (namespaces, links, processes, folder)` : `bench: LEFT BEHIND: ${left.join(', ')}`);
    if (left.length > 0) process.exitCode = 1;
    live = undefined;
  }
  stop.throwIfStopped();
  console.log(json);
}

runBenchMain(main);
