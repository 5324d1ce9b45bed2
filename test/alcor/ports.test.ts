// The port manager over real HTTP: IP allocation (lowest free from network+1, gateway reserved,
// released addresses reused, exhaustion), MACs, validation, binding and status, the quirks a
// client can meet, and that a refused request changes nothing.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type AlcorServer, type PortBinding, type PortEntity, startAlcorServer } from './index.js';
import { type HttpAnswer, clientFor, createNetwork, http } from './test-http.js';

const MAC = /^aa:bb:cc(:[0-9a-f]{2}){3}$/;
const P = 'p1';
let alcor: AlcorServer;
let api: ReturnType<typeof clientFor<'vpc' | 'subnet' | 'route' | 'port' | 'node' | 'sg'>>;

beforeAll(async () => {
  alcor = await startAlcorServer({ seed: 42 });
  api = clientFor(alcor.urls);
});
afterAll(async () => {
  await alcor.close();
});
beforeEach(() => {
  alcor.reset();
  alcor.setBindHook(undefined);
});

const portOf = (r: HttpAnswer): PortEntity => (r.json as { port: PortEntity }).port;
const ipOf = (r: HttpAnswer): string => portOf(r).fixed_ips![0]!.ip_address!;
const create = (port: Record<string, unknown>) => api.post('port', `/project/${P}/ports`, { port });

/** Spring's error body as Alcor's port manager (Spring Boot 2.1–2.2) writes it. */
function expectAlcorError(r: HttpAnswer, status: number, message: string, path: string): void {
  expect(r.status).toBe(status);
  expect(r.json).toEqual({ timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$/), status, error: expect.any(String), message, path });
}

describe('IP allocation', () => {
  it('hands out the lowest free address from network+1, skipping the gateway, and reuses released ones', async () => {
    const net = await createNetwork(api, P, '10.1.0.0/28'); // .1–.14 usable, .1 the gateway
    const ids: string[] = [];
    for (let i = 2; i <= 14; i++) {
      const r = await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] });
      expect(r.status).toBe(201);
      expect(ipOf(r)).toBe(`10.1.0.${i}`);
      ids.push(portOf(r).id!);
    }
    // Give back .9 and .5: the next two creates get .5, then .9.
    expect((await api.del('port', `/project/${P}/ports/${ids[7]}`)).status).toBe(200);
    expect((await api.del('port', `/project/${P}/ports/${ids[3]}`)).status).toBe(200);
    expect(ipOf(await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] }))).toBe('10.1.0.5');
    expect(ipOf(await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] }))).toBe('10.1.0.9');
  });

  it('answers 500 with Alcor\'s error JSON when the subnet is exhausted, and allocates nothing', async () => {
    const net = await createNetwork(api, P, '10.1.0.16/28');
    for (let i = 0; i < 13; i++) expect((await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] })).status).toBe(201);
    const before = alcor.state();
    const r = await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] });
    expectAlcorError(r, 500, 'Allocate ip address error', `/project/${P}/ports`);
    expect(alcor.state()).toEqual(before);
  });

  it('reserves a given gateway_ip, so ports start at network+1', async () => {
    const net = await createNetwork(api, P, '10.2.0.0/24', { gateway_ip: '10.2.0.10' });
    const s = await api.get('subnet', `/project/${P}/subnets/${net.subnet}`);
    expect((s.json as { subnet: { gateway_ip: string } }).subnet.gateway_ip).toBe('10.2.0.10');
    expect(ipOf(await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] }))).toBe('10.2.0.1');
    expect(alcor.state().allocatedIps[net.subnet]).toEqual(['10.2.0.1', '10.2.0.10']);
  });

  it('takes an explicit address, which the lowest-free allocation then skips; a second taker gets it too (quirk 7)', async () => {
    const net = await createNetwork(api, P, '10.3.0.0/24');
    const a = await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet, ip_address: '10.3.0.2' }] });
    expect([a.status, ipOf(a)]).toEqual([201, '10.3.0.2']);
    expect(ipOf(await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] }))).toBe('10.3.0.3');
    const twice = await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet, ip_address: '10.3.0.2' }] });
    expect([twice.status, ipOf(twice)]).toEqual([201, '10.3.0.2']);
  });

  it('refuses an explicit address outside the subnet (500) and infers the subnet from an address alone', async () => {
    const net = await createNetwork(api, P, '10.4.0.0/24');
    const before = alcor.state();
    expectAlcorError(await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet, ip_address: '10.5.0.2' }] }), 500, 'Allocate ip address error', `/project/${P}/ports`);
    expect(alcor.state()).toEqual(before);
    const r = await create({ network_id: net.vpc, fixed_ips: [{ ip_address: '10.4.0.77' }] });
    expect(portOf(r).fixed_ips).toEqual([{ subnet_id: net.subnet, ip_address: '10.4.0.77' }]);
    // No fixed_ips at all: the first range of the VPC with room.
    expect(portOf(await create({ network_id: net.vpc })).fixed_ips).toEqual([{ subnet_id: net.subnet, ip_address: '10.4.0.2' }]);
  });
});

