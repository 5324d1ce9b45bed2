// What the agent's port calls need in Alcor before it makes any: its node registered (vhost-0),
// a VPC and a subnet (10.1.0.0/24, gateway 10.1.0.1) in the test's project, made through the
// Alcor-compatible server's REST API; the calls it recorded are cleared after.
import type { AlcorPortSettings } from '../../agent/vm/alcor-ports.js';
import type { AlcorServer } from '../alcor/index.js';

export const SUBNET_GATEWAY = '10.1.0.1';

async function post(url: string, path: string, body: unknown): Promise<Record<string, Record<string, unknown>>> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, Record<string, unknown>>;
}

/** Makes the network in `projectId`; AlcorPorts settings for vhost-0's ports there (the port id aside). */
export async function portNetwork(alcor: AlcorServer, o: { projectId: string; timeoutMs: number }): Promise<Omit<AlcorPortSettings, 'portId'>> {
  const p = o.projectId;
  await post(alcor.urls.node, '/nodes/bulk', { host_infos: [{ node_id: 'n1', node_name: 'vhost-0', local_ip: '198.51.100.10', 'data-path-ip': '198.51.100.10', mac_address: '02:00:00:00:00:01', veth: 'eth0', server_port: 50001 }] });
  const vpc = await post(alcor.urls.vpc, `/project/${p}/vpcs`, { network: { cidr: '10.1.0.0/16', name: 'vpc1' } });
  const subnet = await post(alcor.urls.subnet, `/project/${p}/subnets`, { subnet: { cidr: '10.1.0.0/24', name: 's1', ip_version: 4, network_id: vpc.network!.id, gateway_ip: SUBNET_GATEWAY } });
  alcor.calls.clear();
  return {
    portUrl: alcor.urls.port, projectId: p, tenantId: p, networkId: String(vpc.network!.id), subnetId: String(subnet.subnet!.id),
    securityGroupIds: [], hostId: 'vhost-0', timeoutMs: o.timeoutMs, retries: 2,
  };
}
