// The GoalState push over real gRPC, as a host agent sees it: two recording agents on 127.0.0.1
// (nodes vhost-1 and vhost-2, told apart by server_port) answer like Alcor's agent. A bind sends
// the port's whole state to its host and its neighbor to the other host of the subnet; the REST
// answer waits for the pushes; failures, timeouts and unreachable hosts make the port FAILED but
// the answer stays 2xx; deletes send DELETE; a restarted agent gets its state again; push faults.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Metadata, credentials } from '@grpc/grpc-js';
import { alcor } from '@merak/proto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AlcorServer, NODE_NAME_METADATA, type PortEntity, type PushRecord, startAlcorServer } from './index.js';
import { type RecordingAgent, startRecordingAgent } from './goalstate/recording-agent.js';
import { type HttpAnswer, type TestNetwork, clientFor, createNetwork, http } from './test-http.js';

const P = 'proj';
const TIMEOUT_MS = 1500;
const { OperationType: Op, ResourceType: RT } = alcor;
let alcorServer: AlcorServer;
let api: ReturnType<typeof clientFor<'vpc' | 'subnet' | 'route' | 'port' | 'node' | 'sg'>>;
let agent1: RecordingAgent;
let agent2: RecordingAgent;

beforeAll(async () => {
  agent1 = await startRecordingAgent();
  agent2 = await startRecordingAgent();
  alcorServer = await startAlcorServer({ seed: 7, control: true, goalState: { ncmPort: 0, timeoutMs: TIMEOUT_MS, channelsPerHost: 2 } });
  api = clientFor(alcorServer.urls);
});
afterAll(async () => {
  await alcorServer?.close();
  await agent1?.close();
  await agent2?.close();
});
beforeEach(() => {
  alcorServer.reset();
  agent1.mode = 'success';
  agent2.mode = 'success';
  agent1.calls.length = 0;
  agent2.calls.length = 0;
});

const push = (): NonNullable<AlcorServer['goalState']> => alcorServer.goalState!;
const portOf = (r: HttpAnswer): PortEntity => (r.json as { port: PortEntity }).port;
const HOST = '127.0.0.1';

async function registerNodes(extra: Array<Record<string, unknown>> = []): Promise<void> {
  const r = await api.post('node', '/nodes/bulk', { host_infos: [
    { node_id: 'n1', node_name: 'vhost-1', local_ip: HOST, server_port: agent1.port, mac_address: 'aa:00:00:00:00:01', 'data-path-ip': '10.9.0.1' },
    { node_id: 'n2', node_name: 'vhost-2', local_ip: HOST, server_port: agent2.port, mac_address: 'aa:00:00:00:00:02', 'data-path-ip': '10.9.0.2' },
    ...extra,
  ] });
  expect(r.status).toBe(200);
}

/** An unbound port, then the bind PUT Merak sends (device fields + host). */
async function boundPort(net: TestNetwork, host: string, vm: string): Promise<{ port: PortEntity; put: HttpAnswer }> {
  const created = portOf(await api.post('port', `/project/${P}/ports`, { port: { network_id: net.vpc, security_groups: [net.sg], fixed_ips: [{ subnet_id: net.subnet }] } }));
  const put = await api.put('port', `/project/${P}/ports/${created.id}`, { port: { device_id: vm, device_owner: 'compute:nova', 'binding:host_id': host } });
  return { port: portOf(put), put };
}

const statusOf = async (id: string): Promise<string | undefined> => portOf(await api.get('port', `/project/${P}/ports/${id}`)).status;
const resources = (m: alcor.GoalStateV2): string[] =>
  (m.hostResources[HOST]?.resources ?? []).map((r) => `${alcor.resourceTypeToJSON(r.type)} ${r.id}`).sort();
const lastPush = (host: string): PushRecord => push().pushes.forHost(host).at(-1)!;

async function vniOf(vpc: string): Promise<number> {
  return ((await api.get('vpc', `/project/${P}/vpcs/${vpc}`)).json as { network: { 'provider:segmentation_id': number } }).network['provider:segmentation_id'];
}

async function gatewayMacOf(subnet: string): Promise<string> {
  return ((await api.get('subnet', `/project/${P}/subnets/${subnet}`)).json as { subnet: { gateway_port_detail: { gateway_macAddress: string } } }).subnet.gateway_port_detail.gateway_macAddress;
}

