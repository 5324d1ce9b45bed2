// The REST side of a run, as Merak drives Alcor: the VPCs and subnets, the nodes, then per port a
// POST (Alcor allocates its IP and MAC) and the bind PUT (device fields and binding:host_id), with
// `concurrency` ports in flight. The PUT is what NCM pushes for and answers after.
import { performance } from 'node:perf_hooks';
import { errorMessage } from '@merak/common';
import type { JsonClient } from '../../test/alcor/index.js';
import { stopped } from './stop.js';
import type { Topology } from './topology.js';

export interface Network {
  readonly vpcIds: readonly string[];
  readonly subnetIds: readonly string[];
  /** Per subnet: its VPC's VNI (provider:segmentation_id). */
  readonly vnis: readonly number[];
}

export interface PortOutcome {
  ip: string;
  mac: string;
  postMs: number;
  putMs: number;
  /** Epoch ms when the bind PUT was sent. */
  putSentAtMs: number;
  error: string | undefined;
}

export interface BindPhase {
  /** In the topology's bind order. */
  readonly outcomes: readonly PortOutcome[];
  readonly seconds: number;
}


/** Runs `task` over 0..n-1 with at most `width` at once, in order. */
export async function inParallel(n: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(width, n) }, async () => {
    while (next < n && !stopped()) await task(next++);
  }));
}

export async function createNetworks(client: JsonClient, project: string, topo: Topology, width: number): Promise<Network> {
  const n = topo.subnetCidrs.length;
  const vpcIds: string[] = new Array<string>(n);
  const subnetIds: string[] = new Array<string>(n);
  const vnis: number[] = new Array<number>(n);
  await inParallel(n, width, async (s) => {
    const vpc = (await client.must('POST', `/project/${project}/vpcs`, { network: { cidr: '10.0.0.0/8', name: `vpc-${s}` } }, 201)).network as Record<string, unknown>;
    vpcIds[s] = vpc.id as string;
    vnis[s] = vpc['provider:segmentation_id'] as number;
    const subnet = (await client.must('POST', `/project/${project}/subnets`, { subnet: { cidr: topo.subnetCidrs[s], network_id: vpc.id, name: `subnet-${s}` } }, 201)).subnet as Record<string, unknown>;
    subnetIds[s] = subnet.id as string;
  });
  return { vpcIds, subnetIds, vnis };
}

/** Every host as an Alcor node: local_ip 127.0.0.1 and its GoalState port (0: nothing listens, no push). */
export async function registerNodes(client: JsonClient, topo: Topology, ports: readonly number[] | undefined): Promise<void> {
  const hostInfos = topo.hosts.map((h) => ({
    node_id: h.name, node_name: h.name, local_ip: '127.0.0.1', server_port: ports?.[h.index] ?? 0, mac_address: h.mac, 'data-path-ip': h.underlayIp, veth: 'eth0',
  }));
  await client.must('POST', '/nodes/bulk', { host_infos: hostInfos }, 200);
}

export async function bindAll(client: JsonClient, project: string, topo: Topology, net: Network, width: number, onBound: () => void): Promise<BindPhase> {
  const outcomes: PortOutcome[] = topo.ports.map(() => ({ ip: '', mac: '', postMs: 0, putMs: 0, putSentAtMs: 0, error: undefined }));
  const t0 = performance.now();
  await inParallel(topo.ports.length, width, async (i) => {
    const p = topo.ports[i]!;
    const o = outcomes[i]!;
    const vm = `vm-${p.index}`;
    const network = net.vpcIds[p.subnet]!;
    try {
      const a = performance.now();
      const created = (await client.must('POST', `/project/${project}/ports`, {
        port: { id: p.id, admin_state_up: true, device_id: vm, network_id: network, fixed_ips: [{ subnet_id: net.subnetIds[p.subnet] }], tenant_id: project },
      }, 201)).port as { fixed_ips?: Array<{ ip_address?: string }>; mac_address?: string };
      o.postMs = performance.now() - a;
      o.ip = created.fixed_ips?.[0]?.ip_address ?? '';
      o.mac = created.mac_address ?? '';
      o.putSentAtMs = Date.now(); // the clock the hosts stamp arrival and application with
      const b = performance.now();
      await client.must('PUT', `/project/${project}/ports/${p.id}`, {
        port: {
          project_id: project, id: p.id, name: vm, description: '', network_id: network, tenant_id: project,
          admin_state_up: true, device_id: vm, device_owner: 'compute:nova', fast_path: true, 'binding:host_id': topo.hosts[p.host]!.name,
        },
      }, 200);
      o.putMs = performance.now() - b;
    } catch (e) {
      o.error = errorMessage(e);
    }
    onBound();
  });
  return { outcomes, seconds: (performance.now() - t0) / 1000 };
}
