// VPCs, subnets, security groups, routers and nodes over real HTTP: defaults, validation errors
// with Alcor's error JSON, Alcor's quirks (docs/alcor.md), and Spring's routing answers (404, 405, trailing /).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AlcorServer, type NodeInfo, type SecurityGroup, type SubnetEntity, type VpcEntity, startAlcorServer } from './index.js';
import { type HttpAnswer, clientFor, createNetwork, http } from './test-http.js';

const P = 'p1';
let alcor: AlcorServer;
let api: ReturnType<typeof clientFor<'vpc' | 'subnet' | 'route' | 'port' | 'node' | 'sg'>>;

beforeAll(async () => {
  alcor = await startAlcorServer({ seed: 3 });
  api = clientFor(alcor.urls);
});
afterAll(async () => {
  await alcor.close();
});
beforeEach(() => alcor.reset());

function expectAlcorError(r: HttpAnswer, status: number, message: string, path: string): void {
  expect(r.status).toBe(status);
  expect(r.json).toEqual({ timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/), status, error: expect.any(String), message, path });
}

const vpcOf = (r: HttpAnswer): VpcEntity => (r.json as { network: VpcEntity }).network;
const subnetOf = (r: HttpAnswer): SubnetEntity => (r.json as { subnet: SubnetEntity }).subnet;

describe('VPC manager', () => {
  it('fills the defaults: mtu 1450, vxlan, a VNI 4096·k+offset, ACTIVE, revision 1, port security on, Nova', async () => {
    const r = await api.post('vpc', `/project/${P}/vpcs`, { network: { project_id: 'ignored', extra: 'ignored too' } });
    expect(r.status).toBe(201);
    const vpc = vpcOf(r);
    expect(vpc).toMatchObject({
      project_id: P, tenant_id: P, mtu: 1450, 'provider:network_type': 'vxlan', status: 'ACTIVE', revision_number: 1,
      port_security_enabled: true, admin_state_up: false, availability_zones: ['Nova'], tags: [], cidr: null, is_default: false, default: false,
    });
    expect(vpc['provider:segmentation_id'] % 4096).toBe(0); // the first VNI of its partition
    const second = vpcOf(await api.post('vpc', `/project/${P}/vpcs`, { network: { id: 'given-id', mtu: -5, 'provider:segmentation_id': 7, 'provider:network_type': 'vlan' } }));
    expect(second).toMatchObject({ id: 'given-id', mtu: 1450, 'provider:network_type': 'vlan' });
    expect(second['provider:segmentation_id']).not.toBe(7); // ignored: a VNI is allocated
  });

  it.each([
    ['mtu below 68', { mtu: 67 }],
    ['an unknown network type', { 'provider:network_type': 'geneve' }],
    ['a segmentation id without a type', { 'provider:segmentation_id': 5 }],
    ['an unknown status', { status: 'UP' }],
  ])('refuses %s with 500 "request resource is invalid" and stores nothing', async (_what, network) => {
    expectAlcorError(await api.post('vpc', `/project/${P}/vpcs`, { network }), 500, 'request resource is invalid', `/project/${P}/vpcs`);
    expect(alcor.state().vpcs).toEqual([]);
  });

  it('GET of an unknown VPC is 200 {"network":null}; DELETE of one is 200 {"id":null} (quirk 1)', async () => {
    expect(await api.get('vpc', `/project/${P}/vpcs/nope`)).toMatchObject({ status: 200, json: { network: null } });
    expect(await api.del('vpc', `/project/${P}/vpcs/nope`)).toMatchObject({ status: 200, json: { id: null } });
  });

  it('GET by id lists the subnet ids; a VPC with subnets is deleted all the same (quirk 3)', async () => {
    const net = await createNetwork(api, P, '10.1.0.0/24');
    expect(vpcOf(await api.get('vpc', `/project/${P}/vpcs/${net.vpc}`)).subnets).toEqual([net.subnet]);
    expect((await api.get('vpc', '/project/other/vpcs')).json).toEqual({ vpcs: [expect.objectContaining({ id: net.vpc, subnets: null })] });
    expect(await api.del('vpc', `/project/${P}/vpcs/${net.vpc}`)).toMatchObject({ status: 200, json: { id: net.vpc } });
    expect(subnetOf(await api.get('subnet', `/project/${P}/subnets/${net.subnet}`)).network_id).toBe(net.vpc);
  });

  it('POST /segments/createDefaultTable is a no-op 200 with an empty body', async () => {
    const r = await http('POST', `${alcor.urls.vpc}/segments/createDefaultTable`);
    expect([r.status, r.text]).toEqual([200, '']);
  });
});

