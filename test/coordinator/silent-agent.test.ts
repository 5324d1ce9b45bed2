// An agent whose VM creates hang while it keeps heartbeating: the registry alone would never call
// it lost. The progress deadline does: the coordinator ends its stream (the agent registers
// again), its VMs wait, and once the creates move again the run completes with every VM made
// once. The real agent (hollow backend, its creates held at a gate) over real gRPC.
import { type Backend, createHollowBackend } from '@merak/agent';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { type InProcessCoordinator, startInProcessCoordinator } from '../fixtures/coordinator-in-process.js';
import { waitFor } from '../fixtures/processes.js';

let c: InProcessCoordinator;
let engine: ScenarioEngine;
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

const until = (what: string, check: () => boolean): Promise<void> => waitFor(check, 20_000, what);

beforeAll(async () => {
  c = await startInProcessCoordinator({
    prefix: 'merak-silent-', logger: pino({ level: 'silent' }), fanout: { progressDeadlineMs: 800, agentReturnTimeoutMs: 30_000 },
  });
  engine = c.engine;
  c.registry.on('connected', (a) => registrations.set(a.name, (registrations.get(a.name) ?? 0) + 1));
  const hollow = createHollowBackend();
  await c.startAgent('si-0');
  await c.startAgent('si-1', { backend: { ...hollow, executor: gated(hollow.executor) } });
  await c.waitForAgents(2);
});

afterAll(async () => {
  gate?.open();
  await c?.close();
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
    expect(c.agents.get('si-1')!.runner.vmCount).toBe(20);
    const kinds = done.report!.run!.timeline.map((e) => e.kind);
    expect(kinds).toContain('agent-stalled');
    expect(kinds).toContain('agent-back');
    engine.delete(created.id);
    await engine.settled(created.id);
    expect(engine.status(created.id)!.phase).toBe('deleted');
  });
});