describe('bind', () => {
  it('sends the binding host its port, VPC, subnet, DHCP, SG and every neighbor, and the other host the neighbor only', async () => {
    await registerNodes();
    const net = await createNetwork(api, P, '10.20.0.0/24');
    const q = (await boundPort(net, 'vhost-2', 'vm-q')).port;
    // Q is the first bound port of the subnet: vhost-2 alone hears of it, with its own neighbor.
    const [first] = await agent2.waitForPushes(1);
    expect(Object.keys(first!.neighborStates)).toEqual([`L2/${q.id}`]);
    expect(agent1.pushes()).toEqual([]);

    const { port: p, put } = await boundPort(net, 'vhost-1', 'vm-p');
    expect(put.status).toBe(200);
    const [h1] = await agent1.waitForPushes(1);
    const [, h2] = await agent2.waitForPushes(2);
    const ip = p.fixed_ips![0]!.ip_address!;
    const qIp = q.fixed_ips![0]!.ip_address!;
    const vni = await vniOf(net.vpc);

    const dhcpIds = Object.keys(h1!.dhcpStates);
    expect(h1!.formatVersion).toBe(0);
    expect(Object.keys(h1!.hostResources)).toEqual([HOST]);
    expect(resources(h1!)).toEqual([
      `DHCP ${dhcpIds[0]}`, `NEIGHBOR L2/${p.id}`, `NEIGHBOR L2/${q.id}`, `PORT ${p.id}`, `SECURITYGROUP ${net.sg}`, `SUBNET ${net.subnet}`, `VPC ${net.vpc}`,
    ].sort());
    expect(h1!.portStates).toEqual({ [p.id!]: alcor.PortState.fromPartial({
      operationType: Op.CREATE,
      configuration: {
        revisionNumber: 1, id: p.id, updateType: alcor.UpdateType.FULL, vpcId: net.vpc, deviceId: 'vm-p', deviceOwner: 'compute:nova',
        macAddress: p.mac_address, adminStateUp: true, fixedIps: [{ subnetId: net.subnet, ipAddress: ip }], securityGroupIds: [{ id: net.sg }],
      },
    }) });
    expect(h1!.vpcStates[net.vpc]).toMatchObject({ operationType: Op.INFO, configuration: { id: net.vpc, projectId: P, revisionNumber: 1 } });
    expect(h1!.subnetStates[net.subnet]).toMatchObject({
      operationType: Op.INFO,
      configuration: { id: net.subnet, networkType: alcor.NetworkType.VXLAN, vpcId: net.vpc, cidr: '10.20.0.0/24', tunnelId: vni,
        gateway: { ipAddress: '10.20.0.1', macAddress: await gatewayMacOf(net.subnet) } },
    });
    expect(dhcpIds).toHaveLength(1);
    expect(h1!.dhcpStates[dhcpIds[0]!]).toMatchObject({
      operationType: Op.CREATE, configuration: { id: dhcpIds[0], subnetId: net.subnet, macAddress: p.mac_address, ipv4Address: ip },
    });
    expect(h1!.securityGroupStates[net.sg]!.configuration!.securityGroupRules).toHaveLength(2);
    expect(h1!.routerStates).toEqual({});
    expect(h1!.neighborStates[`L2/${q.id}`]).toEqual(alcor.NeighborState.fromPartial({
      operationType: Op.CREATE,
      configuration: {
        revisionNumber: 1, id: q.id, vpcId: net.vpc, macAddress: q.mac_address, hostIpAddress: '10.9.0.2', hostMacAddress: 'aa:00:00:00:00:02',
        fixedIps: [{ neighborType: alcor.NeighborType.L2, subnetId: net.subnet, ipAddress: qIp }],
      },
    }));
    expect(h1!.neighborStates[`L2/${p.id}`]!.configuration).toMatchObject({ hostIpAddress: '10.9.0.1', hostMacAddress: 'aa:00:00:00:00:01' });

    // The other host: the new neighbor and the subnet it needs for the VNI, nothing else.
    expect(resources(h2!)).toEqual([`NEIGHBOR L2/${p.id}`, `SUBNET ${net.subnet}`]);
    expect(Object.keys(h2!.neighborStates)).toEqual([`L2/${p.id}`]);
    expect(h2!.neighborStates[`L2/${p.id}`]!.operationType).toBe(Op.CREATE);
    expect(h2!.subnetStates[net.subnet]!.configuration!.tunnelId).toBe(vni);
    for (const empty of [h2!.portStates, h2!.vpcStates, h2!.dhcpStates, h2!.securityGroupStates]) expect(empty).toEqual({});

    expect(await statusOf(p.id!)).toBe('ACTIVE');
    expect(lastPush('vhost-1')).toMatchObject({ kind: 'port', outcome: 'ok', endpoint: `${HOST}:${agent1.port}` });
    expect(lastPush('vhost-2')).toMatchObject({ kind: 'neighbor', outcome: 'ok' });
  });

  it('warms up each new channel once with an empty message that is never half-closed; pushes are half-closed', async () => {
    // A server and an agent of its own, so that this is the first contact.
    const fresh = await startRecordingAgent();
    const server = await startAlcorServer({ goalState: { ncmPort: 0, channelsPerHost: 3 } });
    try {
      const client = clientFor(server.urls);
      expect((await client.post('node', '/nodes', { host_info: { node_id: 'f', node_name: 'fresh', local_ip: HOST, server_port: fresh.port } })).status).toBe(201);
      const net = await createNetwork(client, P, '10.21.0.0/24');
      for (const vm of ['vm-a', 'vm-b']) {
        const r = await client.post('port', `/project/${P}/ports`, { port: { network_id: net.vpc, device_id: vm, device_owner: 'compute:nova', 'binding:host_id': 'fresh' } });
        expect(r.status).toBe(201);
      }
      await fresh.waitForPushes(2);
      await expect.poll(() => fresh.warmUps().length).toBe(3);
      for (const w of fresh.warmUps()) {
        expect(w.halfClosed).toBe(false);
        expect(alcor.GoalStateV2.encode(w.message).finish().length).toBe(0);
      }
      const pushes = fresh.calls.filter((c) => !c.warmUp);
      expect(pushes).toHaveLength(2);
      for (const c of pushes) expect(c.halfClosed).toBe(true);
    } finally {
      await server.close();
      await fresh.close();
    }
  });

  it('merges a host that holds another port of the subnet into one message; bulk create pushes once per host', async () => {
    await registerNodes();
    const net = await createNetwork(api, P, '10.22.0.0/24');
    const a = (await boundPort(net, 'vhost-1', 'vm-a')).port;
    const b = (await boundPort(net, 'vhost-1', 'vm-b')).port;
    const [, second] = await agent1.waitForPushes(2);
    expect(Object.keys(second!.neighborStates).sort()).toEqual([`L2/${a.id}`, `L2/${b.id}`].sort());
    expect(Object.keys(second!.portStates)).toEqual([b.id]);

    const bulk = await api.post('port', `/project/${P}/ports/bulk`, { ports: [
      { network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet, ip_address: '10.22.0.50' }], device_id: 'x', device_owner: 'compute:nova', 'binding:host_id': 'vhost-1' },
      { network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet, ip_address: '10.22.0.51' }], device_id: 'y', device_owner: 'compute:nova', 'binding:host_id': 'vhost-2' },
    ] });
    expect(bulk.status).toBe(201);
    const [x, y] = (bulk.json as { ports: PortEntity[] }).ports;
    const [, , third] = await agent1.waitForPushes(3);
    const [h2] = await agent2.waitForPushes(1);
    expect(Object.keys(third!.portStates)).toEqual([x!.id]);
    expect(Object.keys(third!.neighborStates).sort()).toEqual([a.id, b.id, x!.id, y!.id].map((id) => `L2/${id}`).sort());
    expect(Object.keys(h2!.portStates)).toEqual([y!.id]);
    expect(Object.keys(h2!.neighborStates).sort()).toEqual([a.id, b.id, x!.id, y!.id].map((id) => `L2/${id}`).sort());
    expect(agent1.pushes()).toHaveLength(3);
    expect(agent2.pushes()).toHaveLength(1);
  });
});

