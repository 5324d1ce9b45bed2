// The outside checks of a run, before anything is printed: every bound port is ACTIVE on its node
// in the server's state and held by its host (the hollow agent: applied, with its subnet's VNI; a
// null receiver: received), no host holds a port it should not, and (hollow) every host's neighbors
// are exactly the bound ports of its subnets on other hosts, as the server's state says they are.
// Neighbor sets are compared by a digest of their sorted lines (the fleet holds about a million at
// full size); a mismatch fetches the host's lines to say what is missing and what is extra.
import { createHash } from 'node:crypto';
import type { PortEntity } from '../../test/alcor/index.js';
import type { Fleet } from './fleet-client.js';
import { type HostReport, neighborLine } from './fleet-protocol.js';
import type { Network } from './load.js';
import type { Topology } from './topology.js';

const SAMPLE = 5;

function sample(list: readonly string[]): string {
  return `${list.slice(0, SAMPLE).join(', ')}${list.length > SAMPLE ? ` and ${list.length - SAMPLE} more` : ''}`;
}

/** Ports missing from the server or not ACTIVE on their node there. */
export function checkServerState(topo: Topology, ports: readonly PortEntity[]): string[] {
  const byId = new Map(ports.map((p) => [p.id, p]));
  const missing: string[] = [];
  const wrong: string[] = [];
  for (const p of topo.ports) {
    const s = byId.get(p.id);
    if (!s) missing.push(p.id);
    else if (s.status !== 'ACTIVE' || s['binding:host_id'] !== topo.hosts[p.host]!.name) wrong.push(`${p.id} (${s.status ?? 'no status'} on ${s['binding:host_id'] ?? 'no host'})`);
  }
  return [
    ...(missing.length > 0 ? [`${missing.length} ports missing from the server: ${sample(missing)}`] : []),
    ...(wrong.length > 0 ? [`${wrong.length} ports not ACTIVE on their node in the server: ${sample(wrong)}`] : []),
  ];
}

/** The ports each host should hold, and what it holds. */
export function checkHostPorts(topo: Topology, net: Network, reports: readonly HostReport[], hollow: boolean): string[] {
  const problems: string[] = [];
  if (reports.length !== topo.hosts.length) return [`the fleet reported ${reports.length} hosts, not ${topo.hosts.length}`];
  const expected = topo.hosts.map(() => new Map<string, number>());
  for (const p of topo.ports) expected[p.host]!.set(p.id, net.vnis[p.subnet]!);
  const absent: string[] = [];
  const wrong: string[] = [];
  const extra: string[] = [];
  reports.forEach((r, h) => {
    const held = new Map(r.ports.map((p) => [p.portId, p]));
    for (const [id, vni] of expected[h]!) {
      const got = held.get(id);
      if (!got) absent.push(`${id} on ${topo.hosts[h]!.name}`);
      else if (hollow && (got.state !== 'applied' || got.vni !== vni)) wrong.push(`${id} on ${topo.hosts[h]!.name}: ${got.state}, VNI ${got.vni} (want applied, VNI ${vni})`);
    }
    for (const id of held.keys()) if (!expected[h]!.has(id)) extra.push(`${id} on ${topo.hosts[h]!.name}`);
  });
  if (absent.length > 0) problems.push(`${absent.length} bound ports not ${hollow ? 'applied' : 'received'} on their host: ${sample(absent)}`);
  if (wrong.length > 0) problems.push(`${wrong.length} ports held wrong: ${sample(wrong)}`);
  if (extra.length > 0) problems.push(`${extra.length} ports held by a host they are not bound to: ${sample(extra)}`);
  return problems;
}

/** Each host's neighbor lines as NCM should have left them, from the server's state. */
export function expectedNeighbors(topo: Topology, net: Network, ports: readonly PortEntity[]): string[][] {
  const state = new Map(ports.map((p) => [p.id, p]));
  const bySubnet = new Map<number, Array<{ host: number; line: string }>>();
  for (const p of topo.ports) {
    const s = state.get(p.id);
    const ip = s?.fixed_ips?.[0]?.ip_address;
    if (!s || !ip || !s.mac_address) continue; // already a problem of checkServerState
    const list = bySubnet.get(p.subnet) ?? [];
    list.push({ host: p.host, line: neighborLine({ vni: net.vnis[p.subnet]!, ip, mac: s.mac_address, hostIp: topo.hosts[p.host]!.underlayIp }) });
    bySubnet.set(p.subnet, list);
  }
  const lines = topo.hosts.map(() => [] as string[]);
  for (const list of bySubnet.values()) {
    const hosts = new Set(list.map((x) => x.host));
    for (const h of hosts) for (const x of list) if (x.host !== h) lines[h]!.push(x.line);
  }
  return lines.map((l) => l.sort());
}

export async function checkNeighbors(topo: Topology, expected: readonly string[][], reports: readonly HostReport[], fleet: Fleet): Promise<string[]> {
  const off: number[] = [];
  expected.forEach((lines, h) => {
    const digest = createHash('sha256').update(lines.join('\n')).digest('hex');
    if (reports[h]!.neighbors !== lines.length || reports[h]!.neighborDigest !== digest) off.push(h);
  });
  if (off.length === 0) return [];
  const shown = off.slice(0, 3);
  const got = await fleet.ask({ kind: 'neighbors', hosts: shown }, 'neighbors');
  const details = shown.map((h, i) => {
    const have = new Set(got.lines[i]);
    const want = new Set(expected[h]);
    const missing = [...want].filter((l) => !have.has(l));
    const extra = [...have].filter((l) => !want.has(l));
    return `${topo.hosts[h]!.name}: ${want.size} expected, ${have.size} held; missing [${sample(missing)}]; extra [${sample(extra)}]`;
  });
  return [`${off.length} hosts do not hold exactly the neighbors NCM should have left them (VNI IP MAC host): ${details.join('; ')}`];
}
