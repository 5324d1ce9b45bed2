// Parses a scenario (YAML or JSON text, or an object), fills defaults and validates it once, into
// a deeply frozen model. Every problem is collected with its field path; unknown keys are errors,
// so a typo is never silently ignored.
import { broadcastOf, formatIpv4, networkOf, parseIpv4 } from '@merak/common';
import { parse as parseYaml } from 'yaml';
import { derivedUuid } from './derived-uuid.js';
import {
  ALCOR_SERVICES, type AlcorSettings, type HostSelection, type OvnSettings, type Placement, type RouterModel, type Scenario, type SecurityGroupModel,
  type SecurityGroupRuleModel, ScenarioValidationError, type Schedule, type SubnetModel, type TestSpec, type VpcModel,
} from './model.js';

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
    // An explicit VNI must not collide; a default one never does (the coordinator picks free ones).
    if (o.vni !== undefined) {
      if (vnis.has(vni)) r.issue(`${p}vni`, `${vni} is used by another VPC`);
      vnis.add(vni);
    }
    const subnets: SubnetModel[] = [];
    const inputIndex: number[] = []; // subnets[k] came from the input's subnets[inputIndex[k]]
    r.list(o, 'subnets', p).forEach((rawS, j) => {
      const sp = `${p}subnets[${j}].`;
      const s = r.obj(rawS, `${p}subnets[${j}]`, ['name', 'cidr', 'gateway', 'vms', 'security_groups']);
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
      const securityGroups = r.list(s, 'security_groups', sp).map((g, k) => {
        if (typeof g !== 'string' || g === '') r.issue(`${sp}security_groups[${k}]`, 'must be the name of one of security_groups');
        return String(g);
      });
      subnets.push({ name: sname, cidr: String(s.cidr), network: net.network, prefixLength: net.prefixLength, gateway: gwText, vms, securityGroups });
    });
    if (subnets.length === 0) r.issue(`${p}subnets`, 'needs at least one subnet');
    vpcs.push({ name, cidr: String(o.cidr), network: vpcNet?.network ?? 0, prefixLength: vpcNet?.prefixLength ?? 0, vni, vniAuto: o.vni === undefined, subnets });
  });
  if (vpcs.length === 0) r.issue('vpcs', 'needs at least one VPC');
  return vpcs;
}

function parseSecurityGroups(r: Reader, root: Obj): SecurityGroupModel[] {
  const names = new Set<string>();
  return r.list(root, 'security_groups', '').flatMap((raw, i) => {
    const p = `security_groups[${i}].`;
    const o = r.obj(raw, `security_groups[${i}]`, ['name', 'description', 'rules']);
    if (!o) return [];
    const name = r.name(o, 'name', p);
    if (name === 'default') r.issue(`${p}name`, "'default' is the group Alcor makes for every tenant itself");
    if (names.has(name)) r.issue(`${p}name`, `'${name}' is used by another security group`);
    names.add(name);
    const rules = r.list(o, 'rules', p).flatMap((rawR, k): SecurityGroupRuleModel[] => {
      const rp = `${p}rules[${k}].`;
      const ro = r.obj(rawR, `${p}rules[${k}]`, ['direction', 'ethertype', 'protocol', 'port_range_min', 'port_range_max', 'remote_ip_prefix']);
      if (!ro) return [];
      const protocol = r.str(ro, 'protocol', rp, undefined, ['tcp', 'udp', 'icmp']) as SecurityGroupRuleModel['protocol'];
      const min = ro.port_range_min === undefined ? undefined : r.int(ro, 'port_range_min', rp, 0, 0, 65535);
      const max = ro.port_range_max === undefined ? min : r.int(ro, 'port_range_max', rp, 0, 0, 65535);
      if ((min !== undefined || max !== undefined) && protocol !== 'tcp' && protocol !== 'udp') r.issue(`${rp}port_range_min`, 'ports need protocol tcp or udp');
      if (min !== undefined && max !== undefined && max < min) r.issue(`${rp}port_range_max`, `${max} is below port_range_min ${min}`);
      const prefix = r.str(ro, 'remote_ip_prefix', rp, undefined);
      if (prefix !== undefined) cidr(r, prefix, `${rp}remote_ip_prefix`);
      return [{
        direction: r.str(ro, 'direction', rp, 'ingress', ['ingress', 'egress']) as 'ingress' | 'egress',
        ethertype: r.str(ro, 'ethertype', rp, 'IPv4', ['IPv4', 'IPv6']) as 'IPv4' | 'IPv6',
        protocol, portRangeMin: min, portRangeMax: max, remoteIpPrefix: prefix,
      }];
    });
    return [{ name, description: r.str(o, 'description', p, '') ?? '', rules }];
  });
}

