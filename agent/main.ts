#!/usr/bin/env node
// Composition root of the agent: the only file that knows every folder.
import { pino } from 'pino';
import { startAgent } from './agent.js';
import type { Backend } from './backend.js';
import { AGENT_HELP, parseAgentConfig } from './config.js';
import { InvalidArgumentError, errorMessage, shutdownOnSignal } from '@merak/common';
import { parseGroupFile, startAgentGroup } from './group.js';
import { createHollowBackend } from './hollow-backend.js';
import { createKernelBackend } from './kernel-backend.js';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--group') return runGroup(argv);
  let config;
  try {
    config = parseAgentConfig(process.argv.slice(2), process.env);
  } catch (e) {
    process.stderr.write(`merak-agent: ${errorMessage(e)}\n\n${AGENT_HELP}`);
    return 2;
  }
  if (config === 'help') {
    process.stdout.write(AGENT_HELP);
    return 0;
  }
  const logger = pino({ level: config.logLevel, base: { vhost: config.vhost } });
  let backend: Backend;
  try {
    backend = config.hollow ? createHollowBackend() : await createKernelBackend(config, logger);
  } catch (e) {
    logger.fatal({ err: e }, `cannot start: ${errorMessage(e)}`);
    return 1;
  }
  const agent = await startAgent(config, backend, logger);
  await shutdownOnSignal(logger, 'shutting down (VMs stay)', () => agent.stop());
  return 0;
}

/** `--group FILE`: several vhosts' agents in this process (group.ts). */
async function runGroup(argv: readonly string[]): Promise<number> {
  let configs;
  try {
    if (argv.length !== 2) throw new InvalidArgumentError('--group', 'takes one FILE and no other flag');
    configs = parseGroupFile(argv[1]!, process.env);
  } catch (e) {
    process.stderr.write(`merak-agent: ${errorMessage(e)}\n\n${AGENT_HELP}`);
    return 2;
  }
  const logger = pino({ level: configs[0]!.logLevel, base: { group: argv[1] } });
  let group;
  try {
    group = await startAgentGroup(configs, logger);
  } catch (e) {
    logger.fatal({ err: e }, `cannot start: ${errorMessage(e)}`);
    return 1;
  }
  logger.info({ agents: configs.length }, 'agent group ready');
  await shutdownOnSignal(logger, 'shutting down (VMs stay)', () => group.stop());
  return 0;
}

main().then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`merak-agent: ${errorMessage(e)}\n`);
    process.exitCode = 1;
  },
);
