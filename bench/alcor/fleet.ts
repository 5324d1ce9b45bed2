// The fleet child: N GoalState hosts on 127.0.0.1, each its own gRPC server. 'hollow': the agent's
// GoalStateHostAgent over the hollow data plane (what `--hollow --goalstate` runs, less the agent's
// other APIs); 'null': null receivers. Driven over the IPC channel (fleet-protocol.ts); exits when
// told to stop, on SIGTERM, or when the bench process goes away.
import { createHash } from 'node:crypto';
import { pino } from 'pino';
import { errorMessage } from '@merak/common';
import type { GoalStateHostAgent } from '../../agent/goalstate/host-agent.js';
import type { GoalStateServer } from '../../agent/goalstate/server.js';
import { type FromFleet, type HostReport, type PortTiming, type ToFleet, neighborLine } from './fleet-protocol.js';
import { loadGoalState } from './modules.js';
import { type NullReceiver, startNullReceiver } from './null-receiver.js';

interface HollowHost {
  readonly kind: 'hollow';
  readonly agent: GoalStateHostAgent;
  readonly server: GoalStateServer;
}
type Host = HollowHost | { readonly kind: 'null'; readonly receiver: NullReceiver };

// warn: the per-message info line would be this bench's main cost, and a fleet this size logs at warn.
// MERAK_BENCH_FLEET_LOG=debug shows what the host agents do (e.g. neighbors they do not program).
const logger = pino({ level: process.env.MERAK_BENCH_FLEET_LOG ?? 'warn' });
const hosts: Host[] = [];
let stopping = false;
let cpuSince = process.cpuUsage();

function send(m: FromFleet): void {
  process.send?.(m);
}

async function startHosts(receiver: 'hollow' | 'null', underlayIps: readonly string[]): Promise<number[]> {
  const gs = receiver === 'hollow' ? await loadGoalState() : undefined;
  const ports: number[] = [];
  // In slices: binding a thousand listeners at once buys nothing and floods the event loop.
  for (let i = 0; i < underlayIps.length; i += 50) {
    const slice = underlayIps.slice(i, i + 50);
    const started = await Promise.all(slice.map(async (ip): Promise<{ host: Host; port: number }> => {
      if (!gs) {
        const r = await startNullReceiver();
        return { host: { kind: 'null', receiver: r }, port: r.port };
      }
      const agent = new gs.hostAgent.GoalStateHostAgent({ dataPlane: new gs.hollow.HollowGoalStateDataPlane(new Set([ip])), logger });
      const server = await gs.server.startGoalStateServer('127.0.0.1:0', agent, logger);
      return { host: { kind: 'hollow', agent, server }, port: server.port };
    }));
    for (const s of started) {
      hosts.push(s.host);
      ports.push(s.port);
    }
  }
  return ports;
}

function report(h: Host): HostReport {
  if (h.kind === 'null') return { ports: [...h.receiver.received.keys()].map((portId) => ({ portId, vni: 0, state: 'received' })), neighbors: 0, neighborDigest: '' };
  const s = h.agent.snapshot();
  const lines = s.neighbors.map(neighborLine).sort();
  return {
    ports: s.ports.map((p) => ({ portId: p.portId, vni: p.vni, state: p.state })),
    neighbors: lines.length,
    neighborDigest: createHash('sha256').update(lines.join('\n')).digest('hex'),
  };
}

async function timing(h: Host | undefined, portId: string): Promise<PortTiming> {
  if (!h) return null;
  if (h.kind === 'null') {
    const at = h.receiver.received.get(portId);
    return at === undefined ? null : { receivedAtMs: at, appliedAtMs: at };
  }
  // Every PUT was answered after its host replied, so an applied port resolves at once.
  return h.agent.programmed(portId, { sinceMs: 0, timeoutMs: 1000 }).catch(() => null);
}

async function stopAll(): Promise<void> {
  await Promise.all(hosts.map((h) => (h.kind === 'null' ? h.receiver.close() : h.server.close(2000).then(() => h.agent.close()))));
  hosts.length = 0;
}

async function handle(m: ToFleet): Promise<void> {
  switch (m.kind) {
    case 'start':
      send({ kind: 'started', ports: await startHosts(m.receiver, m.hosts.map((h) => h.underlayIp)) });
      cpuSince = process.cpuUsage();
      return;
    case 'collect': {
      const cpu = process.cpuUsage(cpuSince);
      const timings = await Promise.all(m.ports.map((p) => timing(hosts[p.host], p.portId)));
      send({ kind: 'collected', hosts: hosts.map(report), timings, cpuMs: (cpu.user + cpu.system) / 1000 });
      return;
    }
    case 'neighbors':
      send({ kind: 'neighbors', lines: m.hosts.map((i) => { const h = hosts[i]; return h?.kind === 'hollow' ? h.agent.snapshot().neighbors.map(neighborLine).sort() : []; }) });
      return;
    case 'stop':
      await shutdown(0);
  }
}

async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stopAll();
  process.exit(code);
}

process.on('message', (m: ToFleet) => {
  handle(m).catch((e: unknown) => send({ kind: 'failed', error: errorMessage(e) }));
});
// The bench process went away (or asked us to go): nothing of the fleet may stay.
process.on('disconnect', () => void shutdown(0));
process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => undefined); // the bench process decides; a terminal's ^C reaches both
