// What the OVN provider's tests share: a scenario context over a real store, and ovn-nbctl/-sbctl
// read-outs of what a scenario left in the databases.
import { randomUUID } from 'node:crypto';
import { pino } from 'pino';
import { Plan } from '../../coordinator/plan/index.js';
import type { ScenarioContext } from '../../coordinator/providers/provider.js';
import { parseScenario } from '../../coordinator/scenario/index.js';
import { Store } from '../../coordinator/store/store.js';
import type { OvnCentral } from '../fixtures/ovn-central.js';

export const logger = pino({ level: 'silent' });

/** A context as the engine makes it, for a scenario stored in `store` (its control-plane ids are kept there). */
export function contextOf(store: Store, yaml: string, hosts: readonly string[], opts: { id?: string; resumed?: boolean } = {}): ScenarioContext {
  const scenario = parseScenario(yaml);
  const id = opts.id ?? randomUUID();
  const row = store.listScenarios().find((r) => r.id === id)
    ?? store.insertScenario({ id, name: scenario.name, specJson: '{}', phase: 'network', error: '', createdAt: Date.now(), updatedAt: Date.now() });
  return { id, seq: row.seq, scenario, plan: new Plan(scenario, hosts, row.seq.toString(36)), logger, signal: new AbortController().signal, resumed: opts.resumed ?? false };
}

/** The values `ovn-nbctl --bare` printed, one per non-empty line. */
export const lines = (out: string): string[] => out.split('\n').map((l) => l.trim()).filter((l) => l !== '');

/** Names of the rows of `table` that carry external_ids merak-scenario=<id>. */
export function rowsOfScenario(c: OvnCentral, table: string, id: string): string[] {
  return lines(c.nbctl('--bare', `--columns=${table === 'ACL' ? 'match' : 'name'}`, 'find', table, `external_ids:merak-scenario=${id}`));
}

/** The names of a switch's ports. */
export const switchPorts = (c: OvnCentral, ls: string): string[] => lines(c.nbctl('lsp-list', ls)).map((l) => /\((.*)\)$/.exec(l)![1]!).sort();

export const NB_TABLES = ['Logical_Switch', 'Logical_Switch_Port', 'Logical_Router', 'Logical_Router_Port', 'Port_Group', 'ACL'] as const;

/** Everything of scenario `id` in NB, as "Table: name" (none after a teardown). */
export const nbRowsOf = (c: OvnCentral, id: string): string[] => NB_TABLES.flatMap((t) => rowsOfScenario(c, t, id).map((n) => `${t}: ${n}`));

/** The SB datapaths and port bindings northd made from a scenario's rows (their names carry `prefix`). */
export function sbRowsOf(c: OvnCentral, prefix: string): string[] {
  const datapaths = lines(c.sbctl('--bare', '--columns=external_ids', 'list', 'Datapath_Binding')).filter((l) => l.includes(prefix));
  const ports = lines(c.sbctl('--bare', '--columns=logical_port', 'list', 'Port_Binding')).filter((l) => l.includes(prefix));
  return [...datapaths, ...ports];
}

export async function waitUntil(check: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not so after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