describe('subnet manager', () => {
  async function vpc(cidr: string | null): Promise<string> {
    return vpcOf(await api.post('vpc', `/project/${P}/vpcs`, { network: { cidr } })).id;
  }
  const post = (subnet: Record<string, unknown>) => api.post('subnet', `/project/${P}/subnets`, { subnet });

  it.each([
    ['no network_id', { cidr: '10.0.1.0/24' }, 'request resource is invalid'],
    ['no cidr', { network_id: 'VPC' }, 'request resource is invalid'],
    ['an unknown VPC', { network_id: 'nope', cidr: '10.0.1.0/24' }, 'fallback request'],
    ['a /15', { network_id: 'VPC', cidr: '10.0.0.0/15' }, 'cidr is invalid : 10.0.0.0/15'],
    ['a /29', { network_id: 'VPC', cidr: '10.0.1.0/29' }, 'cidr is invalid : 10.0.1.0/29'],
    ['bad octets', { network_id: 'VPC', cidr: '10.0.300.0/24' }, 'cidr is invalid : 10.0.300.0/24'],
    ['a CIDR outside the VPC\'s', { network_id: 'VPC', cidr: '10.2.0.0/24' }, 'cidr is not within network cidr'],
    ['an overlap with a sibling', { network_id: 'VPC', cidr: '10.1.0.128/25' }, 'cidr overlap with other subnets in the same network'],
    ['a gateway outside the range', { network_id: 'VPC', cidr: '10.1.1.0/24', gateway_ip: '10.1.1.255' }, 'GatewayIp is unsupported'],
  ])('refuses %s with a 500 and changes nothing', async (_what, subnet, message) => {
    const id = await vpc('10.1.0.0/16');
    expect((await post({ network_id: id, cidr: '10.1.0.0/24' })).status).toBe(201);
    const before = alcor.state();
    const body = JSON.parse(JSON.stringify(subnet).replace('"VPC"', `"${id}"`));
    expectAlcorError(await post(body), 500, message, `/project/${P}/subnets`);
    expect(alcor.state()).toEqual(before);
  });

  it('a VPC without a CIDR takes any subnet; GET of an unknown subnet is 200 {"subnet":null}; lists work on both paths', async () => {
    const id = await vpc(null);
    const s = subnetOf(await post({ network_id: id, cidr: '192.168.7.0/24', id: '' }));
    expect(s.gateway_ip).toBe('192.168.7.1');
    expect(await api.get('subnet', `/project/${P}/subnets/nope`)).toMatchObject({ status: 200, json: { subnet: null } });
    expect(subnetOf(await api.get('subnet', `/subnets/${s.id}`)).id).toBe(s.id);
    expect(((await api.get('subnet', '/subnets')).json as { subnets: SubnetEntity[] }).subnets.map((x) => x.id)).toEqual([s.id]);
    expect(((await api.get('subnet', `/project/${P}/subnets?cidr=10.0.0.0/24`)).json as { subnets: unknown[] }).subnets).toEqual([]);
    expect(await api.del('subnet', `/project/${P}/subnets/nope`)).toMatchObject({ status: 200, json: { id: null } });
  });

  it('a subnet attached to a router cannot be deleted (409)', async () => {
    const net = await createNetwork(api, P, '10.3.0.0/24');
    const router = ((await api.post('route', `/project/${P}/routers`, { router: { name: 'r' } })).json as { router: { id: string } }).router.id;
    await api.put('route', `/project/${P}/routers/${router}/add_router_interface`, { subnet_id: net.subnet });
    const path = `/project/${P}/subnets/${net.subnet}`;
    expectAlcorError(await api.del('subnet', path), 409, 'Subnet bind routes, we can Not delete subnet', path);
  });
});

