// Which pairs the ping test checks: every ordered pair inside a VPC up to a limit, a seeded sample
// beyond it, and pairs across VPCs that must NOT reach each other.
import type { Scenario } from '../scenario/index.js';
import type { PlannedVm } from './planner.js';
import { mulberry32 } from './random.js';

export interface PingPair {
  readonly src: string;
  readonly dst: string;
  readonly dstIp: string;
  readonly expect: 'reach' | 'isolated';
}

export function selectPingPairs(s: Scenario, vms: readonly PlannedVm[]): PingPair[] {
  if (s.test.kind !== 'ping') return [];
  const test = s.test;
  const rnd = mulberry32(s.seed ^ 0x9a115);
  const byVpc = new Map<string, PlannedVm[]>();
  for (const vm of vms) (byVpc.get(vm.vpc) ?? byVpc.set(vm.vpc, []).get(vm.vpc)!).push(vm);
  const pairs: PingPair[] = [];
  for (const members of byVpc.values()) {
    const n = members.length;
    if (n < 2) continue;
    if (n <= test.pairsPerVpcLimit) {
      for (const a of members) for (const b of members) if (a !== b) pairs.push({ src: a.id, dst: b.id, dstIp: b.ip, expect: 'reach' });
    } else {
      for (let k = 0; k < test.samplePairs; k++) {
        const a = members[Math.floor(rnd() * n)]!;
        let b = members[Math.floor(rnd() * (n - 1))]!;
        if (b === a) b = members[n - 1]!;
        pairs.push({ src: a.id, dst: b.id, dstIp: b.ip, expect: 'reach' });
      }
    }
  }
  const vpcs = [...byVpc.values()];
  if (vpcs.length >= 2) {
    for (let k = 0; k < test.crossVpcChecks; k++) {
      const i = Math.floor(rnd() * vpcs.length);
      const j = (i + 1 + Math.floor(rnd() * (vpcs.length - 1))) % vpcs.length;
      const a = vpcs[i]![Math.floor(rnd() * vpcs[i]!.length)]!;
      const b = vpcs[j]![Math.floor(rnd() * vpcs[j]!.length)]!;
      pairs.push({ src: a.id, dst: b.id, dstIp: b.ip, expect: 'isolated' });
    }
  }
  return pairs;
}
