// From a scenario and the hosts it runs on to every VM's address, host and start time.
// Deterministic: the same scenario, seed and hosts give the same plan. Compact: a plan is a few
// typed arrays (about 20 bytes a VM), and a VM's full description is computed when asked for, so
// a million-VM scenario is not a million objects kept alive.
import { createHash } from 'node:crypto';
import { formatIpv4, parseIpv4 } from '@merak/common';
import type { Scenario, SubnetModel, VpcModel } from '../scenario/index.js';
import { mulberry32 } from './random.js';

export interface PlannedVm {
  readonly index: number;
  readonly id: string;
  /** The VM's network namespace name (= its id: unique on the machine while the scenario lives). */
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
  /** The VPC's CIDR when it is wider than the subnet (reached on-link in standalone mode), else undefined. */
  readonly vpcRoute: { readonly destination: string; readonly prefixLength: number } | undefined;
}

/** One subnet of one VPC, with the VM indexes it holds. */
interface SubnetSlot {
  readonly vpcIndex: number;
  readonly subnetIndex: number;
  readonly vpc: VpcModel;
  readonly subnet: SubnetModel;
  readonly gateway: number;
  /** Global VM index of the subnet's j-th VM. */
  readonly members: Uint32Array;
}

export interface PlanOptions {
  /**
   * A short tag (a-z0-9, at most 6) unique among the coordinator's live scenarios: it makes port
   * names unique on a host that runs several scenarios. Default '0'.
   */
  readonly tag?: string;
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

const hex2 = (b: number): string => (b < 16 ? '0' : '') + b.toString(16);

export class Plan {
  readonly total: number;
  readonly hosts: readonly string[];
  /** VM index -> host index */
  readonly hostOf: Uint32Array;
  /** VM index -> start offset in ms */
  readonly offsets: Float64Array;
  private readonly slotOf: Uint32Array;
  private readonly indexInSlot: Uint32Array;
  private readonly slots: readonly SubnetSlot[];
  private readonly slotByKey: ReadonlyMap<string, SubnetSlot>;
  private readonly macSalt: string;
  /** Every VM id starts with it: the scenario's name and a dash. */
  private readonly idPrefix: string;

  constructor(readonly scenario: Scenario, hosts: readonly string[], private readonly tag: string) {
    if (hosts.length === 0) throw new Error('a plan needs at least one host');
    if (!/^[a-z0-9]{1,6}$/.test(tag)) throw new Error(`plan tag '${tag}' is not 1-6 of a-z 0-9`);
    this.hosts = hosts;
    const slots = scenario.vpcs.flatMap((vpc, v) =>
      vpc.subnets.map((subnet, k) => ({ vpcIndex: v, subnetIndex: k, vpc, subnet, gateway: parseIpv4(subnet.gateway)!, members: new Uint32Array(subnet.vms) })),
    );
    this.slots = slots;
    this.slotByKey = new Map(slots.map((x) => [`${x.vpcIndex}-${x.subnetIndex}`, x]));
    const total = slots.reduce((n, x) => n + x.subnet.vms, 0);
    this.total = total;
    // Interleave subnets so every host gets a mix: round-robin over subnets until all are used.
    this.slotOf = new Uint32Array(total);
    this.indexInSlot = new Uint32Array(total);
    const next = new Uint32Array(slots.length);
    for (let i = 0; i < total; ) {
      for (let x = 0; x < slots.length && i < total; x++) {
        if (next[x]! >= slots[x]!.subnet.vms) continue;
        this.slotOf[i] = x;
        this.indexInSlot[i] = next[x]!;
        slots[x]!.members[next[x]!] = i;
        next[x]!++;
        i++;
      }
    }
    this.hostOf = place(scenario, total, hosts);
    this.offsets = schedule(scenario, total);
    this.idPrefix = `${scenario.name}-`;
    this.macSalt = hex2(createHash('sha1').update(scenario.name).digest()[0]!);
  }