describe('security group manager (Spring Boot 2.3: "message":"")', () => {
  const sgPost = (body: unknown) => api.post('sg', `/project/${P}/security-groups`, body);
  const sgErr = (r: HttpAnswer, status: number, path: string) =>
    expect([r.status, r.json]).toEqual([status, { timestamp: expect.stringMatching(/\+00:00$/), status, error: expect.any(String), message: '', path }]);

  it('creates the tenant\'s default SG with 2 ingress rules first, and hides it from the list (quirk 4)', async () => {
    const sg = ((await sgPost({ security_group: { name: 'web', tenant_id: 't1', security_group_rules: [{ direction: 'ingress', protocol: 'tcp' }] } })).json as { security_group: SecurityGroup }).security_group;
    expect(sg.security_group_rules.map((r) => [r.direction, r.ethertype, r.protocol])).toEqual([['egress', 'IPv4', null], ['egress', 'IPv6', null]]);
    const all = alcor.state().securityGroups;
    const def = all.find((s) => s.name === 'default')!;
    expect(def).toMatchObject({ tenant_id: 't1', project_id: P, description: null });
    expect(def.security_group_rules.map((r) => [r.direction, r.ethertype, r.security_group_id])).toEqual([['ingress', 'IPv4', def.id], ['ingress', 'IPv6', def.id]]);
    expect(((await api.get('sg', `/project/${P}/security-groups`)).json as { security_groups: SecurityGroup[] }).security_groups.map((s) => s.name)).toEqual(['web']);
    expect(((await api.get('sg', `/project/${P}/security-groups/${def.id}`)).json as { security_group: SecurityGroup }).security_group.id).toBe(def.id);
    sgErr(await sgPost({ security_group: { name: 'default', tenant_id: 't1' } }), 412, `/project/${P}/security-groups`);
  });

  it('412 without "security_group", 412 on GET/DELETE of an unknown SG, 400 without a body', async () => {
    sgErr(await sgPost({ other: 1 }), 412, `/project/${P}/security-groups`);
    sgErr(await api.get('sg', `/project/${P}/security-groups/nope`), 412, `/project/${P}/security-groups/nope`);
    sgErr(await api.del('sg', `/project/${P}/security-groups/nope`), 412, `/project/${P}/security-groups/nope`);
    sgErr(await http('POST', `${alcor.urls.sg}/project/${P}/security-groups`), 400, `/project/${P}/security-groups`);
    expect(alcor.state().securityGroups).toEqual([]);
  });
});

