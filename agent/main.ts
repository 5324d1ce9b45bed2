#!/usr/bin/env node
// Composition root of the agent: the only file that knows every folder.
import { pino } from 'pino';
import { startAgent } from './agent.js';
import type { Backend } from './backend.js';
import { AGENT_HELP, parseAgentConfig } from './config.js';
import { errorMessage, shutdownOnSignal } from '@merak/common';
import { createHollowBackend } from './hollow-backend.js';
import { createKernelBackend } from './kernel-backend.js';

async function main(): Promise<number> {
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

main().then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    process.stderr.write(`merak-agent: ${errorMessage(e)}\n`);
    process.exitCode = 1;
  },
);
