// A port create that times out on the agent but lands late in Alcor (the server's delay fault):
// the agent must not create the port a second time while the first is still on its way, since
// Alcor's create with an existing id replaces the port and its addresses; when the late create
// comes after all, the bind sees that Alcor no longer holds the allocated addresses and says so.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AlcorError, type AlcorCall } from '../../agent/alcor/alcor-http.js';
import { AlcorPortReplacedError, AlcorPorts, type AlcorPortSettings } from '../../agent/alcor/port-client.js';
import { type AlcorServer, type PortEntity, startAlcorServer } from '../alcor/index.js';

let alcor: AlcorServer;
let base: Omit<AlcorPortSettings, 'portId'>;

async function post(url: string, path: string, body: unknown): Promise<Record<string, Record<string, unknown>>> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.status >= 300) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Record<string, Record<string, unknown>>;
}

beforeAll(async () => {
  alcor = await startAlcorServer({ mode: 'single', seed: 11 });
});
afterAll(async () => alcor?.close());

beforeEach(async () => {
  alcor.reset();
  const p = 'proj-late';
  await post(alcor.urls.node, '/nodes/bulk', { host_infos: [{ node_id: 'n1', node_name: 'vhost-0', local_ip: '198.51.100.10', 'data-path-ip': '198.51.100.10', mac_address: '02:00:00:00:00:01', veth: 'eth0', server_port: 50001 }] });
  const vpc = await post(alcor.urls.vpc, `/project/${p}/vpcs`, { network: { cidr: '10.2.0.0/16', name: 'vpc' } });
  const subnet = await post(alcor.urls.subnet, `/project/${p}/subnets`, { subnet: { cidr: '10.2.0.0/24', name: 's', ip_version: 4, network_id: vpc.network!.id, gateway_ip: '10.2.0.1' } });
  base = {
    portUrl: alcor.urls.port, projectId: p, tenantId: p, networkId: String(vpc.network!.id), subnetId: String(subnet.subnet!.id),
    securityGroupIds: [], hostId: 'vhost-0', timeoutMs: 1000, retries: 2,
  };
  alcor.calls.clear();
});

function client(): { ports: AlcorPorts; calls: AlcorCall[]; id: string } {
  const calls: AlcorCall[] = [];
  const id = randomUUID();
  return { ports: new AlcorPorts({ ...base, portId: id }, (c) => calls.push(c)), calls, id };
}

const portsWith = (id: string): PortEntity[] => alcor.state().ports.filter((p) => p.id === id);
const addressesInUse = (): string[] => (alcor.state().allocatedIps[base.subnetId] ?? []).filter((ip) => ip !== '10.2.0.1');

describe('a port create that lands after the agent gave up on it', () => {
  it('is waited for and adopted: one create in Alcor, the addresses the agent holds are the port\'s, no address left over', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'latency', ms: 1500 }, limit: { kind: 'first', n: 1 } });
    const { ports, calls, id } = client();
    const port = await ports.allocate('vm-1', false);
    expect(alcor.calls.filter({ method: 'POST' })).toHaveLength(1);
    const held = portsWith(id);
    expect(held).toHaveLength(1);
    expect([held[0]!.fixed_ips![0]!.ip_address, held[0]!.mac_address]).toEqual([port.ip, port.mac]);
    expect(addressesInUse()).toEqual([port.ip]);
    // The timed-out POST is reported; nothing was sent twice.
    expect(calls.filter((c) => c.endpoint.startsWith('POST')).map((c) => [c.status, c.error])).toEqual([[0, 'no answer within 1000 ms']]);
    await ports.bind('vm-1', port);
    expect(portsWith(id)).toHaveLength(1);
  });

  it('when it lands even later than that, after the retried create, the bind refuses the replaced port instead of going on with stale addresses', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'latency', ms: 3500 }, limit: { kind: 'first', n: 1 } });
    const { ports, id } = client();
    const port = await ports.allocate('vm-1', false);
    // Both creates reach Alcor; the late one replaces the port with new addresses.
    await alcor.calls.waitFor({ method: 'POST' }, 2, 10_000);
    expect(portsWith(id)[0]!.fixed_ips![0]!.ip_address).not.toBe(port.ip);
    const err = await ports.bind('vm-1', port).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlcorPortReplacedError);
    expect(err).toMatchObject({ portId: id, allocated: port, now: { ip: portsWith(id)[0]!.fixed_ips![0]!.ip_address } });
    expect(await ports.release()).toBe('deleted');
  });

  it('is not retried when Alcor refuses it (4xx): the error carries the status and body, one POST only', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'status', status: 400, message: 'bad fixed ip (injected)' } });
    const { ports } = client();
    const err = await ports.allocate('vm-1', false).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AlcorError);
    expect(err).toMatchObject({ status: 400, body: expect.stringContaining('bad fixed ip (injected)') });
    expect(alcor.calls.filter({ method: 'POST' })).toHaveLength(1);
  });
});
