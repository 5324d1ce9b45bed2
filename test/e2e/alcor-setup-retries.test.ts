// Alcor mode on the local emulation (coordinator, agents, OVS as real processes) against the
// Alcor-compatible server as its own process, answering one 500 on the first call of every
// endpoint (the control endpoint's first-per-endpoint fault): the set-up, the agents' port calls
// and the teardown all retry, every VM becomes ready, the report's control-plane table shows the
// retried calls, the security group's rules sit in the server's rules API, and nothing is left.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lab/cli/connect.js';
import type { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import { type LocalUp, localDown, localUp } from '../../lab/cli/local.js';
import { type AlcorServerProcess, startAlcorServerProcess } from '../../lab/local/alcor-server-process.js';
import type { Report } from '../../coordinator/report/report.js';
import { renderTable } from '../../coordinator/report/table.js';
import type { AlcorSnapshot, CallRecord, SecurityGroupRule } from '../alcor/index.js';
import { linksWithPrefix, namespacesWithPrefix, processesMentioning, requireRoot, sweepEmulation, uniquePrefix } from '../fixtures/local-emulation.js';

requireRoot();
const prefix = uniquePrefix('r');
const dir = mkdtempSync(join(tmpdir(), 'merak-alcor-retries-'));
const local = join(dir, 'local');
let up: LocalUp;
let client: CoordinatorClient;
let server: AlcorServerProcess;
const quiet = (): void => undefined;

beforeAll(async () => {
  up = await localUp({ dir: local, hosts: 3, prefix, log: quiet, hostAccess: true });
  server = await startAlcorServerProcess({ host: up.emulation.hostIp!, ncmPort: 0, seed: 21, logFile: join(dir, 'alcor.log'), recordFile: join(dir, 'alcor.json') });
  client = connect({ localDir: local });
}, 180_000);

afterAll(async () => {
  client?.close();
  await server?.stop();
  await localDown(local, quiet).catch(() => undefined);
  await sweepEmulation(join(local, 'emulation'), prefix);
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

/** The server's control endpoint (one listener serves every service and /_merak/). */
async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server.urls.vpc}/_merak/${path}`, { method, ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }) });
  expect(res.status, `${method} /_merak/${path}`).toBeLessThan(300);
  const text = await res.text();
  return (text === '' ? undefined : JSON.parse(text)) as T;
}

const bare = (route: string): string => route.replace(/\{[^}]+\}/g, '{}');

async function settle(id: string): Promise<coordinatorV1.Scenario> {
  await client.watch(id, () => undefined);
  return client.getScenario(id);
}

const scenario = (name: string): string => `
name: ${name}
provider: alcor
alcor:
  endpoints: { vpc: ${server.urls.vpc}, subnet: ${server.urls.subnet}, route: ${server.urls.route}, port: ${server.urls.port}, node: ${server.urls.node}, sg: ${server.urls.sg} }
  project_id: proj-${name}
  retries: 3
hosts: { count: 3 }
security_groups:
  - name: web
    rules:
      - { direction: ingress, protocol: tcp, port_range_min: 80, port_range_max: 80 }
      - { direction: ingress, protocol: icmp, remote_ip_prefix: 10.7.0.0/16 }
vpcs:
  - name: vpc1
    cidr: 10.7.0.0/16
    subnets:
      - { name: front, cidr: 10.7.1.0/24, gateway: 10.7.1.1, vms: 6, security_groups: [web] }
      - { name: back, cidr: 10.7.2.0/24, gateway: 10.7.2.1, vms: 6 }
routers: [{ name: r1, vpc: vpc1, subnets: [front, back] }]
test: none
`;

describe('Alcor mode when every Alcor endpoint fails its first call once', () => {
  it('completes the run with every VM ready, reports the retried calls, and the teardown leaves nothing', async () => {
    await control('POST', 'faults', { id: 'once', action: { kind: 'status', status: 500, message: 'first call of this endpoint (injected)' }, limit: { kind: 'first-per-endpoint', n: 1 } });
    const name = `${prefix}-rt`;
    const created = await client.createScenario(scenario(name), 'yaml');
    const done = await settle(created.id);
    expect(done.error).toBe('');
    expect(done.vms).toMatchObject({ requested: 12, ready: 12, failed: 0 });

    // Every endpoint called answered its first call with the 500, and was called again. (The
    // server names path variables as each Alcor service does: compared without their names.)
    const calls = await control<CallRecord[]>('GET', 'calls');
    const failed = calls.filter((c) => c.status === 500).map((c) => bare(c.route!));
    expect(new Set(failed).size).toBe(failed.length);
    for (const route of ['POST /nodes/bulk', 'POST /project/{}/vpcs', 'POST /project/{}/subnets', 'POST /project/{}/security-groups',
      'POST /project/{}/security-group-rules/bulk', 'POST /project/{}/routers', 'PUT /project/{}/routers/{}/add_router_interface',
      'POST /project/{}/ports', 'PUT /project/{}/ports/{}']) {
      expect(failed, route).toContain(route);
      expect(calls.filter((c) => bare(c.route ?? '') === route && c.status !== 500).length, route).toBeGreaterThan(0);
    }

    // The report's control-plane table shows them: one error and one retry per endpoint.
    const report = JSON.parse((await client.getReport(created.id)).json) as Report;
    const table = new Map(report.controlPlane!.endpoints.map((e) => [e.endpoint, e]));
    for (const endpoint of ['POST /project/{project_id}/vpcs', 'POST /project/{project_id}/subnets', 'POST /project/{project_id}/security-group-rules/bulk',
      'PUT /project/{project_id}/routers/{router_id}/add_router_interface', 'POST /project/{project_id}/ports', 'PUT /project/{project_id}/ports/{port_id}']) {
      expect(table.get(endpoint), endpoint).toMatchObject({ errors: 1, retries: 1 });
    }
    expect(renderTable(report)).toMatch(/POST \/project\/\{project_id\}\/subnets\s+3\s+1\s+1\s/);
    // One VPC, two subnets, one group: nothing made twice. The group's rules are in the rules API.
    const state = await control<AlcorSnapshot>('GET', 'state');
    expect([state.vpcs.length, state.subnets.length, state.routers.length]).toEqual([1, 2, 1]);
    const web = state.securityGroups.find((g) => g.name === 'web')!;
    const res = await fetch(`${server.urls.sg}/project/proj-${name}/security-group-rules?security_group_id=${web.id}`);
    const rules = ((await res.json()) as { security_group_rules: SecurityGroupRule[] }).security_group_rules;
    expect(rules.map((r) => [r.direction, r.ethertype, r.protocol, r.port_range_min, r.port_range_max, r.remote_ip_prefix])).toEqual([
      ['egress', 'IPv4', null, null, null, null], ['egress', 'IPv6', null, null, null, null],
      ['ingress', 'IPv4', 'tcp', 80, 80, null], ['ingress', 'IPv4', 'icmp', null, null, '10.7.0.0/16'],
    ]);
    expect(namespacesWithPrefix(name)).toHaveLength(12);

    // The teardown meets the same fault on each of its endpoints.
    await client.deleteScenario(created.id);
    const gone = await settle(created.id);
    expect(gone.error).toBe('');
    expect(gone.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
    const after = await control<CallRecord[]>('GET', 'calls');
    expect(after.filter((c) => c.status === 500 && c.method === 'DELETE').length).toBeGreaterThan(0);
    const left = await control<AlcorSnapshot>('GET', 'state');
    expect({ vpcs: left.vpcs, subnets: left.subnets, routers: left.routers, nodes: left.nodes, ports: left.ports })
      .toEqual({ vpcs: [], subnets: [], routers: [], nodes: [], ports: [] });
    expect(left.securityGroups.filter((g) => g.name !== 'default')).toEqual([]);
    expect(left.securityGroupRules.filter((r) => r.security_group_id === web.id)).toEqual([]);
    expect(namespacesWithPrefix(name)).toEqual([]);
  }, 300_000);

  it('local down leaves nothing on the machine', async () => {
    expect((await localDown(local, quiet)).failed).toEqual([]);
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(processesMentioning(local)).toEqual([]);
  }, 120_000);
});
