import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../scenario/index.js';
import { planScenario, selectPingPairs } from './index.js';

const hosts = (n: number): { name: string }[] => Array.from({ length: n }, (_, i) => ({ name: `vhost-${i}` }));
const scenario = (over: object = {}, vms = 100) =>
  parseScenario({ name: 'p', seed: 7, hosts: { count: 5 }, vpcs: [{ name: 'a', cidr: '10.0.0.0/8', subnets: [{ name: 's', cidr: '10.0.0.0/8', gateway: '10.0.0.3', vms }] }], ...over });

function countsByHost(plan: ReturnType<typeof planScenario>): number[] {
  return [...plan.byHost.values()].map((l) => l.length);
}

describe('planScenario', () => {
  it('allocates unique addresses from network+1, skipping the gateway, and unique MACs, names and ports', () => {
    const plan = planScenario(scenario({}, 100_000), hosts(10));
    const ips = new Set(plan.vms.map((v) => v.ip));
    expect(ips.size).toBe(100_000);
    expect(plan.vms.slice(0, 3).map((v) => v.ip)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.4']);
    expect(ips.has('10.0.0.3')).toBe(false);
    expect(new Set(plan.vms.map((v) => v.mac)).size).toBe(100_000);
    expect(new Set(plan.vms.map((v) => v.id)).size).toBe(100_000);
    expect(plan.vms.every((v) => v.portName.length <= 15 && v.id.length <= 64)).toBe(true);
  });

  it('never reuses a name across indexes, unlike v<i><j><k> (v1110 was both 1,11,0 and 11,1,0)', () => {
    const subnets = Array.from({ length: 12 }, (_, k) => ({ name: `s${k}`, cidr: `10.${k}.0.0/24`, vms: 12 }));
    const s = parseScenario({ name: 'n', hosts: { count: 1 }, vpcs: Array.from({ length: 12 }, (_, v) => ({ name: `v${v}`, cidr: `10.0.0.0/8`, subnets })) });
    const plan = planScenario(s, hosts(1));
    expect(new Set(plan.vms.map((v) => v.name)).size).toBe(plan.vms.length);
  });

  it('places uniformly (balanced to within 1), skewed (80% on 20% of hosts), and randomly but reproducibly', () => {
    expect(countsByHost(planScenario(scenario({}, 103), hosts(5)))).toEqual([21, 21, 21, 20, 20]);
    const skew = countsByHost(planScenario(scenario({ placement: { type: 'skew', vm_fraction: 0.8, host_fraction: 0.2 } }, 1000), hosts(10)));
    expect(skew[0]! + skew[1]!).toBe(800);
    const random = (seed: number) => planScenario(scenario({ seed, placement: { type: 'random' } }, 10_000), hosts(10));
    expect(countsByHost(random(7)).every((c) => c > 850 && c < 1150)).toBe(true);
    expect(random(7).vms).toEqual(random(7).vms);
    expect(random(8).vms.map((v) => v.host)).not.toEqual(random(7).vms.map((v) => v.host));
    const digest = (p: ReturnType<typeof planScenario>) => createHash('sha256').update(JSON.stringify(p.vms)).digest('hex');
    expect(digest(random(7))).toBe(digest(random(7)));
  });

  it('assigns explicit counts per host', () => {
    const plan = planScenario(scenario({ hosts: { names: ['vhost-0', 'vhost-1'] }, placement: { type: 'assign', hosts: { 'vhost-0': 30, 'vhost-1': 70 } } }), hosts(2));
    expect(countsByHost(plan)).toEqual([30, 70]);
  });

  it('schedules at the target rate, or as Poisson arrivals with the right mean', () => {
    const rps = planScenario(scenario({ schedule: { type: 'rps', rate: 50 } }), hosts(5));
    expect(rps.vms.map((v) => v.startOffsetMs).slice(0, 3)).toEqual([0, 20, 40]);
    const poisson = planScenario(scenario({ schedule: { type: 'random', rate: 100 } }, 20_000), hosts(5));
    const offsets = poisson.vms.map((v) => v.startOffsetMs);
    const meanGapMs = offsets[offsets.length - 1]! / (offsets.length - 1);
    // Mean of 20,000 exponential gaps with mean 10 ms: standard error ~0.07 ms.
    expect(meanGapMs).toBeGreaterThan(9.7);
    expect(meanGapMs).toBeLessThan(10.3);
  });

  it('plans a million VMs over ten thousand hosts', () => {
    const plan = planScenario(scenario({ hosts: { count: 10_000 } }, 1_000_000), hosts(10_000));
    expect(plan.vms.length).toBe(1_000_000);
    expect(countsByHost(plan).every((c) => c === 100)).toBe(true);
  }, 120_000);
});

describe('selectPingPairs', () => {
  it('takes every ordered pair in a small VPC, a sample in a big one, and cross-VPC isolation checks', () => {
    const s = parseScenario({
      name: 'q', hosts: { count: 2 }, test: { type: 'ping', pairs_per_vpc_limit: 10, sample_pairs: 25, cross_vpc_checks: 4 },
      vpcs: [
        { name: 'small', cidr: '10.1.0.0/24', subnets: [{ name: 's', cidr: '10.1.0.0/24', vms: 5 }] },
        { name: 'big', cidr: '10.1.0.0/16', subnets: [{ name: 's', cidr: '10.1.0.0/16', vms: 50 }] },
      ],
    });
    const pairs = selectPingPairs(s, planScenario(s, hosts(2)).vms);
    expect(pairs.filter((p) => p.expect === 'reach')).toHaveLength(5 * 4 + 25);
    expect(pairs.filter((p) => p.expect === 'isolated')).toHaveLength(4);
    expect(pairs.every((p) => p.src !== p.dst)).toBe(true);
  });
});
