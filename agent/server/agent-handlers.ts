// What the agent does for each call of its API, whatever carried the call: the gRPC Agent
// service (agent-service.ts) or the coordinator's registration stream (registration/). Validates
// at the edge, hands batches to the runner, maps results back; errors are thrown typed (MerakError)
// and become gRPC statuses in one place (status.ts).
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { InvalidArgumentError, mapBounded } from '@merak/common';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import { Pacer } from '../probe/pacer.js';
import type { PingOptions, PingTargetResult } from '../probe/pinger.js';
import type { VmExecutor } from '../vm/executor.js';
import { formatIpv4, parseIpv4 } from '@merak/common';
import type { VmResult, VmRunner } from '../vm/runner.js';
import type { NeighborChange, NeighborOutcome, PackedTunnels, TunnelConfig, TunnelDelta, TunnelOutcome } from '../overlay/index.js';
import { macBytes, parseMac } from '@merak/common';
import { type BatchLimits, MAX_VNI, validateApply } from '../vm/spec.js';

/** What Info answers; addresses, ovsVersion, datapathType and bridge are the backend's HostInfo. */
export interface AgentInfo {
  readonly vhost: string;
  readonly addresses: readonly { interface: string; address: string; mac: string }[];
  readonly ovsVersion: string;
  readonly datapathType: string;
  readonly bridge: string;
  readonly capacity: number;
  readonly agentVersion: string;
  readonly hollow: boolean;
  readonly underlayIp: string;
  readonly underlayMac: string;
  /** Where Alcor's GoalStateProvisioner is served (HOST:PORT); '' = not served. */
  readonly goalstateAddress: string;
}

export interface AgentHandlerDeps {
  readonly runner: VmRunner;
  readonly executor: VmExecutor;
  readonly limits: BatchLimits;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  /** Echoes per second this agent sends at most, over all its VMs (see probe/pacer.ts). */
  readonly pingRate: number;
  info(): Promise<AgentInfo>;
  ping(vm: string, targets: readonly string[], opts: PingOptions): Promise<PingTargetResult[]>;
  setTunnels(config: TunnelConfig): Promise<TunnelOutcome>;
  updateTunnels(delta: TunnelDelta): Promise<TunnelOutcome>;
  updateNeighbors(change: NeighborChange): Promise<NeighborOutcome>;
  /** A scenario's fault on this vhost (faults/fault-actions.ts). */
  injectFault(req: agentV1.InjectFaultRequest): Promise<agentV1.InjectFaultResponse>;
  /** This vhost's tunnel endpoint: skipped in a packed group (the coordinator sends a VNI's members alike to each). */
  readonly underlayIp?: string;
}

const STATUS: Record<VmResult['status'], agentV1.VmStatus> = {
  ready: agentV1.VmStatus.VM_STATUS_READY,
  failed: agentV1.VmStatus.VM_STATUS_FAILED,
  deleted: agentV1.VmStatus.VM_STATUS_DELETED,
  absent: agentV1.VmStatus.VM_STATUS_ABSENT,
};

export function toProtoResult(r: VmResult): agentV1.VmResult {
  return {
    id: r.id, name: r.name, status: STATUS[r.status],
    error: r.error ? { code: r.error.code, message: r.error.message, step: r.error.step } : undefined,
    ip: r.ip, prefixLength: r.prefixLength, mac: r.mac, portName: r.portName,
    steps: r.steps.map((s) => ({ step: s.step, micros: s.micros })), totalMicros: r.totalMicros, ofport: r.ofport,
    apiCalls: r.apiCalls.map((c) => ({ endpoint: c.endpoint, micros: c.micros, status: c.status, error: c.error })),
  };
}

const MAX_PING_COUNT = 100;
const MAX_PING_TIMEOUT_MS = 60_000;
// VMs pinging at once; more floods the bridge with ARP broadcasts (see pinger.ts).
const PING_PARALLELISM = 4;

