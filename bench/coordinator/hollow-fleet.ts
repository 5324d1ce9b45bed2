// Runs `count` hollow agents in this process (the real agent and gRPC API, no kernel work), each
// with its own underlay address, registering with the coordinator. Used by main.ts (fleets.ts):
// says "ready N" on stdout once all are up; answers {type: 'report'} on its IPC channel with each
// agent's VMs and the tunnel sets it was sent (tunnel-digest.ts); stops on SIGTERM.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '@merak/common';
import { type RunningAgent, createHollowBackend, parseAgentConfig, startAgent } from '@merak/agent';
import { pino } from 'pino';
import { type AgentTunnels, type FleetReport, digestOf, underlayIpOf, vhostName } from './tunnel-digest.js';

interface Counted {
  calls: number;
  entries: number;
  size: number;
  vnis: number[];
  digest: number;
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { first: { type: 'string' }, count: { type: 'string' }, coordinator: { type: 'string' }, dir: { type: 'string' } } });
  const first = Number(values.first);
  const count = Number(values.count);
  const logger = pino({ level: 'warn' });
  const agents: Array<{ index: number; agent: RunningAgent; counted: Counted }> = [];
  for (let i = first; i < first + count; i++) {
    const config = parseAgentConfig(
      ['--vhost', vhostName(i), '--hollow', '--underlay-ip', underlayIpOf(i), '--listen', `unix:${join(values.dir!, `a${i}.sock`)}`, '--http', `unix:${join(values.dir!, `h${i}.sock`)}`,
        '--coordinator', values.coordinator!, '--capacity', '1000000'],
      process.env,
    );
    if (config === 'help') return;
    const backend = createHollowBackend();
    const counted: Counted = { calls: 0, entries: 0, size: 0, vnis: [], digest: 0 };
    // The agent validated the set; what it was sent is counted here, as it arrives.
    const setTunnels: typeof backend.setTunnels = async (c) => {
      counted.calls++;
      counted.entries += c.tunnels.length;
      counted.size = c.tunnels.length;
      counted.vnis = [...new Set(c.tunnels.map((t) => t.vni))].sort((a, b) => a - b);
      counted.digest = digestOf(c.tunnels);
      return backend.setTunnels(c);
    };
    agents.push({ index: i, agent: await startAgent(config, { ...backend, setTunnels }, logger), counted });
  }
  process.on('message', (m: unknown) => {
    if (typeof m !== 'object' || m === null || (m as { type?: unknown }).type !== 'report') return;
    const report: FleetReport = {
      type: 'report',
      agents: agents.map(({ index, agent, counted }): AgentTunnels => ({ index, vms: agent.runner.vmCount, ...counted })),
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
