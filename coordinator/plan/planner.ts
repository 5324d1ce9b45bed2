// From a scenario and the hosts it runs on to every VM's address, host and start time, and one
// plan per host. Deterministic: the same scenario, seed and hosts give the same plan.
import { createHash } from 'node:crypto';
import { formatIpv4, parseIpv4 } from '@merak/agent';
import type { Scenario } from '../scenario/index.js';
import { mulberry32 } from './random.js';

export interface PlannedVm {
  readonly id: string;
  readonly name: string;
  readonly vpc: string;
  readonly subnet: string;
  readonly vni: number;
  readonly ip: string;
  readonly prefixLength: number;
  readonly gateway: string;
  readonly mac: string;
  readonly host: string;
  readonly portName: string;
  readonly startOffsetMs: number;
}

export interface Plan {
  readonly vms: readonly PlannedVm[];
  /** host name -> its VMs in start order */
  readonly byHost: ReadonlyMap<string, readonly PlannedVm[]>;
}

function hash(text: string): Buffer {
  return createHash('sha1').update(text).digest();
}

/** Host index for each VM index, by the scenario's placement. */
function place(s: Scenario, total: number, hosts: readonly string[]): Uint32Array {
  const out = new Uint32Array(total);
  const h = hosts.length;
  const p = s.placement;
  if (p.type === 'uniform') {
    for (let i = 0; i < total; i++) out[i] = i % h;
  } else if (p.type === 'random') {
    const rnd = mulberry32(s.seed);
    for (let i = 0; i < total; i++) out[i] = Math.floor(rnd() * h);
  } else if (p.type === 'skew') {
    const hot = Math.max(1, Math.ceil(p.hostFraction * h));
    const hotVms = hot === h ? total : Math.round(p.vmFraction * total);
    for (let i = 0; i < total; i++) out[i] = i < hotVms ? i % hot : hot + ((i - hotVms) % (h - hot));
  } else {
    let i = 0;
    for (const [name, count] of Object.entries(p.hosts)) {
      const idx = hosts.indexOf(name);
      if (idx < 0) throw new Error(`placement.hosts: ${name} is not one of the scenario's hosts`);
      for (let k = 0; k < count; k++) out[i++] = idx;
    }
  }
  return out;
}

/** Start offset (ms after the scenario starts) for each VM index, by the scenario's schedule. */
function schedule(s: Scenario, total: number): Float64Array {
  const out = new Float64Array(total);
  const sch = s.schedule;
  if (sch.type === 'rps') for (let i = 0; i < total; i++) out[i] = (i * 1000) / sch.rate;
  else if (sch.type === 'random') {
    const rnd = mulberry32(s.seed ^ 0x5eed);
    let t = 0;
    for (let i = 0; i < total; i++) {
      out[i] = t;
      t += (-Math.log(1 - rnd()) * 1000) / sch.rate;
    }
  }
  return out;
}

/** `runTag` keeps two runs of one scenario apart on a machine (namespace names are global). */
export function planScenario(s: Scenario, hosts: readonly { name: string }[], runTag = ''): Plan {
  if (hosts.length === 0) throw new Error('a plan needs at least one host');
  const names = hosts.map((h) => h.name);
  // Interleave subnets so every host gets a mix: round-robin over subnets until all are used.
  const subnets = s.vpcs.flatMap((vpc, v) => vpc.subnets.map((sub, k) => ({ vpc, v, sub, k, next: 0 })));
  const order: Array<(typeof subnets)[number]> = [];
  const total = subnets.reduce((n, x) => n + x.sub.vms, 0);
  while (order.length < total) {
    for (const x of subnets) {
      if (x.next < x.sub.vms) {
        order.push(x);
        x.next++;
      }
    }
  }
  for (const x of subnets) x.next = 0;
  const hostOf = place(s, total, names);
  const offsets = schedule(s, total);
  const macSalt = hash(`${s.name}/${runTag}`)[0]!;
  const prefix = runTag ? `${s.name}-${runTag}` : s.name;
  const ports = new Set<string>();
  const vms: PlannedVm[] = new Array<PlannedVm>(total);
  for (let i = 0; i < total; i++) {
    const x = order[i]!;
    const index = x.next++;
    // Addresses from network+1 upwards, skipping the gateway; parse.ts checked they fit, so the
    // broadcast address is never reached.
    const gw = x.sub.gateway;
    let ipNum = x.sub.network + 1 + index;
    if (ipNum >= parseIpv4(gw)!) ipNum += 1;
    const id = `${prefix}-${x.v}-${x.k}-${index}`;
    let portName = `m${hash(id).toString('hex').slice(0, 14)}`;
    for (let salt = 1; ports.has(portName); salt++) portName = `m${hash(`${id}#${salt}`).toString('hex').slice(0, 14)}`;
    ports.add(portName);
    const m = [0x02, macSalt, (i >>> 24) & 255, (i >>> 16) & 255, (i >>> 8) & 255, i & 255];
    vms[i] = {
      id, name: id, vpc: x.vpc.name, subnet: x.sub.name, vni: x.vpc.vni, ip: formatIpv4(ipNum >>> 0), prefixLength: x.sub.prefixLength,
      gateway: gw, mac: m.map((b) => b.toString(16).padStart(2, '0')).join(':'), host: names[hostOf[i]!]!, portName, startOffsetMs: offsets[i]!,
    };
  }
  const byHost = new Map<string, PlannedVm[]>(names.map((n) => [n, []]));
  for (const vm of vms) byHost.get(vm.host)!.push(vm);
  for (const list of byHost.values()) list.sort((a, b) => a.startOffsetMs - b.startOffsetMs);
  return { vms, byHost };
}
