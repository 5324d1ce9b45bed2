#!/usr/bin/env node
// Composition root of the coordinator: the only file that knows every folder.
import { readFileSync } from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Server } from '@grpc/grpc-js';
import { CoordinatorServiceReused } from '@merak/proto';
import { HealthImplementation } from 'grpc-health-check';
import { pino } from 'pino';
import { type ServerTls, createHttpServer, errorMessage, loadServerTls, removeStaleSocket, requireToken, serverCredentials, tokenInClear } from '@merak/common';
import { ScenarioEngine } from './engine/scenario-engine.js';
import { DEFAULT_FANOUT } from './fanout/fanout.js';
import { CoordinatorMetrics } from './metrics/coordinator-metrics.js';
import { TunnelSets } from './tunnel-sets/tunnel-sets.js';
import { ControlPlaneProxy } from './faults/control-plane-proxy.js';
import { alcorControlPlane } from './providers/provider-alcor.js';
import { ovnControlPlane } from './providers/provider-ovn.js';
import { standaloneControlPlane } from './providers/provider-standalone.js';
import { AgentRegistry } from './registry/agent-registry.js';
import { createCoordinatorService } from './server/coordinator-service.js';
import { ovsdbEndpointProblem } from './scenario/index.js';
import { Store } from './store/store.js';

const HELP = `merak-coordinator: plans scenarios and fans them out to registered agents.

Usage: merak-coordinator [options]

  --listen ADDR            gRPC, HOST:PORT or unix:PATH (default 0.0.0.0:40050)
  --http ADDR              /healthz, /readyz, /metrics; HOST:PORT or unix:PATH (default 0.0.0.0:9002)
  --state PATH             SQLite database (default ./merak-state.db)
  --token-file PATH        bearer token for agents' and users' calls (or env MERAK_TOKEN)
  --insecure               no token (local use only)
  --tls-cert PATH          serve gRPC over TLS with this certificate (PEM; agents and users verify
                           it with the CA that signed it: their --tls-ca; docs/security.md)
  --tls-key PATH           the certificate's private key (PEM)
  --tunnel-type TYPE       standalone overlay encapsulation: vxlan or geneve (default vxlan)
  --dataplane MODE         standalone data plane: neighbors (each vhost answers ARP and sends
                           frames straight to the right tunnel from its neighbor table) or flood
                           (flood and learn across every tunnel: the old way, a benchmark's
                           baseline) (default neighbors)
  --alcor-url URL          Alcor for scenarios that give none (provider: alcor); each service on its
                           NodePort (30001 ... 30008) of this URL's host (or env MERAK_ALCOR_URL)
  --ovn-nb ENDPOINT        OVN northbound database for scenarios that give none (provider: ovn),
                           tcp:HOST:PORT or unix:PATH (or env MERAK_OVN_NB)
  --ovn-sb ENDPOINT        OVN southbound database, monitored for each VM's port bound/up times
                           (or env MERAK_OVN_SB; none: those times are not measured)
  --fault-proxy HOST:PORT  where the control-plane fault proxy listens: the
                           agents of a scenario with control-plane faults call their HTTP control
                           plane through it, so HOST must be an address they reach (docs/faults.md);
                           none: such scenarios are refused. Its routes are signed with the
                           token, so with a fixed port the URLs the agents recorded with their VMs
                           (to delete them) hold after a restart (port 0: any free one)
  --fault-proxy-advertise HOST
                           the host the agents are told for the proxy (default: --fault-proxy's)
  --lost-agent-timeout S   how long VMs wait for a lost agent to come back before they fail (default 600)
  --progress-deadline S    how long a plan chunk sent to a connected agent may go without any result
                           (VMs scheduled later aside) before the agent is treated as lost: its VMs
                           wait for it to register again, as a lost agent's do (default 60)
  --log-level LEVEL        pino level (default info)
  -h, --help               this text
`;

