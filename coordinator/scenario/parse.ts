// Parses a scenario (YAML or JSON text, or an object), fills defaults and validates it once, into
// a deeply frozen model. Every problem is collected with its field path; unknown keys are errors,
// so a typo is never silently ignored.
// The sections live beside this file: the field reader (reader.ts), the network (parse-network.ts),
// the provider sections (parse-providers.ts), the injected faults (parse-faults.ts).
import { parse as parseYaml } from 'yaml';
import {
  type HostSelection, type Placement, type Scenario, ScenarioValidationError, type Schedule, type TestSpec,
} from './model.js';
import { parseRouters, parseSecurityGroups, parseVpcs } from './parse-network.js';
import { parseFaults } from './parse-faults.js';
import { parseAlcor, parseOvn } from './parse-providers.js';
import { MAX_VMS, type Obj, Reader } from './reader.js';

export { ovsdbEndpointProblem } from './parse-providers.js';

function parseHosts(r: Reader, root: Obj): HostSelection {
  const o = r.obj(root.hosts, 'hosts', ['count', 'all', 'names']);
  if (!o) {
    if (root.hosts === undefined) r.issue('hosts', 'is required (count, all or names)');
    return { kind: 'all' };
  }
  if (o.names !== undefined) {
    const names = r.list(o, 'names', 'hosts.').map((n, i) => {
      if (typeof n !== 'string' || n === '') r.issue(`hosts.names[${i}]`, 'must be a host name');
      return String(n);
    });
    if (names.length === 0) r.issue('hosts.names', 'is empty');
    return { kind: 'names', names };
  }
  if (o.all === true) return { kind: 'all' };
  return { kind: 'count', count: r.int(o, 'count', 'hosts.', 1, 1, 1_000_000) };
}

function parsePlacement(r: Reader, root: Obj, totalVms: number): Placement {
  const o = r.obj(root.placement, 'placement', ['type', 'vm_fraction', 'host_fraction', 'hosts']) ?? {};
  const type = r.str(o, 'type', 'placement.', 'uniform', ['uniform', 'random', 'skew', 'assign']);
  if (type === 'skew') {
    const frac = (n: number): boolean => n > 0 && n <= 1;
    return {
      type,
      vmFraction: r.num(o, 'vm_fraction', 'placement.', 0.8, frac, 'a fraction in (0, 1]'),
      hostFraction: r.num(o, 'host_fraction', 'placement.', 0.2, frac, 'a fraction in (0, 1]'),
    };
  }
  if (type === 'assign') {
    const hosts = r.obj(o.hosts, 'placement.hosts', Object.keys((o.hosts as Obj | undefined) ?? {})) ?? {};
    const counts: Record<string, number> = {};
    let sum = 0;
    for (const h of Object.keys(hosts)) {
      counts[h] = r.int(hosts, h, 'placement.hosts.', 0, 0, MAX_VMS);
      sum += counts[h]!;
    }
    if (sum !== totalVms) r.issue('placement.hosts', `assigns ${sum} VMs, the subnets ask for ${totalVms}`);
    return { type, hosts: counts };
  }
  return { type: type === 'random' ? 'random' : 'uniform' };
}

function parseSchedule(r: Reader, root: Obj): Schedule {
  const o = r.obj(root.schedule, 'schedule', ['type', 'rate', 'concurrency']) ?? {};
  const type = r.str(o, 'type', 'schedule.', 'sequential', ['sequential', 'rps', 'random']);
  const concurrency = r.int(o, 'concurrency', 'schedule.', 16, 1, 4096);
  if (type === 'rps' || type === 'random') {
    if (o.rate === undefined) r.issue('schedule.rate', `is required for ${type}`);
    return { type, rate: r.num(o, 'rate', 'schedule.', 1, (n) => n > 0 && n <= 1e7, 'a rate > 0'), concurrency };
  }
  return { type: 'sequential', concurrency };
}

