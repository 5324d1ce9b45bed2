// The agent's way: one gRPC batch of creates, then one of deletes, through a real agent process
// on the vhost (netlink, one lane of kernel work, group-committed OVSDB transactions).
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { agentV1 } from '@merak/proto';
import { AgentClient, startAgentProcess } from '@merak/lab';
import type { StopOnSignals } from '../common/lifecycle.js';
import type { BenchVhost } from './vhost.js';
import { type BenchVm, GATEWAY, PREFIX_LENGTH } from './vms.js';
import type { WayRun } from './way.js';

export type AgentPortKind = 'veth' | 'internal';

const PORT_KIND: Record<AgentPortKind, number> = { veth: 0, internal: 1 };

export async function runAgentWay(vhost: BenchVhost, vms: readonly BenchVm[], portKind: AgentPortKind, concurrency: number, stop: StopOnSignals): Promise<WayRun> {
  const token = randomBytes(16).toString('hex');
  writeFileSync(join(vhost.dir, 'token'), token, { mode: 0o600 });
  const socket = join(vhost.dir, 'agent.sock');
  const agent = await startAgentProcess({
    netns: vhost.netns,
    logFile: join(vhost.dir, 'agent.log'),
    args: ['--vhost', `${vhost.prefix}-vh`, '--ovsdb', vhost.ovs.dbSocket, '--datapath-type', 'netdev', '--listen', `unix:${socket}`,
      '--http', `unix:${join(vhost.dir, 'agent-http.sock')}`, '--token-file', join(vhost.dir, 'token')],
  });
  const client = new AgentClient(`unix:${socket}`, { token, deadlineMs: 1_800_000 });
  // A stop kills the agent: the batch in flight fails at once instead of running to its end.
  const killOnStop = (): void => void agent.kill();
  stop.signal.addEventListener('abort', killOnStop, { once: true });
  try {
    stop.throwIfStopped();
    const creates: agentV1.VmOperation[] = vms.map((v) => ({
      op: { $case: 'create', value: agentV1.VmSpec.fromPartial({ id: v.id, name: v.name, ip: v.ip, prefixLength: PREFIX_LENGTH, gateway: GATEWAY, mac: v.mac, portKind: PORT_KIND[portKind] }) },
      startOffsetMs: 0,
    }));
    let t0 = process.hrtime.bigint();
    const created = await client.applyAll({ operations: creates, concurrency, startAtUnixMs: 0 });
    const createSec = Number(process.hrtime.bigint() - t0) / 1e9;
    const failed = created.filter((r) => r.status !== agentV1.VmStatus.VM_STATUS_READY);
    if (failed.length > 0) throw new Error(`agent-${portKind}: ${failed.length} VMs failed, first: ${failed[0]!.error?.message}`);
    const ports = created.map((r) => r.portName);
    const deletes: agentV1.VmOperation[] = vms.map((v) => ({ op: { $case: 'delete', value: { id: v.id, name: v.name } }, startOffsetMs: 0 }));
    const remove = async (): Promise<number> => {
      t0 = process.hrtime.bigint();
      const deleted = await client.applyAll({ operations: deletes, concurrency, startAtUnixMs: 0 });
      const deleteSec = Number(process.hrtime.bigint() - t0) / 1e9;
      const notDeleted = deleted.filter((r) => r.status !== agentV1.VmStatus.VM_STATUS_DELETED);
      if (notDeleted.length > 0) throw new Error(`agent-${portKind}: ${notDeleted.length} VMs not deleted, first: ${notDeleted[0]!.error?.message}`);
      console.log(stepSummary('delete', deleted));
      return deleteSec;
    };
    console.log(stepSummary('create', created));
    return { createSec, ports, remove, close: closeAgent };
  } catch (e) {
    await closeAgent();
    throw stop.stopped ? stop.signal.reason : e;
  }

  async function closeAgent(): Promise<void> {
    stop.signal.removeEventListener('abort', killOnStop);
    client.close();
    await agent.stop();
  }
}

/** p50/p90 of each of the agent's steps, to see where the time goes. */
function stepSummary(what: string, results: agentV1.VmResult[]): string {
  const by = new Map<string, number[]>();
  for (const r of results) for (const s of r.steps) (by.get(s.step) ?? by.set(s.step, []).get(s.step)!).push(s.micros / 1000);
  const q = (v: number[], p: number): string => v[Math.min(v.length - 1, Math.floor(p * v.length))]!.toFixed(1);
  return `    ${what} steps (ms p50/p90): ${[...by].map(([s, v]) => (v.sort((a, b) => a - b), `${s} ${q(v, 0.5)}/${q(v, 0.9)}`)).join(', ')}`;
}
