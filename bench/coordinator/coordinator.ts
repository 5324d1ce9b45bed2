// The coordinator under test, composed as coordinator/main.ts composes it (registry, Prometheus
// metrics, tunnel sets with the agents' underlay addresses and MACs, engine, gRPC with a token),
// in this process, plus what the bench reads: the standalone control plane's view of the live
// scenarios, and counts of the tunnel and neighbor messages the coordinator sends.
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { parseIpv4, requireToken } from '@merak/common';
import { AgentRegistry, CoordinatorMetrics, DEFAULT_FANOUT, type LiveScenarios, ScenarioEngine, Store, TunnelSets, createCoordinatorService, standaloneControlPlane } from '@merak/coordinator';
import { CoordinatorServiceReused, type agentV1 } from '@merak/proto';
import type { Logger } from 'pino';

/** Calls the coordinator made to agents (counted as sent, whatever the answer). */
export interface SentCounts {
  /** SetTunnels and UpdateTunnels calls, and their tunnels (a set's; a delta's upserts and removes). */
  tunnelMessages: number;
  tunnelEntries: number;
  /** Of which whole sets (SetTunnels) and deltas (UpdateTunnels). */
  tunnelSets: number;
  tunnelDeltas: number;
  neighborMessages: number;
  neighborEntries: number;
}

export interface BenchCoordinator {
  readonly engine: ScenarioEngine;
  readonly registry: AgentRegistry;
  readonly metrics: CoordinatorMetrics;
  readonly tunnelSets: TunnelSets;
  readonly sent: SentCounts;
  /** What the standalone control plane sees (set once it is made, at the first scenario). */
  live(): LiveScenarios;
  close(): void;
}

/** Each packed group's addresses, read once per buffer: every member's set shares its VNI's buffer. */
const addressesOf = new WeakMap<Buffer, Set<number>>();

function addresses(packed: Buffer): Set<number> {
  let set = addressesOf.get(packed);
  if (!set) {
    set = new Set<number>();
    for (let at = 0; at + 4 <= packed.length; at += 4) set.add(packed.readUInt32BE(at));
    addressesOf.set(packed, set);
  }
  return set;
}

/** The tunnels a SetTunnels request carries to the vhost at `own`: its list, and its packed groups but its own address. */
function setSizeOf(req: agentV1.SetTunnelsRequest, own: string | undefined): number {
  const skip = own ? parseIpv4(own) : undefined;
  let n = req.tunnels.length;
  for (const g of req.groups) n += g.remoteIpv4.length / 4 - (skip !== undefined && addresses(g.remoteIpv4).has(skip) ? 1 : 0);
  return n;
}

export class NoControlPlaneError extends Error {
  constructor() {
    super('the standalone control plane was never made (no scenario ran)');
    this.name = 'NoControlPlaneError';
  }
}

export async function startCoordinator(opts: { statePath: string; socket: string; token: string; flood: boolean; logger: Logger }): Promise<BenchCoordinator> {
  const { logger } = opts;
  const store = new Store(opts.statePath);
  const registry = new AgentRegistry();
  const metrics = new CoordinatorMetrics({ connectedAgents: () => registry.connected().length, registeredAgents: () => registry.list().length });
  registry.on('lost', () => metrics.agentsLost.inc());
  const sent: SentCounts = { tunnelMessages: 0, tunnelEntries: 0, tunnelSets: 0, tunnelDeltas: 0, neighborMessages: 0, neighborEntries: 0 };
  const tunnelSets = new TunnelSets({
    clientFor: (h) => {
      const c = registry.clientFor(h);
      return c && {
        setTunnels: (req) => {
          sent.tunnelMessages++;
          sent.tunnelSets++;
          sent.tunnelEntries += setSizeOf(req, registry.get(h)?.underlayIp);
          return c.setTunnels(req);
        },
        updateTunnels: (req) => {
          sent.tunnelMessages++;
          sent.tunnelDeltas++;
          sent.tunnelEntries += req.upsert.length + req.remove.length;
          return c.updateTunnels(req);
        },
        updateNeighbors: (req) => {
          sent.neighborMessages++;
          sent.neighborEntries += req.upsert.length + req.remove.length;
          return c.updateNeighbors(req);
        },
      };
    },
    underlayIp: (h) => registry.get(h)?.underlayIp, underlayMac: (h) => registry.get(h)?.underlayMac, type: 'vxlan', flood: opts.flood, logger,
  });
  let live: LiveScenarios | undefined;
  const standalone = standaloneControlPlane({ tunnelSets, logger });
  const engine = new ScenarioEngine({
    store, registry, agents: registry, logger, metrics,
    controlPlanes: {
      standalone: (l) => {
        live = l;
        return standalone(l);
      },
    },
    fanout: { ...DEFAULT_FANOUT, chunkSize: 5000, agentParallelism: 512, vmConcurrency: 256 },
  });
  const server = new Server({ 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(CoordinatorServiceReused, requireToken(createCoordinatorService(engine, registry), opts.token));
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${opts.socket}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  return {
    engine, registry, metrics, tunnelSets, sent,
    live: () => {
      if (!live) throw new NoControlPlaneError();
      return live;
    },
    close: () => {
      server.forceShutdown();
      registry.close();
      store.close();
    },
  };
}
