// After each create and each delete: every VM the coordinator's store says exists must be in the
// kernel (its namespace) and on exactly one vhost's OVS, and nothing else of the soak may be:
// no other namespace or link with its prefix, no OVS port beyond the vhost's own (as seen before
// the first cycle) and the VMs', no duplicated or unknown tunnel.
import { join } from 'node:path';
import { Store } from '@merak/coordinator';
import { namespacesWithPrefix, linksWithPrefix, run } from '../common/host-state.js';
import { type Soak, SoakError } from './context.js';

interface OvsInterface {
  readonly name: string;
  readonly type: string;
  readonly externalIds: Record<string, string>;
  readonly options: Record<string, string>;
}

/** Each vhost's own interfaces (bridges, patch ports, uplink), before any VM. */
export type Baseline = ReadonlyMap<string, ReadonlySet<string>>;

export interface CheckResult {
  readonly leaks: string[];
  readonly lost: string[];
  readonly duplicated: string[];
  /** VMs the store says exist. */
  readonly expected: number;
}

type OvsdbValue = string | number | boolean | [string, unknown];
const mapOf = (v: OvsdbValue): Record<string, string> =>
  Array.isArray(v) && v[0] === 'map' ? Object.fromEntries((v[1] as Array<[string, string]>).map(([k, x]) => [k, String(x)])) : {};

async function interfaces(dbSocket: string): Promise<OvsInterface[]> {
  const { stdout } = await run('ovs-vsctl', [`--db=unix:${dbSocket}`, '--timeout=20', '--format=json', '--columns=name,type,external_ids,options', 'list', 'Interface']);
  const table = JSON.parse(stdout) as { headings: string[]; data: OvsdbValue[][] };
  const col = (h: string): number => table.headings.indexOf(h);
  return table.data.map((row) => ({
    name: String(row[col('name')]), type: String(row[col('type')]),
    externalIds: mapOf(row[col('external_ids')]!), options: mapOf(row[col('options')]!),
  }));
}

const TUNNEL_TYPES = new Set(['vxlan', 'geneve', 'gre', 'stt']);
const isVmPort = (i: OvsInterface): boolean => i.externalIds['vm-name'] !== undefined;

function vhostsOf(s: Soak): Array<{ name: string; dbSocket: string; underlayIp: string }> {
  const state = s.m.state.readState(join(s.dir, s.m.record.EMULATION_DIR));
  if (!state) throw new SoakError(`no emulation recorded in ${s.dir}`);
  return state.vhosts.map((v) => ({ name: v.name, dbSocket: v.dbSocket, underlayIp: v.underlayIp }));
}

export async function takeBaseline(s: Soak): Promise<Baseline> {
  const out = new Map<string, Set<string>>();
  for (const v of vhostsOf(s)) out.set(v.name, new Set((await interfaces(v.dbSocket)).filter((i) => !isVmPort(i) && !TUNNEL_TYPES.has(i.type)).map((i) => i.name)));
  return out;
}

/**
 * The VMs the store says exist: the ready VMs of every scenario not deleted. The soak's scenarios
 * have one VPC with one subnet, so VM i is named <scenario>-0-0-<i> (coordinator/plan/planner.ts).
 */
function storedVms(s: Soak): Set<string> {
  const record = s.m.record.readLocalRecord(s.dir);
  if (!record) throw new SoakError(`no emulation recorded in ${s.dir}`);
  const store = new Store(record.coordinatorLaunch.state);
  try {
    const names = new Set<string>();
    for (const sc of store.listScenarios()) {
      if (sc.phase === 'deleted') continue;
      for (const [index, phase] of store.resultPhases(sc.seq)) if (phase === 1) names.add(`${sc.name}-0-0-${index}`);
    }
    return names;
  } finally {
    store.close();
  }
}

export async function checkHosts(s: Soak, baseline: Baseline): Promise<CheckResult> {
  const expected = storedVms(s);
  const leaks: string[] = [];
  const lost: string[] = [];
  const duplicated: string[] = [];
  const vhosts = vhostsOf(s);
  const emulationNamespaces = new Set(vhosts.map((v) => v.name));
  const vmNamespaces = new Set<string>();
  for (const ns of await namespacesWithPrefix(s.prefix)) {
    if (emulationNamespaces.has(ns)) continue;
    if (expected.has(ns)) vmNamespaces.add(ns);
    else leaks.push(`namespace ${ns}`);
  }
  // The emulation's own links in this namespace: its bridge and the vhosts' underlay veths.
  const ownLink = new RegExp(`^${s.prefix}-(br|u\\d+)$`);
  for (const l of await linksWithPrefix(s.prefix)) if (!ownLink.test(l)) leaks.push(`link ${l}`);
  const portsOf = new Map<string, string[]>();
  const underlay = new Set(vhosts.map((v) => v.underlayIp));
  for (const v of vhosts) {
    const own = baseline.get(v.name) ?? new Set<string>();
    const tunnels = new Set<string>();
    for (const i of await interfaces(v.dbSocket)) {
      const vm = i.externalIds['vm-name'];
      if (vm !== undefined) {
        if (!expected.has(vm)) leaks.push(`OVS port ${i.name} of VM ${vm} on ${v.name}`);
        else portsOf.set(vm, [...(portsOf.get(vm) ?? []), `${v.name}/${i.name}`]);
      } else if (TUNNEL_TYPES.has(i.type)) {
        const peer = `${i.options.remote_ip ?? '?'} key ${i.options.key ?? '-'}`;
        if (!underlay.has(i.options.remote_ip ?? '') && i.options.remote_ip !== 'flow') leaks.push(`tunnel ${i.name} on ${v.name} to ${peer}, no vhost's`);
        if (tunnels.has(peer)) leaks.push(`tunnel ${i.name} on ${v.name}: a second one to ${peer}`);
        tunnels.add(peer);
      } else if (!own.has(i.name)) {
        leaks.push(`OVS port ${i.name} (${i.type || 'system'}) on ${v.name}, no VM's`);
      }
    }
  }
  for (const vm of expected) {
    const ports = portsOf.get(vm) ?? [];
    if (!vmNamespaces.has(vm)) lost.push(`VM ${vm}: no namespace`);
    else if (ports.length === 0) lost.push(`VM ${vm}: no OVS port`);
    if (ports.length > 1) duplicated.push(`VM ${vm}: ${ports.join(', ')}`);
  }
  return { leaks, lost, duplicated, expected: expected.size };
}
