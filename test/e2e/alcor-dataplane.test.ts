// Alcor mode with its data plane, end to end on the local emulation: the Alcor-compatible server
// pushes every bound port's GoalState to the agent of its host, as Alcor's NCM does, and the agents
// program OVS from it. Merak's e2e (5 vhosts x 10 VMs, a security group, a router) must then ping
// between every pair; a deleted VM's neighbors go from the other hosts; a GoalState that arrives
// before its tap is PENDING, then programmed, then pings; an agent killed and restarted ends with
// the same data plane; and the teardown leaves no tunnel behind.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { agentV1, coordinatorV1 } from '@merak/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from '../../lab/cli/connect.js';
import type { CoordinatorClient } from '../../lab/coordinator-client/coordinator-client.js';
import { type LocalUp, localDown, localUp } from '../../lab/cli/local.js';
import { ALCOR_NCM_PORT, type EmulatedVhost } from '../../lab/local/emulation.js';
import { type AlcorServer, startAlcorServer } from '../alcor/index.js';
import { namespacesWithPrefix, requireRoot, sweepEmulation, uniquePrefix } from '../fixtures/local-emulation.js';

requireRoot();
const prefix = uniquePrefix('ad');
const dir = mkdtempSync(join(tmpdir(), 'merak-alcor-dataplane-'));
const PROJECT = 'merak-e2e-project';
/** An address no VM of the scenario had (a reused one would meet the VMs' stale ARP entries). */
const LATE_IP = '10.1.200.7';
let up: LocalUp;
let client: CoordinatorClient;
let alcor: AlcorServer;
let scenarioId = '';
const quiet = (): void => undefined;

const sh = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
const vhosts = (): readonly EmulatedVhost[] => up.emulation.vhosts;
const vsctl = (v: EmulatedVhost, ...args: string[]): string => sh('ovs-vsctl', `--db=unix:${v.dbSocket}`, ...args);
/** br-tun's flows (no statistics), sorted: the data plane GoalState programmed on that vhost. */
const tunFlows = (v: EmulatedVhost): string[] =>
  sh('ovs-ofctl', '-O', 'OpenFlow13', '--no-stats', 'dump-flows', `unix:${join(dirname(v.dbSocket), 'br-tun.mgmt')}`).split('\n').map((l) => l.trim()).filter((l) => l.startsWith('cookie=')).sort();
const tunnelPorts = (v: EmulatedVhost): string[] => vsctl(v, 'list-ports', 'br-tun').split('\n').filter((n) => n !== '' && n !== 'patch-int');
const vmsOf = async (v: EmulatedVhost): Promise<agentV1.VmState[]> => (await v.client.listVms()).vms.filter((x) => x.name.startsWith(prefix));

async function pings(v: EmulatedVhost, vm: string, targets: readonly string[]): Promise<Map<string, number>> {
  const res = await v.client.ping({ sources: [{ vm, targets: [...targets] }], count: 3, intervalMs: 100, timeoutMs: 1500, convergeMs: 2000 });
  return new Map(res.results.map((r) => [r.target, r.received]));
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  up = await localUp({ dir: join(dir, 'local'), hosts: 5, prefix, log: quiet, hostAccess: true });
  // Alcor on this machine's underlay address; its NCM where the agents ask after a restart.
  alcor = await startAlcorServer({ mode: 'node-ports', seed: 5, host: up.emulation.hostIp!, goalState: { ncmPort: ALCOR_NCM_PORT, timeoutMs: 30_000 } });
  client = connect({ localDir: join(dir, 'local') });
}, 180_000);

