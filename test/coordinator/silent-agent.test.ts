// An agent whose VM creates hang while it keeps heartbeating: the registry alone would never call
// it lost. The progress deadline does: the coordinator ends its stream (the agent registers
// again), its VMs wait, and once the creates move again the run completes with every VM made
// once. The real agent (hollow backend, its creates held at a gate) over real gRPC.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { type Backend, type RunningAgent, createHollowBackend, parseAgentConfig, startAgent } from '@merak/agent';
import { coordinatorV1 } from '@merak/proto';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { DEFAULT_FANOUT } from '../../coordinator/fanout/fanout.js';
import { Overlay } from '../../coordinator/overlay/overlay.js';
import { standaloneControlPlane } from '../../coordinator/providers/provider-standalone.js';
import { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import { createCoordinatorService } from '../../coordinator/server/coordinator-service.js';
import { Store } from '../../coordinator/store/store.js';

const logger = pino({ level: 'silent' });
let dir = '';
let server: Server;
let store: Store;
let registry: AgentRegistry;
let engine: ScenarioEngine;
const agents: RunningAgent[] = [];
/** Creates on the silent agent wait here while it is closed. */
let gate: { open: () => void; opened: Promise<void> } | undefined;
const registrations = new Map<string, number>();

function closeGate(): void {
  let open = (): void => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  gate = { open, opened };
}

/** `inner` with each create held while the gate is closed. */
function gated(inner: Backend['executor']): Backend['executor'] {
  return {
    create: async (spec, timer, opts) => {
      if (gate) await gate.opened;
      return inner.create(spec, timer, opts);
    },
    delete: (ref, timer) => inner.delete(ref, timer),
    settle: (ports) => inner.settle(ports),
    list: () => inner.list(),
  };
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merak-silent-'));
  store = new Store(join(dir, 'state.db'));
  registry = new AgentRegistry({ minHeartbeatMs: 200 });
  registry.on('connected', (a) => registrations.set(a.name, (registrations.get(a.name) ?? 0) + 1));
  const overlay = new Overlay({ clientFor: (h) => registry.clientFor(h), underlayIp: () => undefined, type: 'vxlan', logger });
  engine = new ScenarioEngine({
    store, registry, logger, agents: registry, controlPlanes: { standalone: standaloneControlPlane({ overlay, logger }) },
    fanout: { ...DEFAULT_FANOUT, backoff: { initialMs: 20, maxMs: 100 }, progressDeadlineMs: 800, agentReturnTimeoutMs: 30_000 },
  });
  server = new Server();
  server.addService(coordinatorV1.CoordinatorService, createCoordinatorService(engine, registry));
  const sock = join(dir, 'c.sock');
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix:${sock}`, ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())));
  for (let i = 0; i < 2; i++) {
    const config = parseAgentConfig(
      ['--vhost', `si-${i}`, '--hollow', '--insecure', '--listen', `unix:${join(dir, `a${i}.sock`)}`, '--http', `unix:${join(dir, `h${i}.sock`)}`, '--coordinator', `unix:${sock}`],
      {},
    );
    if (config === 'help') throw new Error('unexpected');
    const hollow = createHollowBackend();
    agents.push(await startAgent(config, i === 1 ? { ...hollow, executor: gated(hollow.executor) } : hollow, logger));
  }
  await until('2 agents', () => registry.connected().length === 2);
});

afterAll(async () => {
  gate?.open();
  for (const a of agents) await a.stop(1000);
  await engine?.shutdown();
  server?.forceShutdown();
  registry?.close();
  store?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('an agent that heartbeats but answers nothing', () => {
  it('is dropped after the progress deadline, registers again, and its VMs are made once the creates move', async () => {
    closeGate();
    const created = engine.create(`
name: silent
hosts: { count: 2 }
vpcs: [{ name: vpc1, cidr: 10.1.0.0/16, subnets: [{ name: s1, cidr: 10.1.0.0/16, vms: 40 }] }]
placement: { type: uniform }
test: none
`);
    // Still connected by its heartbeats, yet dropped: its stream ended, it registered again.
    await until('si-1 registered again', () => (registrations.get('si-1') ?? 0) >= 2);
    await until('VMs waiting for si-1', () => engine.status(created.id)!.counts.waiting > 0);
    expect(engine.status(created.id)!.counts.ready).toBe(20);
    gate!.open();
    await engine.settled(created.id);
    const done = engine.status(created.id)!;
    expect(done.error).toBe('');
    expect(done.counts).toMatchObject({ requested: 40, ready: 40, failed: 0, pending: 0, waiting: 0 });
    expect(agents[1]!.runner.vmCount).toBe(20);
    const kinds = done.report!.run!.timeline.map((e) => e.kind);
    expect(kinds).toContain('agent-stalled');
    expect(kinds).toContain('agent-back');
    engine.delete(created.id);
    await engine.settled(created.id);
    expect(engine.status(created.id)!.phase).toBe('deleted');
  });
});
