import { EventEmitter } from 'node:events';
import { agentV1 } from '@merak/proto';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../scenario/index.js';
import { type ControlPlaneFaultSink, FaultInjector, type FaultPort } from './fault-injector.js';

const logger = pino({ level: 'silent' });
const hosts = ['h0', 'h1', 'h2'];
const scenario = (faults: object[], provider = 'standalone') => parseScenario({
  name: 'f', hosts: { count: 3 }, provider, ...(provider === 'alcor' ? { alcor: { url: 'http://127.0.0.1' } } : {}),
  vpcs: [{ name: 'v', cidr: '10.1.0.0/16', subnets: [{ name: 's', cidr: '10.1.0.0/24', vms: 30 }] }], faults,
});

/** Agents that take faults as a real one answers; a kill makes the agent register again after `backMs`. */
function fakeFleet(backMs = 30) {
  const events = new EventEmitter();
  const calls: Array<{ host: string; action: agentV1.FaultAction; forMs: number }> = [];
  const clientFor = (host: string): FaultPort => ({
    async injectFault(req) {
      calls.push({ host, action: req.action, forMs: req.forMs });
      if (req.action === agentV1.FaultAction.FAULT_ACTION_AGENT_KILL) setTimeout(() => events.emit('connected', { name: host }), backMs);
      return { detail: `done on ${host}`, pid: 1, backMs: req.action === agentV1.FaultAction.FAULT_ACTION_OVS_RESTART ? 40 : 0 };
    },
  });
  return { events, calls, agents: { clientFor } };
}

const run = (s: ReturnType<typeof scenario>, ready: { n: number }, acceptedAt = Date.now()) => ({
  id: 'r1', scenario: s, hosts, acceptedAt, readyVms: () => ready.n, stopped: () => false, event: () => undefined,
});

const plan = { total: 3, hosts, hostOf: [0, 1, 2], offsets: [0, 0, 0] };