describe('MACs', () => {
  it('allocates aa:bb:cc plus 24 random bits, distinct for 200 ports and the gateway', async () => {
    const net = await createNetwork(api, P, '10.6.0.0/24');
    const macs = await Promise.all(Array.from({ length: 200 }, () => create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] })
      .then((r) => portOf(r).mac_address!)));
    for (const m of macs) expect(m).toMatch(MAC);
    const gw = alcor.state().ports.find((p) => p.id === net.gatewayPort)!.mac_address!;
    expect(new Set([...macs, gw]).size).toBe(201);
    expect(alcor.state().allocatedMacs).toHaveLength(201);
  });

  it('keeps a valid client MAC, refuses a duplicate (500) and a malformed one (412)', async () => {
    const net = await createNetwork(api, P, '10.7.0.0/24');
    const r = await create({ network_id: net.vpc, mac_address: 'AA:BB:CC:00:00:01' });
    expect([r.status, portOf(r).mac_address]).toEqual([201, 'AA:BB:CC:00:00:01']);
    const before = alcor.state();
    expectAlcorError(await create({ network_id: net.vpc, mac_address: 'aa:bb:cc:00:00:01' }), 500, 'Allocate mac address error', `/project/${P}/ports`);
    expectAlcorError(await create({ network_id: net.vpc, mac_address: 'aa:bb:cc:00:01' }), 412, 'Mac address invalid', `/project/${P}/ports`);
    expect(alcor.state()).toEqual(before);
  });

  it('same seed, same MACs', async () => {
    const again = await startAlcorServer({ seed: 42 });
    try {
      const apis = [api, clientFor(again.urls)];
      const macs = [];
      for (const c of apis) {
        const net = await createNetwork(c, P, '10.8.0.0/24');
        const r = await c.post('port', `/project/${P}/ports`, { port: { network_id: net.vpc } });
        macs.push(portOf(r).mac_address);
      }
      expect(macs[0]).toBe(macs[1]);
    } finally {
      await again.close();
    }
  });
});

