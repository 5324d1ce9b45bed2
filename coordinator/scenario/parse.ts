// Parses a scenario (YAML or JSON text, or an object), fills defaults and validates it once, into
// a deeply frozen model. Every problem is collected with its field path; unknown keys are errors,
// so a typo is never silently ignored.
import { broadcastOf, formatIpv4, networkOf, parseIpv4 } from '@merak/agent';
import { parse as parseYaml } from 'yaml';
import { type HostSelection, type Placement, type Scenario, ScenarioValidationError, type Schedule, type SubnetModel, type TestSpec, type VpcModel } from './model.js';

type Obj = Record<string, unknown>;
const NAME = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;
const MAX_VMS = 10_000_000;

/** Reads fields of one object, recording issues against their paths. */
class Reader {
  constructor(readonly issues: { path: string; message: string }[]) {}

  obj(v: unknown, path: string, allowed: readonly string[]): Obj | undefined {
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) {
      this.issue(path, 'must be an object');
      return undefined;
    }
    for (const k of Object.keys(v)) if (!allowed.includes(k)) this.issue(path ? `${path}.${k}` : k, `unknown field (expected one of: ${allowed.join(', ')})`);
    return v as Obj;
  }

  issue(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  int(o: Obj | undefined, key: string, path: string, dflt: number, min: number, max: number): number {
    const v = o?.[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.issue(`${path}${key}`, `${JSON.stringify(v)} is not an integer in ${min}..${max}`);
      return dflt;
    }
    return v;
  }

  num(o: Obj | undefined, key: string, path: string, dflt: number, check: (n: number) => boolean, what: string): number {
    const v = o?.[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'number' || !check(v)) {
      this.issue(`${path}${key}`, `${JSON.stringify(v)} is not ${what}`);
      return dflt;
    }
    return v;
  }

  str(o: Obj | undefined, key: string, path: string, dflt: string | undefined, allowed?: readonly string[]): string | undefined {
    const v = o?.[key];
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || (allowed && !allowed.includes(v))) {
      this.issue(`${path}${key}`, allowed ? `${JSON.stringify(v)} is not one of: ${allowed.join(', ')}` : 'must be a string');
      return dflt;
    }
    return v;
  }

  name(o: Obj | undefined, key: string, path: string, dflt?: string): string {
    const v = this.str(o, key, path, dflt);
    if (v === undefined) {
      this.issue(`${path}${key}`, 'is required');
      return '';
    }
    if (!NAME.test(v)) this.issue(`${path}${key}`, `'${v}' is not a name (1-40 of a-z 0-9 -, starting and ending alphanumeric)`);
    return v;
  }

  list(o: Obj | undefined, key: string, path: string): unknown[] {
    const v = o?.[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) {
      this.issue(`${path}${key}`, 'must be a list');
      return [];
    }
    return v;
  }
}

function cidr(r: Reader, text: unknown, path: string): { network: number; prefixLength: number } | undefined {
  const m = typeof text === 'string' ? /^(.+)\/(\d{1,2})$/.exec(text) : null;
  const ip = m ? parseIpv4(m[1]!) : undefined;
  const prefixLength = m ? Number(m[2]) : NaN;
  if (!m || ip === undefined || prefixLength > 32) {
    r.issue(path, `${JSON.stringify(text)} is not an IPv4 CIDR`);
    return undefined;
  }
  if (networkOf(ip, prefixLength) !== ip) {
    r.issue(path, `${String(text)} has host bits set (did you mean ${formatIpv4(networkOf(ip, prefixLength))}/${prefixLength}?)`);
    return undefined;
  }
  return { network: ip, prefixLength };
}

