// Several agents in one process (`merak-agent --group FILE`): one Node runtime for many vhosts of
// one machine, each agent still its own vhost (its namespace by --netns, its OVSDB, its sockets, its
// registration). Every agent's flags are checked before any starts; a start that fails stops the
// ones started (the process exits non-zero, a supervisor starts the group again).
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import { InvalidArgumentError, errorMessage } from '@merak/common';
import { type RunningAgent, startAgent } from './agent.js';
import { type AgentConfig, parseAgentConfig } from './config.js';
import { createKernelBackend } from './kernel-backend.js';

/** The agents of a --group file, checked: each one's flags parse, names and sockets are distinct. */
export function parseGroupFile(path: string, env: NodeJS.ProcessEnv): AgentConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new InvalidArgumentError('--group', `${path}: ${errorMessage(e)}`);
  }
  const agents = (doc as { agents?: unknown } | null)?.agents;
  if (!Array.isArray(agents) || agents.length === 0 || !agents.every((a) => Array.isArray(a) && a.every((x) => typeof x === 'string'))) {
    throw new InvalidArgumentError('--group', `${path}: expected {"agents": [[flags of one agent], ...]} with at least one agent`);
  }
  const configs = (agents as string[][]).map((argv, i) => {
    try {
      const c = parseAgentConfig(argv, env);
      if (c === 'help') throw new Error('--help is not an agent');
      if (c.hollow) throw new Error('--hollow: a group runs kernel agents');
      return c;
    } catch (e) {
      throw new InvalidArgumentError('--group', `${path}: agents[${i}]: ${errorMessage(e)}`);
    }
  });
  for (const key of ['vhost', 'grpcListen', 'httpListen', 'ovsdbSocket'] as const) {
    const seen = new Set<string>();
    for (const c of configs) {
      if (seen.has(c[key])) throw new InvalidArgumentError('--group', `${path}: two agents have the same ${key} '${c[key]}'`);
      seen.add(c[key]);
    }
  }
  return configs;
}

export interface RunningGroup {
  readonly agents: readonly RunningAgent[];
  stop(): Promise<void>;
}

/** Starts every agent (a few at a time); all or none. */
export async function startAgentGroup(configs: readonly AgentConfig[], logger: Logger): Promise<RunningGroup> {
  const started: RunningAgent[] = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.map((a) => a.stop().catch((e: unknown) => logger.error({ err: e }, 'an agent did not stop cleanly'))));
  };
  try {
    for (const config of configs) {
      const log = logger.child({ vhost: config.vhost });
      let backend;
      try {
        backend = await createKernelBackend(config, log);
      } catch (e) {
        throw new Error(`agent of ${config.vhost}: ${errorMessage(e)}`, { cause: e });
      }
      started.push(await startAgent(config, backend, log));
    }
  } catch (e) {
    await stopAll();
    throw e;
  }
  return { agents: started, stop: stopAll };
}
