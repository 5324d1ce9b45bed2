// Alcor mode's set-up and teardown against an Alcor that fails now and then, through the
// coordinator with hollow agents: one 500 on each endpoint's first call is retried (logged, and
// counted per endpoint in the report's control-plane table) and the run completes; a create that
// timed out but landed is adopted, not made twice; a 4xx fails the run at once with Alcor's answer.
// Security group rules go through the rules API and are gone after the teardown.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { renderTable } from '../../coordinator/report/table.js';
import type { SecurityGroupRule } from '../alcor/index.js';
import { type AlcorHarness, startAlcorHarness } from './alcor-harness.js';

// Every log line, to find the retries in.
const lines: Array<Record<string, unknown>> = [];
const logger = pino({ level: 'warn' }, new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const l of chunk.toString().split('\n')) if (l.trim() !== '') lines.push(JSON.parse(l) as Record<string, unknown>);
    done();
  },
}));

let h: AlcorHarness;
beforeAll(async () => {
  h = await startAlcorHarness({ prefix: 'merak-alcor-retry-', hosts: 3, logger });
});
afterAll(async () => h?.close());
beforeEach(() => {
  h.alcor.reset();
  lines.length = 0;
});

const scenario = (name: string): string => `
${h.scenarioHead(name, 3)}
  tenant_id: tenant-${name}
hosts: { count: 3 }
security_groups:
  - name: web
    rules:
      - { direction: ingress, protocol: tcp, port_range_min: 80, port_range_max: 80, remote_ip_prefix: 10.0.0.0/8 }
      - { direction: ingress, protocol: icmp }
  - name: ssh
    rules: [{ direction: ingress, protocol: tcp, port_range_min: 22, port_range_max: 22 }]
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets:
      - { name: subnet1, cidr: 10.1.1.0/24, gateway: 10.1.1.1, vms: 6, security_groups: [web, ssh] }
      - { name: subnet2, cidr: 10.1.2.0/24, gateway: 10.1.2.1, vms: 3 }
routers: [{ name: r1, vpc: vpc1, subnets: [subnet1, subnet2] }]
test: none
`;

async function rulesIn(project: string, groupId?: string): Promise<SecurityGroupRule[]> {
  const res = await fetch(`${h.alcor.urls.sg}/project/${project}/security-group-rules${groupId ? `?security_group_id=${groupId}` : ''}`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { security_group_rules: SecurityGroupRule[] }).security_group_rules;
}

async function runToEnd(name: string): Promise<ReturnType<AlcorHarness['engine']['status']> & object> {
  const created = h.engine.create(scenario(name));
  await h.engine.settled(created.id);
  return h.engine.status(created.id)!;
}

async function deleteRun(id: string): Promise<void> {
  h.engine.delete(id);
  await h.engine.settled(id);
  expect(h.engine.status(id)).toMatchObject({ phase: 'deleted', error: '' });
}

/** What the scenario made is gone from Alcor (the tenants' default groups, which Alcor made itself, stay). */
function nothingLeft(): void {
  const left = h.alcor.state();
  expect({ vpcs: left.vpcs, subnets: left.subnets, routers: left.routers, nodes: left.nodes, ports: left.ports.filter((p) => p.device_owner !== 'network:router_interface') })
    .toEqual({ vpcs: [], subnets: [], routers: [], nodes: [], ports: [] });
  expect(left.securityGroups.filter((g) => g.name !== 'default')).toEqual([]);
  const defaults = new Set(left.securityGroups.map((g) => g.id));
  expect(left.securityGroupRules.filter((r) => !defaults.has(r.security_group_id))).toEqual([]);
}

