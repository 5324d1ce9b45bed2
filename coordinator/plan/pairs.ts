// Which pairs the ping test checks: every ordered pair inside a VPC up to a limit, a seeded sample
// beyond it, and pairs across VPCs that must NOT reach each other. Only VMs `ready` accepts take
// part. An isolation pair's target address is never one that also exists in the source's own VPC
// (VPCs may overlap), so a reply could only have crossed VPCs. A VM's address is the plan's, or
// the one `ipOf` gives (a control plane that allocates addresses itself: the VM's real one).
import { parseIpv4 } from '@merak/common';
import type { Plan } from './planner.js';
import { mulberry32 } from './random.js';

export interface PingPair {
  /** VM indexes in the plan. */
  readonly src: number;
  readonly dst: number;
  readonly dstIp: string;
  readonly expect: 'reach' | 'isolated';
}

/**
 * `ipOf`: each VM's real address ('' or undefined = unknown: the VM takes no part); the plan's
 * addresses are used when it is omitted.
 */
export function selectPingPairs(plan: Plan, ready: (i: number) => boolean, ipOf?: (i: number) => string | undefined): PingPair[] {
  const s = plan.scenario;
  if (s.test.kind !== 'ping') return [];
  const test = s.test;
  const rnd = mulberry32(s.seed ^ 0x9a115);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rnd() * list.length)]!;
  const addressOf = ipOf ?? ((i: number): string => plan.vm(i).ip);
  // With real addresses, a VPC's addresses are those its VMs were given (any VM, ready or not).
  const realAddresses = ipOf ? s.vpcs.map((_, v) => {
    const set = new Set<string>();
    for (const slot of plan.membersOfVpc(v)) for (const i of slot) {
      const ip = ipOf(i);
      if (ip) set.add(ip);
    }
    return set;
  }) : undefined;
  const vpcHas = (v: number, ip: string): boolean => (realAddresses ? realAddresses[v]!.has(ip) : plan.vpcHasIp(v, parseIpv4(ip)!));
  const vpcs = s.vpcs.map((_, v) => {
    const members: number[] = [];
    for (const slot of plan.membersOfVpc(v)) for (const i of slot) if (ready(i) && addressOf(i)) members.push(i);
    return members;
  });
  const pairs: PingPair[] = [];
  for (const members of vpcs) {
    const n = members.length;
    if (n < 2) continue;
    if (n <= test.pairsPerVpcLimit) {
      for (const a of members) for (const b of members) if (a !== b) pairs.push({ src: a, dst: b, dstIp: addressOf(b)!, expect: 'reach' });
    } else {
      for (let k = 0; k < test.samplePairs; k++) {
        const a = pick(members);
        let b = members[Math.floor(rnd() * (n - 1))]!;
        if (b === a) b = members[n - 1]!;
        pairs.push({ src: a, dst: b, dstIp: addressOf(b)!, expect: 'reach' });
      }
    }
  }
  const populated = vpcs.map((m, v) => ({ m, v })).filter((x) => x.m.length > 0);
  if (populated.length >= 2) {
    // Bounded attempts: with heavily overlapping VPCs most candidates are discarded.
    for (let k = 0, tries = 0; k < test.crossVpcChecks && tries < test.crossVpcChecks * 20; tries++) {
      const i = Math.floor(rnd() * populated.length);
      const j = (i + 1 + Math.floor(rnd() * (populated.length - 1))) % populated.length;
      const a = pick(populated[i]!.m);
      const b = pick(populated[j]!.m);
      const dstIp = addressOf(b)!;
      if (vpcHas(populated[i]!.v, dstIp)) continue;
      pairs.push({ src: a, dst: b, dstIp, expect: 'isolated' });
      k++;
    }
  }
  return pairs;
}