describe('failures', () => {
  it('a FAILURE reply makes the port FAILED and the PUT still answers 200', async () => {
    await registerNodes();
    const net = await createNetwork(api, P, '10.23.0.0/24');
    agent1.mode = 'failure';
    const { port, put } = await boundPort(net, 'vhost-1', 'vm');
    expect(put.status).toBe(200);
    expect(await statusOf(port.id!)).toBe('FAILED');
    expect(lastPush('vhost-1')).toMatchObject({ outcome: 'failure', statuses: expect.arrayContaining([{ resourceId: port.id, resourceType: 'PORT', operationType: 'CREATE', operationStatus: 'FAILURE' }]) });
  });

  it('no end of call within timeoutMs: FAILED, and the PUT answers after the timeout', async () => {
    await registerNodes();
    const net = await createNetwork(api, P, '10.24.0.0/24');
    agent1.mode = 'hang';
    const started = Date.now();
    const { port, put } = await boundPort(net, 'vhost-1', 'vm');
    expect(put.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(await statusOf(port.id!)).toBe('FAILED');
    expect(lastPush('vhost-1').outcome).toBe('timeout');
  });

  it('an unreachable host agent: FAILED, 200', async () => {
    const closedPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, HOST, () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    await registerNodes([{ node_id: 'n3', node_name: 'vhost-3', local_ip: HOST, server_port: closedPort, 'data-path-ip': '10.9.0.3' }]);
    const net = await createNetwork(api, P, '10.25.0.0/24');
    const { port, put } = await boundPort(net, 'vhost-3', 'vm');
    expect(put.status).toBe(200);
    expect(await statusOf(port.id!)).toBe('FAILED');
    expect(lastPush('vhost-3')).toMatchObject({ outcome: 'error', endpoint: `${HOST}:${closedPort}` });
  });
});

describe('unbind and delete', () => {
  it('send DELETE for the port, its DHCP entries and its neighbor; other neighbors keep CREATE', async () => {
    await registerNodes();
    const net = await createNetwork(api, P, '10.26.0.0/24');
    const q = (await boundPort(net, 'vhost-2', 'vm-q')).port;
    const p = (await boundPort(net, 'vhost-1', 'vm-p')).port;
    await agent1.waitForPushes(1);
    await agent2.waitForPushes(2);

    expect((await api.del('port', `/project/${P}/ports/${p.id}`)).status).toBe(200);
    const [, h1] = await agent1.waitForPushes(2);
    const [, , h2] = await agent2.waitForPushes(3);
    expect(h1!.portStates[p.id!]!.operationType).toBe(Op.DELETE);
    expect(Object.values(h1!.dhcpStates).map((d) => [d.operationType, d.configuration!.ipv4Address])).toEqual([[Op.DELETE, p.fixed_ips![0]!.ip_address]]);
    expect(h1!.neighborStates[`L2/${p.id}`]!.operationType).toBe(Op.DELETE);
    expect(h1!.neighborStates[`L2/${q.id}`]!.operationType).toBe(Op.CREATE);
    expect(Object.keys(h2!.neighborStates)).toEqual([`L2/${p.id}`]);
    expect(h2!.neighborStates[`L2/${p.id}`]!.operationType).toBe(Op.DELETE);
    expect(resources(h2!)).toEqual([`NEIGHBOR L2/${p.id}`, `SUBNET ${net.subnet}`]);

    // Unbind by PUT (device fields emptied): UPDATE in REST, DELETE in the PortState.
    const unbind = await api.put('port', `/project/${P}/ports/${q.id}`, { port: { device_id: '', device_owner: '' } });
    expect(unbind.status).toBe(200);
    const [, , , h2b] = await agent2.waitForPushes(4);
    expect(h2b!.portStates[q.id!]!.operationType).toBe(Op.DELETE);
    expect(h2b!.neighborStates[`L2/${q.id}`]!.operationType).toBe(Op.DELETE);
    expect(agent1.pushes()).toHaveLength(2); // vhost-1 holds no port of the subnet any more
  });
});

describe('RequestGoalStates', () => {
  function requestGoalStates(nodeName: string | undefined): Promise<alcor.HostRequestReply> {
    const client = new alcor.GoalStateProvisionerClient(`127.0.0.1:${push().ncmPort}`, credentials.createInsecure());
    const md = new Metadata();
    if (nodeName !== undefined) md.set(NODE_NAME_METADATA, nodeName);
    const request = alcor.HostRequest.fromPartial({ stateRequests: [
      { requestType: alcor.RequestType.AGENT_RESTARTED, requestId: 'r1' },
      { requestType: alcor.RequestType.ON_DEMAND, requestId: 'r2' },
    ] });
    return new Promise<alcor.HostRequestReply>((resolve, reject) => {
      client.requestGoalStates(request, md, (err, reply) => (err ? reject(err) : resolve(reply)));
    }).finally(() => client.close());
  }

  it('AGENT_RESTARTED re-pushes the host\'s current state before answering SUCCESS', async () => {
    await registerNodes();
    const net = await createNetwork(api, P, '10.27.0.0/24');
    const q = (await boundPort(net, 'vhost-2', 'vm-q')).port;
    const p = (await boundPort(net, 'vhost-1', 'vm-p')).port;
    const gone = (await boundPort(net, 'vhost-1', 'vm-gone')).port;
    expect((await api.del('port', `/project/${P}/ports/${gone.id}`)).status).toBe(200);
    await agent1.waitForPushes(3);
    const before = agent1.pushes().length;

    const reply = await requestGoalStates('vhost-1');
    expect(reply.operationStatuses).toEqual([
      { requestId: 'r1', operationStatus: alcor.OperationStatus.SUCCESS },
      { requestId: 'r2', operationStatus: alcor.OperationStatus.FAILURE }, // on-demand is not served
    ]);
    const all = agent1.pushes();
    expect(all).toHaveLength(before + 1); // pushed before the answer
    const restart = all.at(-1)!;
    expect(Object.keys(restart.portStates)).toEqual([p.id]);
    expect(restart.portStates[p.id!]!.operationType).toBe(Op.CREATE);
    expect(Object.keys(restart.neighborStates).sort()).toEqual([`L2/${p.id}`, `L2/${q.id}`].sort());
    for (const n of Object.values(restart.neighborStates)) expect(n.operationType).toBe(Op.CREATE);
    expect(Object.values(restart.dhcpStates).map((d) => [d.operationType, d.configuration!.ipv4Address])).toEqual([[Op.CREATE, p.fixed_ips![0]!.ip_address]]);
    expect(Object.keys(restart.subnetStates)).toEqual([net.subnet]);
    expect(Object.keys(restart.vpcStates)).toEqual([net.vpc]);
    expect(Object.keys(restart.securityGroupStates)).toEqual([net.sg]);
    expect(Object.keys(restart.hostResources)).toEqual([HOST]);
    expect(lastPush('vhost-1')).toMatchObject({ kind: 'restart', outcome: 'ok' });
  });

  it('without a node name the peer address says which node asks; shared by several nodes it is ambiguous: FAILURE', async () => {
    await registerNodes();
    const reply = await requestGoalStates(undefined);
    expect(reply.operationStatuses.map((s) => s.operationStatus)).toEqual([alcor.OperationStatus.FAILURE, alcor.OperationStatus.FAILURE]);
    expect(push().pushes.all()).toEqual([]);

    expect((await api.del('node', '/nodes/n2')).status).toBe(200); // 127.0.0.1 is now vhost-1's alone
    const alone = await requestGoalStates(undefined);
    expect(alone.operationStatuses.map((s) => s.operationStatus)).toEqual([alcor.OperationStatus.SUCCESS, alcor.OperationStatus.FAILURE]);
    expect(push().pushes.all().map((p) => [p.host, p.kind, p.outcome])).toEqual([['vhost-1', 'restart', 'ok']]);
  });
});

describe('push faults', () => {
  it('delay, drop and failure, per host, in process and over the control endpoint', async () => {
    await registerNodes();
    const net = await createNetwork(api, P, '10.28.0.0/24');
    const base = alcorServer.urls.port;

    push().faults.add({ host: 'vhost-1', action: { kind: 'delay', ms: 300 }, limit: { kind: 'first', n: 1 } });
    const started = Date.now();
    const delayed = await boundPort(net, 'vhost-1', 'vm-delay');
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);
    expect(await statusOf(delayed.port.id!)).toBe('ACTIVE');

    const rule = await http('POST', `${base}/_merak/push-faults`, { body: { host: 'vhost-1', action: { kind: 'drop' }, limit: { kind: 'first', n: 1 } } });
    expect(rule.status).toBe(201);
    const dropped = await boundPort(net, 'vhost-1', 'vm-drop');
    expect(dropped.put.status).toBe(200);
    expect(await statusOf(dropped.port.id!)).toBe('FAILED');
    expect(lastPush('vhost-1')).toMatchObject({ outcome: 'dropped', faults: [(rule.json as { id: string }).id] });

    // A failure rule for vhost-2 only: vhost-2's push fails, vhost-1 is untouched.
    expect((await http('POST', `${base}/_merak/push-faults`, { body: { host: 'vhost-2', action: { kind: 'failure' } } })).status).toBe(201);
    const failed = await boundPort(net, 'vhost-2', 'vm-fail');
    expect(await statusOf(failed.port.id!)).toBe('FAILED');
    expect(lastPush('vhost-2').outcome).toBe('failure');
    expect(agent2.pushes().length).toBeGreaterThan(0); // it was sent all the same
    const fine = await boundPort(net, 'vhost-1', 'vm-fine');
    expect(await statusOf(fine.port.id!)).toBe('ACTIVE');

    const listed = (await http('GET', `${base}/_merak/push-faults`)).json as Array<{ host: string; fired: number }>;
    expect(listed.map((r) => [r.host, r.fired])).toEqual([['vhost-1', 1], ['vhost-1', 1], ['vhost-2', 2]]);
    const pushes = (await http('GET', `${base}/_merak/pushes?host=vhost-2`)).json as PushRecord[];
    expect(pushes.map((p) => p.outcome)).toEqual(['failure', 'failure']); // vm-fail's bind, vm-fine's neighbor
    expect((await http('DELETE', `${base}/_merak/push-faults`)).status).toBe(200);
    expect(push().faults.list()).toEqual([]);
    expect((await http('POST', `${base}/_merak/push-faults`, { body: { action: { kind: 'explode' } } })).status).toBe(400);
  });
});

