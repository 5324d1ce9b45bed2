#!/usr/bin/env node
// The single-vhost demo: one emulated host (namespace + private OVS + agent), N VMs in one batch,
// a ping from every VM to every other, a per-step latency table, then everything removed.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { agentV1 } from '@merak/proto';
import { type LocalVhost, startLocalVhost } from './vhost.js';

const HELP = `merak demo: a single-vhost emulation on this machine (needs root).

Usage: npm run demo -- [--vms N] [--hold]

  --vms N   VMs to create (default 10, at most 250)
  --hold    keep everything up until Ctrl-C, and say how to look at it
`;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

function stepTable(results: agentV1.VmResult[]): string {
  const byStep = new Map<string, number[]>();
  for (const r of results) {
    for (const s of r.steps) (byStep.get(s.step) ?? byStep.set(s.step, []).get(s.step)!).push(s.micros / 1000);
    (byStep.get('(whole VM)') ?? byStep.set('(whole VM)', []).get('(whole VM)')!).push(r.totalMicros / 1000);
  }
  const rows = [['step', 'count', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms']];
  for (const [step, values] of byStep) {
    values.sort((a, b) => a - b);
    rows.push([step, String(values.length), ...[0.5, 0.9, 0.99, 1].map((q) => quantile(values, q).toFixed(2))]);
  }
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')).join('\n');
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { vms: { type: 'string', default: '10' }, hold: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) return void process.stdout.write(HELP);
  const n = Number(values.vms);
  if (!Number.isInteger(n) || n < 2 || n > 250) throw new Error(`--vms: '${values.vms}' is not an integer in 2..250`);
  if (process.getuid?.() !== 0) throw new Error('the demo needs root (network namespaces, Open vSwitch)');
  const prefix = `md${randomBytes(2).toString('hex')}`;
  const dir = mkdtempSync(join(tmpdir(), `merak-demo-${prefix}-`));
  console.log(`[1/5] vhost ${prefix}-vh: network namespace, ovsdb-server + ovs-vswitchd (userspace datapath), agent`);
  const vhost: LocalVhost = await startLocalVhost({ name: `${prefix}-vh`, dir });
  try {
    const vms = Array.from({ length: n }, (_, i) =>
      agentV1.VmSpec.fromPartial({ id: `${prefix}-vm${i}`, name: `${prefix}-vm${i}`, ip: `10.1.0.${i + 2}`, prefixLength: 24, gateway: '10.1.0.1', mac: `02:00:0a:01:00:${(i + 2).toString(16).padStart(2, '0')}` }),
    );
    console.log(`[2/5] creating ${n} VMs in one batch`);
    const t0 = Date.now();
    let done = 0;
    const results: agentV1.VmResult[] = [];
    await vhost.client.apply({ operations: vms.map((v) => ({ op: { $case: 'create', value: v }, startOffsetMs: 0 })), concurrency: 0, startAtUnixMs: 0 }, (r) => {
      results.push(r);
      process.stdout.write(`\r      ${++done}/${n} VMs`);
    });
    process.stdout.write(`  (${Date.now() - t0} ms)\n`);
    const failed = results.filter((r) => r.status !== agentV1.VmStatus.VM_STATUS_READY);
    for (const f of failed) console.log(`      FAILED ${f.name}: ${f.error?.message}`);

    console.log(`[3/5] ping from every VM to every other (${n * (n - 1)} pairs, 3 echoes each)`);
    const ping = await vhost.client.ping({ sources: vms.map((v) => ({ vm: v.name, targets: vms.filter((o) => o !== v).map((o) => o.ip) })), count: 3, intervalMs: 100, timeoutMs: 2000 });
    const passed = ping.results.filter((r) => r.received > 0).length;
    const rtts = ping.results.filter((r) => r.received > 0).map((r) => r.rttAvgMs).sort((a, b) => a - b);
    console.log(`      ${passed} passed, ${ping.results.length - passed} failed; rtt p50 ${quantile(rtts, 0.5).toFixed(3)} ms, max ${quantile(rtts, 1).toFixed(3)} ms`);

    console.log('[4/5] per-step latency of VM creation');
    console.log(stepTable(results).replace(/^/gm, '      '));
    if (values.hold) {
      console.log('      holding; look around from another shell, then press Ctrl-C to remove everything:');
      console.log(`      ip netns list | grep ${prefix}`);
      console.log(`      ip netns exec ${vms[0]!.name} ip addr show eth0`);
      console.log(`      ip netns exec ${vms[0]!.name} ping -c 3 ${vms[1]!.ip}`);
      console.log(`      ovs-vsctl --db=unix:${vhost.dbSocket} show`);
      await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
    }
    console.log('[5/5] removing VMs, agent, OVS and the vhost namespace');
    if (failed.length > 0 || passed !== ping.results.length) process.exitCode = 1;
  } finally {
    await vhost.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
  process.exitCode = 1;
});
