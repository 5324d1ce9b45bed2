// The agent's Alcor port calls against the Alcor-compatible server: the exact calls, what comes
// back, and what happens when Alcor fails, is slow or drops the connection.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { AlcorCall } from '@merak/common';
import { AlcorPorts, type AlcorPortSettings } from '../../agent/vm/alcor-ports.js';
import { type AlcorServer, startAlcorServer } from '../alcor/index.js';
import { portNetwork } from './port-network.js';

let alcor: AlcorServer;
let base: Omit<AlcorPortSettings, 'portId'>;

beforeAll(async () => {
  alcor = await startAlcorServer({ mode: 'node-ports' });
});
afterAll(async () => alcor?.close());

beforeEach(async () => {
  alcor.reset();
  base = await portNetwork(alcor, { projectId: 'proj-1', timeoutMs: 2000 });
});

function ports(id = randomUUID()): { client: AlcorPorts; calls: AlcorCall[]; id: string } {
  const calls: AlcorCall[] = [];
  return { client: new AlcorPorts({ ...base, portId: id }, (c) => calls.push(c)), calls, id };
}

describe('AlcorPorts', () => {
  it('allocates (201, IP lowest free after the gateway, MAC aa:bb:cc), binds (200, ACTIVE after) and releases (200)', async () => {
    const { client, calls, id } = ports();
    const port = await client.allocate('vm-1', false);
    expect(port).toEqual({ id, ip: '10.1.0.2', mac: expect.stringMatching(/^aa:bb:cc(:[0-9a-f]{2}){3}$/) });
    const sent = alcor.calls.last({ method: 'POST' })!;
    expect(sent.path).toBe('/project/proj-1/ports');
    expect(sent.requestBody).toEqual({ port: { id, admin_state_up: true, device_id: 'vm-1', network_id: base.networkId, fixed_ips: [{ subnet_id: base.subnetId }], tenant_id: 'proj-1' } });
    await client.bind('vm-1');
    expect(alcor.calls.last({ method: 'PUT' })!.requestBody).toMatchObject({ port: { id, device_owner: 'compute:nova', 'binding:host_id': 'vhost-0', device_id: 'vm-1' } });
    expect((await fetch(`${alcor.urls.port}/project/proj-1/ports/${id}`).then((r) => r.json()) as { port: { status: string } }).port.status).toBe('ACTIVE');
    expect(await client.release()).toBe('deleted');
    expect(await client.release()).toBe('absent');
    expect(calls.map((c) => [c.endpoint, c.status])).toEqual([
      ['POST /project/{project_id}/ports', 201], ['PUT /project/{project_id}/ports/{port_id}', 200],
      ['DELETE /project/{project_id}/ports/{port_id}', 200], ['DELETE /project/{project_id}/ports/{port_id}', 404],
    ]);
    expect(alcor.state().ports.filter((p) => p.device_owner !== 'network:router_interface')).toEqual([]);
  });

  it('finds the port it made before instead of making another when told it may exist', async () => {
    const { client, id } = ports();
    const first = await client.allocate('vm-1', false);
    alcor.calls.clear();
    expect(await client.allocate('vm-1', true)).toEqual(first);
    expect(alcor.calls.all().map((c) => `${c.method} ${c.status}`)).toEqual(['GET 200']);
    expect(alcor.state().ports.filter((p) => p.id === id)).toHaveLength(1);
  });

  it('fails with Alcor\'s status and body on a 5xx, after its retries, and makes no port', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', action: { kind: 'status', status: 503, message: 'port manager overloaded' } });
    const { client, calls, id } = ports();
    const err = await client.allocate('vm-1', false).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/POST \/project\/\{project_id\}\/ports .*answered 503.*port manager overloaded/);
    // 3 POSTs (1 + 2 retries), each followed by a look-up that found nothing.
    expect(calls.filter((c) => c.endpoint.startsWith('POST')).map((c) => c.status)).toEqual([503, 503, 503]);
    expect(alcor.state().ports.some((p) => p.id === id)).toBe(false);
  });

  it('does not make a second port when a POST was done but its answer was lost', async () => {
    alcor.faults.add({ method: 'POST', path: '/project/*/ports', phase: 'after', action: { kind: 'drop' }, limit: { kind: 'first', n: 1 } });
    const { client, id } = ports();
    const port = await client.allocate('vm-1', false);
    expect(port.id).toBe(id);
    expect(alcor.state().ports.filter((p) => p.id === id)).toHaveLength(1);
    expect(alcor.calls.all().map((c) => `${c.method} ${c.dropped ? 'dropped' : c.status}`)).toEqual(['POST dropped', 'GET 200']);
  });

  it('retries a slow bind within its deadline and reports every attempt', async () => {
    const { client, calls } = ports();
    await client.allocate('vm-1', false);
    alcor.faults.add({ method: 'PUT', path: '/project/*/ports/*', action: { kind: 'latency', ms: 3000 }, limit: { kind: 'first', n: 1 } });
    await client.bind('vm-1');
    const puts = calls.filter((c) => c.endpoint.startsWith('PUT'));
    expect(puts.map((c) => [c.status, c.error])).toEqual([[0, 'no answer within 2000 ms'], [200, '']]);
  });
});
