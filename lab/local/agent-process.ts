// Runs an agent (agent/dist/main.js) as a child process we own, optionally inside a vhost's
// network namespace. Ready = its "agent ready" log line.
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { type NodeProcess, startNodeProcess } from './node-process.js';

export { ProcessStartError as AgentStartError } from './node-process.js';

export function agentMainPath(): string {
  const pkg = createRequire(import.meta.url).resolve('@merak/agent/package.json');
  return join(dirname(pkg), 'dist', 'main.js');
}

export interface AgentProcessOptions {
  /** Run inside /run/netns/<netns>; omitted = this process's namespace. */
  readonly netns?: string;
  /** The agent's flags (see `merak-agent --help`). */
  readonly args: readonly string[];
  /** Where the agent's JSON log goes. */
  readonly logFile: string;
  readonly env?: NodeJS.ProcessEnv;
  /** How long to wait for "agent ready". */
  readonly readyTimeoutMs?: number;
  /** Called with the PID right after the spawn (to record it before readiness). */
  readonly onSpawn?: (pid: number) => void;
}

export type AgentProcess = NodeProcess;

export async function startAgentProcess(opts: AgentProcessOptions): Promise<AgentProcess> {
  const level = opts.args[opts.args.indexOf('--log-level') + 1];
  if (opts.args.includes('--log-level') && level && ['warn', 'error', 'fatal', 'silent'].includes(level)) {
    throw new Error(`--log-level ${level} would hide the "agent ready" line this launcher waits for; use info or lower`);
  }
  return startNodeProcess({
    what: 'agent', script: agentMainPath(), args: opts.args, logFile: opts.logFile, readyText: '"msg":"agent ready"',
    // MERAK_AGENT_NODE_FLAGS passes extra Node flags (e.g. --cpu-prof) to agents, for profiling.
    nodeFlags: (process.env.MERAK_AGENT_NODE_FLAGS ?? '').split(' ').filter(Boolean),
    ...(opts.netns !== undefined ? { netns: opts.netns } : {}),
    ...(opts.env !== undefined ? { env: opts.env } : {}),
    ...(opts.readyTimeoutMs !== undefined ? { readyTimeoutMs: opts.readyTimeoutMs } : {}),
    ...(opts.onSpawn !== undefined ? { onSpawn: opts.onSpawn } : {}),
  });
}
