// The server as Alcor's DPM + NCM: bound-port changes and router interface changes become one
// GoalStateV2 per host, pushed to every host of a batch in parallel; what was pushed is kept per
// host so a restarted agent can ask for all of it again (RequestGoalStates on the NCM port).
import { setTimeout as sleep } from 'node:timers/promises';
import { alcor } from '@merak/proto';
import type { Logger } from 'pino';
import type { NodeInfo } from '../entities.js';
import { nodesNamed } from '../nodes.js';
import type { AlcorState, BindResult, GoalStateSink, PortBinding } from '../state.js';
import { type NetworkView, type PortEvent, buildPortBatch, buildRouterChange, hostIpOf } from './builder.js';
import { HostIdentificationError } from './errors.js';
import type { HostMessage } from './host-message.js';
import { NcmCache } from './ncm-cache.js';
import { NODE_NAME_METADATA, startNcmServer } from './ncm-server.js';
import { Placements } from './placements.js';
import { PushClient } from './push-client.js';
import { PushFaults } from './push-faults.js';
import { type PushOutcome, PushLog, type ReplyStatus } from './push-log.js';

export interface GoalStatePushOptions {
  /** How long one push may take before the host counts as failed (default 300000, as Alcor). */
  readonly timeoutMs?: number;
  /** gRPC channels per host, each warmed up on first contact (default 1; Alcor's k8s config: 10). */
  readonly channelsPerHost?: number;
  /** The NCM's RequestGoalStates port (default 9016; 0 = a random free port). */
  readonly ncmPort?: number;
  /** Where the NCM port listens (default: the REST listeners' host). */
  readonly ncmHost?: string;
  /** Keep only the newest N push records (default: all). */
  readonly maxPushes?: number;
}

export interface GoalStatePush {
  readonly sink: GoalStateSink;
  readonly ncmPort: number;
  readonly pushes: PushLog;
  readonly faults: PushFaults;
  close(): Promise<void>;
}

/** The port Alcor's NCM always dials. */
export const AGENT_PORT = 50001;
export const DEFAULT_NCM_PORT = 9016;
export const DEFAULT_PUSH_TIMEOUT_MS = 300_000;

/** Where to dial the node's agent: local_ip, at server_port when set (our deviation) else 50001. */
export function agentEndpoint(node: NodeInfo): string | undefined {
  const ip = hostIpOf(node);
  if (ip === undefined) return undefined;
  const port = node.server_port > 0 ? node.server_port : AGENT_PORT;
  return `${ip.includes(':') ? `[${ip}]` : ip}:${port}`;
}

/** The IP of a gRPC peer string ("1.2.3.4:5", "ipv4:1.2.3.4:5", "[::ffff:1.2.3.4]:5"). */
export function peerIp(peer: string): string {
  let p = peer.replace(/^ipv[46]:/, '');
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(p);
  if (bracket) p = bracket[1]!;
  else if (p.split(':').length === 2) p = p.slice(0, p.lastIndexOf(':'));
  return p.replace(/^::ffff:/i, '');
}

function stateView(state: AlcorState, placements: Placements): NetworkView {
  return {
    vpc: (id) => state.vpcs.get(id),
    subnet: (id) => state.subnets.get(id),
    securityGroup: (id) => state.securityGroups.get(id),
    router: (id) => state.routers.get(id),
    routerSubnets: (routerId) => [...state.subnets.values()].filter((s) => s.attached_router_id === routerId),
    node: (name) => {
      const nodes = nodesNamed(state, name);
      return nodes.length === 1 ? nodes[0] : undefined;
    },
    boundPorts: (subnetId) => placements.boundPorts(subnetId),
  };
}

const statusesOf = (replies: readonly alcor.GoalStateOperationReply[]): ReplyStatus[] =>
  replies.flatMap((r) => r.operationStatuses.map((s) => ({
    resourceId: s.resourceId,
    resourceType: alcor.resourceTypeToJSON(s.resourceType),
    operationType: alcor.operationTypeToJSON(s.operationType),
    operationStatus: alcor.operationStatusToJSON(s.operationStatus),
  })));