function parseVpcs(r: Reader, root: Obj): VpcModel[] {
  const vpcs: VpcModel[] = [];
  const names = new Set<string>();
  const vnis = new Set<number>();
  r.list(root, 'vpcs', '').forEach((raw, i) => {
    const p = `vpcs[${i}].`;
    const o = r.obj(raw, `vpcs[${i}]`, ['name', 'cidr', 'vni', 'subnets']);
    if (!o) return;
    const name = r.name(o, 'name', p);
    if (names.has(name)) r.issue(`${p}name`, `'${name}' is used by another VPC`);
    names.add(name);
    const vpcNet = cidr(r, o.cidr, `${p}cidr`);
    const vni = r.int(o, 'vni', p, 1000 + i + 1, 1, 0xffffff);
    if (vnis.has(vni)) r.issue(`${p}vni`, `${vni} is used by another VPC`);
    vnis.add(vni);
    const subnets: SubnetModel[] = [];
    const inputIndex: number[] = []; // subnets[k] came from the input's subnets[inputIndex[k]]
    r.list(o, 'subnets', p).forEach((rawS, j) => {
      const sp = `${p}subnets[${j}].`;
      const s = r.obj(rawS, `${p}subnets[${j}]`, ['name', 'cidr', 'gateway', 'vms']);
      if (!s) return;
      const sname = r.name(s, 'name', sp, `subnet${j}`);
      const net = cidr(r, s.cidr, `${sp}cidr`);
      const vms = r.int(s, 'vms', sp, 0, 0, MAX_VMS);
      if (!net) return;
      if (net.prefixLength > 29) r.issue(`${sp}cidr`, `/${net.prefixLength} leaves no room for VMs (at most /29)`);
      if (vpcNet && (net.prefixLength < vpcNet.prefixLength || networkOf(net.network, vpcNet.prefixLength) !== vpcNet.network)) {
        r.issue(`${sp}cidr`, `${String(s.cidr)} is not inside the VPC's ${String(o.cidr)}`);
      }
      subnets.forEach((other, k) => {
        const shorter = Math.min(other.prefixLength, net.prefixLength);
        if (networkOf(other.network, shorter) === networkOf(net.network, shorter)) r.issue(`${sp}cidr`, `overlaps subnets[${inputIndex[k]}] ${other.cidr}`);
      });
      inputIndex.push(j);
      const first = net.network + 1;
      const gwText = r.str(s, 'gateway', sp, formatIpv4(first))!;
      const gw = parseIpv4(gwText);
      if (gw === undefined || networkOf(gw, net.prefixLength) !== net.network || gw === net.network || gw === broadcastOf(net.network, net.prefixLength)) {
        r.issue(`${sp}gateway`, `${gwText} is not a host address of ${String(s.cidr)}`);
      }
      const usable = 2 ** (32 - net.prefixLength) - 3; // minus network, broadcast, gateway
      if (vms > usable) r.issue(`${sp}vms`, `${vms} VMs do not fit: ${String(s.cidr)} has ${usable} usable addresses`);
      subnets.push({ name: sname, cidr: String(s.cidr), network: net.network, prefixLength: net.prefixLength, gateway: gwText, vms });
    });
    if (subnets.length === 0) r.issue(`${p}subnets`, 'needs at least one subnet');
    vpcs.push({ name, cidr: String(o.cidr), network: vpcNet?.network ?? 0, prefixLength: vpcNet?.prefixLength ?? 0, vni, vniAuto: o.vni === undefined, subnets });
  });
  if (vpcs.length === 0) r.issue('vpcs', 'needs at least one VPC');
  return vpcs;
}

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
  const o = r.obj(root.test, 'test', ['type', 'pairs_per_vpc_limit', 'sample_pairs', 'count', 'timeout_ms', 'cross_vpc_checks']) ?? {};
  const type = r.str(o, 'type', 'test.', 'ping', ['ping', 'none']);
  if (type === 'none') return { kind: 'none' };
  return {
    kind: 'ping',
    pairsPerVpcLimit: r.int(o, 'pairs_per_vpc_limit', 'test.', 100, 2, 10_000),
    samplePairs: r.int(o, 'sample_pairs', 'test.', 1000, 1, 1_000_000),
    count: r.int(o, 'count', 'test.', 3, 1, 100),
    timeoutMs: r.int(o, 'timeout_ms', 'test.', 2000, 100, 60_000),
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
  const root = r.obj(raw, '', ['name', 'seed', 'provider', 'hosts', 'vpcs', 'vm', 'placement', 'schedule', 'test', 'security_groups']);
  if (!root) throw new ScenarioValidationError(issues.length > 0 ? issues : [{ path: '(document)', message: 'must be an object' }]);
  const name = r.name(root, 'name', '');
  const seed = r.int(root, 'seed', '', 1, 0, 2 ** 31 - 1);
  const provider = r.str(root, 'provider', '', 'standalone', ['standalone', 'alcor']) as 'standalone' | 'alcor';
  if (provider === 'alcor') r.issue('provider', 'alcor is not available yet (standalone only)');
  const hosts = parseHosts(r, root);
  const vpcs = parseVpcs(r, root);
  const vmObj = r.obj(root.vm, 'vm', ['mtu', 'port_kind', 'ports']);
  const vm = { mtu: r.int(vmObj, 'mtu', 'vm.', 1500, 576, 9000), portKind: r.str(vmObj, 'port_kind', 'vm.', 'veth', ['veth', 'internal']) as 'veth' | 'internal' };
  r.int(vmObj, 'ports', 'vm.', 1, 1, 1);
  if (r.list(root, 'security_groups', '').length > 0) r.issue('security_groups', 'are not applied in standalone mode yet; remove them rather than have them ignored');
  const totalVms = vpcs.reduce((n, v) => n + v.subnets.reduce((m, s) => m + s.vms, 0), 0);
  if (totalVms === 0 && issues.length === 0) r.issue('vpcs', 'ask for no VMs');
  if (totalVms > MAX_VMS) r.issue('vpcs', `${totalVms} VMs exceed the limit of ${MAX_VMS}`);
  const placement = parsePlacement(r, root, totalVms);
  const schedule = parseSchedule(r, root);
  const test = parseTest(r, root);
  if (issues.length > 0) throw new ScenarioValidationError(issues);
  return deepFreeze({ name, seed, provider, hosts, vpcs, vm, placement, schedule, test });
}

/** Merak's own e2e: 5 hosts, VPC 10.1.0.0/16, one subnet with gateway 10.1.0.1, 50 VMs, ping test. */
export function defaultDemoScenario(): Scenario {
  return parseScenario({
    name: 'merak-e2e',
    hosts: { count: 5 },
    vpcs: [{ name: 'vpc1', cidr: '10.1.0.0/16', subnets: [{ name: 'subnet1', cidr: '10.1.0.0/16', gateway: '10.1.0.1', vms: 50 }] }],
    placement: { type: 'uniform' },
    schedule: { type: 'sequential' },
    test: { type: 'ping' },
  });
}