describe('FaultInjector', () => {
  it('starts a fault at at_s and another once after_ready VMs are ready, follows a kill until the agent is back, and leaves one never due as not started', async () => {
    const fleet = fakeFleet();
    const injector = new FaultInjector({ ...fleet, proxy: undefined, logger });
    const ready = { n: 0 };
    const s = scenario([
      { kind: 'agent-kill', at_s: 0.05, hosts: { names: ['h1'] } },
      { kind: 'ovs-restart', after_ready: 5, hosts: { count: 2 } },
      { kind: 'vhost-isolate', after_ready: 30, for_s: 1, hosts: { count: 1 } },
    ]);
    injector.start(run(s, ready));
    await new Promise((r) => setTimeout(r, 300));
    expect(fleet.calls.map((c) => c.host)).toEqual(['h1']);
    ready.n = 5;
    await new Promise((r) => setTimeout(r, 300));
    expect(fleet.calls).toHaveLength(3);
    expect(fleet.calls.slice(1).every((c) => c.action === agentV1.FaultAction.FAULT_ACTION_OVS_RESTART)).toBe(true);
    await injector.settle('r1');
    const [kill, ovs, isolate] = injector.outcomes('r1', plan, () => [], Date.now())!;
    expect(kill).toMatchObject({ kind: 'agent-kill', targets: ['h1'], detail: expect.stringMatching(/^done on h1; back after 0\.\d s$/) });
    expect(kill!.endMs! - kill!.startMs).toBeGreaterThanOrEqual(25);
    expect(ovs!.targets).toHaveLength(2);
    expect(ovs!.endMs! - ovs!.startMs).toBeGreaterThanOrEqual(40);
    expect(ovs!.endMs! - ovs!.startMs).toBeLessThan(250);
    expect(isolate).toMatchObject({ kind: 'vhost-isolate', vmsWaited: 0, detail: 'not started: the VMs were all created before it was due' });
  });

  it('draws the same targets for the same seed', () => {
    const a = new FaultInjector({ ...fakeFleet(), proxy: undefined, logger });
    const s = scenario([{ kind: 'agent-kill', at_s: 100, hosts: { fraction: 0.5 } }]);
    a.start({ ...run(s, { n: 0 }), id: 'x' });
    a.start({ ...run(s, { n: 0 }), id: 'y' });
    void a.settle('x');
    void a.settle('y');
    const tx = a.outcomes('x', plan, () => [], Date.now())![0]!.targets;
    expect(tx).toHaveLength(2);
    expect(a.outcomes('y', plan, () => [], Date.now())![0]!.targets).toEqual(tx);
  });

  it('sets and lifts a control-plane rule on the proxy for for_s, and refuses control-plane faults without one', async () => {
    const seen: string[] = [];
    const proxy: ControlPlaneFaultSink = {
      set: (id, fault, rule) => { seen.push(`set ${id} ${fault} ${rule.status} ${rule.rate}`); },
      lift: (id, fault) => (seen.push(`lift ${id} ${fault}`), { calls: 10, hit: 4 }),
    };
    const s = scenario([{ kind: 'control-plane-errors', at_s: 0, for_s: 0.1, status: 500, rate: 0.4 }], 'alcor');
    expect(new FaultInjector({ ...fakeFleet(), proxy: undefined, logger }).check(s)).toEqual([
      { path: 'faults[0].kind', message: expect.stringMatching(/needs the coordinator's control-plane proxy/) },
    ]);
    const injector = new FaultInjector({ ...fakeFleet(), proxy, logger });
    expect(injector.check(s)).toEqual([]);
    injector.start(run(s, { n: 0 }));
    await new Promise((r) => setTimeout(r, 30));
    await injector.settle('r1');
    expect(seen).toEqual(['set r1 0 500 0.4', 'lift r1 0']);
    const [o] = injector.outcomes('r1', plan, () => [], Date.now())!;
    expect(o).toMatchObject({ kind: 'control-plane-errors', targets: [], detail: "HTTP 500 answered to 4 of 10 agents' control-plane calls (rate 0.4) for 0.1 s" });
    expect(o!.endMs! - o!.startMs).toBe(100);
  });

  it('a run that stops cuts a long fault short, and the proxy rule is still lifted', async () => {
    const seen: string[] = [];
    const proxy: ControlPlaneFaultSink = { set: () => { seen.push('set'); }, lift: () => (seen.push('lift'), { calls: 0, hit: 0 }) };
    const injector = new FaultInjector({ ...fakeFleet(), proxy, logger });
    let stopped = false;
    const s = scenario([{ kind: 'control-plane-delay', at_s: 0, for_s: 3600, delay_ms: 10 }, { kind: 'vhost-isolate', at_s: 0, for_s: 3600, hosts: { count: 1 } }], 'alcor');
    injector.start({ ...run(s, { n: 0 }), stopped: () => stopped });
    await new Promise((r) => setTimeout(r, 100));
    stopped = true;
    const t0 = Date.now();
    await injector.settle('r1');
    expect(Date.now() - t0).toBeLessThan(1000);
    expect(seen).toEqual(['set', 'lift']);
  });

  it('waits for a target whose agent is down, and records one that does not take faults, without failing', async () => {
    const fleet = fakeFleet();
    let h1Back = false;
    setTimeout(() => { h1Back = true; }, 400);
    const agents = { clientFor: (h: string): FaultPort | undefined => (h === 'h2' ? {} : h === 'h1' && !h1Back ? undefined : fleet.agents.clientFor(h)) };
    const injector = new FaultInjector({ agents, events: fleet.events, proxy: undefined, logger });
    injector.start(run(scenario([{ kind: 'vhost-isolate', at_s: 0, for_s: 0.1, hosts: { names: ['h0', 'h1', 'h2'] } }]), { n: 0 }));
    await injector.settle('r1');
    const [o] = injector.outcomes('r1', plan, () => [], Date.now())!;
    expect(fleet.calls.map((c) => c.host).sort()).toEqual(['h0', 'h1']);
    expect(o!.detail).toBe('done on h0; done on h1; not applied to 1 of 3 targets: h2: its agent does not take faults');
    // Lifted for_s after the last target was hit (h1, once its agent was back).
    expect(o!.endMs! - o!.startMs).toBeGreaterThanOrEqual(400 + 100 - 60);
  });
});
