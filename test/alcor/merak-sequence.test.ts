// Merak's exact create and delete sequence (Alcor's REST API, docs/alcor.md),
// with Merak's own request bodies, against the server in both listening modes: every status code
// and JSON shape that Merak (or a Merak-style client) reads is asserted.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlcorServer, type PortBinding, startAlcorServer } from './index.js';
import { clientFor } from './test-http.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const MAC = /^aa:bb:cc(:[0-9a-f]{2}){3}$/;
const STAMP = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;
const P = 'merak-project';

describe.each(['single', 'node-ports'] as const)('Merak against the server (%s)', (mode) => {
  let alcor: AlcorServer;
  let api: ReturnType<typeof clientFor<'vpc' | 'subnet' | 'route' | 'port' | 'node' | 'sg'>>;
  const bindings: PortBinding[] = [];
  const ids = { vpc: '', subnet: '', gatewayPort: '', sg: '', router: '', ports: [] as string[] };

  beforeAll(async () => {
    alcor = await startAlcorServer({ mode, seed: 7, onBind: (b) => { bindings.push(b); } });
    api = clientFor(alcor.urls);
  });
  afterAll(async () => {
    await alcor.close();
  });

  it('1. registers the nodes: 200 and the bare array echoed, the first ncm_uri "null/bulk" (quirk 11)', async () => {
    const hosts = [0, 1].map((i) => ({
      'data-path-ip': `10.200.0.${10 + i}`, local_ip: `10.244.0.${10 + i}`, mac_address: 'ff:ff:ff:ff:ff:ff',
      node_id: `node-uid-${i}`, node_name: `vhost-${i}`, server_port: 50001, veth: `vh${i}-eth1`,
    }));
    const r = await api.post('node', '/nodes/bulk', { host_infos: hosts });
    expect(r.status).toBe(200);
    expect(r.json).toEqual(hosts.map((h, i) => ({ ...h, host_dvr_mac: null, ncm_id: null, ncm_uri: i === 0 ? 'null/bulk' : null })));
    expect(Object.keys((r.json as object[])[0]!)).toEqual(['node_id', 'node_name', 'local_ip', 'mac_address', 'veth', 'server_port', 'host_dvr_mac', 'ncm_id', 'data-path-ip', 'ncm_uri']);
  });

  it('2. creates the VPC: 201 {"network": VpcEntity} with every key, the VNI allocated, default and is_default', async () => {
    const r = await api.post('vpc', `/project/${P}/vpcs`, { network: {
      admin_state_up: true, revision_number: 0, cidr: '10.0.0.0/16', default: true, description: 'vpc', dns_domain: 'domain',
      id: '', is_default: true, mtu: 1400, name: 'YM_sample_vpc', port_security_enabled: true, project_id: P,
    } });
    expect(r.status).toBe(201);
    const vpc = (r.json as { network: Record<string, unknown> }).network;
    expect(Object.keys(vpc).sort()).toEqual([
      'admin_state_up', 'availability_zone_hints', 'availability_zones', 'cidr', 'created_at', 'default', 'description', 'dns_domain',
      'id', 'ipv4_address_scope', 'ipv6_address_scope', 'is_default', 'l2_adjacency', 'mtu', 'name', 'port_security_enabled',
      'project_id', 'provider:network_type', 'provider:physical_network', 'provider:segmentation_id', 'qos_policy_id',
      'revision_number', 'router', 'router:external', 'routes', 'segments', 'shared', 'status', 'subnets', 'tags', 'tenant_id',
      'updated_at', 'vlan_transparent',
    ]);
    expect(vpc).toMatchObject({
      id: expect.stringMatching(UUID), project_id: P, tenant_id: P, name: 'YM_sample_vpc', cidr: '10.0.0.0/16', mtu: 1400,
      admin_state_up: true, port_security_enabled: true, 'provider:network_type': 'vxlan', is_default: true, default: true,
      availability_zones: ['Nova'], revision_number: 1, status: 'ACTIVE', tags: [], subnets: null,
      created_at: expect.stringMatching(STAMP), updated_at: expect.stringMatching(STAMP),
    });
    expect(vpc['provider:segmentation_id']).toEqual(expect.any(Number));
    expect(vpc.routes).toEqual([expect.objectContaining({ name: 'default_route_rule', destination: '10.0.0.0/16', target: 'Local', priority: 0, associatedType: 'VPC' })]);
    ids.vpc = vpc.id as string;
  });

  it('3. creates the subnet: 201, gateway network+1 held by a gateway port with an aa:bb:cc MAC', async () => {
    const r = await api.post('subnet', `/project/${P}/subnets`, { subnet: { cidr: '10.0.1.0/24', id: '', name: 'YM_sample_subnet', ip_version: 4, network_id: ids.vpc } });
    expect(r.status).toBe(201);
    const s = (r.json as { subnet: Record<string, unknown> }).subnet;
    expect(Object.keys(s).sort()).toEqual([
      'allocation_pools', 'attached_router_id', 'availability_zone', 'cidr', 'created_at', 'description', 'dns_list',
      'dns_nameservers', 'dns_publish_fixed_ip', 'enable_dhcp', 'fields', 'gatewayPortId', 'gateway_ip', 'gateway_port_detail',
      'host_routes', 'id', 'ipV4_rangeId', 'ipV6_rangeId', 'ip_version', 'ipv6_address_mode', 'ipv6_ra_mode', 'name', 'network_id',
      'not-tags', 'not-tags-any', 'port_detail', 'prefixlen', 'primary_dns', 'project_id', 'revision_number', 'secondary_dns',
      'segment_id', 'service_types', 'shared', 'sort_dir', 'sort_key', 'subnetpool_id', 'tags', 'tags-any', 'tenant_id',
      'updated_at', 'use_default_subnet_pool',
    ]);
    expect(s).toMatchObject({
      id: expect.stringMatching(UUID), project_id: P, tenant_id: P, network_id: ids.vpc, cidr: '10.0.1.0/24', gateway_ip: '10.0.1.1',
      gatewayPortId: expect.stringMatching(UUID), attached_router_id: null, enable_dhcp: true, ip_version: 4,
      ipV4_rangeId: expect.stringMatching(UUID), revision_number: 1, allocation_pools: [{ start: '10.0.1.1', end: '10.0.1.254' }],
      tags: [], dns_nameservers: [], host_routes: [], service_types: [],
    });
    expect(s.gateway_port_detail).toEqual({ gateway_macAddress: expect.stringMatching(MAC), gateway_port_id: s.gatewayPortId });
    ids.subnet = s.id as string;
    ids.gatewayPort = s.gatewayPortId as string;
    const gw = await api.get('port', `/project/${P}/ports/${ids.gatewayPort}`);
    expect(gw.status).toBe(200);
    expect((gw.json as { port: unknown }).port).toMatchObject({
      device_owner: 'network:router_interface', fixed_ips: [{ subnet_id: ids.subnet, ip_address: '10.0.1.1' }],
      mac_address: (s.gateway_port_detail as { gateway_macAddress: string }).gateway_macAddress,
    });
  });

  it('4. creates the SG: 201, its rules replaced by 2 egress rules, tenant "" → the project (quirk 4)', async () => {
    const r = await api.post('sg', `/project/${P}/security-groups`, { security_group: {
      description: 'sg Description', name: 'YM_sample_sg', project_id: '', security_group_rules: null, tenant_id: '',
    } });
    expect(r.status).toBe(201);
    const sg = (r.json as { security_group: Record<string, unknown> }).security_group;
    expect(Object.keys(sg)).toEqual(['id', 'project_id', 'tenant_id', 'name', 'description', 'security_group_rules', 'create_at', 'update_at']);
    expect(sg).toMatchObject({ id: expect.stringMatching(UUID), project_id: P, tenant_id: P, name: 'YM_sample_sg', create_at: expect.stringMatching(STAMP) });
    const rule = (ethertype: string) => ({
      id: expect.stringMatching(UUID), project_id: null, tenant_id: P, name: null, description: null, security_group_id: sg.id,
      remote_group_id: null, direction: 'egress', remote_ip_prefix: null, protocol: null, port_range_max: null, port_range_min: null, ethertype,
    });
    expect(sg.security_group_rules).toEqual([rule('IPv4'), rule('IPv6')]);
    ids.sg = sg.id as string;
  });

  it('5. creates the router (200, not 201) and attaches the subnet (200 RouterInterfaceResponse)', async () => {
    const r = await api.post('route', '/project/123456789/routers', { router: {
      admin_state_up: true, availability_zone_hints: null, availability_zones: null, conntrack_helpers: null,
      description: 'router description', distributed: true, external_gateway_info: { enable_snat: true, external_fixed_ips: null, network_id: '' },
      flavor_id: '', gateway_ports: null, ha: true, id: '', name: 'YM_simple_router', owner: '', project_id: '123456789',
      revision_number: 0, routetable: {}, service_type_id: '', status: 'BUILD', tags: null, tenant_id: '123456789',
    } });
    expect(r.status).toBe(200);
    const router = (r.json as { router: Record<string, unknown> }).router;
    expect(router).toMatchObject({
      id: expect.stringMatching(UUID), project_id: '123456789', tenant_id: '123456789', status: 'ACTIVE', revision_number: 1,
      availability_zones: ['Nova'], gateway_ports: null,
      external_gateway_info: { enable_snat: true, external_fixed_ips: null, network_id: '' },
    });
    expect(router.routetable).toEqual({
      id: expect.stringMatching(UUID), project_id: null, tenant_id: null, name: null, description: null, routes: [],
      route_table_type: 'neutron_router', owner: router.id,
    });
    ids.router = router.id as string;

    const a = await api.put('route', `/project/${P}/routers/${ids.router}/add_router_interface`, { subnet_id: ids.subnet });
    expect(a.status).toBe(200);
    expect(a.json).toEqual({ id: ids.router, network_id: ids.vpc, port_id: ids.gatewayPort, subnet_id: ids.subnet, subnet_ids: [ids.subnet], project_id: P, tenant_id: P, tags: [] });
  });

  it('6. creates two minimal ports in parallel: 201 with exactly the fields set, .2 and .3 (gateway holds .1)', async () => {
    const minimal = (vm: string) => ({ port: {
      admin_state_up: true, device_id: vm, network_id: ids.vpc, security_groups: [ids.sg], fixed_ips: [{ subnet_id: ids.subnet }], tenant_id: 'tenant-1',
    } });
    const answers = await Promise.all(['vm-0', 'vm-1'].map((vm) => api.post('port', `/project/${P}/ports`, minimal(vm))));
    const ports = answers.map((a) => {
      expect(a.status).toBe(201);
      return (a.json as { port: Record<string, unknown> }).port;
    });
    for (const [i, port] of ports.entries()) {
      // PortEntity omits nulls (NON_ABSENT): these keys and no others, in Jackson's order; no status (quirk 8).
      expect(Object.keys(port)).toEqual(['project_id', 'tenant_id', 'id', 'network_id', 'admin_state_up', 'mac_address', 'device_id', 'fixed_ips', 'security_groups', 'binding:vif_type', 'port_security_enabled']);
      expect(port).toEqual({
        project_id: P, tenant_id: 'tenant-1', id: expect.stringMatching(UUID), network_id: ids.vpc, admin_state_up: true,
        mac_address: expect.stringMatching(MAC), device_id: `vm-${i}`, fixed_ips: [{ subnet_id: ids.subnet, ip_address: expect.any(String) }],
        security_groups: [ids.sg], 'binding:vif_type': 'ovs', port_security_enabled: true,
      });
      // What Merak derives: the tap name from the first 11 characters of a longer id.
      expect(`tap${(port.id as string).slice(0, 11)}`).toHaveLength(14);
    }
    const ips = ports.map((p) => (p.fixed_ips as Array<{ ip_address: string }>)[0]!.ip_address).sort();
    expect(ips).toEqual(['10.0.1.2', '10.0.1.3']);
    expect(ports[0]!.mac_address).not.toBe(ports[1]!.mac_address);
    ids.ports = ports.map((p) => p.id as string);
  });

  it('7. binds each port with Merak\'s update body: 200 with the merged port and the old (absent) status', async () => {
    for (const [i, id] of ids.ports.entries()) {
      const r = await api.put('port', `/project/${P}/ports/${id}`, { port: {
        project_id: P, id, name: `vm-${i}`, description: '', network_id: ids.vpc, tenant_id: 'tenant-1', admin_state_up: true,
        veth_name: `invm-${i}`, device_id: `vm-${i}`, device_owner: 'compute:nova', fast_path: true, 'binding:host_id': `vhost-${i}`,
      } });
      expect(r.status).toBe(200);
      const port = (r.json as { port: Record<string, unknown> }).port;
      expect(port).toMatchObject({ id, 'binding:host_id': `vhost-${i}`, device_owner: 'compute:nova', veth_name: `invm-${i}`, fast_path: true, description: '' });
      expect(port.fixed_ips).toEqual([{ subnet_id: ids.subnet, ip_address: expect.stringMatching(/^10\.0\.1\.[23]$/) }]);
      expect(port.mac_address).toEqual(expect.stringMatching(MAC));
      expect(port).not.toHaveProperty('status');
    }
    // The push seam saw each bind: PortState CREATE (device_id and device_owner set) to the named node.
    expect(bindings.map((b) => [b.request, b.portState, b.port.id, b.node.node_name, b.node.local_ip])).toEqual([
      ['update', 'CREATE', ids.ports[0], 'vhost-0', '10.244.0.10'],
      ['update', 'CREATE', ids.ports[1], 'vhost-1', '10.244.0.11'],
    ]);
  });

  it('8. a later GET shows status ACTIVE (quirk 8)', async () => {
    for (const id of ids.ports) {
      const r = await api.get('port', `/project/${P}/ports/${id}`);
      expect(r.status).toBe(200);
      expect((r.json as { port: { status: string } }).port.status).toBe('ACTIVE');
    }
  });

  it('9. deletes in Merak\'s order: port 200 empty, node 200 plain text, detach, subnet, router, VPC, SG', async () => {
    for (const id of ids.ports) {
      const r = await api.del('port', `/project/${P}/ports/${id}`);
      expect([r.status, r.text]).toEqual([200, '']);
    }
    for (const i of [0, 1]) {
      const r = await api.del('node', `/nodes/node-uid-${i}`);
      expect([r.status, r.text]).toEqual([200, `{Node(Node) Id: node-uid-${i}}`]);
      expect(r.headers['content-type']).toMatch(/^text\/plain/);
    }
    const s = await api.get('subnet', `/project/${P}/subnets/${ids.subnet}`);
    expect(s.status).toBe(200);
    expect((s.json as { subnet: { attached_router_id: string } }).subnet.attached_router_id).toBe(ids.router);
    const d = await api.put('route', `/project/${P}/routers/${ids.router}/remove_router_interface`, { subnet_id: ids.subnet });
    expect(d.status).toBe(200);
    expect((d.json as { id: string }).id).toBe(ids.router);
    const after = await api.get('subnet', `/project/${P}/subnets/${ids.subnet}`);
    expect((after.json as { subnet: { attached_router_id: string } }).subnet.attached_router_id).toBe('');

    expect(await api.del('subnet', `/project/${P}/subnets/${ids.subnet}`)).toMatchObject({ status: 200, json: { id: ids.subnet } });
    expect(await api.del('route', `/project/${P}/routers/${ids.router}`)).toMatchObject({ status: 200, json: { id: ids.router } });
    expect(await api.del('vpc', `/project/${P}/vpcs/${ids.vpc}`)).toMatchObject({ status: 200, json: { id: ids.vpc } });
    expect(await api.del('sg', `/project/${P}/security-groups/${ids.sg}`)).toMatchObject({ status: 200, text: '' });

    const state = alcor.state();
    expect([state.vpcs, state.subnets, state.ports, state.routers, state.nodes]).toEqual([[], [], [], [], []]);
    expect(state.allocatedMacs).toEqual([]);
    // What stays is the tenants' default SGs that SG and port creates made on the way (quirk 4).
    expect(state.securityGroups.map((sg) => [sg.name, sg.tenant_id]).sort()).toEqual([['default', P]]);
  });

  it('10. the call log holds the whole sequence with services, routes and statuses', () => {
    expect(alcor.calls.all().map((c) => `${c.service} ${c.route} ${c.status}`)).toEqual([
      'node POST /nodes/bulk 200',
      'vpc POST /project/{projectid}/vpcs 201',
      'subnet POST /project/{projectId}/subnets 201',
      'port GET /project/{project_id}/ports/{port_id} 200',
      'sg POST /project/{project_id}/security-groups 201',
      'route POST /project/{projectid}/routers 200',
      'route PUT /project/{projectid}/routers/{routerid}/add_router_interface 200',
      'port POST /project/{project_id}/ports 201',
      'port POST /project/{project_id}/ports 201',
      'port PUT /project/{project_id}/ports/{port_id} 200',
      'port PUT /project/{project_id}/ports/{port_id} 200',
      'port GET /project/{project_id}/ports/{port_id} 200',
      'port GET /project/{project_id}/ports/{port_id} 200',
      'port DELETE /project/{project_id}/ports/{port_id} 200',
      'port DELETE /project/{project_id}/ports/{port_id} 200',
      'node DELETE /nodes/{nodeid} 200',
      'node DELETE /nodes/{nodeid} 200',
      'subnet GET /project/{projectId}/subnets/{subnetId} 200',
      'route PUT /project/{projectid}/routers/{routerid}/remove_router_interface 200',
      'subnet GET /project/{projectId}/subnets/{subnetId} 200',
      'subnet DELETE /project/{projectId}/subnets/{subnetId} 200',
      'route DELETE /project/{projectid}/routers/{routerid} 200',
      'vpc DELETE /project/{projectid}/vpcs/{vpcid} 200',
      'sg DELETE /project/{project_id}/security-groups/{security_group_id} 200',
    ]);
    const bind = alcor.calls.filter({ method: 'PUT', path: new RegExp(`/ports/${ids.ports[0]}$`) })[0]!;
    expect(bind.requestBody).toMatchObject({ port: { 'binding:host_id': 'vhost-0' } });
    expect(bind.responseBody).toMatchObject({ port: { id: ids.ports[0] } });
    expect(bind.finishedAt).toBeGreaterThanOrEqual(bind.startedAt);
    expect(bind.listener).toBe(mode === 'single' ? 'all' : 'port');
  });
});
