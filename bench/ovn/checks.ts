// What a run made, checked from outside with OVS's and OVN's own tools (none of the bench's or
// Merak's code): every port ovn-installed on its vhost (ovs-vsctl), bound to its vhost's chassis
// (ovn-sbctl), the counts; after removal, nothing of the run anywhere.
import type { LocalEmulation } from '@merak/lab';
import { namespacesWithPrefix } from '../common/host-state.js';
import type { RunPlan } from './ports.js';
import { run } from './stop.js';

type Cell = string | number | boolean | [string, unknown];
interface Table {
  headings: string[];
  data: Cell[][];
}

const parse = (out: string): Table => JSON.parse(out) as Table;
const mapOf = (c: Cell | undefined): Record<string, string> => {
  if (Array.isArray(c) && c[0] === 'map') return Object.fromEntries((c[1] as Array<[string, string]>).map(([k, v]) => [k, v]));
  return {};
};
const uuidOf = (c: Cell | undefined): string => (Array.isArray(c) && c[0] === 'uuid' ? String(c[1]) : '');

/** iface-id -> ovn-installed, of the Interfaces of one vhost whose iface-id starts with `prefix`. */
async function interfacesOf(dbSocket: string, prefix: string): Promise<Map<string, string>> {
  const t = parse(await run('ovs-vsctl', [`--db=unix:${dbSocket}`, '--format=json', '--columns=external_ids', 'list', 'Interface']));
  const out = new Map<string, string>();
  for (const row of t.data) {
    const ids = mapOf(row[0]);
    const id = ids['iface-id'];
    if (id?.startsWith(prefix)) out.set(id, ids['ovn-installed'] ?? '');
  }
  return out;
}

/** logical_port -> chassis name ('' when unbound), of the SB's Port_Bindings whose name starts with `prefix`. */
async function bindingsOf(sb: string, prefix: string): Promise<Map<string, string>> {
  const chassis = parse(await run('ovn-sbctl', [`--db=${sb}`, '--timeout=30', '--format=json', '--columns=_uuid,name', 'list', 'Chassis']));
  const nameOf = new Map(chassis.data.map((r) => [uuidOf(r[0]), String(r[1])]));
  const pb = parse(await run('ovn-sbctl', [`--db=${sb}`, '--timeout=30', '--format=json', '--columns=logical_port,chassis', 'list', 'Port_Binding']));
  const out = new Map<string, string>();
  for (const row of pb.data) {
    const lp = String(row[0]);
    if (lp.startsWith(prefix)) out.set(lp, nameOf.get(uuidOf(row[1])) ?? '');
  }
  return out;
}

/** Names of NB's logical switch ports that start with `prefix`. */
async function nbPortsOf(nb: string, prefix: string): Promise<string[]> {
  const t = parse(await run('ovn-nbctl', [`--db=${nb}`, '--timeout=30', '--format=json', '--columns=name', 'list', 'Logical_Switch_Port']));
  return t.data.map((r) => String(r[0])).filter((n) => n.startsWith(prefix));
}

/** Problems of a made run (empty: every port installed on its vhost and bound to its chassis). */
export async function checkMade(em: LocalEmulation, plan: RunPlan): Promise<string[]> {
  const problems: string[] = [];
  const ovn = em.ovn!;
  const [ifaces, bindings, nbPorts] = await Promise.all([
    Promise.all(em.vhosts.map((vh) => interfacesOf(vh.dbSocket, plan.lspPrefix))),
    bindingsOf(ovn.sb, plan.lspPrefix),
    nbPortsOf(ovn.nb, plan.lspPrefix),
  ]);
  const notInstalled: string[] = [];
  const wrongChassis: string[] = [];
  for (const p of plan.ports) {
    const vh = em.vhosts[p.vhost]!;
    if (ifaces[p.vhost]!.get(p.lsp) !== 'true') notInstalled.push(`${p.lsp} (on ${vh.name}: ${ifaces[p.vhost]!.has(p.lsp) ? `ovn-installed=${ifaces[p.vhost]!.get(p.lsp) || 'absent'}` : 'no Interface'})`);
    const ch = bindings.get(p.lsp);
    if (ch !== vh.name) wrongChassis.push(`${p.lsp} (${ch === undefined ? 'no Port_Binding' : ch === '' ? 'unbound' : `on chassis ${ch}`}, expected ${vh.name})`);
  }
  const say = (what: string, list: string[]): void => {
    if (list.length > 0) problems.push(`${list.length} ports ${what}: ${list.slice(0, 5).join(', ')}${list.length > 5 ? ', …' : ''}`);
  };
  say('not ovn-installed on their vhost (ovs-vsctl)', notInstalled);
  say('not bound to their vhost\'s chassis (ovn-sbctl)', wrongChassis);
  const ifaceCount = ifaces.reduce((s, m) => s + m.size, 0);
  if (ifaceCount !== plan.ports.length) problems.push(`ovs-vsctl shows ${ifaceCount} Interfaces of the run over the vhosts, expected ${plan.ports.length}`);
  if (bindings.size !== plan.ports.length) problems.push(`ovn-sbctl shows ${bindings.size} Port_Bindings of the run, expected ${plan.ports.length}`);
  if (nbPorts.length !== plan.ports.length) problems.push(`ovn-nbctl shows ${nbPorts.length} logical switch ports of the run, expected ${plan.ports.length}`);
  return problems;
}

/** What is left of a removed run: NB ports, SB bindings, Interfaces, VM namespaces (empty: nothing). */
export async function leftOf(em: LocalEmulation, plan: RunPlan, vmNetnsPrefix: string): Promise<string[]> {
  const ovn = em.ovn!;
  const [ifaces, bindings, nbPorts, namespaces, switches] = await Promise.all([
    Promise.all(em.vhosts.map((vh) => interfacesOf(vh.dbSocket, plan.lspPrefix))),
    bindingsOf(ovn.sb, plan.lspPrefix),
    nbPortsOf(ovn.nb, plan.lspPrefix),
    namespacesWithPrefix(vmNetnsPrefix, run),
    run('ovn-nbctl', [`--db=${ovn.nb}`, '--timeout=30', '--bare', '--columns=name', 'find', 'Logical_Switch', `name=${plan.switchName}`]),
  ]);
  const left: string[] = [];
  const n = ifaces.reduce((s, m) => s + m.size, 0);
  if (n > 0) left.push(`${n} Interfaces`);
  if (bindings.size > 0) left.push(`${bindings.size} Port_Bindings`);
  if (nbPorts.length > 0) left.push(`${nbPorts.length} logical switch ports`);
  if (switches.trim() !== '') left.push(`logical switch ${plan.switchName}`);
  if (namespaces.length > 0) left.push(`${namespaces.length} VM namespaces (${namespaces.slice(0, 3).join(', ')})`);
  return left;
}