function parseRouters(r: Reader, root: Obj, vpcs: readonly VpcModel[]): RouterModel[] {
  const names = new Set<string>();
  const attached = new Map<string, string>();
  return r.list(root, 'routers', '').flatMap((raw, i) => {
    const p = `routers[${i}].`;
    const o = r.obj(raw, `routers[${i}]`, ['name', 'vpc', 'subnets']);
    if (!o) return [];
    const name = r.name(o, 'name', p);
    if (names.has(name)) r.issue(`${p}name`, `'${name}' is used by another router`);
    names.add(name);
    const vpcName = r.str(o, 'vpc', p, undefined) ?? '';
    const vpc = vpcs.find((v) => v.name === vpcName);
    if (!vpc) r.issue(`${p}vpc`, vpcName === '' ? 'is required' : `'${vpcName}' is not one of vpcs`);
    const subnets = r.list(o, 'subnets', p).map((sn, k) => {
      const text = String(sn);
      if (vpc && !vpc.subnets.some((s) => s.name === text)) r.issue(`${p}subnets[${k}]`, `'${text}' is not a subnet of VPC '${vpcName}'`);
      const key = `${vpcName}/${text}`;
      const other = attached.get(key);
      if (other !== undefined) r.issue(`${p}subnets[${k}]`, `'${text}' is attached to router '${other}' already (a subnet has one gateway)`);
      attached.set(key, name);
      return text;
    });
    if (subnets.length === 0) r.issue(`${p}subnets`, 'needs at least one subnet');
    return [{ name, vpc: vpcName, subnets }];
  });
}

function parseAlcor(r: Reader, root: Obj, name: string): AlcorSettings {
  const o = r.obj(root.alcor, 'alcor', ['url', 'endpoints', 'project_id', 'tenant_id', 'timeout_ms', 'retries', 'await_goalstate']) ?? {};
  const url = (field: string, v: unknown): string | undefined => {
    if (v === undefined) return undefined;
    let u: URL | undefined;
    try {
      u = typeof v === 'string' ? new URL(v) : undefined;
    } catch {
      u = undefined;
    }
    if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:')) {
      r.issue(field, `${JSON.stringify(v)} is not an http(s) URL`);
      return undefined;
    }
    return String(v).replace(/\/+$/, '');
  };
  const endpoints: Partial<Record<(typeof ALCOR_SERVICES)[number], string>> = {};
  const e = r.obj(o.endpoints, 'alcor.endpoints', ALCOR_SERVICES);
  for (const service of ALCOR_SERVICES) {
    const v = url(`alcor.endpoints.${service}`, e?.[service]);
    if (v !== undefined) endpoints[service] = v;
  }
  const id = (key: string, dflt: string): string => {
    const v = r.str(o, key, 'alcor.', dflt) ?? dflt;
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/.test(v)) r.issue(`alcor.${key}`, `'${v}' is not an id (1-64 of A-Z a-z 0-9 _ . -)`);
    return v;
  };
  const projectId = id('project_id', derivedUuid(`merak-project/${name}`));
  return {
    url: url('alcor.url', o.url),
    endpoints,
    projectId,
    tenantId: o.tenant_id === undefined ? projectId : id('tenant_id', projectId),
    timeoutMs: r.int(o, 'timeout_ms', 'alcor.', 20_000, 100, 600_000),
    retries: r.int(o, 'retries', 'alcor.', 3, 0, 10),
    awaitGoalState: flag('alcor.await_goalstate', o.await_goalstate, true),
  };

  function flag(field: string, v: unknown, dflt: boolean): boolean {
    if (v === undefined) return dflt;
    if (typeof v !== 'boolean') r.issue(field, `${JSON.stringify(v)} is not true or false`);
    return v === true;
  }
}

/** An OVSDB remote the coordinator can dial: `tcp:HOST:PORT` or `unix:PATH`; the problem, or undefined. */
export function ovsdbEndpointProblem(v: string): string | undefined {
  if (v.startsWith('unix:')) return v.length > 5 ? undefined : `'${v}' has no socket path`;
  const m = /^tcp:(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(v);
  if (!m) return `'${v}' is not tcp:HOST:PORT or unix:PATH`;
  const port = Number(m[2]);
  return port >= 1 && port <= 65535 ? undefined : `'${v}': port ${port} is not in 1..65535`;
}

function parseOvn(r: Reader, root: Obj): OvnSettings {
  const o = r.obj(root.ovn, 'ovn', ['nb', 'sb', 'timeout_ms']) ?? {};
  const endpoint = (key: 'nb' | 'sb'): string | undefined => {
    const v = r.str(o, key, 'ovn.', undefined);
    if (v === undefined) return undefined;
    const problem = ovsdbEndpointProblem(v);
    if (problem !== undefined) r.issue(`ovn.${key}`, problem);
    return v;
  };
  return { nb: endpoint('nb'), sb: endpoint('sb'), timeoutMs: r.int(o, 'timeout_ms', 'ovn.', 60_000, 100, 3_600_000) };
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
  const root = r.obj(raw, '', ['name', 'seed', 'provider', 'alcor', 'ovn', 'hosts', 'vpcs', 'vm', 'placement', 'schedule', 'test', 'security_groups', 'routers']);
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
  if (issues.length > 0) throw new ScenarioValidationError(issues);
  return deepFreeze({ name, seed, provider, alcor, ovn, securityGroups, routers, hosts, vpcs, vm, placement, schedule, test });
}
