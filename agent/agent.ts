// One running agent: gRPC (Agent + grpc.health.v1) and HTTP, over a backend. Used by main.ts and,
// several to a process, by hollow-mode load tests.
import { Server } from '@grpc/grpc-js';
import { agentV1 } from '@merak/proto';
import { HealthImplementation } from 'grpc-health-check';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Backend } from './backend.js';
import type { AgentConfig } from './config.js';
import { AgentMetrics } from './metrics/agent-metrics.js';
import { createFaultActions } from './faults/fault-actions.js';
import { GoalStateHostAgent } from './goalstate/host-agent.js';
import { requestRestartState } from './goalstate/ncm-client.js';
import { type GoalStateServer, startGoalStateServer } from './goalstate/server.js';
import { CoordinatorLink } from './registration/coordinator-link.js';
import { requireToken } from '@merak/common';
import { createAgentHandlers } from './server/agent-handlers.js';
import { createAgentService } from './server/agent-service.js';
import { createHttpServer } from '@merak/common';
import { serverCredentials, tokenInClear } from '@merak/common';
import { removeStaleSocket } from '@merak/common';
import { HostAgentSupervisor } from './supervisor/host-agent-supervisor.js';
import { systemClock } from './vm/clock.js';
import { VmRunner } from './vm/runner.js';

const AGENT_VERSION = '0.1.0';
const SERVICE_NAME = 'merak.agent.v1.Agent';

export interface RunningAgent {
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly runner: VmRunner;
  /** The GoalState host agent (with --goalstate). */
  readonly goalState: { readonly address: string; readonly hostAgent: GoalStateHostAgent } | undefined;
  /** Stops accepting calls, lets running ones finish (up to `graceMs`), closes the backend. VMs stay. */
  stop(graceMs?: number): Promise<void>;
}

function split(hostPort: string): { host: string; port: number } {
  const i = hostPort.lastIndexOf(':');
  return { host: hostPort.slice(0, i), port: Number(hostPort.slice(i + 1)) };
}

