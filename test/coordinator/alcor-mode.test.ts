// Alcor mode through the coordinator, with hollow agents (the real agent and API, no kernel work:
// the Alcor calls are real) against the Alcor-compatible server: the network set up in the order
// and with the bodies Merak used (without its bugs), each VM's port allocated and bound by its
// agent, faults (5xx, slow, dropped) retried or failing the VM with Alcor's reason, and a teardown
// that leaves nothing in Alcor.
import { pino } from 'pino';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ScenarioEngine } from '../../coordinator/engine/scenario-engine.js';
import { nodeIdOf } from '../../coordinator/providers/provider-alcor.js';
import type { AgentRegistry } from '../../coordinator/registry/agent-registry.js';
import { type AlcorServer, startAlcorServer } from '../alcor/index.js';
import { type AlcorHarness, endpointsYamlOf, startAlcorHarness } from './alcor-harness.js';

let h: AlcorHarness;
let alcor: AlcorServer;
let registry: AgentRegistry;
let engine: ScenarioEngine;

beforeAll(async () => {
  h = await startAlcorHarness({ prefix: 'merak-alcor-mode-', hosts: 5, logger: pino({ level: 'silent' }) });
  ({ alcor, registry, engine } = h);
});

afterAll(async () => h?.close());

beforeEach(() => alcor.reset());

const scenario = (name: string, vms = 50, retries = 2): string => `
${h.scenarioHead(name, retries)}
hosts: { count: 5 }
security_groups: [{ name: web, rules: [{ direction: ingress, protocol: tcp, port_range_min: 80 }] }]
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets: [{ name: subnet1, cidr: 10.1.0.0/16, gateway: 10.1.0.1, vms: ${vms}, security_groups: [web] }]
routers: [{ name: r1, vpc: vpc1, subnets: [subnet1] }]
test: none
`;

const nonGatewayPorts = (): Array<Record<string, unknown>> => alcor.state().ports.filter((p) => p.device_owner !== 'network:router_interface') as unknown as Array<Record<string, unknown>>;

