// The per-host messages of a batch, without gRPC: who gets what, merged per host, ops and keys,
// the router riding along, and what the NCM cache gives a restarted host.
import { alcor } from '@merak/proto';
import { describe, expect, it } from 'vitest';
import type { NodeInfo, PortEntity } from '../entities.js';
import { type NetworkView, type SubnetInfo, buildPortBatch, buildRouterChange } from './builder.js';
import type { HostMessage } from './host-message.js';
import { NcmCache } from './ncm-cache.js';
import { Placements } from './placements.js';

const { OperationType: Op } = alcor;

const node = (name: string, ip: string, dataPathIp: string): NodeInfo => ({
  node_id: name, node_name: name, local_ip: ip, mac_address: `aa:00:00:00:00:0${name.slice(-1)}`, veth: null, server_port: 0,
  host_dvr_mac: null, ncm_id: null, 'data-path-ip': dataPathIp, ncm_uri: null,
});
const H1 = node('host-1', '192.0.2.1', '198.51.100.1');
const H2 = node('host-2', '192.0.2.2', '198.51.100.2');
const H3 = node('host-3', '192.0.2.3', '198.51.100.3');

const subnet = (id: string, cidr: string, router: string | null = null): SubnetInfo => ({
  id, network_id: 'vpc', name: id, cidr, gateway_ip: cidr.replace('0/24', '1'),
  gateway_port_detail: { gateway_macAddress: 'aa:bb:cc:00:00:01', gateway_port_id: `gw-${id}` },
  enable_dhcp: true, availability_zone: null, attached_router_id: router,
});

const port = (id: string, subnetId: string, ip: string): PortEntity => ({
  id, network_id: 'vpc', mac_address: `aa:bb:cc:00:01:${id.slice(-2)}`, device_id: `vm-${id}`, device_owner: 'compute:nova',
  fixed_ips: [{ subnet_id: subnetId, ip_address: ip }], security_groups: ['sg'],
});

function world(subnets: SubnetInfo[]): { view: NetworkView; placements: Placements } {
  const placements = new Placements();
  const view: NetworkView = {
    vpc: (id) => (id === 'vpc' ? { id, project_id: 'p', name: 'v', cidr: '10.0.0.0/8', 'provider:segmentation_id': 4242 } : undefined),
    subnet: (id) => subnets.find((s) => s.id === id),
    securityGroup: (id) => ({ id, name: 'sg', security_group_rules: [] }),
    router: (id) => ({ id }),
    routerSubnets: (r) => subnets.filter((s) => s.attached_router_id === r),
    node: (name) => [H1, H2, H3].find((n) => n.node_name === name),
    boundPorts: (s) => placements.boundPorts(s),
  };
  return { view, placements };
}

const byHost = (messages: HostMessage[]): Record<string, HostMessage> => Object.fromEntries(messages.map((m) => [m.node.node_name, m]));
const listed = (m: HostMessage): string[] => m.listedResources().map((r) => `${r.type} ${r.id}`);

