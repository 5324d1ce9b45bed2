// A small hollow fleet behind the Alcor-compatible server with GoalState push: 20 real agents
// (`--hollow --goalstate 127.0.0.1:0`, each its own fake underlay address) registered as Alcor
// nodes, 200 ports bound Merak's way (POST, then the bind PUT) in 20 subnets of 10 ports, each
// subnet over 10 of the hosts. Every port ends applied on its host with its VNI, every host holds
// exactly the neighbors NCM told it (the bound ports of its subnets on other hosts), every push is
// OK; deleting 50 ports removes them and their neighbors everywhere. Nothing is left listening.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunningAgent, createHollowBackend, parseAgentConfig, startAgent } from '@merak/agent';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AlcorServer, type PortEntity, startAlcorServer } from '../alcor/index.js';
import { clientFor } from '../alcor/test-http.js';

const HOSTS = 20;
const PORTS = 200;
const PORTS_PER_SUBNET = 10;
const SUBNETS = PORTS / PORTS_PER_SUBNET;
const DELETED = 50;
const P = 'fleet';
const logger = pino({ level: 'silent' });

interface Host { readonly name: string; readonly underlay: string; readonly agent: RunningAgent; readonly port: number }
/** A port's subnet and host: subnet by blocks of 10, hosts round robin (a subnet spans 10 hosts). */
interface Planned { readonly index: number; readonly subnet: number; readonly host: number; id: string }

let dir: string;
let alcor: AlcorServer;
let api: ReturnType<typeof clientFor<'vpc' | 'subnet' | 'route' | 'port' | 'node' | 'sg'>>;
const hosts: Host[] = [];
let stopped = false;
const vpcs: string[] = [];
const subnets: string[] = [];
const vnis: number[] = [];
const planned: Planned[] = Array.from({ length: PORTS }, (_, i) => ({ index: i, subnet: Math.floor(i / PORTS_PER_SUBNET), host: i % HOSTS, id: '' }));

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merak-hollow-fleet-'));
  for (let i = 0; i < HOSTS; i++) {
    const name = `hf-${i}`;
    const underlay = `198.51.100.${10 + i}`;
    const config = parseAgentConfig(
      ['--vhost', name, '--hollow', '--insecure', '--listen', `unix:${join(dir, `a${i}.sock`)}`, '--http', `unix:${join(dir, `h${i}.sock`)}`,
        '--underlay-ip', underlay, '--goalstate', '127.0.0.1:0'],
      {},
    );
    if (config === 'help') throw new Error('unexpected --help');
    const agent = await startAgent(config, createHollowBackend(), logger);
    hosts.push({ name, underlay, agent, port: Number(agent.goalState!.address.split(':').at(-1)) });
  }
  alcor = await startAlcorServer({ seed: 11, goalState: { ncmPort: 0, timeoutMs: 10_000 } });
  api = clientFor(alcor.urls);
}, 60_000);

