import { agentV1 } from '@merak/proto';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { type NeighborVm, TunnelSets, type TunnelPort } from '../tunnel-sets/tunnel-sets.js';
import { Plan } from '../plan/index.js';
import { parseScenario } from '../scenario/index.js';
import type { LiveScenarios, ScenarioContext } from './provider.js';
import { standaloneControlPlane } from './provider-standalone.js';

const logger = pino({ level: 'silent' });
const ips: Record<string, string> = { h0: '198.51.100.1', h1: '198.51.100.2', h2: '198.51.100.3', h3: '198.51.100.4' };

/** Agents that record what they are told. */
function agents(): { calls: Map<string, agentV1.UpdateNeighborsRequest[]>; clientFor(h: string): TunnelPort } {
  const calls = new Map<string, agentV1.UpdateNeighborsRequest[]>();
  return {
    calls,
    clientFor: (h) => ({
      setTunnels: async (req) => ({ tunnels: req.tunnels.length, added: 0, removed: 0 }),
      updateTunnels: async (req) => ({ tunnels: req.upsert.length, added: 0, removed: 0 }),
      updateNeighbors: async (req) => {
        calls.set(h, [...(calls.get(h) ?? []), req]);
        return { neighbors: req.upsert.length, flows: 0, flowsAdded: 0, flowsRemoved: 0, micros: 1 };
      },
    }),
  };
}

const scenario = (name: string, hosts: number, vms: number, cidr: string, vni: number): ReturnType<typeof parseScenario> => {
  const s = parseScenario(`name: ${name}\nhosts: { count: ${hosts} }\nvpcs:\n  - { name: v, cidr: ${cidr}, subnets: [{ name: s, cidr: ${cidr}, vms: ${vms} }] }\n`);
  return { ...s, vpcs: s.vpcs.map((v) => ({ ...v, vni })) };
};

describe('standalone control plane: neighbor tables', () => {
  it('tells only the scenario’s vhosts, only its VMs; removes them at teardown; restores a returning vhost’s whole table', async () => {
    const a = agents();
    const tunnelSets = new TunnelSets({ clientFor: (h) => a.clientFor(h), underlayIp: (h) => ips[h], type: 'vxlan', logger });
    // Two scenarios: "one" on h0-h1 (VNI 1001), "two" on h2-h3 (VNI 1002).
    const plans = new Map([
      ['one', new Plan(scenario('one', 2, 6, '10.1.0.0/24', 1001), ['h0', 'h1'], '1')],
      ['two', new Plan(scenario('two', 2, 4, '10.2.0.0/24', 1002), ['h2', 'h3'], '2')],
    ]);
    const live: LiveScenarios = {
      liveVnis: () => new Map(),
      liveHosts: () => new Set([...plans.values()].flatMap((p) => [...p.hosts])),
      liveNeighbors: (hosts, opts) => {
        const out = new Map<string, NeighborVm[]>();
        for (const [id, plan] of plans) {
          if ((opts.only !== undefined && id !== opts.only) || id === opts.except) continue;
          for (let i = 0; i < plan.total; i++) {
            const vm = plan.vm(i);
            for (const h of plan.hosts) if (hosts.has(h)) out.set(h, [...(out.get(h) ?? []), { vni: vm.vni, ip: vm.ip, mac: vm.mac, host: vm.host }]);
          }
        }
        return out;
      },
    };
    const cp = standaloneControlPlane({ tunnelSets, logger })(live);
    const ctx = (id: string): ScenarioContext => ({ id, seq: 1, scenario: plans.get(id)!.scenario, plan: plans.get(id)!, logger, signal: new AbortController().signal });

    await cp.setUp(ctx('one'));
    expect([...a.calls.keys()].sort()).toEqual(['h0', 'h1']);
    const toH0 = a.calls.get('h0')![0]!;
    expect(toH0.replace).toBe(false);
    expect(toH0.upsert).toHaveLength(6);
    // Every entry names the vhost of its VM by its underlay address.
    const plan = plans.get('one')!;
    expect(toH0.upsert).toEqual(Array.from({ length: 6 }, (_, i) => ({ vni: 1001, ip: plan.vm(i).ip, mac: plan.vm(i).mac, hostIp: ips[plan.vm(i).host] })));

    await cp.tearDown(ctx('one'));
    expect(a.calls.get('h1')![1]).toEqual({ upsert: [], remove: Array.from({ length: 6 }, (_, i) => ({ vni: 1001, ip: plan.vm(i).ip })), replace: false });
    expect(a.calls.has('h2')).toBe(false);

    // h3 registers again: it gets its whole table (scenario two's VMs), as a replace.
    cp.agentConnected?.('h3');
    const deadline = Date.now() + 5000;
    while (!a.calls.has('h3') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(a.calls.get('h3')).toEqual([{ upsert: expect.any(Array) as unknown, remove: [], replace: true }]);
    expect(a.calls.get('h3')![0]!.upsert.map((e) => e.vni)).toEqual([1002, 1002, 1002, 1002]);

    // h2 comes back with another underlay address: its peer h3 names it in its entries, so every
    // vhost gets its whole table again, with the new address.
    await cp.setUp(ctx('two'));
    a.calls.clear();
    ips.h2 = '198.51.100.22';
    cp.agentConnected?.('h2');
    while (!a.calls.has('h3') && Date.now() < deadline + 5000) await new Promise((r) => setTimeout(r, 20));
    expect([...a.calls.keys()].sort()).toEqual(['h0', 'h1', 'h2', 'h3']);
    const h3 = a.calls.get('h3')![0]!;
    expect(h3.replace).toBe(true);
    expect(new Set(h3.upsert.map((e) => e.hostIp))).toEqual(new Set(['198.51.100.22', '198.51.100.4']));
    ips.h2 = '198.51.100.3';
  });

  it('sends nothing in flood mode', async () => {
    const a = agents();
    const tunnelSets = new TunnelSets({ clientFor: (h) => a.clientFor(h), underlayIp: (h) => ips[h], type: 'vxlan', flood: true, logger });
    const out = await tunnelSets.updateNeighbors(new Map([['h0', { upsert: [{ vni: 1, ip: '10.0.0.2', mac: '02:00:00:00:00:02', host: 'h1' }], remove: [], replace: false }]]));
    expect(out).toMatchObject({ told: 0, entries: 0 });
    expect(a.calls.size).toBe(0);
  });
});