describe('validation: Alcor\'s codes and messages, and nothing changed', () => {
  it.each([
    ['no network_id', { fixed_ips: [] }, 412, 'Network id is required'],
    ['fixed_ips item with subnet_id ""', { network_id: 'VPC', fixed_ips: [{ subnet_id: '' }] }, 412, 'Fixed ips invalid'],
    ['fixed_ips item with neither field', { network_id: 'VPC', fixed_ips: [{}] }, 412, 'Fixed ips invalid'],
    ['a bad fixed IP', { network_id: 'VPC', fixed_ips: [{ subnet_id: 'SUBNET', ip_address: '10.9.0.300' }] }, 412, 'Fixed ips invalid'],
    ['an unknown vif type', { network_id: 'VPC', 'binding:vif_type': 'tap' }, 412, 'Vif type invalid'],
    ['an explicit null vif type ("")', { network_id: 'VPC', 'binding:vif_type': null }, 412, 'Vif type invalid'],
    ['an unknown vnic type', { network_id: 'VPC', 'binding:vnic_type': 'virtio' }, 412, 'Vnic type invalid'],
    ['a bad ip_allocation', { network_id: 'VPC', ip_allocation: 'later' }, 412, 'Ip allocation invalid'],
    ['an unknown VPC', { network_id: 'no-such-vpc' }, 500, 'Get VpcEntity exception'],
    ['an unknown subnet', { network_id: 'VPC', fixed_ips: [{ subnet_id: 'no-such-subnet' }] }, 500, 'Subnet entity not found'],
    ['an unknown SG', { network_id: 'VPC', security_groups: ['no-such-sg'] }, 500, 'Security group entity not found'],
    ['an unknown host', { network_id: 'VPC', 'binding:host_id': 'no-such-node' }, 500, 'Get node information exception'],
    ['an explicit null host ("" counts as bound)', { network_id: 'VPC', 'binding:host_id': null }, 500, 'Get node information exception'],
  ])('%s', async (_what, port, status, message) => {
    const net = await createNetwork(api, P, '10.9.0.0/24');
    const body = JSON.parse(JSON.stringify(port).replaceAll('"VPC"', `"${net.vpc}"`).replaceAll('"SUBNET"', `"${net.subnet}"`));
    const before = alcor.state();
    expectAlcorError(await create(body), status as number, message as string, `/project/${P}/ports`);
    expect(alcor.state()).toEqual(before);
  });

  it('answers 400 for a body that is not JSON or of the wrong shape, 415 for another content type', async () => {
    const url = `${alcor.urls.port}/project/${P}/ports`;
    const bad = await http('POST', url, { raw: '{"port":', headers: { 'content-type': 'application/json' } });
    expect(bad.status).toBe(400);
    expect((bad.json as { message: string }).message).toMatch(/^JSON parse error/);
    const shape = await http('POST', url, { body: { port: { network_id: { id: 'x' } } } });
    expect(shape.status).toBe(400);
    expectAlcorError(await http('POST', url, {}), 400, 'Required request body is missing', `/project/${P}/ports`);
    expectAlcorError(await http('POST', url, { raw: '{}', headers: { 'content-type': 'text/plain' } }), 415, "Content type 'text/plain' not supported", `/project/${P}/ports`);
    expect(alcor.state().ports).toEqual([]);
  });

  it('answers 404 "Port not found" for an unknown port on GET, PUT and DELETE', async () => {
    const path = `/project/${P}/ports/no-such-port`;
    expectAlcorError(await api.get('port', path), 404, 'Port not found', path);
    expectAlcorError(await api.put('port', path, { port: { name: 'x' } }), 404, 'Port not found', path);
    expectAlcorError(await api.del('port', path), 404, 'Port not found', path);
  });
});

