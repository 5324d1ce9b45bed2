import { readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { alcorDemoScenarioYaml, defaultDemoScenario, parseScenario } from './index.js';
import { issuesOf } from './test-support/issues.js';

const base = { name: 'demo', hosts: { count: 2 }, vpcs: [{ name: 'vpc1', cidr: '10.1.0.0/16', subnets: [{ name: 's1', cidr: '10.1.0.0/24', vms: 10 }] }] };

describe('parseScenario', () => {
  it('fills defaults and freezes the model', () => {
    const s = parseScenario(base);
    expect(s.vpcs[0]!.subnets[0]).toMatchObject({ gateway: '10.1.0.1', vms: 10, prefixLength: 24 });
    expect(s.vpcs[0]!.vni).toBe(1001);
    expect(s).toMatchObject({ seed: 1, provider: 'standalone', placement: { type: 'uniform' }, schedule: { type: 'sequential' }, test: { kind: 'ping' } });
    expect(Object.isFrozen(s.vpcs[0]!.subnets)).toBe(true);
  });

  it('reads YAML and JSON alike', () => {
    const yaml = 'name: demo\nhosts: {count: 2}\nvpcs:\n  - name: vpc1\n    cidr: 10.1.0.0/16\n    subnets: [{name: s1, cidr: 10.1.0.0/24, vms: 10}]\n';
    expect(parseScenario(yaml)).toEqual(parseScenario(JSON.stringify(base), { format: 'json' }));
  });

  it('collects every error with its field path, unknown keys included', () => {
    const issues = issuesOf({
      name: 'Bad_Name', hosts: { count: 0 }, colour: 'blue',
      vpcs: [{ name: 'vpc1', cidr: '10.1.0.0/16', subnets: [
        { name: 's1', cidr: '10.1.300.0/24', vms: 1 },
        { name: 's2', cidr: '10.2.0.0/24', vms: 1 },
        { name: 's3', cidr: '10.1.5.0/24', gateway: '10.1.6.1', vms: 300 },
        { name: 's4', cidr: '10.1.5.128/25', vms: 1, extra: true },
      ] }],
      schedule: { type: 'rps' },
    });
    const paths = issues.map(([p]) => p);
    expect(paths).toEqual(expect.arrayContaining([
      'name', 'hosts.count', 'colour', 'vpcs[0].subnets[0].cidr', 'vpcs[0].subnets[1].cidr', 'vpcs[0].subnets[2].gateway',
      'vpcs[0].subnets[2].vms', 'vpcs[0].subnets[3].extra', 'vpcs[0].subnets[3].cidr', 'schedule.rate',
    ]));
    expect(issues.find(([p]) => p === 'vpcs[0].subnets[0].cidr')![1]).toMatch(/not an IPv4 CIDR/);
    expect(issues.find(([p]) => p === 'vpcs[0].subnets[1].cidr')![1]).toMatch(/not inside the VPC/);
    expect(issues.find(([p]) => p === 'vpcs[0].subnets[3].cidr')![1]).toMatch(/overlaps subnets\[2\]/);
    expect(issues.find(([p]) => p === 'vpcs[0].subnets[2].vms')![1]).toMatch(/253 usable/);
  });

  it('checks placements', () => {
    expect(issuesOf({ ...base, placement: { type: 'assign', hosts: { a: 3, b: 3 } } })).toEqual([['placement.hosts', 'assigns 6 VMs, the subnets ask for 10']]);
    expect(issuesOf({ ...base, placement: { type: 'skew', vm_fraction: 1.5 } })[0]![0]).toBe('placement.vm_fraction');
    expect(issuesOf({ ...base, placement: { type: 'round-robin' } })[0]![0]).toBe('placement.type');
  });

  it('refuses what it would otherwise ignore', () => {
    expect(issuesOf({ ...base, security_groups: [{ name: 'sg1' }] })).toEqual([['security_groups', expect.stringMatching(/provider: alcor/)]]);
    expect(issuesOf({ ...base, routers: [{ name: 'r1', vpc: 'vpc1', subnets: ['s1'] }] })).toEqual([['routers', expect.stringMatching(/provider: alcor/)]]);
    expect(issuesOf({ ...base, alcor: { url: 'http://x' } })).toEqual([['alcor', 'is only for provider: alcor']]);
    expect(issuesOf('name: [unclosed')[0]![0]).toBe('(document)');
  });

  it('reads Alcor settings, security groups and routers, with derived ids and NodePort defaults', () => {
    const s = parseScenario({
      ...base, provider: 'alcor', alcor: { url: 'http://10.0.0.5/', endpoints: { port: 'http://10.0.0.6:9006' } },
      security_groups: [{ name: 'web', rules: [{ direction: 'ingress', protocol: 'tcp', port_range_min: 80, remote_ip_prefix: '0.0.0.0/0' }] }],
      vpcs: [{ name: 'vpc1', cidr: '10.1.0.0/16', subnets: [{ name: 's1', cidr: '10.1.0.0/24', vms: 10, security_groups: ['web'] }, { name: 's2', cidr: '10.1.1.0/24', vms: 2 }] }],
      routers: [{ name: 'r1', vpc: 'vpc1', subnets: ['s1', 's2'] }],
    });
    expect(s.alcor).toMatchObject({ url: 'http://10.0.0.5', endpoints: { port: 'http://10.0.0.6:9006' }, timeoutMs: 20_000, retries: 3, awaitGoalState: true });
    expect(parseScenario({ ...base, provider: 'alcor', alcor: { await_goalstate: false } }).alcor!.awaitGoalState).toBe(false);
    expect(issuesOf({ ...base, provider: 'alcor', alcor: { await_goalstate: 'no' } })).toEqual([['alcor.await_goalstate', '"no" is not true or false']]);
    expect(s.alcor!.projectId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(s.alcor!.tenantId).toBe(s.alcor!.projectId);
    expect(parseScenario({ ...base, provider: 'alcor' }).alcor!.projectId).toBe(parseScenario({ ...base, provider: 'alcor' }).alcor!.projectId);
    expect(s.vm).toEqual({ mtu: 1450, portKind: 'internal' });
    expect(s.securityGroups[0]!.rules[0]).toEqual({ direction: 'ingress', ethertype: 'IPv4', protocol: 'tcp', portRangeMin: 80, portRangeMax: 80, remoteIpPrefix: '0.0.0.0/0' });
    expect(s.routers).toEqual([{ name: 'r1', vpc: 'vpc1', subnets: ['s1', 's2'] }]);
    expect(s.vpcs[0]!.subnets[0]!.securityGroups).toEqual(['web']);
  });

  it('names every bad Alcor field', () => {
    const issues = issuesOf({
      ...base, provider: 'alcor', vm: { port_kind: 'veth' }, alcor: { url: 'ftp://x', endpoints: { vpc: 'nope', dns: 'http://x' }, project_id: 'a b', timeout_ms: 5 },
      security_groups: [{ name: 'default' }, { name: 'x', rules: [{ protocol: 'icmp', port_range_min: 3 }, { protocol: 'tcp', port_range_min: 9, port_range_max: 8 }] }],
      vpcs: [{ name: 'vpc1', cidr: '10.1.0.0/16', subnets: [{ name: 's1', cidr: '10.1.0.0/24', vms: 10, security_groups: ['nope'] }] }],
      routers: [{ name: 'r1', vpc: 'vpc9', subnets: [] }, { name: 'r2', vpc: 'vpc1', subnets: ['s1', 's9'] }, { name: 'r3', vpc: 'vpc1', subnets: ['s1'] }],
    });
    expect(issues.map(([p]) => p).sort()).toEqual([
      'alcor.endpoints.dns', 'alcor.endpoints.vpc', 'alcor.project_id', 'alcor.timeout_ms', 'alcor.url',
      'routers[0].subnets', 'routers[0].vpc', 'routers[1].subnets[1]', 'routers[2].subnets[0]',
      'security_groups[0].name', 'security_groups[1].rules[0].port_range_min', 'security_groups[1].rules[1].port_range_max',
      'vm.port_kind', 'vpcs[0].subnets[0].security_groups[0]',
    ]);
  });

  it("has Merak's e2e as the demo default, the same as examples/merak-e2e.yaml", () => {
    const d = defaultDemoScenario();
    expect(d.hosts).toEqual({ kind: 'count', count: 5 });
    expect(d.vpcs[0]!.subnets[0]).toMatchObject({ cidr: '10.1.0.0/16', gateway: '10.1.0.1', vms: 50 });
    expect(d.test.kind).toBe('ping');
    expect(parseScenario(readFileSync(new URL('../../examples/merak-e2e.yaml', import.meta.url), 'utf8'))).toEqual(d);
  });

  it('has examples/alcor.yaml as the Alcor demo, with the Alcor URL the demo gives it', () => {
    const example = parseScenario(readFileSync(new URL('../../examples/alcor.yaml', import.meta.url), 'utf8'));
    const url = 'http://198.51.100.254:40001';
    const d = parseScenario(alcorDemoScenarioYaml({ alcorUrl: url }));
    expect(d.alcor!.endpoints).toEqual({ vpc: url, subnet: url, route: url, port: url, node: url, sg: url });
    expect(d.test).toEqual(example.test);
    expect(d.test.kind).toBe('ping');
    expect({ ...d, alcor: undefined, seed: 0, placement: undefined, schedule: undefined }).toEqual({ ...example, alcor: undefined, seed: 0, placement: undefined, schedule: undefined });
    expect(d.alcor).toMatchObject({ projectId: example.alcor!.projectId, awaitGoalState: true });
  });

  it('has a ping test that converges for 5 s by default; converge_ms 0 turns it off, out of range names the field', () => {
    const base = { name: 'c', hosts: { count: 2 }, vpcs: [{ name: 'v', cidr: '10.0.0.0/16', subnets: [{ name: 's', cidr: '10.0.0.0/24', vms: 2 }] }] };
    expect(parseScenario(base).test).toMatchObject({ kind: 'ping', convergeMs: 5000, count: 3, timeoutMs: 2000 });
    expect(parseScenario({ ...base, test: { type: 'ping', converge_ms: 0 } }).test).toMatchObject({ convergeMs: 0 });
    expect(issuesOf({ ...base, test: { type: 'ping', converge_ms: 60_001 } }).map(([p]) => p)).toEqual(['test.converge_ms']);
    expect(issuesOf({ ...base, test: { type: 'ping', converge_ms: -1 } }).map(([p]) => p)).toEqual(['test.converge_ms']);
  });

  it('reads every example in examples/', () => {
    const dir = new URL('../../examples/', import.meta.url);
    const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
    expect(files.length).toBeGreaterThanOrEqual(3);
    for (const f of files) expect(() => parseScenario(readFileSync(new URL(f, dir), 'utf8')), f).not.toThrow();
  });

  it('reads provider ovn: its databases checked and every bad field named, MTU 1442 unless set, groups and routers allowed', () => {
    const ovn = parseScenario({ ...base, provider: 'ovn', ovn: { nb: 'tcp:192.0.2.1:6641', sb: 'unix:/run/ovn/sb.sock' },
      security_groups: [{ name: 'web', rules: [{ protocol: 'tcp', port_range_min: 80 }] }], routers: [{ name: 'r', vpc: 'vpc1', subnets: ['s1'] }] });
    expect(ovn.ovn).toEqual({ nb: 'tcp:192.0.2.1:6641', sb: 'unix:/run/ovn/sb.sock', timeoutMs: 60_000 });
    expect(ovn.vm).toEqual({ mtu: 1442, portKind: 'veth' });
    expect(parseScenario({ ...base, provider: 'ovn', vm: { mtu: 1500 } }).vm.mtu).toBe(1500);
    expect(parseScenario({ ...base, provider: 'ovn' }).ovn).toEqual({ nb: undefined, sb: undefined, timeoutMs: 60_000 });
    expect(issuesOf({ ...base, provider: 'ovn', ovn: { nb: 'http://nb:6641', sb: 'tcp:host', timeout_ms: 5, extra: 1 } }).map(([p]) => p).sort())
      .toEqual(['ovn.extra', 'ovn.nb', 'ovn.sb', 'ovn.timeout_ms']);
    expect(issuesOf({ ...base, provider: 'ovn', ovn: { nb: 'tcp:[::1]:70000' } })).toEqual([['ovn.nb', "'tcp:[::1]:70000': port 70000 is not in 1..65535"]]);
    expect(issuesOf({ ...base, ovn: { nb: 'unix:/x' } })).toEqual([['ovn', 'is only for provider: ovn']]);
    expect(issuesOf({ ...base, provider: 'ovn', alcor: { url: 'http://x' } })).toEqual([['alcor', 'is only for provider: alcor']]);
  });
});
