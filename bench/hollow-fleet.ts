// Runs `count` hollow agents in this process (the real agent and gRPC API, no kernel work), each
// registering with the coordinator. Used by coordinator-bench.ts; stops on SIGTERM.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { errorMessage } from '@merak/common';
import { type RunningAgent, createHollowBackend, parseAgentConfig, startAgent } from '@merak/agent';
import { pino } from 'pino';

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { first: { type: 'string' }, count: { type: 'string' }, coordinator: { type: 'string' }, dir: { type: 'string' } } });
  const first = Number(values.first);
  const count = Number(values.count);
  const logger = pino({ level: 'warn' });
  const agents: RunningAgent[] = [];
  for (let i = first; i < first + count; i++) {
    const config = parseAgentConfig(
      ['--vhost', `vhost-${i}`, '--hollow', '--listen', `unix:${join(values.dir!, `a${i}.sock`)}`, '--http', `unix:${join(values.dir!, `h${i}.sock`)}`,
        '--coordinator', values.coordinator!, '--capacity', '1000000'],
      process.env,
    );
    if (config === 'help') return;
    agents.push(await startAgent(config, createHollowBackend(), logger));
  }
  process.stdout.write(`ready ${count}\n`);
  // A bench that died without stopping us (SIGKILL): we were re-parented, so we go too.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) process.exit(0);
  }, 1000).unref();
  process.once('SIGTERM', () => {
    void Promise.all(agents.map((a) => a.stop(1000))).then(() => process.exit(0));
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`hollow-fleet: ${errorMessage(e)}\n`);
  process.exit(1);
});