describe('binding and status', () => {
  async function withNodes(names: string[]): Promise<void> {
    const r = await api.post('node', '/nodes/bulk', { host_infos: names.map((n, i) => ({ node_id: `id-${n}-${i}`, node_name: n, local_ip: `10.250.0.${i + 1}` })) });
    expect(r.status).toBe(200);
  }

  it('an unbound create has no status; a create with binding:host_id has none in the answer and ACTIVE on a later GET', async () => {
    const net = await createNetwork(api, P, '10.10.0.0/24');
    await withNodes(['vhost-a']);
    const seen: PortBinding[] = [];
    alcor.setBindHook((b) => { seen.push(b); });
    const unbound = await create({ network_id: net.vpc });
    expect(portOf(unbound)).not.toHaveProperty('status');
    expect(portOf(await api.get('port', `/project/${P}/ports/${portOf(unbound).id}`))).not.toHaveProperty('status');
    expect(seen).toEqual([]);

    const bound = await create({ network_id: net.vpc, device_id: 'vm', device_owner: 'compute:nova', 'binding:host_id': 'vhost-a' });
    expect(bound.status).toBe(201);
    expect(portOf(bound)).not.toHaveProperty('status');
    expect(portOf(await api.get('port', `/project/${P}/ports/${portOf(bound).id}`)).status).toBe('ACTIVE');
    expect(seen.map((b) => [b.request, b.portState, b.node.node_name, b.node.local_ip])).toEqual([['create', 'CREATE', 'vhost-a', '10.250.0.1']]);
  });

  it('an update answers with the previously stored status; a failed push is FAILED on GET and still 200', async () => {
    const net = await createNetwork(api, P, '10.11.0.0/24');
    await withNodes(['vhost-a', 'vhost-b']);
    const id = portOf(await create({ network_id: net.vpc })).id!;
    const path = `/project/${P}/ports/${id}`;
    const first = await api.put('port', path, { port: { 'binding:host_id': 'vhost-a', device_id: 'vm', device_owner: 'compute:nova' } });
    expect(first.status).toBe(200);
    expect(portOf(first)).not.toHaveProperty('status');
    alcor.setBindHook((b) => (b.node.node_name === 'vhost-b' ? { status: 'FAILED' } : undefined));
    const second = await api.put('port', path, { port: { 'binding:host_id': 'vhost-b' } });
    expect([second.status, portOf(second).status]).toEqual([200, 'ACTIVE']);
    expect(portOf(await api.get('port', path)).status).toBe('FAILED');
    alcor.setBindHook(() => { throw new Error('host agent unreachable'); });
    await api.put('port', path, { port: { 'binding:host_id': 'vhost-a' } });
    expect(portOf(await api.get('port', path)).status).toBe('FAILED');
  });

  it('a bind to an unknown node is a 500 and leaves the port as it was; two nodes with the name are a 412', async () => {
    const net = await createNetwork(api, P, '10.12.0.0/24');
    await withNodes(['twin', 'twin']);
    const id = portOf(await create({ network_id: net.vpc })).id!;
    const before = alcor.state();
    const path = `/project/${P}/ports/${id}`;
    expectAlcorError(await api.put('port', path, { port: { name: 'renamed', 'binding:host_id': 'nobody' } }), 500, 'Get node information exception', path);
    expectAlcorError(await api.put('port', path, { port: { 'binding:host_id': 'twin' } }), 412, 'Multiple Node Infos Have Same Node Name', path);
    expect(alcor.state()).toEqual(before);
  });

  it('a PUT keeps every field the body leaves out, and re-allocates changed fixed IPs', async () => {
    const net = await createNetwork(api, P, '10.13.0.0/24');
    const created = portOf(await create({ network_id: net.vpc, security_groups: [net.sg], fixed_ips: [{ subnet_id: net.subnet }] }));
    const path = `/project/${P}/ports/${created.id}`;
    const renamed = portOf(await api.put('port', path, { port: { name: 'vm-7' } }));
    expect(renamed).toEqual({ ...created, name: 'vm-7' });
    const moved = await api.put('port', path, { port: { fixed_ips: [{ subnet_id: net.subnet, ip_address: '10.13.0.99' }] } });
    expect(portOf(moved).fixed_ips).toEqual([{ subnet_id: net.subnet, ip_address: '10.13.0.99' }]);
    expect(alcor.state().allocatedIps[net.subnet]).toEqual(['10.13.0.1', '10.13.0.99']);
  });
});