function validatePing(req: agentV1.PingRequest): PingOptions {
  if (req.sources.length === 0) throw new InvalidArgumentError('sources', 'is empty');
  req.sources.forEach((s, i) => {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(s.vm)) throw new InvalidArgumentError(`sources[${i}].vm`, `'${s.vm}' is not a VM name`);
    s.targets.forEach((t, j) => {
      if (parseIpv4(t) === undefined) throw new InvalidArgumentError(`sources[${i}].targets[${j}]`, `'${t}' is not an IPv4 address`);
    });
  });
  const count = req.count === 0 ? 3 : req.count;
  if (count > MAX_PING_COUNT) throw new InvalidArgumentError('count', `${req.count} exceeds ${MAX_PING_COUNT}`);
  const timeoutMs = req.timeoutMs === 0 ? 1000 : req.timeoutMs;
  if (timeoutMs > MAX_PING_TIMEOUT_MS) throw new InvalidArgumentError('timeout_ms', `${req.timeoutMs} exceeds ${MAX_PING_TIMEOUT_MS}`);
  if (req.convergeMs > MAX_PING_TIMEOUT_MS) throw new InvalidArgumentError('converge_ms', `${req.convergeMs} exceeds ${MAX_PING_TIMEOUT_MS}`);
  return { count, intervalMs: req.intervalMs === 0 ? 100 : req.intervalMs, timeoutMs, convergeMs: req.convergeMs };
}

const MAX_TUNNELS = 65_536;

/** One tunnel of a request, checked; `field` names it ("tunnels[3]"), `seen` finds repeats. */
function validateTunnel(field: string, t: agentV1.Tunnel, seen: Map<string, string>): { remoteIp: string; vni: number; remoteMac: string } {
  validateKey(field, t, seen);
  const remoteMac = t.remoteMac === '' ? '' : parseMac(t.remoteMac);
  if (remoteMac === undefined || (remoteMac !== '' && ((macBytes(remoteMac)[0] ?? 0) & 1) === 1)) {
    throw new InvalidArgumentError(`${field}.remote_mac`, `'${t.remoteMac}' is not a unicast MAC address`);
  }
  return { remoteIp: t.remoteIp, vni: t.vni, remoteMac };
}

function validateKey(field: string, t: agentV1.TunnelKey, seen: Map<string, string>): void {
  const ip = parseIpv4(t.remoteIp);
  if (ip === undefined) throw new InvalidArgumentError(`${field}.remote_ip`, `'${t.remoteIp}' is not an IPv4 address`);
  const first = ip >>> 24;
  if (first === 0 || first === 127 || first >= 224) throw new InvalidArgumentError(`${field}.remote_ip`, `${t.remoteIp} is not a unicast address`);
  if (!Number.isInteger(t.vni) || t.vni < 1 || t.vni > MAX_VNI) throw new InvalidArgumentError(`${field}.vni`, `${t.vni} is outside 1..${MAX_VNI}`);
  const key = `${t.remoteIp}/${t.vni}`;
  const before = seen.get(key);
  if (before !== undefined) throw new InvalidArgumentError(field, `${t.remoteIp} VNI ${t.vni} is also ${before}`);
  seen.set(key, field);
}

function tunnelType(type: agentV1.TunnelType): TunnelConfig['type'] {
  switch (type) {
    case agentV1.TunnelType.TUNNEL_TYPE_VXLAN: return 'vxlan';
    case agentV1.TunnelType.TUNNEL_TYPE_GENEVE: return 'geneve';
    default: throw new InvalidArgumentError('type', `unknown tunnel type ${String(type)}`);
  }
}

function validateTunnels(req: agentV1.SetTunnelsRequest, own: string | undefined): TunnelConfig {
  let n = req.tunnels.length;
  for (const g of req.groups) n += Math.floor(g.remoteIpv4.length / 4);
  if (n > MAX_TUNNELS) throw new InvalidArgumentError('tunnels', `${n} tunnels exceed the limit of ${MAX_TUNNELS}`);
  const seen = new Map<string, string>();
  const tunnels = req.tunnels.map((t, i) => validateTunnel(`tunnels[${i}]`, t, seen));
  const vnis = new Map<number, number>();
  const groups = req.groups.map((g, i) => {
    const before = vnis.get(g.vni);
    if (before !== undefined) throw new InvalidArgumentError(`groups[${i}].vni`, `VNI ${g.vni} is also groups[${before}]`);
    vnis.set(g.vni, i);
    return validateGroup(`groups[${i}]`, g, seen, own === undefined ? undefined : parseIpv4(own));
  });
  return { type: tunnelType(req.type), tunnels, flood: req.flood, ...(groups.length > 0 && { groups }) };
}

/**
 * A packed group, checked as tunnels are (unicast addresses, each once, not in `tunnels` too,
 * unicast MACs) without making an object per tunnel: a set of 10,000 is 40 KB to check. This
 * vhost's own address (`own`) is skipped: a VNI's members are sent alike to each of them.
 */
