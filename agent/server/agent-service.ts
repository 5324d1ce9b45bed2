// The gRPC Agent service: validates at the edge, hands batches to the runner, maps results back.
import { setMaxListeners } from 'node:events';
import type { ServerUnaryCall, ServerWritableStream, sendUnaryData } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import { agentV1 } from '@merak/proto';
import type { Logger } from 'pino';
import { InvalidArgumentError } from '../errors.js';
import type { AgentMetrics } from '../metrics/agent-metrics.js';
import type { PingOptions, PingTargetResult } from '../probe/pinger.js';
import type { VmExecutor } from '../vm/executor.js';
import { parseIpv4 } from '../vm/ipv4.js';
import type { VmResult, VmRunner } from '../vm/runner.js';
import { type BatchLimits, MAX_VNI, validateApply } from '../vm/spec.js';
import { statusError, toServiceError } from './status.js';

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
}

/** The whole set of overlay tunnels a vhost should have (SetTunnels replaces what it had). */
export interface TunnelConfig {
  readonly type: 'vxlan' | 'geneve';
  readonly tunnels: readonly { remoteIp: string; vni: number }[];
}

export interface TunnelOutcome {
  readonly tunnels: number;
  readonly added: number;
  readonly removed: number;
}

export interface AgentServiceDeps {
  readonly runner: VmRunner;
  readonly executor: VmExecutor;
  readonly limits: BatchLimits;
  readonly metrics: AgentMetrics;
  readonly logger: Logger;
  info(): Promise<AgentInfo>;
  ping(vm: string, targets: readonly string[], opts: PingOptions): Promise<PingTargetResult[]>;
  setTunnels(config: TunnelConfig): Promise<TunnelOutcome>;
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
  return { count, intervalMs: req.intervalMs === 0 ? 100 : req.intervalMs, timeoutMs };
}

const MAX_TUNNELS = 65_536;

function validateTunnels(req: agentV1.SetTunnelsRequest): TunnelConfig {
  if (req.tunnels.length > MAX_TUNNELS) throw new InvalidArgumentError('tunnels', `${req.tunnels.length} tunnels exceed the limit of ${MAX_TUNNELS}`);
  const seen = new Map<string, number>();
  const tunnels = req.tunnels.map((t, i) => {
    if (parseIpv4(t.remoteIp) === undefined) throw new InvalidArgumentError(`tunnels[${i}].remote_ip`, `'${t.remoteIp}' is not an IPv4 address`);
    if (!Number.isInteger(t.vni) || t.vni < 1 || t.vni > MAX_VNI) throw new InvalidArgumentError(`tunnels[${i}].vni`, `${t.vni} is outside 1..${MAX_VNI}`);
    const key = `${t.remoteIp}/${t.vni}`;
    const before = seen.get(key);
    if (before !== undefined) throw new InvalidArgumentError(`tunnels[${i}]`, `${t.remoteIp} VNI ${t.vni} is also tunnels[${before}]`);
    seen.set(key, i);
    return { remoteIp: t.remoteIp, vni: t.vni };
  });
  let type: TunnelConfig['type'];
  switch (req.type) {
    case agentV1.TunnelType.TUNNEL_TYPE_VXLAN: type = 'vxlan'; break;
    case agentV1.TunnelType.TUNNEL_TYPE_GENEVE: type = 'geneve'; break;
    default: throw new InvalidArgumentError('type', `unknown tunnel type ${String(req.type)}`);
  }
  return { type, tunnels };
}

// Results that finish in the same turn of the event loop go out as one message, up to this many.
const RESULTS_PER_MESSAGE = 512;

export function createAgentService(deps: AgentServiceDeps): agentV1.AgentServer {
  const { runner, logger, metrics } = deps;
  return {
    apply(call: ServerWritableStream<agentV1.ApplyRequest, agentV1.ApplyResponse>): void {
      let batch;
      try {
        batch = validateApply(call.request, deps.limits);
      } catch (e) {
        call.emit('error', toServiceError(e));
        return;
      }
      const abort = new AbortController();
      // One listener per worker waiting for its VM's scheduled time (up to the batch's concurrency).
      setMaxListeners(0, abort.signal);
      call.on('cancelled', () => abort.abort());
      const log = logger.child({ batch: Math.random().toString(36).slice(2, 10) });
      log.info({ operations: batch.operations.length, concurrency: batch.concurrency }, 'apply batch');
      const started = Date.now();
      let failed = 0;
      let pending: agentV1.VmResult[] = [];
      let flushQueued = false;
      const flush = (): void => {
        flushQueued = false;
        if (pending.length === 0) return;
        call.write({ results: pending });
        pending = [];
      };
      runner
        .run(batch, (r) => {
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
        }, abort.signal)
        .then(
          () => {
            flush();
            log.info({ operations: batch.operations.length, failed, ms: Date.now() - started }, 'batch done');
            call.end();
          },
          (e: unknown) => {
            flush();
            call.emit('error', toServiceError(e));
          },
        );
    },

    listVms(_call: ServerUnaryCall<agentV1.ListVmsRequest, agentV1.ListVmsResponse>, callback: sendUnaryData<agentV1.ListVmsResponse>): void {
      deps.executor.list().then(
        (vms) => callback(null, {
          vms: vms.map((v) => ({ ...v, portKind: v.portKind === 'internal' ? agentV1.PortKind.PORT_KIND_INTERNAL : agentV1.PortKind.PORT_KIND_VETH })),
        }),
        (e: unknown) => callback(toServiceError(e)),
      );
    },

    ping(call: ServerUnaryCall<agentV1.PingRequest, agentV1.PingResponse>, callback: sendUnaryData<agentV1.PingResponse>): void {
      let opts: PingOptions;
      try {
        opts = validatePing(call.request);
      } catch (e) {
        callback(toServiceError(e));
        return;
      }
      const sources = call.request.sources;
      const results: PingTargetResult[][] = [];
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < sources.length) {
          const i = next++;
          results[i] = await deps.ping(sources[i]!.vm, sources[i]!.targets, opts);
        }
      };
      Promise.all(Array.from({ length: Math.min(PING_PARALLELISM, sources.length) }, worker)).then(
        () => callback(null, { results: results.flat() }),
        (e: unknown) => callback(toServiceError(e)),
      );
    },

    info(_call: ServerUnaryCall<agentV1.InfoRequest, agentV1.InfoResponse>, callback: sendUnaryData<agentV1.InfoResponse>): void {
      deps.info().then(
        (i) => callback(null, { ...i, addresses: [...i.addresses], vmCount: runner.vmCount }),
        (e: unknown) => callback(toServiceError(e)),
      );
    },

    setTunnels(call: ServerUnaryCall<agentV1.SetTunnelsRequest, agentV1.SetTunnelsResponse>, callback: sendUnaryData<agentV1.SetTunnelsResponse>): void {
      let config: TunnelConfig;
      try {
        config = validateTunnels(call.request);
      } catch (e) {
        callback(toServiceError(e));
        return;
      }
      deps.setTunnels(config).then(
        (outcome) => callback(null, outcome),
        (e: unknown) => callback(e instanceof Error && e.message === 'unimplemented' ? statusError(status.UNIMPLEMENTED, 'tunnels are not supported by this agent') : toServiceError(e)),
      );
    },
  };
}
