import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseScenario } from '../scenario/index.js';
import { type Plan, type PlannedVm, planScenario, selectPingPairs } from './index.js';

const hosts = (n: number): string[] => Array.from({ length: n }, (_, i) => `vhost-${i}`);
const scenario = (over: object = {}, vms = 100) =>
  parseScenario({ name: 'p', seed: 7, hosts: { count: 5 }, vpcs: [{ name: 'a', cidr: '10.0.0.0/8', subnets: [{ name: 's', cidr: '10.0.0.0/8', gateway: '10.0.0.3', vms }] }], ...over });
const all = (plan: Plan): PlannedVm[] => Array.from({ length: plan.total }, (_, i) => plan.vm(i));

function countsByHost(plan: Plan): number[] {
  const counts = new Array<number>(plan.hosts.length).fill(0);
  for (const [h, list] of plan.byHost()) counts[h] = list.length;
  return counts;
}

describe('planScenario', () => {
  it('allocates unique addresses from network+1, skipping the gateway, and unique MACs, names and ports', () => {
    const plan = planScenario(scenario({}, 100_000), hosts(10), { tag: 'zz9' });
    const vms = all(plan);
    const ips = new Set(vms.map((v) => v.ip));
    expect(ips.size).toBe(100_000);
    expect(vms.slice(0, 3).map((v) => v.ip)).toEqual(['10.0.0.1', '10.0.0.2', '10.0.0.4']);
    expect(ips.has('10.0.0.3')).toBe(false);
    expect(new Set(vms.map((v) => v.mac)).size).toBe(100_000);
    expect(new Set(vms.map((v) => v.id)).size).toBe(100_000);
    expect(new Set(vms.map((v) => v.portName)).size).toBe(100_000);
    expect(vms.every((v) => v.portName.length <= 15 && v.portName.startsWith('mzz9') && v.id.length <= 64)).toBe(true);
  });

  it('finds every VM again by its id, and nothing for ids it did not make', () => {
    const plan = planScenario(scenario({ vpcs: [{ name: 'a', cidr: '10.0.0.0/16', subnets: [{ name: 's', cidr: '10.0.0.0/24', vms: 30 }, { name: 't', cidr: '10.0.1.0/24', vms: 20 }] }] }), hosts(3));
    for (const vm of all(plan)) expect(plan.indexOf(vm.id)).toBe(vm.index);
    for (const bad of ['p-0-0-30', 'p-0-2-0', 'q-0-0-1', 'p-0-0-01', 'p-0-0', 'p-0-0-1-1']) expect(plan.indexOf(bad)).toBeUndefined();
  });

  it('gives VMs of a multi-subnet VPC an on-link route to the VPC, and none when the subnet is the VPC', () => {
    const multi = planScenario(scenario({ vpcs: [{ name: 'a', cidr: '10.0.0.0/16', subnets: [{ name: 's', cidr: '10.0.0.0/24', vms: 2 }, { name: 't', cidr: '10.0.1.0/24', vms: 2 }] }] }), hosts(1));
    expect(all(multi).map((v) => [v.subnet, v.ip, v.vpcRoute])).toEqual([
      ['s', '10.0.0.2', { destination: '10.0.0.0', prefixLength: 16 }], ['t', '10.0.1.2', { destination: '10.0.0.0', prefixLength: 16 }],
      ['s', '10.0.0.3', { destination: '10.0.0.0', prefixLength: 16 }], ['t', '10.0.1.3', { destination: '10.0.0.0', prefixLength: 16 }],
    ]);
    expect(planScenario(scenario({}, 2), hosts(1)).vm(0).vpcRoute).toBeUndefined();
  });

  it('never reuses a name across indexes, unlike v<i><j><k> (v1110 was both 1,11,0 and 11,1,0)', () => {
    const subnets = Array.from({ length: 12 }, (_, k) => ({ name: `s${k}`, cidr: `10.${k}.0.0/24`, vms: 12 }));
    const s = parseScenario({ name: 'n', hosts: { count: 1 }, vpcs: Array.from({ length: 12 }, (_, v) => ({ name: `v${v}`, cidr: `10.0.0.0/8`, subnets })) });
    const vms = all(planScenario(s, hosts(1)));
    expect(new Set(vms.map((v) => v.name)).size).toBe(vms.length);
  });

  it('places uniformly (balanced to within 1), skewed (80% on 20% of hosts), and randomly but reproducibly', () => {
    expect(countsByHost(planScenario(scenario({}, 103), hosts(5)))).toEqual([21, 21, 21, 20, 20]);
    const skew = countsByHost(planScenario(scenario({ placement: { type: 'skew', vm_fraction: 0.8, host_fraction: 0.2 } }, 1000), hosts(10)));
    expect(skew[0]! + skew[1]!).toBe(800);
    const random = (seed: number) => planScenario(scenario({ seed, placement: { type: 'random' } }, 10_000), hosts(10));
    expect(countsByHost(random(7)).every((c) => c > 850 && c < 1150)).toBe(true);
    expect(all(random(7))).toEqual(all(random(7)));
    expect(all(random(8)).map((v) => v.host)).not.toEqual(all(random(7)).map((v) => v.host));
    const digest = (p: Plan) => createHash('sha256').update(JSON.stringify(all(p))).digest('hex');
    expect(digest(random(7))).toBe(digest(random(7)));
  });

  it('assigns explicit counts per host', () => {
    const plan = planScenario(scenario({ hosts: { names: ['vhost-0', 'vhost-1'] }, placement: { type: 'assign', hosts: { 'vhost-0': 30, 'vhost-1': 70 } } }), hosts(2));
    expect(countsByHost(plan)).toEqual([30, 70]);
    expect(() => planScenario(scenario({ placement: { type: 'assign', hosts: { 'vhost-7': 100 } } }), hosts(2))).toThrow(/vhost-7 is not one of the scenario's hosts/);
  });

  it('schedules at the target rate, or as Poisson arrivals with the right mean', () => {
    const rps = planScenario(scenario({ schedule: { type: 'rps', rate: 50 } }), hosts(5));
    expect(all(rps).map((v) => v.startOffsetMs).slice(0, 3)).toEqual([0, 20, 40]);
    const poisson = planScenario(scenario({ schedule: { type: 'random', rate: 100 } }, 20_000), hosts(5));
    const offsets = poisson.offsets;
    const meanGapMs = offsets[offsets.length - 1]! / (offsets.length - 1);
    // Mean of 20,000 exponential gaps with mean 10 ms: standard error ~0.07 ms.
    expect(meanGapMs).toBeGreaterThan(9.7);
    expect(meanGapMs).toBeLessThan(10.3);
  });

  it('plans a million VMs over ten thousand hosts in typed arrays', () => {
    const plan = planScenario(scenario({ hosts: { count: 10_000 } }, 1_000_000), hosts(10_000));
    expect(plan.total).toBe(1_000_000);
    expect(countsByHost(plan).every((c) => c === 100)).toBe(true);
    expect(plan.vm(999_999)).toMatchObject({ ip: '10.15.66.65', host: 'vhost-9999' });
  }, 120_000);
});

describe('selectPingPairs', () => {
  const s = parseScenario({
    name: 'q', hosts: { count: 2 }, test: { type: 'ping', pairs_per_vpc_limit: 10, sample_pairs: 25, cross_vpc_checks: 4 },
    vpcs: [
      { name: 'small', cidr: '10.1.0.0/24', subnets: [{ name: 's', cidr: '10.1.0.0/24', vms: 5 }] },
      { name: 'big', cidr: '10.1.0.0/16', subnets: [{ name: 's', cidr: '10.1.0.0/16', vms: 50 }] },
    ],
  });
  const plan = planScenario(s, hosts(2));

  it('takes every ordered pair in a small VPC, a sample in a big one, and cross-VPC isolation checks', () => {
    const pairs = selectPingPairs(plan, () => true);
    expect(pairs.filter((p) => p.expect === 'reach')).toHaveLength(5 * 4 + 25);
    expect(pairs.filter((p) => p.expect === 'isolated')).toHaveLength(4);
    expect(pairs.every((p) => p.src !== p.dst)).toBe(true);
  });

  it('never checks isolation against an address the source VPC also has (the VPCs overlap here)', () => {
    for (const p of selectPingPairs(plan, () => true).filter((x) => x.expect === 'isolated')) {
      const srcVpc = plan.vm(p.src).vpc;
      const sameIpInSrcVpc = Array.from({ length: plan.total }, (_, i) => plan.vm(i)).some((v) => v.vpc === srcVpc && v.ip === p.dstIp);
      expect(sameIpInSrcVpc).toBe(false);
    }
  });

  it('leaves out VMs that are not ready', () => {
    const pairs = selectPingPairs(plan, (i) => i % 2 === 0);
    expect(pairs.every((p) => p.src % 2 === 0 && p.dst % 2 === 0)).toBe(true);
  });

  it("targets the VMs' real addresses when the control plane chose them, and isolation never one the source VPC was given", () => {
    // As Alcor would: each VPC allocates from 10.1.0.10 on in its own order, unlike the plan; the
    // big VPC's first VM has no address (it failed), so it takes no part.
    const real = new Map<number, string>();
    for (const vpc of ['small', 'big']) {
      const members = Array.from({ length: plan.total }, (_, i) => i).filter((i) => plan.vm(i).vpc === vpc).reverse();
      members.forEach((i, k) => real.set(i, `10.1.0.${10 + k}`));
    }
    const failed = Array.from({ length: plan.total }, (_, i) => i).find((i) => plan.vm(i).vpc === 'big')!;
    real.delete(failed);
    const pairs = selectPingPairs(plan, () => true, (i) => real.get(i));
    expect(pairs.filter((p) => p.expect === 'reach')).toHaveLength(5 * 4 + 25);
    for (const p of pairs) {
      expect(p.dstIp).toBe(real.get(p.dst));
      expect([p.src, p.dst]).not.toContain(failed);
    }
    const isolated = pairs.filter((p) => p.expect === 'isolated');
    expect(isolated).toHaveLength(4);
    for (const p of isolated) {
      const srcVpc = plan.vm(p.src).vpc;
      const givenInSrcVpc = [...real].some(([i, ip]) => plan.vm(i).vpc === srcVpc && ip === p.dstIp);
      expect(givenInSrcVpc).toBe(false);
    }
  });
});