afterAll(async () => {
  client?.close();
  await localDown(join(dir, 'local'), quiet).catch(() => undefined);
  await sweepEmulation(join(dir, 'local', 'emulation'), prefix);
  await alcor?.close();
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

const scenario = (name: string): string => `
name: ${name}
provider: alcor
alcor:
  endpoints: { vpc: ${alcor.urls.vpc}, subnet: ${alcor.urls.subnet}, route: ${alcor.urls.route}, port: ${alcor.urls.port}, node: ${alcor.urls.node}, sg: ${alcor.urls.sg} }
  project_id: ${PROJECT}
hosts: { count: 5 }
security_groups:
  - name: web
    rules: [{ direction: ingress, protocol: tcp, port_range_min: 80, remote_ip_prefix: 0.0.0.0/0 }]
vpcs:
  - name: vpc1
    cidr: 10.1.0.0/16
    subnets: [{ name: subnet1, cidr: 10.1.0.0/16, gateway: 10.1.0.1, vms: 50, security_groups: [web] }]
routers:
  - { name: router1, vpc: vpc1, subnets: [subnet1] }
test: { type: ping, pairs_per_vpc_limit: 50, count: 2 }
`;

describe('Alcor mode with its data plane on the local emulation', () => {
  it("runs Merak's e2e (5 x 10): every VM ready once its GoalState is applied, every pair pinging across vhosts", async () => {
    const created = await client.createScenario(scenario(`${prefix}-e2e`), 'yaml');
    scenarioId = created.id;
    await client.watch(created.id, () => undefined);
    const done = await client.getScenario(created.id);
    const report = JSON.parse((await client.getReport(created.id)).json) as {
      ping: { pairsPassed: number; pairsFailed: number; failedPairs: unknown[] }; alcor: { goalStateVms: number; goalStateMs: { p50: number } };
    };
    // The failed pairs first: a red run says which pair and why.
    expect(report.ping.failedPairs).toEqual([]);
    expect(done.error).toBe('');
    expect(done.vms).toMatchObject({ requested: 50, ready: 50, failed: 0 });
    // Every ordered pair of the VPC (50 x 49), across vhosts and within them.
    expect(report.ping).toMatchObject({ pairsPassed: 2450, pairsFailed: 0 });
    expect(report.alcor.goalStateVms).toBe(50);
    expect(report.alcor.goalStateMs.p50).toBeGreaterThan(0);
    // Every bound port was pushed to its host and every push ended well.
    const pushes = alcor.goalState!.pushes.all();
    expect(pushes.length).toBeGreaterThanOrEqual(50);
    expect(pushes.filter((p) => p.outcome !== 'ok')).toEqual([]);
    // Each vhost holds the 40 VMs of the other vhosts as neighbors (ARP and unicast flows) behind 4 tunnels.
    for (const v of vhosts()) expect(tunnelPorts(v)).toHaveLength(4);
  }, 600_000);

  it('a deleted VM: its neighbors leave the other hosts, pings to it fail, the rest still pass, its host keeps its tunnels', async () => {
    const [h0, h1, h2] = [vhosts()[0]!, vhosts()[1]!, vhosts()[2]!];
    const victim = (await vmsOf(h1))[0]!;
    const sibling = (await vmsOf(h1))[1]!;
    const prober = (await vmsOf(h0))[0]!;
    expect(tunFlows(h0).some((f) => f.includes(victim.mac))).toBe(true);
    const res = await h1.client.applyAll({ operations: [{ op: { $case: 'delete', value: { id: victim.id, name: victim.name } }, startOffsetMs: 0 }], concurrency: 1, startAtUnixMs: 0 });
    expect(res.map((r) => r.status)).toEqual([agentV1.VmStatus.VM_STATUS_DELETED]);
    for (const v of vhosts()) expect(tunFlows(v).filter((f) => f.includes(victim.mac))).toEqual([]);
    const got = await pings(h0, prober.name, [victim.ip, sibling.ip, (await vmsOf(h2))[0]!.ip]);
    expect(got.get(victim.ip)).toBe(0);
    expect(got.get(sibling.ip)).toBeGreaterThan(0);
    expect([...got.values()].filter((n) => n > 0)).toHaveLength(2);
    for (const v of vhosts()) expect(tunnelPorts(v)).toHaveLength(4);
  }, 120_000);

  it('a GoalState that arrives before its tap: PENDING, then programmed once the tap exists, then it pings', async () => {
    const h3 = vhosts()[3]!;
    const h0 = vhosts()[0]!;
    const state = alcor.state();
    const vpc = state.vpcs[0]!;
    const subnet = state.subnets[0]!;
    const res = await fetch(`${alcor.urls.port}/project/${PROJECT}/ports`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ port: { admin_state_up: true, network_id: vpc.id, fixed_ips: [{ subnet_id: subnet.id, ip_address: LATE_IP }], device_id: `${prefix}-late`, device_owner: 'compute:nova', 'binding:host_id': h3.name, tenant_id: PROJECT } }),
    });
    expect(res.status).toBe(201);
    const port = ((await res.json()) as { port: { id: string; mac_address: string; fixed_ips: Array<{ ip_address: string }> } }).port;
    const push = alcor.goalState!.pushes.forHost(h3.name).at(-1)!;
    expect(push.outcome).toBe('ok');
    expect(push.statuses).toContainEqual(expect.objectContaining({ resourceId: port.id, operationStatus: 'PENDING' }));
    // The tap appears (a veth named as Alcor's agent expects, its other end in a namespace with
    // Alcor's address and MAC), and only then goes on br-int.
    const tap = `tap${port.id.slice(0, 11)}`;
    const ns = `${prefix}-late`;
    sh('ip', 'netns', 'add', ns);
    sh('ip', '-n', h3.name, 'link', 'add', tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns);
    sh('ip', '-n', h3.name, 'link', 'set', tap, 'up');
    sh('ip', '-n', ns, 'link', 'set', 'eth0', 'address', port.mac_address);
    sh('ip', '-n', ns, 'addr', 'add', `${port.fixed_ips[0]!.ip_address}/16`, 'dev', 'eth0');
    sh('ip', '-n', ns, 'link', 'set', 'eth0', 'up');
    sh('ip', '-n', ns, 'link', 'set', 'lo', 'up');
    vsctl(h3, 'add-port', 'br-int', tap);
    await until('the PENDING tap tagged', () => vsctl(h3, 'get', 'Port', tap, 'tag').trim() !== '[]');
    const prober = (await vmsOf(h0))[0]!;
    const got = await pings(h0, prober.name, [port.fixed_ips[0]!.ip_address]);
    expect(got.get(port.fixed_ips[0]!.ip_address)).toBeGreaterThan(0);
    // Unbound again: its neighbor leaves the others, and nothing of it stays.
    const del = await fetch(`${alcor.urls.port}/project/${PROJECT}/ports/${port.id}`, { method: 'DELETE' });
    expect(del.status).toBe(200);
    for (const v of vhosts()) expect(tunFlows(v).filter((f) => f.includes(port.mac_address))).toEqual([]);
    expect(vsctl(h3, 'get', 'Port', tap, 'tag').trim()).toBe('[]');
    vsctl(h3, 'del-port', 'br-int', tap);
    sh('ip', 'netns', 'del', ns);
  }, 120_000);

  it('an agent killed and restarted mid-scenario ends with the same data plane, and the scenario still pings', async () => {
    const h4 = vhosts()[4]!;
    const before = { flows: tunFlows(h4), tunnels: tunnelPorts(h4).sort() };
    await h4.killAgent();
    await h4.restartAgent();
    // With --alcor-ncm it asked the NCM, which pushed this host's goal states again.
    await until('the NCM re-push after the restart', () => alcor.goalState!.pushes.forHost(h4.name).some((p) => p.kind === 'restart' && p.outcome === 'ok'), 30_000);
    expect({ flows: tunFlows(h4), tunnels: tunnelPorts(h4).sort() }).toEqual(before);
    const summary = await client.runTest(scenarioId);
    // The VM deleted behind the coordinator's back (above) cannot answer: only its pairs fail.
    expect(summary.pairsPassed + summary.pairsFailed).toBe(2450);
    expect(summary.pairsFailed).toBe(2 * 49);
  }, 300_000);

  it('deleting the scenario leaves no tunnel, no GoalState flow, nothing in Alcor', async () => {
    await client.deleteScenario(scenarioId);
    await client.watch(scenarioId, () => undefined);
    const gone = await client.getScenario(scenarioId);
    expect(gone.phase).toBe(coordinatorV1.ScenarioPhase.SCENARIO_PHASE_DELETED);
    for (const v of vhosts()) {
      expect(tunnelPorts(v)).toEqual([]);
      // No neighbor flow (ARP answer or unicast into a tunnel) is left on br-tun.
      expect(tunFlows(v).filter((f) => f.startsWith('cookie=0x4d524b0000000003'))).toEqual([]);
      expect(vsctl(v, 'list-ports', 'br-int').split('\n').filter((p) => p.startsWith('tap'))).toEqual([]);
    }
    const left = alcor.state();
    expect({ vpcs: left.vpcs, nodes: left.nodes }).toEqual({ vpcs: [], nodes: [] });
    expect(namespacesWithPrefix(`${prefix}-e2e`)).toEqual([]);
  }, 300_000);
});