describe('buildPortBatch', () => {
  it('the first port of a subnet: one message to its host with its own neighbor', () => {
    const { view, placements } = world([subnet('s1', '10.1.0.0/24')]);
    const p = port('p-01', 's1', '10.1.0.2');
    placements.place(p, H1);
    const messages = buildPortBatch(view, [{ op: 'CREATE', port: p, node: H1 }]);
    expect(messages.map((m) => m.node.node_name)).toEqual(['host-1']);
    const m = messages[0]!;
    expect(m.kind).toBe('port');
    const dhcp = Object.keys(m.message.dhcpStates)[0]!;
    expect(listed(m)).toEqual(['PORT p-01', 'VPC vpc', 'SUBNET s1', `DHCP ${dhcp}`, 'SECURITYGROUP sg', 'NEIGHBOR L2/p-01']);
    expect(Object.keys(m.message.hostResources)).toEqual(['192.0.2.1']);
    expect(m.message.subnetStates.s1!.configuration!.tunnelId).toBe(4242);
    expect(m.message.neighborStates['L2/p-01']!.configuration!.hostIpAddress).toBe('198.51.100.1');
  });

  it('other hosts of the subnet get the neighbor only; a host with a port of its own in the batch gets one merged message', () => {
    const { view, placements } = world([subnet('s1', '10.1.0.0/24'), subnet('s2', '10.2.0.0/24')]);
    const q = port('q-02', 's1', '10.1.0.3');
    const elsewhere = port('e-03', 's2', '10.2.0.2'); // another subnet: host-3 hears nothing
    placements.place(q, H2);
    placements.place(elsewhere, H3);
    const a = port('a-04', 's1', '10.1.0.4');
    const b = port('b-05', 's1', '10.1.0.5');
    placements.place(a, H1);
    placements.place(b, H1);
    const hosts = byHost(buildPortBatch(view, [{ op: 'CREATE', port: a, node: H1 }, { op: 'CREATE', port: b, node: H1 }]));
    expect(Object.keys(hosts).sort()).toEqual(['host-1', 'host-2']);
    expect(Object.keys(hosts['host-1']!.message.portStates).sort()).toEqual(['a-04', 'b-05']);
    expect(Object.keys(hosts['host-1']!.message.neighborStates).sort()).toEqual(['L2/a-04', 'L2/b-05', 'L2/q-02']);
    expect(Object.keys(hosts['host-1']!.message.dhcpStates)).toHaveLength(2);
    const h2 = hosts['host-2']!;
    expect(h2.kind).toBe('neighbor');
    expect(listed(h2)).toEqual(['NEIGHBOR L2/a-04', 'SUBNET s1', 'NEIGHBOR L2/b-05']);
    expect(h2.message.neighborStates['L2/a-04']!.configuration!.hostIpAddress).toBe('198.51.100.1');
  });

  it('a delete: DELETE for the port, its DHCP and its neighbor everywhere; the other neighbors stay CREATE', () => {
    const { view, placements } = world([subnet('s1', '10.1.0.0/24')]);
    const q = port('q-02', 's1', '10.1.0.3');
    const p = port('p-01', 's1', '10.1.0.2');
    placements.place(q, H2);
    const hosts = byHost(buildPortBatch(view, [{ op: 'DELETE', port: p, node: H1 }]));
    const h1 = hosts['host-1']!.message;
    expect(h1.portStates['p-01']!.operationType).toBe(Op.DELETE);
    expect(Object.values(h1.dhcpStates).map((d) => d.operationType)).toEqual([Op.DELETE]);
    expect(h1.neighborStates['L2/p-01']!.operationType).toBe(Op.DELETE);
    expect(h1.neighborStates['L2/q-02']!.operationType).toBe(Op.CREATE);
    expect(hosts['host-2']!.message.neighborStates['L2/p-01']!.operationType).toBe(Op.DELETE);
  });

  it('an attached subnet brings its router (keyed by id, listed as "<host ip>/<id>") and the router\'s other subnets', () => {
    const { view, placements } = world([subnet('s1', '10.1.0.0/24', 'r1'), subnet('s2', '10.2.0.0/24', 'r1')]);
    const p = port('p-01', 's1', '10.1.0.2');
    placements.place(p, H1);
    const m = buildPortBatch(view, [{ op: 'CREATE', port: p, node: H1 }])[0]!;
    expect(Object.keys(m.message.routerStates)).toEqual(['r1']);
    expect(listed(m)).toContain('ROUTER 192.0.2.1/r1');
    expect(m.message.routerStates.r1!.configuration!.subnetRoutingTables.map((t) => t.subnetId)).toEqual(['s1', 's2']);
    expect(Object.keys(m.message.subnetStates).sort()).toEqual(['s1', 's2']);

    const change = buildRouterChange(view, H1, { id: 'r1' }, 's1', false)!;
    expect(change.kind).toBe('router');
    expect(listed(change)).toEqual(['ROUTER 192.0.2.1/r1', 'SUBNET s1', 'SUBNET s2']);
  });
});

describe('NcmCache', () => {
  it('gives a restarted host its ports, their DHCP and the neighbors of their subnets, all as CREATE, and forgets what was deleted', () => {
    const { view, placements } = world([subnet('s1', '10.1.0.0/24'), subnet('s2', '10.2.0.0/24')]);
    const cache = new NcmCache();
    const apply = (messages: HostMessage[]): void => messages.forEach((m) => cache.apply(m.node.node_name!, m));
    const q = port('q-02', 's1', '10.1.0.3');
    const p = port('p-01', 's1', '10.1.0.2');
    const gone = port('g-03', 's1', '10.1.0.4');
    for (const [x, n] of [[q, H2], [p, H1], [gone, H1]] as const) {
      placements.place(x, n);
      apply(buildPortBatch(view, [{ op: 'CREATE', port: x, node: n }]));
    }
    placements.remove(gone.id!);
    apply(buildPortBatch(view, [{ op: 'DELETE', port: gone, node: H1 }]));

    const restart = cache.restartMessage(H1, '192.0.2.1');
    expect(restart.kind).toBe('restart');
    const m = restart.message;
    expect(Object.keys(m.portStates)).toEqual(['p-01']);
    expect(Object.keys(m.neighborStates).sort()).toEqual(['L2/p-01', 'L2/q-02']);
    expect([...Object.values(m.portStates), ...Object.values(m.neighborStates), ...Object.values(m.dhcpStates)].every((s) => s.operationType === Op.CREATE)).toBe(true);
    expect(Object.values(m.dhcpStates).map((d) => d.configuration!.ipv4Address)).toEqual(['10.1.0.2']);
    expect(Object.keys(m.subnetStates)).toEqual(['s1']);
    expect(Object.keys(m.vpcStates)).toEqual(['vpc']);
    expect(cache.restartMessage(H3, '192.0.2.3').listedResources()).toEqual([]);
  });
});
