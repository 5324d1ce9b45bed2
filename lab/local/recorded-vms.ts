// The VMs a vhost's agent made, found without the agent: the namespaces its OVSDB records
// (on its Interfaces, by the agent's ownership mark), read from the running ovsdb-server or,
// when that is dead, straight from its database file; plus the namespaces its marked veths name
// (a VM caught between its veth and its OVS port). The mark's format is the agent's
// (agent/vm/ownership.ts), read through @merak/agent.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Vswitch, ownerMark, parseVethAlias, recordedVmName, vmInterfaces } from '@merak/agent';
import { pino } from 'pino';

const silent = pino({ level: 'silent' });

type InterfaceRow = { external_ids: ['map', Array<[string, string]>] };

function vmNames(rows: ReadonlyArray<Readonly<Record<string, string>>>, vhost: string): string[] {
  return rows.map((e) => recordedVmName(e, vhost)).filter((name): name is string => name !== undefined);
}

/** From a running ovsdb-server. */
export async function vmsFromOvsdb(dbSocket: string, vhost: string): Promise<string[]> {
  const vswitch = await Vswitch.connect(dbSocket, 'br-int', ownerMark(vhost), silent);
  try {
    return vmNames((await vmInterfaces(vswitch, vhost).list()).map((r) => r.externalIds), vhost);
  } finally {
    vswitch.close();
  }
}

/** From the database file, with no server (ovsdb-tool query reads it read-only). */
export function vmsFromDbFile(dbFile: string, vhost: string): string[] {
  if (!existsSync(dbFile)) return [];
  const query = JSON.stringify(['Open_vSwitch', { op: 'select', table: 'Interface', where: [], columns: ['external_ids'] }]);
  const [result] = JSON.parse(execFileSync('ovsdb-tool', ['query', dbFile, query], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as [{ rows: InterfaceRow[] }];
  return vmNames(result.rows.map((r) => Object.fromEntries(r.external_ids[1])), vhost);
}

/** From the ownership mark (the ifalias naming the vhost, VM and namespace) on veths in the vhost's namespace. */
export function vmsFromMarkedLinks(netns: string, vhost: string): string[] {
  let links: Array<{ ifalias?: string }>;
  try {
    links = JSON.parse(execFileSync('ip', ['-n', netns, '-j', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Array<{ ifalias?: string }>;
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const l of links) {
    const owner = parseVethAlias(l.ifalias, vhost);
    if (owner) out.push(owner.name);
  }
  return out;
}