  /** The full description of VM `i` (computed, not stored). */
  vm(i: number): PlannedVm {
    const slot = this.slots[this.slotOf[i]!]!;
    const j = this.indexInSlot[i]!;
    const sub = slot.subnet;
    // Addresses from network+1 upwards, skipping the gateway; parse.ts checked they fit, so the
    // broadcast address is never reached.
    let ipNum = sub.network + 1 + j;
    if (ipNum >= slot.gateway) ipNum += 1;
    const id = `${this.scenario.name}-${slot.vpcIndex}-${slot.subnetIndex}-${j}`;
    const vpcPrefix = slot.vpc.prefixLength;
    return {
      index: i, id, name: id, vpc: slot.vpc.name, subnet: sub.name, vni: slot.vpc.vni, ip: formatIpv4(ipNum >>> 0), prefixLength: sub.prefixLength,
      gateway: sub.gateway,
      mac: `02:${this.macSalt}:${hex2((i >>> 24) & 255)}:${hex2((i >>> 16) & 255)}:${hex2((i >>> 8) & 255)}:${hex2(i & 255)}`,
      host: this.hosts[this.hostOf[i]!]!,
      // 'm' + tag + the index in base 36: unique per scenario, <= 15 bytes (tag <= 6, index < 36^8).
      portName: `m${this.tag}${i.toString(36)}`,
      startOffsetMs: this.offsets[i]!,
      vpcRoute: vpcPrefix < sub.prefixLength ? { destination: slot.vpc.cidr.split('/')[0]!, prefixLength: vpcPrefix } : undefined,
    };
  }

  /** The VM index of an id this plan made, or undefined. */
  indexOf(id: string): number | undefined {
    // Called once per VM result: cut the id at its last two dashes rather than split it.
    const prefix = this.idPrefix;
    if (!id.startsWith(prefix)) return undefined;
    const last = id.lastIndexOf('-');
    const middle = id.lastIndexOf('-', last - 1);
    if (middle < prefix.length || id.indexOf('-', prefix.length) !== middle) return undefined;
    const slot = this.slotByKey.get(id.slice(prefix.length, last));
    const digits = id.slice(last + 1);
    const j = Number(digits);
    if (!slot || !Number.isInteger(j) || j < 0 || j >= slot.members.length || String(j) !== digits) return undefined;
    return slot.members[j];
  }

  /** Per host index, its VM indexes in start order (only the VMs `keep` accepts, when given). */
  byHost(keep?: (i: number) => boolean): Map<number, Uint32Array> {
    const counts = new Uint32Array(this.hosts.length);
    for (let i = 0; i < this.total; i++) if (!keep || keep(i)) counts[this.hostOf[i]!]!++;
    const lists = new Map<number, Uint32Array>();
    const fill = new Uint32Array(this.hosts.length);
    counts.forEach((n, h) => n > 0 && lists.set(h, new Uint32Array(n)));
    for (let i = 0; i < this.total; i++) {
      if (keep && !keep(i)) continue;
      const h = this.hostOf[i]!;
      lists.get(h)![fill[h]!++] = i;
    }
    // Offsets grow with the index for every schedule, so index order is start order.
    return lists;
  }

  /** The VNIs each host has VMs in. */
  vnisByHost(): Map<number, Set<number>> {
    const out = new Map<number, Set<number>>();
    for (let i = 0; i < this.total; i++) {
      const h = this.hostOf[i]!;
      const vni = this.slots[this.slotOf[i]!]!.vpc.vni;
      (out.get(h) ?? out.set(h, new Set()).get(h)!).add(vni);
    }
    return out;
  }

  /** VM indexes of each VPC (by VPC index). */
  membersOfVpc(v: number): Uint32Array[] {
    return this.slots.filter((x) => x.vpcIndex === v).map((x) => x.members);
  }

  /** Whether `ip` is the address of a VM of VPC `v` in this plan (arithmetic: allocation is sequential). */
  vpcHasIp(v: number, ip: number): boolean {
    for (const x of this.slots) {
      if (x.vpcIndex !== v) continue;
      const sub = x.subnet;
      const size = 2 ** (32 - sub.prefixLength);
      if (ip <= sub.network || ip >= sub.network + size || ip === x.gateway) continue;
      const j = ip - sub.network - 1 - (ip > x.gateway ? 1 : 0);
      if (j < sub.vms) return true;
    }
    return false;
  }
}

export function planScenario(s: Scenario, hosts: readonly string[], opts: PlanOptions = {}): Plan {
  return new Plan(s, hosts, opts.tag ?? '0');
}