describe('route manager (routers)', () => {
  const routerPost = (router: Record<string, unknown>) => api.post('route', `/project/${P}/routers`, { router });
  const attach = (r: string, body: unknown) => api.put('route', `/project/${P}/routers/${r}/add_router_interface`, body);
  const detach = (r: string, body: unknown) => api.put('route', `/project/${P}/routers/${r}/remove_router_interface`, body);

  it('attaches by subnet: marks the subnet and its gateway port, owns the VPC; refuses a second VPC and a second router (409)', async () => {
    const a = await createNetwork(api, P, '10.4.0.0/24');
    const b = await createNetwork(api, P, '10.5.0.0/24');
    const r1 = ((await routerPost({ name: 'r1' })).json as { router: { id: string } }).router.id;
    const r2 = ((await routerPost({ name: 'r2' })).json as { router: { id: string } }).router.id;
    expect((await attach(r1, { subnet_id: a.subnet })).status).toBe(200);
    const router = ((await api.get('route', `/project/${P}/routers/${r1}`)).json as { router: { owner: string; gateway_ports: string[] } }).router;
    expect([router.owner, router.gateway_ports]).toEqual([a.vpc, [a.gatewayPort]]);
    expect(alcor.state().ports.find((p) => p.id === a.gatewayPort)).toMatchObject({ device_id: r1, device_owner: 'network:router_interface' });
    const path1 = `/project/${P}/routers/${r1}/add_router_interface`;
    expectAlcorError(await attach(r1, { subnet_id: b.subnet }), 409, 'the router cannot attached interfaces from different VPC/Network', path1);
    expectAlcorError(await attach(r2, { subnet_id: a.subnet }), 409, 'the port is already in use by other router', `/project/${P}/routers/${r2}/add_router_interface`);
    expectAlcorError(await api.del('route', `/project/${P}/routers/${r1}`), 409,
      'the router has attached interfaces, please remove all router interfaces before you delete the router', `/project/${P}/routers/${r1}`);

    const d = await detach(r1, { subnet_id: a.subnet });
    expect(d.json).toEqual({ id: r1, network_id: a.vpc, port_id: a.gatewayPort, subnet_id: a.subnet, subnet_ids: [a.subnet], project_id: P, tenant_id: P, tags: [] });
    expect(subnetOf(await api.get('subnet', `/project/${P}/subnets/${a.subnet}`)).attached_router_id).toBe('');
    const gw = alcor.state().ports.find((p) => p.id === a.gatewayPort)!;
    expect([gw.device_id, gw.device_owner]).toEqual([undefined, undefined]);
    // The gateway port still does not count: the subnet can go.
    expect((await api.get('port', `/project/${P}/subnet-port-count/${a.subnet}`)).text).toBe('0');
    expect((await api.del('subnet', `/project/${P}/subnets/${a.subnet}`)).status).toBe(200);
    expect(await api.del('route', `/project/${P}/routers/${r1}`)).toMatchObject({ status: 200, json: { id: r1 } });
  });

  it('400 for both subnet_id and port_id; 200 all-null for an unknown subnet; 500 for an unknown router', async () => {
    const net = await createNetwork(api, P, '10.6.0.0/24');
    const r = ((await routerPost({})).json as { router: { id: string } }).router.id;
    expectAlcorError(await attach(r, { subnet_id: net.subnet, port_id: net.gatewayPort }), 400, 'request body specify both subnet ID and portID', `/project/${P}/routers/${r}/add_router_interface`);
    expect(await attach(r, { subnet_id: 'nope' })).toMatchObject({
      status: 200, json: { id: null, network_id: null, port_id: null, subnet_id: null, subnet_ids: null, project_id: null, tenant_id: null, tags: null },
    });
    expectAlcorError(await attach('nope', { subnet_id: net.subnet }), 500, 'can not find router by router id', `/project/${P}/routers/nope/add_router_interface`);
    expect(subnetOf(await api.get('subnet', `/project/${P}/subnets/${net.subnet}`)).attached_router_id).toBeNull();
    // By the gateway port's id instead of the subnet's.
    expect(((await attach(r, { port_id: net.gatewayPort })).json as { subnet_id: string }).subnet_id).toBe(net.subnet);
  });

  it('refuses an invalid status (500), keeps a given routetable, GET unknown → {"router":null}, the subnet\'s route table sits on the route service', async () => {
    expectAlcorError(await routerPost({ status: 'UP' }), 500, 'request resource is invalid', `/project/${P}/routers`);
    const given = ((await routerPost({ routetable: { id: 'rt', routes: [{ destination: '0.0.0.0/0', nexthop: '10.0.0.1' }] } })).json as { router: { routetable: unknown } }).router;
    expect(given.routetable).toMatchObject({ id: 'rt', routes: [{ destination: '0.0.0.0/0', nexthop: '10.0.0.1' }], route_table_type: 'neutron_router' });
    expect(await api.get('route', `/project/${P}/routers/nope`)).toMatchObject({ status: 200, json: { router: null } });
    expect(await api.del('route', `/project/${P}/routers/nope`)).toMatchObject({ status: 200, json: { id: null } });
    const net = await createNetwork(api, P, '10.7.0.0/24');
    expect(((await api.get('route', `/project/${P}/subnets/${net.subnet}/routetable`)).json as { routetable: unknown }).routetable)
      .toMatchObject({ route_table_type: 'neutron_subnet', owner: net.subnet, routes: [] });
  });
});

