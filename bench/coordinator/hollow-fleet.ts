// Runs `count` hollow agents in this process (the real agent and gRPC API, no kernel work), each
// with its own underlay address, registering with the coordinator. Used by main.ts (fleets.ts):
// says "ready N" on stdout once all are up; answers {type: 'report'} on its IPC channel with each
// agent's VMs, the tunnel calls it received and the set it holds after them (tunnel-digest.ts);
// stops on SIGTERM.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '@merak/common';
import { type RunningAgent, createHollowBackend, parseAgentConfig, startAgent, tunnelCount } from '@merak/agent';
import { pino } from 'pino';
import { type AgentTunnels, type FleetReport, summaryOf, underlayIpOf, vhostName } from './tunnel-digest.js';

interface Counted {
  calls: number;
  entries: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { first: { type: 'string' }, count: { type: 'string' }, coordinator: { type: 'string' }, dir: { type: 'string' } } });
  const first = Number(values.first);
  const count = Number(values.count);
  const logger = pino({ level: 'warn' });
  const agents: Array<{ index: number; agent: RunningAgent; counted: Counted; held: () => ReadonlyMap<number, Uint32Array> }> = [];
  for (let i = first; i < first + count; i++) {
    const config = parseAgentConfig(
      ['--vhost', vhostName(i), '--hollow', '--underlay-ip', underlayIpOf(i), '--listen', `unix:${join(values.dir!, `a${i}.sock`)}`, '--http', `unix:${join(values.dir!, `h${i}.sock`)}`,
        '--coordinator', values.coordinator!, '--capacity', '1000000'],
      process.env,
    );
    if (config === 'help') return;
    const backend = createHollowBackend();
    const counted: Counted = { calls: 0, entries: 0 };
    // The agent validated the call; what it was sent is counted here, as it arrives. What it holds
    // is read from the backend when reported (after every delta).
    const setTunnels: typeof backend.setTunnels = async (c) => {
      counted.calls++;
      counted.entries += tunnelCount(c);
      return backend.setTunnels(c);
    };
    const updateTunnels: typeof backend.updateTunnels = async (d) => {
      counted.calls++;
      counted.entries += d.upsert.length + d.remove.length;
      return backend.updateTunnels(d);
    };
    agents.push({ index: i, agent: await startAgent(config, { ...backend, setTunnels, updateTunnels }, logger), counted, held: () => backend.tunnelSet() });
  }
  process.on('message', (m: unknown) => {
    if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== 'report') return;
    const report: FleetReport = {
      type: 'report',
      agents: agents.map(({ index, agent, counted, held }): AgentTunnels => ({ index, vms: agent.runner.vmCount, ...counted, ...summaryOf(held()) })),
    };
    process.send?.(report);
  });
  process.stdout.write(`ready ${count}\n`);
  // A bench that died without stopping us (SIGKILL): we were re-parented, so we go too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
  process.once('SIGTERM', () => {
    void Promise.all(agents.map((a) => a.agent.stop(1000))).then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`hollow-fleet: ${errorMessage(e)}\n`);
  process.exit(1);
});