export async function startAgent(config: AgentConfig, backend: Backend, logger: Logger): Promise<RunningAgent> {
  const initial = await backend.executor.list();
  const runner = new VmRunner({ executor: backend.executor, clock: systemClock, capacity: config.capacity, initialCount: initial.length });
  const underlayIp = backend.underlayIp ?? config.underlayIp;
  const underlayMac = backend.underlayMac ?? '';
  const metrics = new AgentMetrics(config.vhost, () => runner.vmCount);
  backend.startPortRestorer?.((id, fn) => runner.exclusive(id, fn));
  const goalState = config.goalstate ? await startGoalState(config, backend, metrics, logger) : undefined;
  const handlers = createAgentHandlers({
    runner,
    executor: backend.executor,
    limits: { maxOperations: config.maxBatch, maxConcurrency: 4096, defaultConcurrency: config.defaultConcurrency },
    metrics,
    logger,
    pingRate: config.pingRate,
    info: async () => ({ vhost: config.vhost, capacity: config.capacity, agentVersion: AGENT_VERSION, hollow: config.hollow, underlayIp, underlayMac, goalstateAddress: goalState?.server.address ?? '', ...(await backend.hostInfo()) }),
    ping: (vm, targets, opts) => backend.ping(vm, targets, opts),
    setTunnels: (c) => backend.setTunnels(c),
    updateTunnels: (d) => backend.updateTunnels(d),
    underlayIp,
    updateNeighbors: (c) => backend.updateNeighbors(c),
    injectFault: createFaultActions({
      logger, vhost: config.vhost, setUnderlayUp: backend.setUnderlayUp, underlayInterface: config.underlayInterface, ovsRundir: config.hollow ? undefined : config.ovsRundir,
    }),
  });
  const service = createAgentService(handlers);
  const server = new Server({ 'grpc.max_receive_message_length': 512 * 1024 * 1024, 'grpc.max_send_message_length': 512 * 1024 * 1024 });
  server.addService(agentV1.AgentService, config.token ? requireToken(service, config.token) : service);
  const health = new HealthImplementation({ '': 'SERVING', [SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);

  if (config.grpcListen.startsWith('unix:')) await removeStaleSocket(config.grpcListen.slice(5));
  const grpcPort = await new Promise<number>((resolve, reject) =>
    server.bindAsync(config.grpcListen, serverCredentials(config.tlsServer), (err, port) => (err ? reject(err) : resolve(port))),
  );
  // Read at each /readyz: the host agent's check joins once it is started (last, below).
  const checks = [...backend.checks];
  if (goalState) checks.push({ name: 'goalstate', check: async () => { if (goalState.closed) throw new Error('the GoalState server is closed'); } });
  const http: HttpServer = createHttpServer(metrics.registry, checks);
  await new Promise<void>((resolve, reject) => {
    http.once('error', reject);
    if (config.httpListen.startsWith('unix:')) {
      const path = config.httpListen.slice(5);
      void removeStaleSocket(path).then(() => http.listen(path, () => resolve()), reject);
    } else {
      const h = split(config.httpListen);
      http.listen(h.port, h.host, () => resolve());
    }
  });
  const address = http.address();
  const httpPort = typeof address === 'object' && address ? (address as AddressInfo).port : 0;
  // Said at registration, so the coordinator's reports name the OVS that ran them ('' when unknown).
  const ovsVersion = config.coordinator ? await backend.hostInfo().then((h) => h.ovsVersion, () => '') : '';
  const link = config.coordinator
    ? new CoordinatorLink({
        coordinator: config.coordinator,
        token: config.token,
        tls: config.tlsCoordinator,
        hello: { name: config.vhost, address: config.advertise ?? config.grpcListen, underlayIp, underlayMac, version: AGENT_VERSION, capacity: config.capacity, hollow: config.hollow, ovsVersion },
        vmCount: () => runner.vmCount,
        handlers,
        logger,
        // Not ready from then on, saying why (a check that appears only then: /readyz is unchanged until it does).
        onReplaced: (e) => checks.push({ name: 'registration', check: () => Promise.reject(e) }),
      })
    : undefined;
  // The token is the only thing between a network and this vhost's VMs: say when it travels in clear.
  if (config.token && tokenInClear(config.grpcListen, config.tlsServer !== undefined)) logger.warn({ listen: config.grpcListen }, 'gRPC without TLS on a network address: callers send the token in clear (--tls-cert/--tls-key)');
  if (config.token && config.coordinator && tokenInClear(config.coordinator, config.tlsCoordinator !== undefined)) logger.warn({ coordinator: config.coordinator }, 'the coordinator is dialed without TLS: the token crosses the network in clear (--tls-ca)');
  // Started last: nothing after it can fail and leave it running unsupervised.
  const supervisor = config.hostAgent ? new HostAgentSupervisor({ argv: config.hostAgent, logger }) : undefined;
  if (supervisor) {
    metrics.hostAgent(() => supervisor.status());
    checks.push({ name: 'host-agent', check: async () => supervisor.check() });
  }
  logger.info({ vhost: config.vhost, grpcPort, httpPort, vms: initial.length, hollow: config.hollow, auth: config.token ? 'token' : 'insecure', tls: config.tlsServer !== undefined, coordinatorTls: config.tlsCoordinator !== undefined, goalstate: goalState?.server.address }, 'agent ready');
  if (goalState && config.alcorNcm) goalState.resyncWithNcm(config.alcorNcm, config.vhost);

  return {
    grpcPort,
    httpPort,
    runner,
    goalState: goalState ? { address: goalState.server.address, hostAgent: goalState.hostAgent } : undefined,
    async stop(graceMs = 10_000): Promise<void> {
      link?.close();
      await goalState?.stop();
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(SERVICE_NAME, 'NOT_SERVING');
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => { server.forceShutdown(); resolve(); }, graceMs);
        server.tryShutdown(() => { clearTimeout(force); resolve(); });
      });
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
      await supervisor?.stop();
      await backend.close();
    },
  };
}

interface RunningGoalState {
  readonly server: GoalStateServer;
  readonly hostAgent: GoalStateHostAgent;
  readonly closed: boolean;
  /** In the background: asks the NCM for this host's goal states, then drops what it did not re-send. */
  resyncWithNcm(ncm: string, nodeName: string): void;
  stop(): Promise<void>;
}

/** The GoalState host agent: what the data plane kept (from OVS), then the server; executors wait on it. */
async function startGoalState(config: AgentConfig, backend: Backend, metrics: AgentMetrics, logger: Logger): Promise<RunningGoalState> {
  const info = await backend.hostInfo();
  const own = new Set([...info.addresses.map((a) => a.address.split('/')[0]!), backend.underlayIp ?? '', config.underlayIp].filter((ip) => ip !== ''));
  const hostAgent = new GoalStateHostAgent({ dataPlane: backend.goalStateDataPlane(own), logger, metrics });
  let server: GoalStateServer;
  try {
    await hostAgent.recover();
    server = await startGoalStateServer(config.goalstate!, hostAgent, logger, config.netns);
  } catch (e) {
    await hostAgent.close();
    throw e;
  }
  backend.goalState.attach(hostAgent);
  const abort = new AbortController();
  let closed = false;
  let resync: Promise<unknown> = Promise.resolve();
  return {
    server,
    hostAgent,
    get closed() { return closed; },
    resyncWithNcm(ncm, nodeName) {
      const finish = hostAgent.beginResync();
      resync = requestRestartState({ ncm, nodeName, logger, signal: abort.signal })
        .then((ok) => finish(ok))
        .catch((e: unknown) => logger.warn({ err: e }, 'GoalState resync with the NCM failed'));
    },
    async stop() {
      closed = true;
      abort.abort();
      await server.close();
      await resync;
      await hostAgent.close();
    },
  };
}