function parseTest(r: Reader, root: Obj): TestSpec {
  if (root.test === 'none') return { kind: 'none' };
  const o = r.obj(root.test, 'test', ['type', 'pairs_per_vpc_limit', 'sample_pairs', 'count', 'timeout_ms', 'converge_ms', 'cross_vpc_checks']) ?? {};
  const type = r.str(o, 'type', 'test.', 'ping', ['ping', 'none']);
  if (type === 'none') return { kind: 'none' };
  return {
    kind: 'ping',
    pairsPerVpcLimit: r.int(o, 'pairs_per_vpc_limit', 'test.', 100, 2, 10_000),
    samplePairs: r.int(o, 'sample_pairs', 'test.', 1000, 1, 1_000_000),
    count: r.int(o, 'count', 'test.', 3, 1, 100),
    timeoutMs: r.int(o, 'timeout_ms', 'test.', 2000, 100, 60_000),
    convergeMs: r.int(o, 'converge_ms', 'test.', 5000, 0, 60_000),
    crossVpcChecks: r.int(o, 'cross_vpc_checks', 'test.', 10, 0, 1_000_000),
  };
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

export function parseScenario(input: string | object, opts: { format?: 'yaml' | 'json' } = {}): Scenario {
  let raw: unknown = input;
  if (typeof input === 'string') {
    try {
      // YAML is a superset of JSON, so one parser reads both; `format: json` insists on JSON.
      raw = opts.format === 'json' ? JSON.parse(input) : parseYaml(input);
    } catch (e) {
      throw new ScenarioValidationError([{ path: '(document)', message: `not valid ${opts.format ?? 'YAML/JSON'}: ${(e as Error).message}` }]);
    }
  }
  const issues: { path: string; message: string }[] = [];
  const r = new Reader(issues);
  const root = r.obj(raw, '', ['name', 'seed', 'provider', 'alcor', 'ovn', 'hosts', 'vpcs', 'vm', 'placement', 'schedule', 'test', 'security_groups', 'routers', 'faults']);
  if (!root) throw new ScenarioValidationError(issues.length > 0 ? issues : [{ path: '(document)', message: 'must be an object' }]);
  const name = r.name(root, 'name', '');
  const seed = r.int(root, 'seed', '', 1, 0, 2 ** 31 - 1);
  const provider = r.str(root, 'provider', '', 'standalone', ['standalone', 'alcor', 'ovn']) as Scenario['provider'];
  const hosts = parseHosts(r, root);
  const vpcs = parseVpcs(r, root);
  const vmObj = r.obj(root.vm, 'vm', ['mtu', 'port_kind', 'ports']);
  // 1450: what fits in VXLAN or Geneve over a 1500-byte underlay (larger frames are dropped silently);
  // 1442 in OVN mode: OVN's Geneve carries a 8-byte option on top (58 bytes of headers in all).
  const vm = {
    mtu: r.int(vmObj, 'mtu', 'vm.', provider === 'ovn' ? 1442 : 1450, 576, 9000),
    portKind: r.str(vmObj, 'port_kind', 'vm.', provider === 'alcor' ? 'internal' : 'veth', ['veth', 'internal']) as 'veth' | 'internal',
  };
  r.int(vmObj, 'ports', 'vm.', 1, 1, 1);
  const securityGroups = parseSecurityGroups(r, root);
  const routers = parseRouters(r, root, vpcs);
  vpcs.forEach((v, i) => v.subnets.forEach((s, j) => s.securityGroups.forEach((g, k) => {
    if (!securityGroups.some((x) => x.name === g)) r.issue(`vpcs[${i}].subnets[${j}].security_groups[${k}]`, `'${g}' is not one of security_groups`);
  })));
  if (root.alcor !== undefined && provider !== 'alcor') r.issue('alcor', 'is only for provider: alcor');
  const alcor = provider === 'alcor' ? parseAlcor(r, root, name) : undefined;
  if (root.ovn !== undefined && provider !== 'ovn') r.issue('ovn', 'is only for provider: ovn');
  const ovn = provider === 'ovn' ? parseOvn(r, root) : undefined;
  if (provider === 'alcor' && vm.portKind !== 'internal') r.issue('vm.port_kind', "alcor mode uses OVS internal ports named tap<port id>, as Alcor's host agent expects");
  if (provider === 'standalone') {
    // Refused rather than ignored: nothing in standalone mode would apply them.
    if (securityGroups.length > 0) r.issue('security_groups', 'need a control plane that enforces them (provider: alcor or ovn); standalone mode has none');
    if (routers.length > 0) r.issue('routers', 'need a control plane (provider: alcor or ovn); in standalone mode a VPC is one broadcast domain and needs none');
  }
  const totalVms = vpcs.reduce((n, v) => n + v.subnets.reduce((m, s) => m + s.vms, 0), 0);
  if (totalVms === 0 && issues.length === 0) r.issue('vpcs', 'ask for no VMs');
  if (totalVms > MAX_VMS) r.issue('vpcs', `${totalVms} VMs exceed the limit of ${MAX_VMS}`);
  const placement = parsePlacement(r, root, totalVms);
  const schedule = parseSchedule(r, root);
  const test = parseTest(r, root);
  const faults = parseFaults(r, root, { provider, hosts, totalVms });
  if (issues.length > 0) throw new ScenarioValidationError(issues);
  return deepFreeze({ name, seed, provider, alcor, ovn, securityGroups, routers, hosts, vpcs, vm, placement, schedule, test, faults });
}
