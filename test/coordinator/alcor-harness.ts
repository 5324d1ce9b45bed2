// A coordinator in process (engine, registry, store, gRPC service on a unix socket) with hollow
// agents (the real agent and API, no kernel work: their Alcor calls are real) and an
// Alcor-compatible server, for Alcor-mode tests. Everything lives in one temp folder, removed on close.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { type RunningAgent, createHollowBackend, parseAgentConfig, startAgent } from '@merak/agent';
import { coordinatorV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { DEFAULT_FANOUT } from '../../coordinator/fanout/fanout.js';
import { Overlay } from '../../coordinator/overlay/overlay.js';
import { alcorControlPlane } from '../../coordinator/providers/provider-alcor.js';
import { standaloneControlPlane } from '../../coordinator/providers/provider-standalone.js';
import { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import { createCoordinatorService } from '../../coordinator/server/coordinator-service.js';
import { Store } from '../../coordinator/store/store.js';
import { type AlcorServer, startAlcorServer } from '../alcor/index.js';

export interface AlcorHarness {
  readonly alcor: AlcorServer;
  readonly engine: ScenarioEngine;
  readonly registry: AgentRegistry;
  /** `endpoints: {…}` for a scenario's alcor section, pointing at this server. */
  readonly endpointsYaml: string;
  close(): Promise<void>;
}

/** `hosts` hollow agents vhost-0… (underlay 198.51.100.10+i), connected before this returns. */
export async function startAlcorHarness(opts: { prefix: string; hosts: number; logger: Logger; seed?: number }): Promise<AlcorHarness> {
  const { logger } = opts;
  const dir = mkdtempSync(join(tmpdir(), opts.prefix));
  const agents: RunningAgent[] = [];
  let alcor: AlcorServer | undefined;
  let store: Store | undefined;
  let registry: AgentRegistry | undefined;
  let server: Server | undefined;
  const close = async (): Promise<void> => {
    for (const a of agents) await a.stop(1000);
    server?.forceShutdown();
    registry?.close();
    store?.close();
    await alcor?.close();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    alcor = await startAlcorServer({ mode: 'node-ports', seed: opts.seed ?? 7 });
    store = new Store(join(dir, 'state.db'));
    const reg = (registry = new AgentRegistry({ minHeartbeatMs: 200 }));
    const overlay = new Overlay({ clientFor: (h) => reg.clientFor(h), underlayIp: () => undefined, type: 'vxlan', logger });
    const engine = new ScenarioEngine({
      store, registry, logger, agents: registry,
      controlPlanes: { standalone: standaloneControlPlane({ overlay, logger }), alcor: alcorControlPlane({ defaultUrl: undefined, agents: registry, store, logger }) },
      fanout: { ...DEFAULT_FANOUT, backoff: { initialMs: 20, maxMs: 100 } },
    });
    server = new Server();
    server.addService(coordinatorV1.CoordinatorService, createCoordinatorService(engine, registry));
    const sock = join(dir, 'c.sock');
    const s = server;
    await new Promise<void>((resolve, reject) => s.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
    for (let i = 0; i < opts.hosts; i++) {
      const config = parseAgentConfig(
        ['--vhost', `vhost-${i}`, '--hollow', '--insecure', '--listen', `unix:${join(dir, `a${i}.sock`)}`, '--http', `unix:${join(dir, `h${i}.sock`)}`,
          '--coordinator', `unix:${sock}`, '--underlay-ip', `198.51.100.${10 + i}`],
        {},
      );
      if (config === 'help') throw new Error('unexpected --help');
      agents.push(await startAgent(config, createHollowBackend(), logger));
    }
    const deadline = Date.now() + 10_000;
    while (reg.connected().length < opts.hosts && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    if (reg.connected().length < opts.hosts) throw new Error(`only ${reg.connected().length} of ${opts.hosts} hollow agents connected`);
    const a = alcor;
    const endpointsYaml = `endpoints: { ${(['vpc', 'subnet', 'route', 'port', 'node', 'sg'] as const).map((k) => `${k}: ${a.urls[k]}`).join(', ')} }`;
    return { alcor: a, engine, registry: reg, endpointsYaml, close };
  } catch (e) {
    await close();
    throw e;
  }
}