function fail(message: string): number {
  process.stderr.write(`merak-coordinator: ${message}\n\n${HELP}`);
  return 2;
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        listen: { type: 'string', default: '0.0.0.0:40050' }, http: { type: 'string', default: '0.0.0.0:9002' }, state: { type: 'string', default: 'merak-state.db' },
        'token-file': { type: 'string' }, insecure: { type: 'boolean' }, 'tls-cert': { type: 'string' }, 'tls-key': { type: 'string' }, 'tunnel-type': { type: 'string', default: 'vxlan' }, dataplane: { type: 'string', default: 'neighbors' },
        'lost-agent-timeout': { type: 'string', default: '600' }, 'progress-deadline': { type: 'string', default: '60' }, 'alcor-url': { type: 'string' }, 'fault-proxy': { type: 'string' }, 'fault-proxy-advertise': { type: 'string' }, 'ovn-nb': { type: 'string' }, 'ovn-sb': { type: 'string' }, 'log-level': { type: 'string', default: 'info' }, help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (e) {
    return fail(errorMessage(e));
  }
  if (values.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const token = values['token-file'] ? readFileSync(values['token-file'], 'utf8').trim() : process.env.MERAK_TOKEN?.trim();
  if (!token && !values.insecure) return fail('--token-file: no token (give --token-file or MERAK_TOKEN, or --insecure)');
  let tls: ServerTls | undefined;
  try {
    tls = loadServerTls(values['tls-cert'], values['tls-key']);
  } catch (e) {
    return fail(errorMessage(e));
  }
  const tunnelType = values['tunnel-type'];
  if (tunnelType !== 'vxlan' && tunnelType !== 'geneve') return fail(`--tunnel-type: '${tunnelType}' is neither vxlan nor geneve`);
  const dataplane = values.dataplane;
  if (dataplane !== 'neighbors' && dataplane !== 'flood') return fail(`--dataplane: '${dataplane}' is neither neighbors nor flood`);
  const lostAgentTimeoutS = Number(values['lost-agent-timeout']);
  if (!Number.isInteger(lostAgentTimeoutS) || lostAgentTimeoutS < 1) return fail(`--lost-agent-timeout: '${values['lost-agent-timeout']}' is not a whole number of seconds >= 1`);
  const progressDeadlineS = Number(values['progress-deadline']);
  if (!Number.isInteger(progressDeadlineS) || progressDeadlineS < 1) return fail(`--progress-deadline: '${values['progress-deadline']}' is not a whole number of seconds >= 1`);

  const alcorUrl = values['alcor-url'] ?? (process.env.MERAK_ALCOR_URL || undefined);
  if (alcorUrl !== undefined && !/^https?:\/\/[^/]+/.test(alcorUrl)) return fail(`--alcor-url: '${alcorUrl}' is not an http(s) URL`);
  const ovnNb = values['ovn-nb'] ?? (process.env.MERAK_OVN_NB || undefined);
  const ovnSb = values['ovn-sb'] ?? (process.env.MERAK_OVN_SB || undefined);
  for (const [flag, v] of [['--ovn-nb', ovnNb], ['--ovn-sb', ovnSb]] as const) {
    const problem = v === undefined ? undefined : ovsdbEndpointProblem(v);
    if (problem !== undefined) return fail(`${flag}: ${problem}`);
  }
  const proxyAt = values['fault-proxy'] === undefined ? undefined : /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(values['fault-proxy']);
  if (values['fault-proxy'] !== undefined && (!proxyAt || Number(proxyAt[2]) > 65535)) return fail(`--fault-proxy: '${values['fault-proxy']}' is not HOST:PORT`);
  const logger = pino({ level: values['log-level'] });
  const advertised = values['fault-proxy-advertise'];
  // Signed with the token: the URLs the agents record with their VMs stay valid across restarts.
  const faultProxy = proxyAt ? await ControlPlaneProxy.start(proxyAt[1]!.replace(/^\[|\]$/g, ''), Number(proxyAt[2]), logger, { ...(advertised ? { advertise: advertised } : {}), ...(token ? { key: token } : {}) }) : undefined;
  const store = new Store(values.state!);
  const registry = new AgentRegistry();
  const metrics = new CoordinatorMetrics({ connectedAgents: () => registry.connected().length, registeredAgents: () => registry.list().length });
  registry.on('connected', (a, how) => {
    if (how === 'registered') logger.info({ agent: a.name, address: a.address, underlayIp: a.underlayIp }, 'agent connected');
    else logger.info({ agent: a.name }, 'agent back: its heartbeats resumed on the same stream');
  });
  registry.on('replaced', (a, previousPeer) => logger.warn({ agent: a.name, previousPeer }, 'agent registered again on another stream: the older stream is ended'));
  registry.on('lost', (a) => {
    metrics.agentsLost.inc();
    logger.warn({ agent: a.name }, 'agent lost');
  });
  const tunnelSets = new TunnelSets({ clientFor: (h) => registry.clientFor(h), underlayIp: (h) => registry.get(h)?.underlayIp, underlayMac: (h) => registry.get(h)?.underlayMac, type: tunnelType, flood: dataplane === 'flood', logger });
  const engine = new ScenarioEngine({
    store, registry, agents: registry, logger, metrics,
    controlPlanes: {
      standalone: standaloneControlPlane({ tunnelSets, logger }),
      alcor: alcorControlPlane({ defaultUrl: alcorUrl, agents: registry, store, logger, onCall: (c) => metrics.controlPlaneCall(c.endpoint, c.status, c.micros), ...(faultProxy ? { agentUrl: (id: string, url: string) => faultProxy.urlFor(id, url) } : {}) }),
      ovn: ovnControlPlane({ defaultNb: ovnNb, defaultSb: ovnSb, store, logger }),
    },
    ...(faultProxy ? { faultProxy } : {}),
    fanout: { ...DEFAULT_FANOUT, agentReturnTimeoutMs: lostAgentTimeoutS * 1000, progressDeadlineMs: progressDeadlineS * 1000 },
  });

  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  const service = createCoordinatorService(engine, registry);
  server.addService(CoordinatorServiceReused, token ? requireToken(service, token) : service);
  const health = new HealthImplementation({ '': 'SERVING', 'merak.coordinator.v1.Coordinator': 'SERVING' });
  health.addToServer(server);
  // A socket file left by a coordinator killed with SIGKILL would refuse the bind.
  if (values.listen!.startsWith('unix:')) await removeStaleSocket(values.listen!.slice(5));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(values.listen!, serverCredentials(tls), (e, p) => (e ? reject(e) : resolve(p))),
  );
  const http = createHttpServer(metrics.registry, [{ name: 'store', check: async () => store.check() }]);
  if (values.http!.startsWith('unix:')) await removeStaleSocket(values.http!.slice(5));
  await listenHttp(http, values.http!);
  // The token is all that keeps a network out: say when it would travel in clear.
  if (token && tokenInClear(values.listen!, tls !== undefined)) logger.warn({ listen: values.listen }, 'gRPC without TLS on a network address: agents and users send the token in clear (--tls-cert/--tls-key)');
  logger.info({ listen: values.listen, port, http: values.http, state: values.state, auth: token ? 'token' : 'insecure', tls: tls !== undefined }, 'coordinator ready');
  engine.resume();
  const signal = await new Promise<string>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  logger.info({ signal }, 'shutting down (scenarios resume at the next start)');
  health.setStatus('', 'NOT_SERVING');
  // Runs stop where they are (what came back is stored) while agents are still connected; then
  // the server, whose agents' streams never end by themselves: a short grace for unary calls.
  await engine.shutdown();
  await new Promise<void>((resolve) => {
    server.tryShutdown(() => resolve());
    setTimeout(() => { server.forceShutdown(); resolve(); }, 2000).unref();
  });
  registry.close();
  await faultProxy?.close();
  // /readyz reads the store: the HTTP server goes first. close() waits for open connections (a
  // probe's keep-alive one), so they are closed at once rather than after it returned.
  const httpClosed = new Promise<void>((resolve) => http.close(() => resolve()));
  http.closeAllConnections();
  await httpClosed;
  // Last: nothing that writes to the store runs any more.
  store.close();
  return 0;
}

/** HOST:PORT or unix:PATH. */
function listenHttp(http: HttpServer, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    if (address.startsWith('unix:')) {
      http.listen(address.slice(5), () => resolve());
      return;
    }
    const i = address.lastIndexOf(':');
    http.listen(Number(address.slice(i + 1)), address.slice(0, i), () => resolve());
  });
}

main().then((code) => { process.exitCode = code; }, (e: unknown) => {
  process.stderr.write(`merak-coordinator: ${errorMessage(e)}\n`);
  process.exitCode = 1;
});
