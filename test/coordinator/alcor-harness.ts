// The in-process coordinator (test/fixtures/coordinator-in-process.ts) with its alcor control
// plane, hollow agents (their Alcor calls are real) and an Alcor-compatible server, for Alcor-mode
// tests. Everything lives in one temp folder, removed on close.
import type { Logger } from 'pino';
import type { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import type { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import { type InProcessCoordinator, startInProcessCoordinator } from '../fixtures/coordinator-in-process.js';
import { type AlcorServer, startAlcorServer } from '../alcor/index.js';

export interface AlcorHarness {
  readonly alcor: AlcorServer;
  /** The coordinator: its folder, API address, agents (more can be started). */
  readonly coordinator: InProcessCoordinator;
  readonly engine: ScenarioEngine;
  readonly registry: AgentRegistry;
  /**
   * A scenario's first lines: `name`, provider alcor, and its alcor section for this server
   * (project proj-<name>, 1 s timeout, `retries`), which more indented keys may extend.
   */
  scenarioHead(name: string, retries: number): string;
  close(): Promise<void>;
}

export interface AlcorHarnessOptions {
  /** The temp folder's name prefix. */
  readonly prefix: string;
  readonly hosts: number;
  readonly logger: Logger;
  /** The Alcor server's seed (7 unless given). */
  readonly seed?: number;
  /** The agents' names: `<hostPrefix>0`… (`vhost-` unless given). */
  readonly hostPrefix?: string;
}

/** `endpoints: {…}` for a scenario's alcor section, pointing at `server`. */
export const endpointsYamlOf = (server: AlcorServer): string =>
  `endpoints: { ${(['vpc', 'subnet', 'route', 'port', 'node', 'sg'] as const).map((k) => `${k}: ${server.urls[k]}`).join(', ')} }`;

/** `hosts` hollow agents <hostPrefix>0… (underlay 198.51.100.10+i), connected before this returns. */
export async function startAlcorHarness(opts: AlcorHarnessOptions): Promise<AlcorHarness> {
  const coordinator = await startInProcessCoordinator({ prefix: opts.prefix, logger: opts.logger, alcor: true });
  let alcor: AlcorServer | undefined;
  const close = async (): Promise<void> => {
    await coordinator.close();
    await alcor?.close();
  };
  try {
    alcor = await startAlcorServer({ mode: 'node-ports', seed: opts.seed ?? 7 });
    for (let i = 0; i < opts.hosts; i++) await coordinator.startAgent(`${opts.hostPrefix ?? 'vhost-'}${i}`, { underlayIp: `198.51.100.${10 + i}` });
    await coordinator.waitForAgents(opts.hosts);
    const { engine, registry } = coordinator;
    const endpoints = endpointsYamlOf(alcor);
    const scenarioHead = (name: string, retries: number): string =>
      `name: ${name}\nprovider: alcor\nalcor:\n  ${endpoints}\n  project_id: proj-${name}\n  timeout_ms: 1000\n  retries: ${retries}`;
    return { alcor, coordinator, engine, registry, scenarioHead, close };
  } catch (e) {
    await close();
    throw e;
  }
}
