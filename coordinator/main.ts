#!/usr/bin/env node
// Composition root of the coordinator: the only file that knows every folder.
import { readFileSync, rmSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { coordinatorV1 } from '@merak/proto';
import { HealthImplementation } from 'grpc-health-check';
import { pino } from 'pino';
import { createHttpServer, requireToken } from '@merak/agent';
import { AgentClient } from './agent-client/agent-client.js';
import { ScenarioEngine } from './engine/scenario-engine.js';
import { CoordinatorMetrics } from './metrics/coordinator-metrics.js';
import { AgentRegistry } from './registry/agent-registry.js';
import { createCoordinatorService } from './server/coordinator-service.js';
import { Store } from './store/store.js';

const HELP = `merak-coordinator: plans scenarios and fans them out to registered agents.

Usage: merak-coordinator [options]

  --listen ADDR        gRPC, HOST:PORT or unix:PATH (default 0.0.0.0:40050)
  --http ADDR          /healthz, /readyz, /metrics; HOST:PORT or unix:PATH (default 0.0.0.0:9002)
  --state PATH         SQLite database (default ./merak-state.db)
  --token-file PATH    bearer token for agents' and users' calls (or env MERAK_TOKEN)
  --insecure           no token (local use only)
  --log-level LEVEL    pino level (default info)
  -h, --help           this text
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      listen: { type: 'string', default: '0.0.0.0:40050' }, http: { type: 'string', default: '0.0.0.0:9002' }, state: { type: 'string', default: 'merak-state.db' },
      'token-file': { type: 'string' }, insecure: { type: 'boolean' }, 'log-level': { type: 'string', default: 'info' }, help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const token = values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : process.env.MERAK_TOKEN?.trim();
  if (!token && !values.insecure) {
    process.stderr.write(`merak-coordinator: --token-file: no token (give --token-file or MERAK_TOKEN, or --insecure)\n\n${HELP}`);
    return 2;
  }
  const logger = pino({ level: values['log-level'] });
  const store = new Store(values.state!);
  const registry = new AgentRegistry();
  const clients = new Map<string, AgentClient>();
  registry.on('connected', (a) => {
    clients.get(a.name)?.close();
    clients.set(a.name, new AgentClient(a.address, { token, deadlineMs: 120_000 }));
    logger.info({ agent: a.name, address: a.address }, 'agent connected');
  });
  const metrics = new CoordinatorMetrics({ connectedAgents: () => registry.connected().length, registeredAgents: () => registry.list().length });
  registry.on('lost', (a) => {
    metrics.agentsLost.inc();
    logger.warn({ agent: a.name }, 'agent lost');
  });
  const engine = new ScenarioEngine({
    store,
    registry,
    agents: { clientFor: (host) => (registry.get(host)?.connected ? clients.get(host) : undefined) },
    dataPlane: { configure: async () => {} },
    logger,
  });
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const service = createCoordinatorService(engine, registry);
  server.addService(coordinatorV1.CoordinatorService, token ? requireToken(service, token) : service);
  const health = new HealthImplementation({ '': 'SERVING', 'merak.coordinator.v1.Coordinator': 'SERVING' });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(values.listen!, ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const http = createHttpServer(metrics.registry, [{ name: 'store', check: async () => store.check() }]);
  await listenHttp(http, values.http!);
  logger.info({ listen: values.listen, port, http: values.http, state: values.state }, 'coordinator ready');
  engine.resume();
  await new Promise<void>((resolve) => {
    const stop = (): void => {
      health.setStatus('', 'NOT_SERVING');
      server.tryShutdown(() => resolve());
      setTimeout(() => { server.forceShutdown(); resolve(); }, 10_000).unref();
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  registry.close();
  await new Promise<void>((resolve) => http.close(() => resolve()));
  http.closeAllConnections();
  for (const c of clients.values()) c.close();
  store.close();
  return 0;
}

/** HOST:PORT or unix:PATH (a stale socket file from a killed coordinator is replaced). */
function listenHttp(http: HttpServer, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    if (address.startsWith('unix:')) {
      rmSync(address.slice(5), { force: true });
      http.listen(address.slice(5), () => resolve());
      return;
    }
    const i = address.lastIndexOf(':');
    http.listen(Number(address.slice(i + 1)), address.slice(0, i), () => resolve());
  });
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`merak-coordinator: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