describe('listing, counting and the conflicts that ports cause', () => {
  it('GET /project/{p}/ports lists every project\'s ports, gateway ports included; filters and fields apply', async () => {
    const a = await createNetwork(api, 'pa', '10.14.0.0/24');
    const b = await createNetwork(api, 'pb', '10.15.0.0/24');
    await api.post('port', '/project/pa/ports', { port: { network_id: a.vpc, device_id: 'vm-a' } });
    await api.post('port', '/project/pb/ports', { port: { network_id: b.vpc, device_id: 'vm-b' } });
    const all = (await api.get('port', '/project/someone-else/ports')).json as { ports: PortEntity[] };
    expect(all.ports.map((p) => p.device_id ?? p.device_owner).sort()).toEqual(['network:router_interface', 'network:router_interface', 'vm-a', 'vm-b']);
    const filtered = (await api.get('port', '/project/pa/ports?device_id=vm-b')).json as { ports: PortEntity[] };
    expect(filtered.ports.map((p) => p.project_id)).toEqual(['pb']);
    const one = all.ports.find((p) => p.device_id === 'vm-a')!;
    const fields = await api.get('port', `/project/pa/ports/${one.id}?fields=id&fields=mac_address`);
    expect((fields.json as { port: object }).port).toEqual({ id: one.id, mac_address: one.mac_address });
  });

  it('subnet-port-count is a bare integer without the gateway port; a subnet with ports cannot be deleted (409)', async () => {
    const net = await createNetwork(api, P, '10.16.0.0/24');
    const count = `/project/${P}/subnet-port-count/${net.subnet}`;
    const zero = await api.get('port', count);
    expect([zero.status, zero.text]).toEqual([200, '0']);
    const ids = [];
    for (let i = 0; i < 2; i++) ids.push(portOf(await create({ network_id: net.vpc, fixed_ips: [{ subnet_id: net.subnet }] })).id!);
    expect((await api.get('port', count)).text).toBe('2');
    const path = `/project/${P}/subnets/${net.subnet}`;
    expectAlcorError(await api.del('subnet', path), 409, 'There is some ports in the subnet, we can Not delete subnet', path);
    for (const id of ids) await api.del('port', `/project/${P}/ports/${id}`);
    expect((await api.get('port', count)).text).toBe('0');
    expect(await api.del('subnet', path)).toMatchObject({ status: 200, json: { id: net.subnet } });
    // The gateway port and its address went with the subnet.
    expect(alcor.state().ports).toEqual([]);
    expect(alcor.state().allocatedMacs).toEqual([]);
  });

  it('an SG bound to a port cannot be deleted (403, message "" as Spring Boot 2.3 writes it); a port without SGs gets the unbound default', async () => {
    const net = await createNetwork(api, P, '10.17.0.0/24');
    const bound = portOf(await create({ network_id: net.vpc, security_groups: [net.sg] }));
    const plain = portOf(await create({ network_id: net.vpc }));
    const path = `/project/${P}/security-groups/${net.sg}`;
    const r = await api.del('sg', path);
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ timestamp: expect.stringMatching(/\.\d{3}\+00:00$/), status: 403, error: 'Forbidden', message: '', path });
    const defaultSg = alcor.state().securityGroups.find((sg) => sg.name === 'default' && sg.tenant_id === P)!;
    expect(plain.security_groups).toEqual([defaultSg.id]);
    expect(alcor.state().securityGroupBindings).toEqual({ [net.sg]: [bound.id] });
    await api.del('port', `/project/${P}/ports/${bound.id}`);
    expect((await api.del('sg', path)).status).toBe(200);
  });

  it('bulk create: 201 {"ports":[…]}, and every port of the subnet gets the last IP and the first MAC (quirk 6)', async () => {
    const net = await createNetwork(api, P, '10.18.0.0/24');
    const r = await api.post('port', `/project/${P}/ports/bulk`, { ports: [0, 1, 2].map((i) => ({ network_id: net.vpc, device_id: `vm-${i}`, fixed_ips: [{ subnet_id: net.subnet }] })) });
    expect(r.status).toBe(201);
    const ports = (r.json as { ports: PortEntity[] }).ports;
    expect(ports.map((p) => p.device_id)).toEqual(['vm-0', 'vm-1', 'vm-2']);
    expect(ports.map((p) => p.fixed_ips![0]!.ip_address)).toEqual(['10.18.0.4', '10.18.0.4', '10.18.0.4']);
    expect(new Set(ports.map((p) => p.mac_address)).size).toBe(1);
    // IPM and the MAC manager still hold all three (and the gateway's).
    expect(alcor.state().allocatedIps[net.subnet]).toEqual(['10.18.0.1', '10.18.0.2', '10.18.0.3', '10.18.0.4']);
    expect(alcor.state().allocatedMacs).toHaveLength(4);
  });
});
