// Alcor mode end to end on the local emulation: Merak's own e2e scenario (5 vhosts, VPC
// 10.1.0.0/16, subnet gateway 10.1.0.1, 50 VMs) against the Alcor-compatible server. Checked: the
// calls Alcor received (order, bodies, host names), every VM in the kernel with exactly the IP and
// MAC Alcor allocated on an OVS internal port tap<id11>, faults failing only their VMs and leaking
// nothing, and a teardown that leaves nothing in Alcor and nothing on the hosts.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lab/cli/connect.js';
import type { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import { type LocalUp, localDown, localUp } from '../../lab/cli/local.js';
import { type AlcorServer, startAlcorServer } from '../alcor/index.js';
import { ipJson, linksWithPrefix, namespacesWithPrefix, processesMentioning, requireRoot, sweepEmulation, uniquePrefix, vsctlList } from '../fixtures/local-emulation.js';

requireRoot();
const prefix = uniquePrefix('a');
const dir = mkdtempSync(join(tmpdir(), 'merak-alcor-e2e-'));
let up: LocalUp;
let client: CoordinatorClient;
let alcor: AlcorServer;
const quiet = (): void => undefined;

beforeAll(async () => {
  // The agents run in the vhosts' namespaces: Alcor listens on this machine's underlay address,
  // and pushes each bound port's GoalState to its host's agent (a VM is ready once it is applied).
  up = await localUp({ dir: join(dir, 'local'), hosts: 5, prefix, log: quiet, hostAccess: true });
  alcor = await startAlcorServer({ mode: 'node-ports', seed: 11, host: up.emulation.hostIp!, goalState: { ncmPort: 0 } });
  client = connect({ localDir: join(dir, 'local') });
}, 180_000);

afterAll(async () => {
  client?.close();
  await localDown(join(dir, 'local'), quiet).catch(() => undefined);
  await sweepEmulation(join(dir, 'local', 'emulation'), prefix);
  await alcor?.close();
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

const scenarioText = (name: string, vms: number, retries = 2): string => `
name: ${name}
provider: alcor
alcor:
  endpoints: { vpc: ${alcor.urls.vpc}, subnet: ${alcor.urls.subnet}, route: ${alcor.urls.route}, port: ${alcor.urls.port}, node: ${alcor.urls.node}, sg: ${alcor.urls.sg} }
  project_id: proj-${name}
  retries: ${retries}
hosts: { count: 5 }
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets: [{ name: subnet1, cidr: 10.1.0.0/16, gateway: 10.1.0.1, vms: ${vms} }]
test: none
`;

async function settle(id: string): Promise<coordinatorV1.Scenario> {
  await client.watch(id, () => undefined);
  return client.getScenario(id);
}

const userPorts = (): Array<Record<string, unknown>> =>
  alcor.state().ports.filter((p) => p.device_owner !== 'network:router_interface') as unknown as Array<Record<string, unknown>>;

describe('Alcor mode on the local emulation', () => {
  it("runs Merak's e2e: every VM on the host and with the IP and MAC Alcor gave it, and a teardown that leaves nothing", async () => {
    const name = `${prefix}-al`;
    const created = await client.createScenario(scenarioText(name, 50), 'yaml');
    const done = await settle(created.id);
    expect(done.error).toBe('');
    expect(done.vms).toMatchObject({ requested: 50, ready: 50, failed: 0 });

    // What Alcor received: the hosts by their real names and underlay addresses, then the network.
    const bulk = alcor.calls.last({ path: '/nodes/bulk' })!.requestBody as { host_infos: Array<Record<string, unknown>> };
    expect(bulk.host_infos.map((n) => [n.node_name, n.local_ip])).toEqual(up.emulation.vhosts.map((v) => [v.name, v.underlayIp]));
    const order = alcor.calls.all().map((c) => `${c.method} ${c.service}`).filter((c) => !c.startsWith('GET'));
    expect(order.slice(0, 3)).toEqual(['POST node', 'POST vpc', 'POST subnet']);
    expect(order.filter((c) => c === 'POST port')).toHaveLength(50);
    expect(order.filter((c) => c === 'PUT port')).toHaveLength(50);

    // Every VM in the kernel: its namespace, eth0 with Alcor's IP and MAC, on an internal port tap<id11> bound to its host.
    const ports = userPorts();
    expect(ports).toHaveLength(50);
    for (const p of ports) {
      const vm = String(p.device_id);
      const host = String(p['binding:host_id']);
      const ip = (p.fixed_ips as Array<{ ip_address: string }>)[0]!.ip_address;
      const eth0 = ipJson<Array<{ address: string; addr_info: Array<{ family: string; local: string; prefixlen: number }> }>>(vm, 'addr', 'show', 'dev', 'eth0')[0]!;
      expect(eth0.address).toBe(p.mac_address);
      expect(eth0.addr_info.find((a) => a.family === 'inet')).toMatchObject({ local: ip, prefixlen: 16 });
      expect(ipJson<Array<{ dst: string; gateway?: string }>>(vm, 'route', 'show')).toContainEqual(expect.objectContaining({ dst: 'default', gateway: '10.1.0.1' }));
      const v = up.emulation.vhosts.find((x) => x.name === host)!;
      const iface = vsctlList(v.dbSocket, 'Interface', ['name', 'type', 'external_ids']).find((r) => r.name === `tap${String(p.id).slice(0, 11)}`);
      expect(iface).toMatchObject({ type: 'internal', external_ids: expect.objectContaining({ 'iface-id': p.id, 'vm-name': vm, 'attached-mac': p.mac_address }) });
    }

    await client.deleteScenario(created.id);
    const gone = await settle(created.id);
    expect(gone.error).toBe('');
    expect(gone.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
    const left = alcor.state();
    expect({ vpcs: left.vpcs, subnets: left.subnets, nodes: left.nodes, ports: userPorts() }).toEqual({ vpcs: [], subnets: [], nodes: [], ports: [] });
    expect(namespacesWithPrefix(name)).toEqual([]);
    for (const v of up.emulation.vhosts) expect(vsctlList(v.dbSocket, 'Interface', ['name']).filter((r) => String(r.name).startsWith('tap'))).toEqual([]);
  }, 300_000);

  it('fails only the VMs whose port Alcor refuses, with its reason, and leaves nothing of them on the hosts or in Alcor', async () => {
    const name = `${prefix}-af`;
    alcor.faults.add({ method: 'PUT', path: '/project/*/ports/*', action: { kind: 'status', status: 503, message: 'NCM unavailable (injected)' }, limit: { kind: 'every', k: 4 } });
    const created = await client.createScenario(scenarioText(name, 20, 0), 'yaml');
    const done = await settle(created.id);
    alcor.faults.clear();
    expect(done.vms).toMatchObject({ requested: 20, ready: 15, failed: 5 });
    const report = JSON.parse((await client.getReport(created.id)).json) as { failures: { byCode: Record<string, number>; first: Array<{ step: string; message: string }> } };
    expect(report.failures.byCode).toEqual({ ALCOR: 5 });
    expect(report.failures.first[0]!.step).toBe('bind');
    expect(report.failures.first[0]!.message).toMatch(/PUT \/project\/\{project_id\}\/ports\/\{port_id\} .*answered 503.*NCM unavailable \(injected\)/);
    // The failed VMs were rolled back everywhere: their ports released in Alcor, nothing on the hosts.
    expect(userPorts()).toHaveLength(15);
    expect(namespacesWithPrefix(name)).toHaveLength(15);
    const taps = up.emulation.vhosts.flatMap((v) => vsctlList(v.dbSocket, 'Interface', ['name']).map((r) => String(r.name)).filter((n) => n.startsWith('tap')));
    expect(taps).toHaveLength(15);
    await client.deleteScenario(created.id);
    await settle(created.id);
    expect(userPorts()).toEqual([]);
    expect(namespacesWithPrefix(name)).toEqual([]);
  }, 300_000);

  it('local down leaves nothing on the machine', async () => {
    expect((await localDown(join(dir, 'local'), quiet)).failed).toEqual([]);
    expect(namespacesWithPrefix(prefix)).toEqual([]);
    expect(linksWithPrefix(prefix)).toEqual([]);
    expect(processesMentioning(join(dir, 'local'))).toEqual([]);
  }, 120_000);
});