describe('router interfaces', () => {
  it('attach pushes the router and its subnets to the hosts of the subnet; later binds carry the router', async () => {
    await registerNodes();
    const net = await createNetwork(api, P, '10.29.0.0/24');
    await boundPort(net, 'vhost-2', 'vm-q');
    const router = ((await api.post('route', `/project/${P}/routers`, { router: { name: 'r' } })).json as { router: { id: string } }).router.id;
    const attach = await api.put('route', `/project/${P}/routers/${router}/add_router_interface`, { subnet_id: net.subnet });
    expect(attach.status).toBe(200);
    const [, h2] = await agent2.waitForPushes(2);
    expect(resources(h2!)).toEqual([`ROUTER ${HOST}/${router}`, `SUBNET ${net.subnet}`]);
    expect(h2!.routerStates[router]).toMatchObject({
      operationType: Op.INFO, configuration: { id: router, revisionNumber: 1, hostDvrMacAddress: 'fe:16:11:00:00:00', subnetRoutingTables: [{ subnetId: net.subnet }] },
    });
    expect(lastPush('vhost-2').kind).toBe('router');

    const p = (await boundPort(net, 'vhost-1', 'vm-p')).port;
    const [h1] = await agent1.waitForPushes(1);
    expect(Object.keys(h1!.routerStates)).toEqual([router]);
    expect(resources(h1!)).toContain(`ROUTER ${HOST}/${router}`);
    expect(Object.keys(h1!.portStates)).toEqual([p.id]);

    const detach = await api.put('route', `/project/${P}/routers/${router}/remove_router_interface`, { subnet_id: net.subnet });
    expect(detach.status).toBe(200);
    const [, h1b] = await agent1.waitForPushes(2);
    expect(h1b!.routerStates[router]!.operationType).toBe(Op.DELETE);
    expect(h1b!.hostResources[HOST]!.resources.some((r) => r.type === RT.ROUTER)).toBe(true);
  });
});

