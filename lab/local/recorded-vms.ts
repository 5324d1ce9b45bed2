// The VMs a vhost's agent made, found without the agent: the namespaces its OVSDB records
// (Interface external_ids vm-name), read from the running ovsdb-server or, when that is dead,
// straight from its database file; plus the namespaces its marked veths name (a VM caught
// between its veth and its OVS port).
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Vswitch } from '@merak/agent';
import { pino } from 'pino';

const silent = pino({ level: 'silent' });

type InterfaceRow = { external_ids: ['map', Array<[string, string]>] };

function vmNames(rows: ReadonlyArray<Readonly<Record<string, string>>>, vhost: string): string[] {
  return rows.filter((e) => e['merak-vhost'] === vhost && e['vm-name'] !== undefined).map((e) => e['vm-name']!);
}

/** From a running ovsdb-server. */
export async function vmsFromOvsdb(dbSocket: string, vhost: string): Promise<string[]> {
  const vswitch = await Vswitch.connect(dbSocket, 'br-int', vhost, silent);
  try {
    return vmNames((await vswitch.list()).map((r) => r.externalIds), vhost);
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

/** From the ownership mark (ifalias "merak vhost=V vm=ID ns=NAME") on veths in the vhost's namespace. */
export function vmsFromMarkedLinks(netns: string, vhost: string): string[] {
  let links: Array<{ ifalias?: string }>;
  try {
    links = JSON.parse(execFileSync('ip', ['-n', netns, '-j', 'link', 'show'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })) as Array<{ ifalias?: string }>;
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const l of links) {
    const m = /^merak vhost=(\S+) vm=\S+ ns=(\S+)$/.exec(l.ifalias ?? '');
    if (m && m[1] === vhost) out.push(m[2]!);
  }
  return out;
}