function validateGroup(field: string, g: agentV1.TunnelGroup, seen: ReadonlyMap<string, string>, own: number | undefined): PackedTunnels {
  const n = g.remoteIpv4.length / 4;
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${field}.remote_ipv4`, `${g.remoteIpv4.length} bytes are not a whole number of 4-byte addresses`);
  if (g.remoteMac.length !== 0 && g.remoteMac.length !== 6 * n) throw new InvalidArgumentError(`${field}.remote_mac`, `${g.remoteMac.length} bytes for ${n} addresses (want ${6 * n}, or none)`);
  if (n > 0 && (!Number.isInteger(g.vni) || g.vni < 1 || g.vni > MAX_VNI)) throw new InvalidArgumentError(`${field}.vni`, `${g.vni} is outside 1..${MAX_VNI}`);
  const raw = new Uint32Array(n);
  const kept: number[] = [];
  for (let k = 0; k < n; k++) {
    const ip = g.remoteIpv4.readUInt32BE(4 * k);
    if (ip === own) continue;
    const first = ip >>> 24;
    if (first === 0 || first === 127 || first >= 224) throw new InvalidArgumentError(`${field}.remote_ipv4[${k}]`, `${formatIpv4(ip)} is not a unicast address`);
    if (g.remoteMac.length > 0 && (g.remoteMac[6 * k]! & 1) === 1) throw new InvalidArgumentError(`${field}.remote_mac[${k}]`, 'is not a unicast MAC address');
    const also = seen.size > 0 ? seen.get(`${formatIpv4(ip)}/${g.vni}`) : undefined;
    if (also !== undefined) throw new InvalidArgumentError(`${field}.remote_ipv4[${k}]`, `${formatIpv4(ip)} VNI ${g.vni} is also ${also}`);
    raw[k] = ip;
    kept.push(k);
  }
  // Sorted (the MACs with their addresses), then a repeat is next to its twin.
  const order = g.remoteMac.length > 0 || kept.length < n ? kept.sort((a, b) => raw[a]! - raw[b]!) : undefined;
  const ips = order ? Uint32Array.from(order, (k) => raw[k]!) : raw.sort();
  for (let k = 1; k < ips.length; k++) if (ips[k] === ips[k - 1]) throw new InvalidArgumentError(`${field}.remote_ipv4`, `${formatIpv4(ips[k]!)} is there twice`);
  const macs = order && g.remoteMac.length > 0 ? new Uint8Array(6 * order.length) : undefined;
  if (macs) order!.forEach((from, to) => macs.set(g.remoteMac.subarray(6 * from, 6 * from + 6), 6 * to));
  return { vni: g.vni, ips, macs };
}

/** A delta: the same checks per entry; a key both removed and upserted is refused (say one). */
function validateTunnelDelta(req: agentV1.UpdateTunnelsRequest): TunnelDelta {
  const n = req.upsert.length + req.remove.length;
  if (n > MAX_TUNNELS) throw new InvalidArgumentError('upsert', `${n} entries exceed the limit of ${MAX_TUNNELS}`);
  const seen = new Map<string, string>();
  const upsert = req.upsert.map((t, i) => validateTunnel(`upsert[${i}]`, t, seen));
  const remove = req.remove.map((k, i) => {
    validateKey(`remove[${i}]`, k, seen);
    return { remoteIp: k.remoteIp, vni: k.vni };
  });
  return { type: tunnelType(req.type), flood: req.flood, upsert, remove };
}

const MAX_NEIGHBORS = 1_000_000;

function unicastIpv4(field: string, text: string): void {
  const ip = parseIpv4(text);
  if (ip === undefined) throw new InvalidArgumentError(field, `'${text}' is not an IPv4 address`);
  const first = ip >>> 24;
  if (first === 0 || first === 127 || first >= 224) throw new InvalidArgumentError(field, `${text} is not a unicast address`);
}

function validateVni(field: string, vni: number): void {
  if (!Number.isInteger(vni) || vni < 1 || vni > MAX_VNI) throw new InvalidArgumentError(field, `${vni} is outside 1..${MAX_VNI}`);
}

/** The whole request is checked before anything changes; errors name the field. */
export function validateNeighbors(req: agentV1.UpdateNeighborsRequest): NeighborChange {
  const n = req.upsert.length + req.remove.length;
  if (n > MAX_NEIGHBORS) throw new InvalidArgumentError('upsert', `${n} entries exceed the limit of ${MAX_NEIGHBORS} per call`);
  if (req.replace && req.remove.length > 0) throw new InvalidArgumentError('remove', 'must be empty with replace (the table becomes exactly upsert)');
  const seen = new Map<string, number>();
  const upsert = req.upsert.map((e, i) => {
    validateVni(`upsert[${i}].vni`, e.vni);
    unicastIpv4(`upsert[${i}].ip`, e.ip);
    const mac = parseMac(e.mac);
    if (mac === undefined || ((macBytes(mac)[0] ?? 0) & 1) === 1) throw new InvalidArgumentError(`upsert[${i}].mac`, `'${e.mac}' is not a unicast MAC address`);
    unicastIpv4(`upsert[${i}].host_ip`, e.hostIp);
    const key = `${e.vni}/${e.ip}`;
    const before = seen.get(key);
    if (before !== undefined) throw new InvalidArgumentError(`upsert[${i}]`, `VNI ${e.vni} ${e.ip} is also upsert[${before}]`);
    seen.set(key, i);
    return { vni: e.vni, ip: e.ip, mac, hostIp: e.hostIp };
  });
  const remove = req.remove.map((k, i) => {
    validateVni(`remove[${i}].vni`, k.vni);
    if (parseIpv4(k.ip) === undefined) throw new InvalidArgumentError(`remove[${i}].ip`, `'${k.ip}' is not an IPv4 address`);
    return { vni: k.vni, ip: k.ip };
  });
  return { upsert, remove, replace: req.replace };
}

// Results that finish in the same turn of the event loop go out as one message, up to this many.
const RESULTS_PER_MESSAGE = 512;

export interface AgentHandlers {
  /** Runs a batch; `send` gets the results, several VMs to a message. Throws before anything runs on bad input. */
  apply(req: agentV1.ApplyRequest, send: (m: agentV1.ApplyResponse) => void, signal: AbortSignal): Promise<void>;
  listVms(): Promise<agentV1.ListVmsResponse>;
  ping(req: agentV1.PingRequest): Promise<agentV1.PingResponse>;
  info(): Promise<agentV1.InfoResponse>;
  setTunnels(req: agentV1.SetTunnelsRequest): Promise<agentV1.SetTunnelsResponse>;
  updateTunnels(req: agentV1.UpdateTunnelsRequest): Promise<agentV1.UpdateTunnelsResponse>;
  updateNeighbors(req: agentV1.UpdateNeighborsRequest): Promise<agentV1.UpdateNeighborsResponse>;
  injectFault(req: agentV1.InjectFaultRequest): Promise<agentV1.InjectFaultResponse>;
}

export function createAgentHandlers(deps: AgentHandlerDeps): AgentHandlers {
  const { runner, logger, metrics } = deps;
  const pacer = new Pacer(deps.pingRate);
  return {
    async apply(req, send, signal): Promise<void> {
      const batch = validateApply(req, deps.limits);
      const log = logger.child({ batch: Math.random().toString(36).slice(2, 10) });
      log.info({ operations: batch.operations.length, concurrency: batch.concurrency }, 'apply batch');
      const started = Date.now();
      let failed = 0;
      let pending: agentV1.VmResult[] = [];
      let flushQueued = false;
      const flush = (): void => {
        flushQueued = false;
        if (pending.length === 0) return;
        send({ results: pending });
        pending = [];
      };
      try {
        await runner.run(batch, (r) => {
          metrics.observe(r);
          if (r.status === 'failed') {
            failed++;
            log.warn({ vm: r.id, step: r.error?.step, code: r.error?.code }, r.error?.message ?? 'failed');
          }
          pending.push(toProtoResult(r));
          if (pending.length >= RESULTS_PER_MESSAGE) flush();
          else if (!flushQueued) {
            flushQueued = true;
            setImmediate(flush);
          }
        }, signal);
      } finally {
        flush();
      }
      log.info({ operations: batch.operations.length, failed, ms: Date.now() - started, cancelled: signal.aborted }, 'batch done');
    },

    async listVms() {
      const vms = await deps.executor.list();
      return { vms: vms.map((v) => ({ ...v, portKind: v.portKind === 'internal' ? agentV1.PortKind.PORT_KIND_INTERNAL : agentV1.PortKind.PORT_KIND_VETH })) };
    },

    async ping(req) {
      const opts = { ...validatePing(req), pace: () => pacer.next() };
      const results = await mapBounded(req.sources, PING_PARALLELISM, (s) => deps.ping(s.vm, s.targets, opts));
      return { results: results.flat() };
    },

    async info() {
      const i = await deps.info();
      return { ...i, addresses: [...i.addresses], vmCount: runner.vmCount };
    },

    async setTunnels(req) {
      return deps.setTunnels(validateTunnels(req, deps.underlayIp));
    },

    async updateTunnels(req) {
      return deps.updateTunnels(validateTunnelDelta(req));
    },

    async updateNeighbors(req) {
      const out = await deps.updateNeighbors(validateNeighbors(req));
      metrics.neighborUpdate(out);
      return out;
    },

    injectFault(req) {
      return deps.injectFault(req);
    },
  };
}