describe('CLI', () => {
  const MAIN = fileURLToPath(new URL('../dist/alcor/main.js', import.meta.url));

  /** Runs the built server until its 'listening' line, then stops it; returns that line. */
  async function listeningLine(args: string[]): Promise<Record<string, unknown>> {
    if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (npx tsc -b)`);
    const child = spawn(process.execPath, [MAIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      return await new Promise<Record<string, unknown>>((resolve, reject) => {
        let buffer = '';
        child.stdout!.on('data', (c: Buffer) => {
          buffer += c.toString();
          for (const line of buffer.split('\n').slice(0, -1)) {
            const parsed = JSON.parse(line) as Record<string, unknown>;
            if (parsed.msg === 'listening') resolve(parsed);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited with ${code} before listening`)));
      });
    } finally {
      // Only the process this test started, by its handle.
      child.kill('SIGTERM');
      await new Promise((r) => (child.exitCode === null && child.signalCode === null ? child.once('exit', r) : r(undefined)));
    }
  }

  it('pushes by default and prints the NCM port with the URLs; --goalstate-push off does not', async () => {
    const on = await listeningLine(['--port', '0', '--ncm-port', '0', '--push-timeout-ms', '1000', '--channels-per-host', '2']);
    expect(on).toMatchObject({ goalStatePush: true, ncmPort: expect.any(Number), urls: { port: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/) } });
    expect(on.ncmPort).not.toBe(0);
    const off = await listeningLine(['--port', '0', '--goalstate-push', 'off']);
    expect(off.goalStatePush).toBe(false);
    expect(off).not.toHaveProperty('ncmPort');
  });
});
