// The scenario's `faults:` list: each fault's kind, when (at_s after the VMs' creation started, or
// after_ready N VMs), where (hosts: names, a count or a fraction, drawn with the scenario's seed)
// and for how long (for_s), with the knobs of the control-plane faults (rate, status, delay_ms).
// Every problem names its field (`faults[1].for_s`).
import { FAULT_KINDS, type FaultKindName, type FaultModel, type FaultTargets, type FaultTrigger, type HostSelection } from './model.js';
import { MAX_VMS, type Obj, type Reader } from './reader.js';

const FIELDS = ['kind', 'at_s', 'after_ready', 'hosts', 'for_s', 'rate', 'status', 'delay_ms'];
const VHOST_KINDS: readonly FaultKindName[] = ['agent-kill', 'vhost-isolate', 'ovs-restart'];
/** Faults that heal by themselves (a supervisor starts the process again): no duration to give. */
const SELF_HEALING: readonly FaultKindName[] = ['agent-kill', 'ovs-restart'];
const MAX_FAULTS = 100;
const MAX_S = 3600;

export interface FaultContext {
  readonly provider: 'standalone' | 'alcor' | 'ovn';
  readonly hosts: HostSelection;
  readonly totalVms: number;
}

export function parseFaults(r: Reader, root: Obj, ctx: FaultContext): FaultModel[] {
  const list = r.list(root, 'faults', '');
  if (list.length > MAX_FAULTS) r.issue('faults', `${list.length} faults exceed the limit of ${MAX_FAULTS}`);
  return list.slice(0, MAX_FAULTS).map((v, i) => parseFault(r, v, `faults[${i}]`, ctx));
}

function parseFault(r: Reader, v: unknown, path: string, ctx: FaultContext): FaultModel {
  const o = r.obj(v, path, FIELDS);
  if (!o) {
    if (v === undefined || v === null) r.issue(path, 'must be an object');
    return { kind: 'agent-kill', when: { kind: 'at', atMs: 0 }, hosts: { kind: 'count', count: 1 }, forMs: 0, rate: 0, status: 0, delayMs: 0 };
  }
  const p = `${path}.`;
  if (o.kind === undefined) r.issue(`${p}kind`, `is required (one of: ${FAULT_KINDS.join(', ')})`);
  const kind = (r.str(o, 'kind', p, 'agent-kill', FAULT_KINDS) ?? 'agent-kill') as FaultKindName;
  const when = parseWhen(r, o, p, ctx.totalVms);
  const onVhosts = VHOST_KINDS.includes(kind);
  let hosts: FaultTargets | undefined;
  if (onVhosts) hosts = parseTargets(r, o, p, ctx.hosts);
  else if (o.hosts !== undefined) r.issue(`${p}hosts`, `${kind} hits the control plane's calls, not vhosts: give no hosts`);
  let forMs = 0;
  if (SELF_HEALING.includes(kind)) {
    if (o.for_s !== undefined) r.issue(`${p}for_s`, `${kind} has no duration: its supervisor starts the process again`);
  } else {
    if (o.for_s === undefined) r.issue(`${p}for_s`, `is required for ${kind}`);
    forMs = Math.round(r.num(o, 'for_s', p, 1, (n) => n > 0 && n <= MAX_S, `a duration in seconds in (0, ${MAX_S}]`) * 1000);
  }
  const cp = kind === 'control-plane-errors' || kind === 'control-plane-delay';
  if (cp && ctx.provider !== 'alcor') r.issue(`${p}kind`, `${kind} goes through the HTTP proxy put between the agents and an HTTP control plane (provider: alcor); provider ${ctx.provider} has none`);
  for (const k of ['rate', 'status', 'delay_ms'] as const) {
    const usable = (k === 'rate' && cp) || (k === 'status' && kind === 'control-plane-errors') || (k === 'delay_ms' && kind === 'control-plane-delay');
    if (!usable && o[k] !== undefined) r.issue(`${p}${k}`, `is not a setting of ${kind}`);
  }
  const rate = cp ? r.num(o, 'rate', p, 1, (n) => n > 0 && n <= 1, 'a fraction of calls in (0, 1]') : 0;
  const status = kind === 'control-plane-errors' ? r.int(o, 'status', p, 503, 400, 599) : 0;
  if (kind === 'control-plane-delay' && o.delay_ms === undefined) r.issue(`${p}delay_ms`, 'is required for control-plane-delay');
  const delayMs = kind === 'control-plane-delay' ? r.int(o, 'delay_ms', p, 0, 1, 600_000) : 0;
  return { kind, when, hosts, forMs, rate, status, delayMs };
}

function parseWhen(r: Reader, o: Obj, p: string, totalVms: number): FaultTrigger {
  if (o.at_s !== undefined && o.after_ready !== undefined) {
    r.issue(`${p}at_s`, 'give at_s or after_ready, not both');
    return { kind: 'at', atMs: 0 };
  }
  if (o.after_ready !== undefined) {
    const vms = r.int(o, 'after_ready', p, 1, 1, MAX_VMS);
    if (vms > totalVms && totalVms > 0) r.issue(`${p}after_ready`, `${vms} VMs: the scenario asks for ${totalVms}, so it would never start`);
    return { kind: 'after-ready', vms };
  }
  if (o.at_s === undefined) r.issue(`${p}at_s`, 'is required (or after_ready)');
  return { kind: 'at', atMs: Math.round(r.num(o, 'at_s', p, 0, (n) => n >= 0 && n <= MAX_S, `seconds in 0..${MAX_S}`) * 1000) };
}

function parseTargets(r: Reader, o: Obj, p: string, scenarioHosts: HostSelection): FaultTargets {
  const path = `${p}hosts`;
  const h = r.obj(o.hosts, path, ['names', 'count', 'fraction']);
  if (!h) {
    if (o.hosts === undefined) r.issue(path, 'is required (names, count or fraction)');
    return { kind: 'count', count: 1 };
  }
  const given = ['names', 'count', 'fraction'].filter((k) => h[k] !== undefined);
  if (given.length !== 1) {
    r.issue(path, `give one of names, count or fraction${given.length > 1 ? `, not ${given.join(' and ')}` : ''}`);
    return { kind: 'count', count: 1 };
  }
  if (h.names !== undefined) {
    const names = r.list(h, 'names', `${path}.`).map((n, i) => {
      if (typeof n !== 'string' || n === '') r.issue(`${path}.names[${i}]`, 'must be a host name');
      else if (scenarioHosts.kind === 'names' && !scenarioHosts.names.includes(n)) r.issue(`${path}.names[${i}]`, `'${n}' is not one of the scenario's hosts.names`);
      return String(n);
    });
    if (names.length === 0) r.issue(`${path}.names`, 'is empty');
    if (new Set(names).size !== names.length) r.issue(`${path}.names`, 'names a host twice');
    return { kind: 'names', names };
  }
  if (h.count !== undefined) {
    const count = r.int(h, 'count', `${path}.`, 1, 1, 1_000_000);
    const limit = scenarioHosts.kind === 'count' ? scenarioHosts.count : scenarioHosts.kind === 'names' ? scenarioHosts.names.length : undefined;
    if (limit !== undefined && count > limit) r.issue(`${path}.count`, `${count} vhosts: the scenario runs on ${limit}`);
    return { kind: 'count', count };
  }
  return { kind: 'fraction', fraction: r.num(h, 'fraction', `${path}.`, 0.1, (n) => n > 0 && n <= 1, 'a fraction in (0, 1]') };
}