afterAll(async () => {
  if (!stopped) {
    for (const h of hosts) await h.agent.stop(1000);
    await alcor?.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

const must = async <T>(p: Promise<{ status: number; text: string; json: unknown }>, status: number): Promise<T> => {
  const r = await p;
  if (r.status !== status) throw new Error(`${r.status} ${r.text}`);
  return r.json as T;
};

/** Bound ports per subnet, in order; subnets side by side (within a subnet one at a time, see below). */
async function perSubnet(ports: readonly Planned[], task: (p: Planned) => Promise<void>): Promise<void> {
  await Promise.all(Array.from({ length: SUBNETS }, async (_, s) => {
    for (const p of ports.filter((x) => x.subnet === s)) await task(p);
  }));
}

/** The ports and neighbor lines ("VNI IP MAC host") each host should hold, from the server's state. */
function expected(bound: readonly Planned[]): Array<{ ports: Map<string, number>; neighbors: string[] }> {
  const state = new Map(alcor.state().ports.map((p): [string, PortEntity] => [p.id!, p]));
  const want = hosts.map(() => ({ ports: new Map<string, number>(), neighbors: [] as string[] }));
  for (const p of bound) want[p.host]!.ports.set(p.id, vnis[p.subnet]!);
  for (let s = 0; s < SUBNETS; s++) {
    const here = bound.filter((p) => p.subnet === s);
    for (const h of new Set(here.map((p) => p.host))) {
      for (const q of here) {
        if (q.host === h) continue;
        const port = state.get(q.id)!;
        want[h]!.neighbors.push(`${vnis[s]} ${port.fixed_ips![0]!.ip_address} ${port.mac_address!.toLowerCase()} ${hosts[q.host]!.underlay}`);
      }
    }
  }
  return want;
}

function held(h: Host): { ports: Map<string, number>; neighbors: string[] } {
  const s = h.agent.goalState!.hostAgent.snapshot();
  expect(s.ports.every((p) => p.state === 'applied')).toBe(true);
  return {
    ports: new Map(s.ports.map((p) => [p.portId, p.vni])),
    neighbors: s.neighbors.map((n) => `${n.vni} ${n.ip} ${n.mac.toLowerCase()} ${n.hostIp}`),
  };
}

function expectFleetHolds(bound: readonly Planned[]): void {
  const want = expected(bound);
  hosts.forEach((h, i) => {
    const got = held(h);
    expect({ host: h.name, ports: got.ports }).toEqual({ host: h.name, ports: want[i]!.ports });
    expect({ host: h.name, neighbors: got.neighbors.sort() }).toEqual({ host: h.name, neighbors: want[i]!.neighbors.sort() });
  });
}

describe('a hollow fleet behind Alcor with GoalState push', () => {
  it('applies every bound port on its host and leaves each host exactly the neighbors of its subnets; deletes take them away everywhere', async () => {
    await must(api.post('node', '/nodes/bulk', { host_infos: hosts.map((h, i) => ({
      node_id: h.name, node_name: h.name, local_ip: '127.0.0.1', server_port: h.port, mac_address: `aa:00:00:00:01:${(i + 16).toString(16)}`, 'data-path-ip': h.underlay,
    })) }), 200);
    for (let s = 0; s < SUBNETS; s++) {
      const vpc = (await must<{ network: { id: string; 'provider:segmentation_id': number } }>(api.post('vpc', `/project/${P}/vpcs`, { network: { cidr: '10.0.0.0/8' } }), 201)).network;
      const subnet = (await must<{ subnet: { id: string } }>(api.post('subnet', `/project/${P}/subnets`, { subnet: { cidr: `10.40.${s}.0/24`, network_id: vpc.id } }), 201)).subnet;
      vpcs.push(vpc.id);
      vnis.push(vpc['provider:segmentation_id']);
      subnets.push(subnet.id);
    }

    // Merak's way: the port first (Alcor allocates IP and MAC), then the bind PUT, which Alcor
    // answers once NCM's pushes for it ended. Subnets side by side, a subnet's binds one after the
    // other: pushes to one host for two binds of a subnet in flight at once may arrive in either order.
    await perSubnet(planned, async (p) => {
      const vm = `vm-${p.index}`;
      p.id = (await must<{ port: PortEntity }>(api.post('port', `/project/${P}/ports`, { port: { admin_state_up: true, device_id: vm, network_id: vpcs[p.subnet], fixed_ips: [{ subnet_id: subnets[p.subnet] }], tenant_id: P } }), 201)).port.id!;
      await must(api.put('port', `/project/${P}/ports/${p.id}`, { port: {
        project_id: P, id: p.id, name: vm, admin_state_up: true, device_id: vm, device_owner: 'compute:nova', fast_path: true, 'binding:host_id': hosts[p.host]!.name,
      } }), 200);
    });

    const state = new Map(alcor.state().ports.map((p): [string, PortEntity] => [p.id!, p]));
    for (const p of planned) expect({ id: p.id, status: state.get(p.id)?.status, host: state.get(p.id)?.['binding:host_id'] }).toEqual({ id: p.id, status: 'ACTIVE', host: hosts[p.host]!.name });
    expectFleetHolds(planned);
    // Each host is in 10 subnets of 10 ports: 10 ports and 90 neighbors, none from subnets it is not in.
    for (const h of hosts) expect(held(h).neighbors).toHaveLength(90);
    const pushes = alcor.goalState!.pushes.all();
    expect(pushes.filter((r) => r.outcome !== 'ok')).toEqual([]);
    // A bind pushes to every host already holding a port of its subnet, plus its own: 1+2+…+10 per subnet.
    expect(pushes).toHaveLength(SUBNETS * (PORTS_PER_SUBNET * (PORTS_PER_SUBNET + 1)) / 2);

    const gone = planned.filter((p) => p.index % (PORTS / DELETED) === 0);
    expect(gone).toHaveLength(DELETED);
    const before = pushes.length;
    await perSubnet(gone, async (p) => {
      await must(api.del('port', `/project/${P}/ports/${p.id}`), 200);
    });
    const kept = planned.filter((p) => !gone.includes(p));
    expect(alcor.state().ports.filter((p) => gone.some((g) => g.id === p.id))).toEqual([]);
    expectFleetHolds(kept);
    const goneIds = new Set(gone.map((p) => p.id));
    for (const h of hosts) for (const id of held(h).ports.keys()) expect(goneIds.has(id)).toBe(false);
    expect(alcor.goalState!.pushes.all().slice(before).filter((r) => r.outcome !== 'ok')).toEqual([]);
  }, 120_000);

  it('leaves nothing listening once the fleet and the server are stopped', async () => {
    const addresses = hosts.map((h) => h.port);
    stopped = true;
    for (const h of hosts) await h.agent.stop(1000);
    await alcor.close();
    const refused = await Promise.all(addresses.map((port) => new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => { s.destroy(); resolve(false); });
      s.once('error', () => resolve(true));
    })));
    expect(refused.every(Boolean)).toBe(true);
    // The agents' unix sockets went with them.
    expect(readdirSync(dir)).toEqual([]);
  });
});