describe('node manager', () => {
  it('POST /nodes: 201 {"host_info"}; an invalid local_ip is a 500; GET by id and by name; DELETE unknown is a 500', async () => {
    const ok = await api.post('node', '/nodes', { host_info: { node_id: 'n1', node_name: 'vhost-1', local_ip: '10.9.0.1', server_port: 50001 } });
    expect(ok.status).toBe(201);
    expect((ok.json as { host_info: NodeInfo }).host_info).toEqual({
      node_id: 'n1', node_name: 'vhost-1', local_ip: '10.9.0.1', mac_address: null, veth: null, server_port: 50001,
      host_dvr_mac: null, ncm_id: null, 'data-path-ip': null, ncm_uri: null,
    });
    expectAlcorError(await api.post('node', '/nodes', { host_info: { node_id: 'n2', local_ip: '10.9.0' } }), 500, 'Invalid local ip: 10.9.0', '/nodes');
    expect(await api.get('node', '/nodes/n1')).toMatchObject({ status: 200, json: { host_info: { node_name: 'vhost-1' } } });
    expect(await api.get('node', '/nodes/nope')).toMatchObject({ status: 200, json: { host_info: null } });
    await api.post('node', '/nodes/bulk', { host_infos: [{ node_id: 'n3', node_name: 'vhost-3', local_ip: '10.9.0.3' }] });
    expect(((await api.get('node', '/nodes?node_name=vhost-3')).json as { nodeInfos: NodeInfo[] }).nodeInfos.map((n) => n.node_id)).toEqual(['n3']);
    expect(((await api.get('node', '/nodes')).json as { nodeInfos: NodeInfo[] }).nodeInfos).toHaveLength(2);
    expectAlcorError(await api.del('node', '/nodes/nope'), 500, 'The node to update or delete is not existing.', '/nodes/nope');
  });

  it('bulk is an upsert without validation; a null host_infos is a 500', async () => {
    await api.post('node', '/nodes/bulk', { host_infos: [{ node_id: 'n', node_name: 'a', local_ip: 'not an ip' }] });
    await api.post('node', '/nodes/bulk', { host_infos: [{ node_id: 'n', node_name: 'b' }] });
    expect(alcor.state().nodes.map((n) => [n.node_id, n.node_name, n.local_ip])).toEqual([['n', 'b', null]]);
    expect((await api.post('node', '/nodes/bulk', { host_infos: null })).status).toBe(500);
  });
});

describe('Spring\'s routing answers', () => {
  it('404 "No message available" for an unknown path, 405 for a known one with another method, a trailing / matches', async () => {
    expectAlcorError(await http('GET', `${alcor.urls.vpc}/no/such/path`), 404, 'No message available', '/no/such/path');
    expectAlcorError(await http('PATCH', `${alcor.urls.vpc}/project/${P}/vpcs`), 405, "Request method 'PATCH' not supported", `/project/${P}/vpcs`);
    expect((await http('GET', `${alcor.urls.vpc}/project/${P}/vpcs/`)).json).toEqual({ vpcs: [] });
    // "bulk" is a port id for GET; PUT …/ports/bulk is its own (unimplemented) endpoint: 200, empty.
    expectAlcorError(await api.get('port', `/project/${P}/ports/bulk`), 404, 'Port not found', `/project/${P}/ports/bulk`);
    expect(await api.put('port', `/project/${P}/ports/bulk`, { ports: [] })).toMatchObject({ status: 200, text: '' });
  });
});