export async function startGoalStatePush(state: AlcorState, options: GoalStatePushOptions, defaultHost: string, logger?: Logger): Promise<GoalStatePush> {
  const placements = new Placements();
  const cache = new NcmCache();
  const pushes = new PushLog(options.maxPushes);
  const faults = new PushFaults();
  const client = new PushClient({
    channelsPerHost: Math.max(1, options.channelsPerHost ?? 1),
    timeoutMs: options.timeoutMs ?? DEFAULT_PUSH_TIMEOUT_MS,
    logger,
  });
  const view = stateView(state, placements);

  function record(node: NodeInfo, msg: HostMessage | undefined, endpoint: string, startedAt: number, outcome: PushOutcome,
    statuses: ReplyStatus[], applied: readonly string[], error?: string): boolean {
    const host = node.node_name ?? '';
    const r = pushes.add({
      host, endpoint, kind: msg?.kind ?? 'port', resources: msg?.listedResources() ?? [], startedAt, finishedAt: Date.now(),
      outcome, ...(error === undefined ? {} : { error }), statuses, faults: applied,
    });
    const fields = { host, endpoint, kind: r.kind, outcome, ms: r.finishedAt - startedAt, resources: r.resources.length, faults: applied.length > 0 ? applied : undefined };
    if (outcome === 'ok') logger?.info(fields, 'GoalState pushed');
    else logger?.warn({ ...fields, error }, 'GoalState push failed');
    return outcome === 'ok';
  }

  /** Pushes one host's message (faults applied); true when the host took it. */
  async function pushOne(msg: HostMessage): Promise<boolean> {
    const startedAt = Date.now();
    const endpoint = agentEndpoint(msg.node)!;
    const plan = faults.decide(msg.node.node_name ?? '');
    if (plan.delayMs > 0) await sleep(plan.delayMs);
    const res = await client.push(endpoint, msg.message, plan.terminal?.kind === 'drop');
    const statuses = statusesOf(res.replies);
    let outcome: PushOutcome = res.outcome;
    let error = res.error;
    if (res.outcome === 'timeout') error = 'no end of call within the push timeout';
    if (res.outcome === 'dropped') error = `dropped by push fault ${plan.terminal!.ruleId}`;
    if (res.outcome === 'ok') {
      const failed = statuses.find((s) => s.operationStatus === 'FAILURE');
      if (plan.terminal?.kind === 'failure') {
        outcome = 'failure';
        error = `counted as FAILURE by push fault ${plan.terminal.ruleId}`;
      } else if (failed) {
        outcome = 'failure';
        error = `the agent answered FAILURE for ${failed.resourceType} ${failed.resourceId}`;
      }
    }
    return record(msg.node, msg, endpoint, startedAt, outcome, statuses, plan.applied, error);
  }

  /** Pushes each message (all hosts in parallel); node name → whether that host took it. */
  async function pushAll(messages: readonly HostMessage[]): Promise<Map<string, boolean>> {
    for (const m of messages) cache.apply(m.node.node_name ?? '', m); // NCM stores before it sends
    const results = new Map<string, boolean>();
    await Promise.all(messages.map(async (m) => {
      results.set(m.node.node_name ?? '', await pushOne(m));
    }));
    return results;
  }

  /** The batch's events, with DPM's view of where ports are updated (synchronously, before building). */
  function eventsOf(bindings: readonly PortBinding[]): PortEvent[] {
    const events: PortEvent[] = [];
    for (const b of bindings) {
      if (b.portState === 'DELETE') {
        placements.remove(b.port.id!);
      } else {
        const previous = placements.place(b.port, b.node);
        // Moved to another host: the old host loses it first.
        if (previous && previous.node.node_name !== b.node.node_name) events.push({ op: 'DELETE', port: previous.port, node: previous.node });
      }
      events.push({ op: b.portState, port: b.port, node: b.node });
    }
    return events;
  }

  const sink: GoalStateSink = {
    async pushPorts(bindings) {
      const statuses = new Map<string, BindResult['status']>();
      try {
        const events = eventsOf(bindings);
        const results = await pushAll(buildPortBatch(view, events));
        for (const e of events) {
          const name = e.node.node_name ?? '';
          if (hostIpOf(e.node) !== undefined || results.has(name)) continue;
          results.set(name, false);
          record(e.node, undefined, '', Date.now(), 'no-address', [], [], 'the node has no local_ip');
        }
        for (const b of bindings) statuses.set(b.port.id!, results.get(b.node.node_name ?? '') === false ? 'FAILED' : 'ACTIVE');
      } catch (e) {
        logger?.error({ err: e }, 'GoalState push failed: ports marked FAILED');
        for (const b of bindings) statuses.set(b.port.id!, 'FAILED');
      }
      return statuses;
    },

    async routerInterfaceChanged(routerId, subnetId, change) {
      const router = state.routers.get(routerId);
      if (!router) return;
      const messages: HostMessage[] = [];
      for (const node of placements.nodesOf(subnetId).values()) {
        const msg = buildRouterChange(view, view.node(node.node_name ?? '') ?? node, router, subnetId, change === 'remove');
        if (msg) messages.push(msg);
      }
      await pushAll(messages);
    },

    clear() {
      placements.clear();
      cache.clear();
    },
  };

  /** The one node a RequestGoalStates comes from, by its metadata name or else its peer address. */
  function identify(nodeName: string | undefined, peer: string): NodeInfo {
    if (nodeName !== undefined) {
      const nodes = nodesNamed(state, nodeName);
      if (nodes.length !== 1) throw new HostIdentificationError(`${nodes.length} nodes are named '${nodeName}'`, { nodeName, matches: nodes.length });
      return nodes[0]!;
    }
    const ip = peerIp(peer);
    const nodes = [...state.nodes.values()].filter((n) => n.local_ip === ip);
    if (nodes.length !== 1) {
      throw new HostIdentificationError(`${nodes.length} nodes have local_ip ${ip} (send metadata ${NODE_NAME_METADATA} to say which)`, { peerIp: ip, matches: nodes.length });
    }
    return nodes[0]!;
  }

  async function requestGoalStates(request: alcor.HostRequest, nodeName: string | undefined, peer: string): Promise<alcor.HostRequestReply> {
    const restart = request.stateRequests.some((r) => r.requestType === alcor.RequestType.AGENT_RESTARTED);
    let pushed = false;
    if (restart) {
      try {
        const node = identify(nodeName, peer);
        const ip = hostIpOf(node);
        if (ip === undefined) throw new HostIdentificationError(`node '${node.node_name}' has no local_ip`, { nodeName: node.node_name ?? '', matches: 1 });
        pushed = await pushOne(cache.restartMessage(node, ip));
      } catch (e) {
        if (!(e instanceof HostIdentificationError)) throw e;
        logger?.warn({ peer, nodeName, reason: e.message }, 'RequestGoalStates: cannot tell which host asks; answering FAILURE');
      }
    }
    // On-demand requests (a packet with no rule) are not served: FAILURE, as when NCM finds nothing.
    return alcor.HostRequestReply.fromPartial({
      formatVersion: 1,
      operationStatuses: request.stateRequests.map((r) => ({
        requestId: r.requestId,
        operationStatus: r.requestType === alcor.RequestType.AGENT_RESTARTED && pushed ? alcor.OperationStatus.SUCCESS : alcor.OperationStatus.FAILURE,
      })),
    });
  }

  const ncm = await startNcmServer(options.ncmHost ?? defaultHost, options.ncmPort ?? DEFAULT_NCM_PORT, requestGoalStates, logger);
  return {
    sink,
    ncmPort: ncm.port,
    pushes,
    faults,
    close: async () => {
      client.close();
      await ncm.close();
    },
  };
}