describe('Alcor set-up and teardown', () => {
  it("sends security group rules through the rules API (bulk, after the group), where they are listed with the scenario's fields beside Alcor's two egress rules; the teardown removes them", async () => {
    const s = await runToEnd('sgr');
    expect(s.error).toBe('');
    expect(s.counts).toMatchObject({ requested: 9, ready: 9, failed: 0 });
    const groups = new Map(h.alcor.state().securityGroups.map((g) => [g.name, g.id]));
    // The group create carries no rules; the rules come after it, two in one bulk call, one alone.
    const routes = h.alcor.calls.filter({ service: 'sg' }).filter((c) => c.method === 'POST').map((c) => c.route);
    expect(routes).toEqual([
      'POST /project/{project_id}/security-groups', 'POST /project/{project_id}/security-group-rules/bulk',
      'POST /project/{project_id}/security-groups', 'POST /project/{project_id}/security-group-rules',
    ]);
    expect(h.alcor.calls.filter({ service: 'sg', method: 'POST', path: /security-groups$/ }).every((c) => !('security_group_rules' in (c.requestBody as { security_group: object }).security_group))).toBe(true);

    const web = await rulesIn('proj-sgr', groups.get('web'));
    const fields = (r: SecurityGroupRule): unknown[] => [r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix, r.tenant_id, r.project_id];
    // Alcor's two egress rules (no project of their own), then the scenario's.
    expect(web.map(fields)).toEqual([
      ['egress', 'IPv4', null, null, null, null, 'tenant-sgr', null], ['egress', 'IPv6', null, null, null, null, 'tenant-sgr', null],
      ['ingress', 'IPv4', 'tcp', 80, 80, '10.0.0.0/8', 'tenant-sgr', 'proj-sgr'], ['ingress', 'IPv4', 'icmp', null, null, null, 'tenant-sgr', 'proj-sgr'],
    ]);
    expect((await rulesIn('proj-sgr', groups.get('ssh'))).map(fields).slice(2)).toEqual([['ingress', 'IPv4', 'tcp', 22, 22, null, 'tenant-sgr', 'proj-sgr']]);
    // The ports got both groups, whose rules Alcor now holds.
    const port = h.alcor.state().ports.find((p) => p.device_owner === 'compute:nova')!;
    expect(port.security_groups).toEqual([groups.get('web'), groups.get('ssh')]);

    await deleteRun(s.id);
    expect(await rulesIn('proj-sgr', groups.get('web'))).toEqual([]);
    expect(await rulesIn('proj-sgr', groups.get('ssh'))).toEqual([]);
    expect(h.alcor.calls.filter({ method: 'DELETE', path: /security-group-rules\// })).toHaveLength(3);
    nothingLeft();
  });

  it('retries one 500 on the first call of every set-up and teardown endpoint: the run completes, each retry is logged and shows in the report', async () => {
    for (const service of ['vpc', 'subnet', 'route', 'node', 'sg'] as const) {
      h.alcor.faults.add({ service, action: { kind: 'status', status: 500, message: 'injected once per endpoint' }, limit: { kind: 'first-per-endpoint', n: 1 } });
    }
    const s = await runToEnd('rty');
    expect(s.error).toBe('');
    expect(s.counts).toMatchObject({ requested: 9, ready: 9, failed: 0 });
    const failedOnce = new Set(h.alcor.calls.all().filter((c) => c.faults.length > 0).map((c) => c.route));
    expect(failedOnce.size).toBeGreaterThanOrEqual(12);

    // Each endpoint that failed once shows one error and one retry; nothing was made twice.
    const table = new Map(s.report!.controlPlane!.endpoints.map((e) => [e.endpoint, e]));
    for (const endpoint of ['POST /nodes/bulk', 'POST /project/{project_id}/vpcs', 'POST /project/{project_id}/subnets', 'POST /project/{project_id}/security-groups',
      'POST /project/{project_id}/security-group-rules/bulk', 'POST /project/{project_id}/routers', 'PUT /project/{project_id}/routers/{router_id}/add_router_interface',
      'GET /project/{project_id}/vpcs/{vpc_id}', 'GET /project/{project_id}/subnets/{subnet_id}']) {
      expect(table.get(endpoint), endpoint).toMatchObject({ errors: 1, retries: 1 });
    }
    expect(h.alcor.state().vpcs).toHaveLength(1);
    expect(h.alcor.state().subnets).toHaveLength(2);
    expect(h.alcor.state().securityGroups.filter((g) => g.name !== 'default')).toHaveLength(2);
    expect(h.alcor.state().securityGroups.find((g) => g.name === 'web')!.security_group_rules).toHaveLength(4);
    // The table a user reads has the retries column.
    const text = renderTable(s.report!);
    expect(text).toMatch(/control plane \(ms\)\s+calls\s+errors\s+retries/);
    expect(text).toMatch(/POST \/project\/\{project_id\}\/vpcs\s+2\s+1\s+1\s/);
    // One warning per retry, naming the endpoint and Alcor's answer.
    const retried = lines.filter((l) => l.msg === 'Alcor call failed; retrying');
    expect(retried.map((l) => l.endpoint)).toContain('POST /project/{project_id}/subnets');
    expect(retried.every((l) => l.status === 500 && l.attempt === 1)).toBe(true);

    // The teardown meets the same faults on its own endpoints and still removes everything.
    await deleteRun(s.id);
    expect(h.alcor.calls.filter({ method: 'DELETE' }).some((c) => c.faults.length > 0)).toBe(true);
    nothingLeft();
  });

  it('adopts a create that timed out but landed late instead of making it twice', async () => {
    h.alcor.faults.add({ service: 'vpc', method: 'POST', action: { kind: 'latency', ms: 1500 }, limit: { kind: 'first', n: 1 } });
    const s = await runToEnd('late');
    expect(s.error).toBe('');
    expect(s.counts).toMatchObject({ ready: 9 });
    expect(h.alcor.calls.filter({ method: 'POST', path: /\/vpcs$/ })).toHaveLength(1);
    expect(h.alcor.state().vpcs).toHaveLength(1);
    expect(s.report!.controlPlane!.endpoints.find((e) => e.endpoint === 'POST /project/{project_id}/vpcs')).toMatchObject({ count: 1, errors: 1, retries: 0 });
    await deleteRun(s.id);
    nothingLeft();
  });

  it('does not retry a 4xx: the run fails at once naming the object, the status and what Alcor said', async () => {
    h.alcor.faults.add({ service: 'subnet', method: 'POST', action: { kind: 'status', status: 400, message: 'cidr overlaps (injected)' } });
    const s = await runToEnd('bad');
    expect(s.phase).toBe('failed');
    expect(s.error).toMatch(/subnet vpc1\/subnet1.*POST \/project\/\{project_id\}\/subnets.*answered 400.*cidr overlaps \(injected\)/);
    expect(h.alcor.calls.filter({ method: 'POST', path: /\/subnets$/ })).toHaveLength(1);
    h.alcor.faults.clear();
    await deleteRun(s.id);
    nothingLeft();
  });
});