describe('Alcor mode with hollow agents', () => {
  it("sets the network up in Merak's order, has every VM's port allocated and bound by its own host, and tears it all down", async () => {
    const created = engine.create(scenario('alc'));
    await engine.settled(created.id);
    const s = engine.status(created.id)!;
    expect(s.error).toBe('');
    expect(s.counts).toMatchObject({ requested: 50, ready: 50, failed: 0 });

    // The coordinator's calls, in order (as Merak made them), with the scenario's project.
    const mine = alcor.calls.all().filter((c) => c.service !== 'port').map((c) => (c.route ?? '').replace(/\{[^}]+\}/g, '{}'));
    expect(mine.filter((c) => !c.startsWith('GET'))).toEqual([
      'POST /nodes/bulk', 'POST /project/{}/vpcs', 'POST /project/{}/subnets', 'POST /project/{}/security-groups',
      'POST /project/{}/security-group-rules', 'POST /project/{}/routers', 'PUT /project/{}/routers/{}/add_router_interface',
    ]);
    const bulk = alcor.calls.last({ path: '/nodes/bulk' })!.requestBody as { host_infos: Array<Record<string, unknown>> };
    expect(bulk.host_infos.map((n) => [n.node_name, n.local_ip, n['data-path-ip'], n.server_port])).toEqual(
      [0, 1, 2, 3, 4].map((i) => [`vhost-${i}`, `198.51.100.${10 + i}`, `198.51.100.${10 + i}`, 50001]),
    );
    // The subnet carries the scenario's gateway (Merak did not send it).
    expect((alcor.calls.last({ method: 'POST', path: /subnets$/ })!.requestBody as { subnet: { gateway_ip: string } }).subnet.gateway_ip).toBe('10.1.0.1');
    expect(alcor.calls.all().every((c) => c.path === '/nodes/bulk' || c.path.startsWith('/project/proj-alc/') || c.path.startsWith('/nodes/'))).toBe(true);

    // Each VM: one minimal POST, one PUT binding it to the host it was placed on; each got its own IP and MAC.
    const ports = nonGatewayPorts();
    expect(ports).toHaveLength(50);
    const sg = alcor.state().securityGroups.find((g) => g.name === 'web')!;
    for (const p of ports) {
      expect(p.status).toBe('ACTIVE');
      expect(p.security_groups).toEqual([sg.id]);
      expect(String(p['binding:host_id'])).toMatch(/^vhost-[0-4]$/);
    }
    const ips = ports.map((p) => (p.fixed_ips as Array<{ ip_address: string }>)[0]!.ip_address);
    expect(new Set(ips).size).toBe(50);
    expect(ips).not.toContain('10.1.0.1');
    expect(new Set(ports.map((p) => p.mac_address)).size).toBe(50);
    // The agents hold exactly what Alcor allocated.
    const held = (await Promise.all([0, 1, 2, 3, 4].map((i) => registry.clientFor(`vhost-${i}`)!.listVms()))).flatMap((r) => r.vms);
    expect(held.map((v) => [v.ip, v.mac]).sort()).toEqual(ports.map((p) => [(p.fixed_ips as Array<{ ip_address: string }>)[0]!.ip_address, p.mac_address]).sort());

    // The report counts the Alcor calls per endpoint.
    const endpoints = new Map(s.report!.controlPlane!.endpoints.map((e) => [e.endpoint, e]));
    expect(endpoints.get('POST /project/{project_id}/ports')).toMatchObject({ count: 50, errors: 0 });
    expect(endpoints.get('PUT /project/{project_id}/ports/{port_id}')).toMatchObject({ count: 50, errors: 0 });
    expect(endpoints.get('POST /nodes/bulk')).toMatchObject({ count: 1 });

    engine.delete(created.id);
    await engine.settled(created.id);
    expect(engine.status(created.id)!.error).toBe('');
    expect(engine.status(created.id)!.phase).toBe('deleted');
    const left = alcor.state();
    expect({ vpcs: left.vpcs, subnets: left.subnets, routers: left.routers, nodes: left.nodes, ports: nonGatewayPorts() }).toEqual({ vpcs: [], subnets: [], routers: [], nodes: [], ports: [] });
    expect(left.securityGroups.filter((g) => g.name !== 'default')).toEqual([]);
    expect(alcor.calls.filter({ method: 'DELETE', path: /\/ports\// }).length).toBe(50);
  });

  it('fails the VMs whose port creation Alcor refuses, with its reason, and leaves nothing of them anywhere', async () => {
    // Every 5th port creation answers 500, and the scenario allows no retry: exactly 4 of 20 fail.
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'status', status: 500, message: 'ipam exhausted (injected)' }, limit: { kind: 'every', k: 5 } });
    const created = engine.create(scenario('alf', 20, 0));
    await engine.settled(created.id);
    const s = engine.status(created.id)!;
    expect(s.phase).toBe('failed');
    expect(s.counts).toMatchObject({ ready: 16, failed: 4 });
    const failures = s.report!.failures;
    expect(Object.keys(failures.byCode)).toEqual(['ALCOR']);
    expect(failures.first[0]!.message).toMatch(/POST \/project\/\{project_id\}\/ports .*answered 500.*ipam exhausted \(injected\)/);
    expect(failures.first[0]!.step).toBe('allocate');
    // Only the ready VMs have ports in Alcor and VMs on the agents.
    expect(nonGatewayPorts()).toHaveLength(s.counts.ready);
    const held = (await Promise.all([0, 1, 2, 3, 4].map((i) => registry.clientFor(`vhost-${i}`)!.listVms()))).flatMap((r) => r.vms).filter((v) => v.name.startsWith('alf-'));
    expect(held).toHaveLength(s.counts.ready);
    expect(s.report!.controlPlane!.endpoints.find((e) => e.endpoint === 'POST /project/{project_id}/ports')!.errors).toBeGreaterThan(0);
    alcor.faults.clear();
    engine.delete(created.id);
    await engine.settled(created.id);
    expect(nonGatewayPorts()).toEqual([]);
  });

  it('retries slow and dropped answers within bounds, makes no port twice, and reports the retries', async () => {
    alcor.faults.add({ method: 'PUT', path: '/project/*/ports/*', action: { kind: 'latency', ms: 1500 }, limit: { kind: 'first', n: 3 } });
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', phase: 'after', action: { kind: 'drop' }, limit: { kind: 'first', n: 3 } });
    const created = engine.create(scenario('als', 10));
    await engine.settled(created.id);
    const s = engine.status(created.id)!;
    expect(s.error).toBe('');
    expect(s.counts).toMatchObject({ ready: 10, failed: 0 });
    expect(nonGatewayPorts()).toHaveLength(10);
    const e = new Map(s.report!.controlPlane!.endpoints.map((x) => [x.endpoint, x]));
    // 3 binds timed out once each (1 s deadline) and were retried; 3 creations lost their answer and were looked up.
    expect(e.get('PUT /project/{project_id}/ports/{port_id}')).toMatchObject({ count: 13, errors: 3 });
    expect(e.get('POST /project/{project_id}/ports')).toMatchObject({ count: 10, errors: 3 });
    expect(e.get('GET /project/{project_id}/ports/{port_id}')?.count).toBe(3);
    engine.delete(created.id);
    await engine.settled(created.id);
    expect(nonGatewayPorts()).toEqual([]);
  });

  it("registers a host whose agent serves GoalState with that server's address; its VMs are ready once their GoalState is applied there, and fail without one", async () => {
    // Two more agents serving GoalState: one on a named address, one on all of them (its underlay,
    // a loopback address here, stands for it). Alcor pushes to both.
    const pushing = await startAlcorServer({ mode: 'single', seed: 8, goalState: { ncmPort: 0 } });
    try {
      for (const [i, [listen, underlay]] of [['127.0.0.1:0', '198.51.100.20'], ['0.0.0.0:0', '127.0.0.2']].entries()) {
        await h.coordinator.startAgent(`gs-${i}`, { underlayIp: underlay!, args: ['--goalstate', listen!] });
      }
      const deadline = Date.now() + 10_000;
      while (!(registry.clientFor('gs-0') && registry.clientFor('gs-1')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const ports = await Promise.all(['gs-0', 'gs-1'].map(async (host) => Number((await registry.clientFor(host)!.info()).goalstateAddress.split(':')[1])));
      expect(ports.every((p) => p > 0)).toBe(true);
      const on = (server: AlcorServer, name: string): string => scenario(name, 4).replace('hosts: { count: 5 }', 'hosts: { names: [gs-0, gs-1] }')
        .replace(/endpoints: \{[^}]*\}/, endpointsYamlOf(server));

      // Alcor pushes each bound port's GoalState to the address its host was registered with.
      const ready = engine.create(on(pushing, 'alp'));
      await engine.settled(ready.id);
      const bulk = pushing.calls.last({ path: '/nodes/bulk' })!.requestBody as { host_infos: Array<Record<string, unknown>> };
      expect(bulk.host_infos.map((n) => [n.node_name, n.local_ip, n['data-path-ip'], n.server_port])).toEqual([
        ['gs-0', '127.0.0.1', '198.51.100.20', ports[0]], ['gs-1', '127.0.0.2', '127.0.0.2', ports[1]],
      ]);
      const r = engine.status(ready.id)!;
      expect(r.error).toBe('');
      expect(r.counts).toMatchObject({ requested: 4, ready: 4, failed: 0 });
      expect(pushing.goalState!.pushes.forHost('gs-0').map((p) => p.endpoint)).toContain(`127.0.0.1:${ports[0]}`);
      expect(pushing.goalState!.pushes.forHost('gs-1').map((p) => p.endpoint)).toContain(`127.0.0.2:${ports[1]}`);
      // Each VM waited for its GoalState: the report splits its bind.
      expect(r.report!.latencyMs.steps.goalstate).toMatchObject({ count: 4 });
      expect(r.report!.latencyMs.steps['goalstate-apply']).toMatchObject({ count: 4 });
      expect(r.report!.alcor).toMatchObject({ goalStateVms: 4, restAndPushMs: { count: 4 }, programmingMs: { count: 4 } });
      expect(r.report!.alcor!.goalStateMs.max).toBeLessThanOrEqual(r.report!.alcor!.bindMs.max);
      engine.delete(ready.id);
      await engine.settled(ready.id);
      expect(engine.status(ready.id)!.phase).toBe('deleted');

      // This server pushes nothing: every VM waits its Alcor timeout for its GoalState, fails there, and is rolled back.
      const created = engine.create(on(alcor, 'alg'));
      await engine.settled(created.id);
      const s = engine.status(created.id)!;
      expect(s.counts).toMatchObject({ requested: 4, ready: 0, failed: 4 });
      expect(s.report!.failures.byCode).toEqual({ ALCOR: 4 });
      for (const f of s.report!.failures.first) {
        expect(f.step).toBe('goalstate');
        expect(f.message).toMatch(/no GoalState applied on this host within 1000 ms/);
      }
      expect(s.report!.alcor).toMatchObject({ goalStateVms: 0 });
      expect(nonGatewayPorts()).toEqual([]);
      engine.delete(created.id);
      await engine.settled(created.id);
      expect(engine.status(created.id)!.phase).toBe('deleted');
      expect(alcor.state().nodes).toEqual([]);
    } finally {
      for (const g of ['gs-0', 'gs-1']) await h.coordinator.stopAgent(g);
      await pushing.close();
      // Gone from the registry before the next test picks its hosts.
      const deadline = Date.now() + 10_000;
      while (registry.connected().some((a) => a.name.startsWith('gs-')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    }
  });

  it('keeps a host registered while another Alcor scenario uses it', async () => {
    const a = engine.create(scenario('ala', 5));
    const b = engine.create(scenario('alb', 5));
    await Promise.all([engine.settled(a.id), engine.settled(b.id)]);
    engine.delete(a.id);
    await engine.settled(a.id);
    expect(alcor.state().nodes.map((n) => n.node_id).sort()).toEqual([0, 1, 2, 3, 4].map((i) => nodeIdOf(`vhost-${i}`)).sort());
    engine.delete(b.id);
    await engine.settled(b.id);
    expect(alcor.state().nodes).toEqual([]);
  });
});
